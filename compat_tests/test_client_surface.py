"""The client's shape: constructor rules, exported names, signatures, generated sync facade."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import sdk
from sdk import AsyncQdrantClient, QdrantClient, StorageLockedError, models

ROOT = Path(__file__).resolve().parents[1]

# The methods of qdrant-client 1.20 this client implements so far.
IMPLEMENTED = [
    "get_collections", "collection_exists", "create_collection", "get_collection", "update_collection",
    "delete_collection", "recreate_collection", "update_collection_aliases", "get_aliases",
    "get_collection_aliases", "upsert", "upload_points", "upload_collection", "retrieve", "delete", "scroll",
    "count", "set_payload", "overwrite_payload", "delete_payload", "clear_payload", "query_points",
    "create_payload_index", "delete_payload_index", "facet", "close",
    "create_snapshot", "list_snapshots", "delete_snapshot", "recover_snapshot",
    "create_full_snapshot", "list_full_snapshots", "delete_full_snapshot",
    "query_batch_points", "query_points_groups", "search_matrix_pairs", "search_matrix_offsets",
    "batch_update_points",
    "update_vectors", "delete_vectors", "create_vector_name", "delete_vector_name",
    "info", "cluster_status", "collection_cluster_info", "get_optimizations", "cluster_collection_update",
    "cluster_telemetry", "recover_current_peer", "remove_peer", "create_shard_key", "delete_shard_key",
    "list_shard_keys", "create_shard_snapshot", "list_shard_snapshots", "delete_shard_snapshot",
    "recover_shard_snapshot", "migrate", "get_embedding_size", "list_text_models", "list_image_models", "list_late_interaction_text_models",
    "list_late_interaction_multimodal_models", "list_sparse_models",
]
# Public names of qdrant-client's client that this one does not have, and why.
NOT_PROVIDED = {
    "http": "the official generated REST API object; our transports are internal",
    "grpc_collections": "raw grpcio stubs of the official package",
    "grpc_points": "raw grpcio stubs of the official package",
    "DEFAULT_BATCH_SIZE": "batch size of the official client's fastembed inference",
}


def test_every_public_name_of_the_official_client_exists():
    official = pytest.importorskip("qdrant_client")
    for ours_cls, theirs_cls in ((QdrantClient, official.QdrantClient), (AsyncQdrantClient, official.AsyncQdrantClient)):
        theirs = {n for n in dir(theirs_cls) if not n.startswith("_")}
        missing = sorted(n for n in theirs if not hasattr(ours_cls, n) and n not in NOT_PROVIDED)
        assert missing == [], (ours_cls.__name__, missing)


def test_exported_surface():
    assert set(sdk.__all__) >= {"QdrantClient", "AsyncQdrantClient", "models", "NotFoundError", "BadRequestError"}
    for name in sdk.__all__:
        assert hasattr(sdk, name), name
    assert issubclass(sdk.NotFoundError, sdk.ApiError) and sdk.NotFoundError.status_code == 404
    assert issubclass(sdk.BadRequestError, ValueError) and sdk.BadRequestError.status_code == 400


def test_sync_client_is_generated_from_async_client():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "unasync.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", IMPLEMENTED)
def test_signatures_follow_qdrant_client(name):
    official = pytest.importorskip("qdrant_client")
    for ours_cls, theirs_cls in ((QdrantClient, official.QdrantClient), (AsyncQdrantClient, official.AsyncQdrantClient)):
        ours = inspect.signature(getattr(ours_cls, name))
        theirs = inspect.signature(getattr(theirs_cls, name))
        if name == "recreate_collection":
            continue  # deprecated passthrough: (*args, **kwargs)
        assert list(ours.parameters) == list(theirs.parameters), name
        for pname, param in theirs.parameters.items():
            assert ours.parameters[pname].default == param.default, (name, pname)
        is_coro = inspect.iscoroutinefunction(getattr(ours_cls, name))
        if name == "migrate" and ours_cls is AsyncQdrantClient:
            assert is_coro   # qdrant-client's async migrate is a stub raising NotImplementedError
            continue
        assert is_coro == inspect.iscoroutinefunction(getattr(theirs_cls, name)), name


def test_constructor_signature_follows_qdrant_client():
    official = pytest.importorskip("qdrant_client")
    ours = inspect.signature(QdrantClient.__init__)
    theirs = inspect.signature(official.QdrantClient.__init__)
    assert list(ours.parameters) == list(theirs.parameters)


def test_constructor_rules(tmp_path):
    with pytest.raises(ValueError, match="Only one of"):
        QdrantClient(":memory:", path=str(tmp_path))
    with pytest.raises(ValueError, match="Only one of"):
        QdrantClient(url="http://localhost:6333", host="localhost")
    with pytest.raises(ValueError, match="filesystem path"):
        QdrantClient("./some/folder")
    with pytest.raises(TypeError, match="Unknown arguments"):
        QdrantClient(":memory:", not_a_parameter=1)
    with QdrantClient(":memory:") as c:
        assert c.get_collections().collections == []


def test_async_context_manager(tmp_path):
    async def main():
        async with AsyncQdrantClient(path=str(tmp_path / "db")) as c:
            await c.create_collection("x", vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
            await c.upsert("x", points=[models.PointStruct(id=1, vector=[1, 2])])
            results = await asyncio.gather(*(c.count("x") for _ in range(10)))
            assert [r.count for r in results] == [1] * 10
        async with AsyncQdrantClient(path=str(tmp_path / "db")) as c:
            assert (await c.count("x")).count == 1

    asyncio.run(main())


def test_second_opener_of_a_path_gets_a_clear_error(tmp_path):
    folder = str(tmp_path / "db")
    first = QdrantClient(path=folder)
    try:
        with pytest.raises(StorageLockedError, match="db"):
            QdrantClient(path=folder)
        code = (
            "import sys; from sdk import QdrantClient, StorageLockedError\n"
            f"try:\n    QdrantClient(path={folder!r})\nexcept StorageLockedError as e:\n    print('LOCKED', e); sys.exit(0)\n"
            "sys.exit(1)\n"
        )
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert folder in proc.stdout
    finally:
        first.close()
    QdrantClient(path=folder).close()  # released on close


def test_closed_client_refuses_calls():
    c = QdrantClient(":memory:")
    c.close()
    with pytest.raises(RuntimeError, match="closed"):
        c.get_collections()


def test_quickstart_example_runs():
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py")], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "score=" in proc.stdout


class _FlakyTransport:
    """Wraps a transport; the first ``failures`` upserts answer 503 without reaching the engine."""

    def __init__(self, inner, failures):
        self.inner, self.failures, self.upserts = inner, failures, 0

    def call(self, operation_id, **params):
        if operation_id == "upsert_points":
            self.upserts += 1
            if self.failures > 0:
                self.failures -= 1
                raise sdk.ServiceUnavailableError("try again")
        return self.inner.call(operation_id, **params)

    def blocking(self):
        return self

    def close(self):
        self.inner.close()


def test_upload_resends_a_batch_up_to_max_retries():
    c = QdrantClient(":memory:")
    c.create_collection("u", vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
    flaky = _FlakyTransport(c._transport, failures=2)
    c._transport = flaky
    c.upload_collection("u", vectors=[[1, 0], [0, 1], [1, 1]], ids=[1, 2, 3], batch_size=2, max_retries=2)
    assert c.count("u").count == 3
    assert flaky.upserts == 4  # batch 1 sent three times, batch 2 once
    flaky.failures = 5
    with pytest.raises(sdk.ServiceUnavailableError):
        c.upload_points("u", points=[models.PointStruct(id=9, vector=[1, 1])], max_retries=1)
    assert c.count("u").count == 3
    c.close()


def test_async_upload_methods_are_synchronous_like_qdrant_clients():
    async def main():
        client = AsyncQdrantClient(":memory:")
        await client.create_collection("u", vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
        # qdrant-client's AsyncQdrantClient.upload_points is a plain function: code calls it without await
        assert client.upload_points("u", points=[models.PointStruct(id=i, vector=[i, 1]) for i in range(50)]) is None
        client.upload_collection("u", vectors=[[1.0, 2.0]] * 5, ids=range(50, 55), parallel=2)
        assert (await client.count("u")).count == 55
        await client.close()
        with pytest.raises(RuntimeError, match="closed"):
            client.upload_points("u", points=[models.PointStruct(id=99, vector=[1, 1])])

    asyncio.run(main())


def test_transport_options_only_for_remote():
    with pytest.raises(TypeError, match="only apply to remote"):
        QdrantClient(":memory:", http2=True)
