"""Transports: how an operation (an OpenAPI operation id + its typed request) gets answered.

Every transport has ``call(operation_id, **params)`` returning the operation's result model:
``LocalTransport`` runs the built-in engine in process; the async variants have the same
interface with ``async def call``.
"""
