"""gRPC: generated stubs (tools/gen_protos.py) and conversions between sdk.models and protobuf."""
