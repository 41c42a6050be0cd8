"""The engine on the wire: Qdrant's REST API (ASGI) and gRPC services over one ``Engine``.

    qdrant-sdk serve --path DIR --host 127.0.0.1 --port 6333 --grpc-port 6334 [--api-key KEY]
    python -m local_engine.server ...

Modules: ``rest.py`` builds the Starlette app (``create_app``), ``grpc_service.py`` builds the
grpcio server (``create_grpc_server``), ``__main__.py`` is the command line. Both protocols route
every request to the engine method named by the operation id, exactly as the in-process client
does; an operation the engine does not implement answers 501 / UNIMPLEMENTED naming it.
"""
