"""Collections, aliases and payload-index bookkeeping, in every client mode."""

from __future__ import annotations

import pytest

from sdk import BadRequestError, NotFoundError, models


def _vp(size: int = 4, distance: models.Distance = models.Distance.COSINE) -> models.VectorParams:
    return models.VectorParams(size=size, distance=distance)


def test_create_list_exists_delete(client):
    assert client.get_collections().collections == []
    assert client.create_collection("a", vectors_config=_vp()) is True
    assert client.create_collection("b", vectors_config={"img": _vp(3), "txt": _vp(5, models.Distance.DOT)})
    assert sorted(c.name for c in client.get_collections().collections) == ["a", "b"]
    assert client.collection_exists("a") is True
    assert client.collection_exists("zzz") is False
    assert client.delete_collection("a") is True
    assert client.delete_collection("a") is False
    assert [c.name for c in client.get_collections().collections] == ["b"]


def test_create_existing_collection_fails(client):
    client.create_collection("a", vectors_config=_vp())
    with pytest.raises(BadRequestError, match="already exists"):
        client.create_collection("a", vectors_config=_vp(8))
    assert client.get_collection("a").config.params.vectors.size == 4


def test_get_collection_reports_config_and_counts(client):
    client.create_collection(
        "c",
        vectors_config=_vp(3, models.Distance.EUCLID),
        hnsw_config=models.HnswConfigDiff(m=32),
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=500),
        metadata={"owner": "me"},
    )
    client.upsert("c", points=[models.PointStruct(id=i, vector=[i, 0, 0]) for i in range(5)])
    info = client.get_collection("c")
    assert isinstance(info, models.CollectionInfo)
    assert info.status == models.CollectionStatus.GREEN
    assert info.points_count == 5
    assert info.config.params.vectors.size == 3
    assert info.config.params.vectors.distance == models.Distance.EUCLID
    assert info.config.hnsw_config.m == 32
    assert info.config.hnsw_config.ef_construct == 100  # default kept
    assert info.config.optimizer_config.indexing_threshold == 500
    assert info.config.metadata == {"owner": "me"}


def test_missing_collection_is_not_found(client):
    with pytest.raises(NotFoundError, match="doesn't exist"):
        client.get_collection("nope")
    with pytest.raises(NotFoundError):
        client.upsert("nope", points=[models.PointStruct(id=1, vector=[1, 2])])
    with pytest.raises(NotFoundError):
        client.query_points("nope", query=[1.0, 2.0])
    with pytest.raises(NotFoundError):
        client.count("nope")


def test_update_collection_metadata_merges_and_removes(client):
    client.create_collection("c", vectors_config=_vp(), metadata={"a": 1, "b": 2})
    assert client.update_collection("c", metadata={"b": None, "c": 3}) is True
    assert client.get_collection("c").config.metadata == {"a": 1, "c": 3}
    client.update_collection("c", optimizers_config=models.OptimizersConfigDiff(deleted_threshold=0.5))
    client.update_collection("c", hnsw_config=models.HnswConfigDiff(ef_construct=200))
    cfg = client.get_collection("c").config
    assert cfg.optimizer_config.deleted_threshold == 0.5
    assert cfg.hnsw_config.ef_construct == 200
    assert cfg.hnsw_config.m == 16


def test_update_collection_persists(path_client_factory):
    client_factory = path_client_factory
    c = client_factory.open()
    c.create_collection("c", vectors_config=_vp())
    c.update_collection("c", metadata={"k": "v"})
    c.create_payload_index("c", "city", models.PayloadSchemaType.KEYWORD)
    c.close()
    c = client_factory.open()
    info = c.get_collection("c")
    assert info.config.metadata == {"k": "v"}
    assert info.payload_schema["city"].data_type == models.PayloadSchemaType.KEYWORD


def test_aliases(client):
    client.create_collection("real", vectors_config=_vp(2))
    client.upsert("real", points=[models.PointStruct(id=1, vector=[1, 0])])
    client.update_collection_aliases(
        change_aliases_operations=[
            models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name="real", alias_name="al"))
        ]
    )
    assert client.count("al").count == 1
    assert [(a.alias_name, a.collection_name) for a in client.get_aliases().aliases] == [("al", "real")]
    assert [a.alias_name for a in client.get_collection_aliases("real").aliases] == ["al"]
    client.update_collection_aliases(
        change_aliases_operations=[
            models.RenameAliasOperation(rename_alias=models.RenameAlias(old_alias_name="al", new_alias_name="al2"))
        ]
    )
    assert [a.alias_name for a in client.get_aliases().aliases] == ["al2"]
    assert client.query_points("al2", query=[1, 0]).points[0].id == 1
    client.update_collection_aliases(
        change_aliases_operations=[models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name="al2"))]
    )
    assert client.get_aliases().aliases == []
    with pytest.raises(NotFoundError):
        client.count("al2")


def test_alias_ops_are_all_or_nothing(client):
    client.create_collection("real", vectors_config=_vp(2))
    with pytest.raises(NotFoundError):
        client.update_collection_aliases(
            change_aliases_operations=[
                models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name="real", alias_name="ok")),
                models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name="missing", alias_name="x")),
            ]
        )
    assert client.get_aliases().aliases == []


def test_deleting_collection_drops_its_aliases(client):
    client.create_collection("real", vectors_config=_vp(2))
    client.update_collection_aliases(
        change_aliases_operations=[{"create_alias": {"collection_name": "real", "alias_name": "al"}}]
    )
    client.delete_collection("real")
    assert client.get_aliases().aliases == []


def test_payload_index_is_reported(client):
    client.create_collection("c", vectors_config=_vp(2))
    client.upsert(
        "c",
        points=[
            models.PointStruct(id=1, vector=[1, 0], payload={"price": 10}),
            models.PointStruct(id=2, vector=[0, 1], payload={"price": 20.5}),
            models.PointStruct(id=3, vector=[1, 1], payload={"other": 1}),
        ],
    )
    client.create_payload_index("c", field_name="price", field_schema=models.PayloadSchemaType.FLOAT)
    client.create_payload_index("c", field_name="name", field_schema=models.TextIndexParams(
        type=models.TextIndexType.TEXT, tokenizer=models.TokenizerType.WORD, lowercase=True))
    schema = client.get_collection("c").payload_schema
    assert schema["price"].data_type == models.PayloadSchemaType.FLOAT
    assert schema["price"].points == 2
    assert schema["name"].data_type == models.PayloadSchemaType.TEXT
    assert schema["name"].params.tokenizer == models.TokenizerType.WORD
    client.delete_payload_index("c", "price")
    assert set(client.get_collection("c").payload_schema) == {"name"}
