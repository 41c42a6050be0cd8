"""Service and cluster operations, mixed into ``Engine`` (method names are OpenAPI operation ids).

The built-in engine is one Qdrant node running without distributed mode, and it answers these
the way such a node does:

* ``root`` gives the Qdrant API version the engine implements (commit: the engine's name); ``cluster_status`` says ``disabled``;
  ``collection_cluster_info`` describes the one local shard (shard 0, all points, ``Active``);
  ``get_optimizations`` reports nothing running or queued, which is true: the engine has no
  background optimizer, a write returns only once its graphs and payload indexes are current.
* Operations that only exist in a cluster (peers, shard keys, shard transfers, shard snapshots,
  cluster telemetry) raise ``Unsupported`` naming the operation (HTTP 501 on the server). They
  are listed in ``docs/query.md``'s operation table. Nothing here answers a fake success.
"""

from __future__ import annotations

import secrets
from typing import Any

from sdk import models

from .errors import BadRequest, Unsupported

_CLUSTER_ONLY = {
    "cluster_telemetry": "cluster telemetry",
    "recover_current_peer": "recovering the current peer",
    "remove_peer": "removing a peer",
    "update_collection_cluster": "shard moves, replication and transfers",
    "create_shard_key": "creating a shard key",
    "delete_shard_key": "deleting a shard key",
    "list_shard_keys": "listing shard keys",
    "create_shard_snapshot": "shard snapshots",
    "list_shard_snapshots": "shard snapshots",
    "delete_shard_snapshot": "shard snapshots",
    "get_shard_snapshot": "shard snapshots",
    "recover_shard_from_snapshot": "shard snapshots",
    "recover_shard_from_uploaded_snapshot": "shard snapshots",
}


# The Qdrant API version the engine implements (the OpenAPI spec it follows). Clients compare it
# with their own version (qdrant-client warns on a major/minor mismatch), so it is Qdrant's
# numbering; the commit field names the engine.
QDRANT_VERSION = "1.19.0"
VERSION_INFO = {"title": "qdrant - vector search engine", "version": QDRANT_VERSION, "commit": "qdrant-sdk-local-engine"}


def _cluster_only(operation_id: str, what: str):
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        # A collection named in the request must still exist: Qdrant checks that first.
        name = kwargs.get("collection_name")
        if name is not None:
            self._get(name)
        raise Unsupported(
            f"`{operation_id}` ({what}) needs a Qdrant cluster in distributed mode; "
            "the built-in engine is a single node with one shard per collection"
        )

    method.__name__ = operation_id
    method.__doc__ = f"Cluster-only: raises ``Unsupported`` ({what})."
    return method


class ServiceOperations:
    _peer_id: int | None = None

    def root(self) -> models.VersionInfo:
        return models.VersionInfo(**VERSION_INFO)

    def cluster_status(self) -> models.ClusterStatusDisabled:
        return models.ClusterStatusDisabled(status="disabled")

    def collection_cluster_info(self, collection_name: str) -> models.CollectionClusterInfo:
        collection = self._get(collection_name)
        if self._peer_id is None:
            self._peer_id = secrets.randbits(63) or 1
        return models.CollectionClusterInfo(
            peer_id=self._peer_id,
            shard_count=1,
            local_shards=[models.LocalShardInfo(
                shard_id=0, shard_key=None, points_count=collection.points_count(), state=models.ReplicaState.ACTIVE,
            )],
            remote_shards=[],
            shard_transfers=[],
            resharding_operations=None,
        )

    def get_optimizations(self, collection_name: str, completed_limit: int | None = None,
                          with_: Any = None) -> models.OptimizationsResponse:
        self._get(collection_name)
        wanted = with_
        wanted = [] if wanted is None else ([wanted] if isinstance(wanted, str) else list(wanted))
        wanted = [w.strip() for item in wanted for w in str(item).split(",") if w.strip()]
        unknown = sorted(set(wanted) - {"queued", "completed", "idle_segments"})
        if unknown:
            raise BadRequest(f"Wrong input: unknown `with` value(s) {unknown}; expected queued, completed, idle_segments")
        if completed_limit is not None and completed_limit < 0:
            raise BadRequest("Wrong input: completed_limit must be at least 0")
        return models.OptimizationsResponse(
            summary=models.OptimizationsSummary(queued_optimizations=0, queued_segments=0, queued_points=0, idle_segments=0),
            running=[],
            queued=[] if "queued" in wanted else None,
            completed=[] if "completed" in wanted else None,
            idle_segments=[] if "idle_segments" in wanted else None,
        )


for _op, _what in _CLUSTER_ONLY.items():
    setattr(ServiceOperations, _op, _cluster_only(_op, _what))
del _op, _what
