"""The private descriptor pool every generated ``*_pb2`` module of this package registers in.

qdrant-client registers messages with the same full names (``qdrant.PointStruct``, ...) in
protobuf's default pool; keeping ours apart lets both packages live in one process.
``google/protobuf/timestamp.proto`` is added first because our protos import it.
"""

from google.protobuf import descriptor_pool, timestamp_pb2

POOL = descriptor_pool.DescriptorPool()
POOL.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
