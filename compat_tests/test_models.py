"""sdk.models against the OpenAPI spec and against qdrant-client's models.

* every schema of the v1.19 spec (and the legacy request schemas) has a name in ``sdk.models``;
* every class qdrant-client exports for a v1.19 schema has a twin with the same fields / values;
* representative request and response bodies survive validate -> dump unchanged;
* unions discriminate like the official ones (strict primitives, forbid on request models);
* numpy arrays are accepted for vectors;
* the committed generated files are what ``tools/gen_models.py`` produces (drift check).
"""

import enum
import importlib
import importlib.util
import json
import subprocess
import sys
import typing
import uuid
from pathlib import Path

import numpy as np
import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import PydanticUndefined

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from sdk import models  # noqa: E402
from sdk._operation import Operation  # noqa: E402
from sdk._operations_spec import OPERATIONS  # noqa: E402

REFERENCE_DIR = REPO_ROOT.parent / "shared" / "reference"
SPEC_PATH = REFERENCE_DIR / "qdrant-openapi-v1.19.json"
LEGACY_SPEC_PATH = REFERENCE_DIR / "qdrant-openapi-v1.18-legacy.json"

official = importlib.import_module("qdrant_client.http.models.models")

# qdrant-client 1.20.0 is generated from a newer spec than v1.19: these fields / enum values exist
# there but not in the v1.19 spec (asserted below). Any other difference fails the test.
NEWER_THAN_V119_FIELDS = {
    "AuditTelemetry": {"output"},
    "BoolIndexParams": {"nested"},
    "CollectionInfo": {"created_at"},
    "CollectionParams": {"id_tracker"},
    "CollectionParamsDiff": {"id_tracker"},
    "CreateCollection": {"id_tracker"},
    "DatetimeIndexParams": {"nested"},
    "FeatureFlags": {
        "append_only_storages",
        "async_hnsw_graph",
        "combined_vector_storage",
        "compact_logstore_tracker",
        "persist_proxy_segments",
        "transfer_raw_payloads",
        "transfer_raw_points",
    },
    "FloatIndexParams": {"nested"},
    "GeoIndexParams": {"nested"},
    "IntegerIndexParams": {"nested"},
    "KeywordIndexParams": {"nested"},
    "RunningEnvironmentTelemetry": {"container_runtime"},
    "SegmentConfig": {"id_tracker_memory"},
    "TextIndexParams": {"nested", "scoring"},
    "UuidIndexParams": {"nested"},
    "VectorIndexSearchesTelemetry": {"filtered_acorn"},
}
NEWER_THAN_V119_ENUM_VALUES = {
    "Datatype": {"turbo8", "turbo16"},
    "TokenizerType": {"code"},
    "TurboQuantBitSize": {"bits8"},
    "VectorStorageDatatype": {"turbo8", "turbo16"},
}
# Where we follow the spec's default and qdrant-client has None.
DEFAULT_DIFFERENCES = {("WithLookup", "with_payload"): (True, None)}


def load_spec(path):
    return json.loads(path.read_text(encoding="utf-8"))


SPEC = load_spec(SPEC_PATH)
SCHEMAS = SPEC["components"]["schemas"]
LEGACY_SCHEMAS = load_spec(LEGACY_SPEC_PATH)["components"]["schemas"]
LEGACY_ONLY = sorted(set(LEGACY_SCHEMAS) - set(SCHEMAS))


def official_classes():
    """(name, class) of qdrant-client's pydantic models and enums named after a v1.19 schema.

    Names bound to a class of another name (``FeedbackStrategy = Union[NaiveFeedbackStrategy,]``,
    single-variant unions) are type aliases there; ``test_official_single_variant_aliases`` covers them.
    """
    found = []
    for name, obj in sorted(vars(official).items()):
        if name not in SCHEMAS or not isinstance(obj, type) or obj.__name__ != name:
            continue
        if getattr(obj, "__module__", None) != official.__name__:
            continue
        if issubclass(obj, (BaseModel, enum.Enum)):
            found.append((name, obj))
    return found


def json_names(model):
    return {(info.alias or name) for name, info in model.model_fields.items()}


def build_all():
    for name in models.__all__:
        obj = getattr(models, name)
        if isinstance(obj, type) and issubclass(obj, BaseModel):
            obj.model_rebuild()


# ------------------------------------------------------------------------------------------------
# Names and shapes
# ------------------------------------------------------------------------------------------------


def test_every_spec_schema_is_exported():
    exported = set(models.__all__)
    missing = sorted((set(SCHEMAS) | set(LEGACY_ONLY)) - exported)
    assert missing == []
    for name in list(SCHEMAS) + LEGACY_ONLY:
        assert getattr(models, name) is not None
    assert len(SCHEMAS) == 400
    assert set(LEGACY_ONLY) >= {
        "SearchRequest",
        "SearchRequestBatch",
        "SearchGroupsRequest",
        "RecommendRequest",
        "RecommendRequestBatch",
        "RecommendGroupsRequest",
        "DiscoverRequest",
        "DiscoverRequestBatch",
        "NamedVectorStruct",
        "NamedVector",
        "NamedSparseVector",
        "RecommendExample",
        "ContextExamplePair",
    }


def test_all_models_build():
    """Every forward reference resolves (the models are built lazily, force it here)."""
    build_all()
    classes = [getattr(models, name) for name in models.__all__]
    count = sum(1 for obj in classes if isinstance(obj, type) and issubclass(obj, BaseModel))
    assert count > 300


def test_classes_match_official_client():
    compared = 0
    for name, theirs in official_classes():
        ours = getattr(models, name, None)
        assert ours is not None, name
        if issubclass(theirs, enum.Enum):
            assert isinstance(ours, type) and issubclass(ours, enum.Enum) and issubclass(ours, str), name
            their_values = {m.value for m in theirs}
            our_values = {m.value for m in ours}
            newer = NEWER_THAN_V119_ENUM_VALUES.get(name, set())
            assert our_values == their_values - newer, name
            assert newer.isdisjoint(SCHEMAS[name]["enum"]), name
            for member in ours:
                assert theirs(member.value).name == member.name, (name, member)
        else:
            assert isinstance(ours, type) and issubclass(ours, BaseModel), name
            newer = NEWER_THAN_V119_FIELDS.get(name, set())
            assert json_names(ours) == json_names(theirs) - newer, name
            assert newer.isdisjoint(SCHEMAS[name].get("properties", {})), name
            assert (ours.model_config.get("extra") == "forbid") == (theirs.model_config.get("extra") == "forbid"), name
            their_fields = {(i.alias or n): i for n, i in theirs.model_fields.items()}
            for attr, info in ours.model_fields.items():
                key = info.alias or attr
                their = their_fields[key]
                assert info.is_required() == their.is_required(), (name, key)
                if info.is_required():
                    continue
                our_default = info.get_default(call_default_factory=True)
                their_default = their.get_default(call_default_factory=True)
                if (name, key) in DEFAULT_DIFFERENCES:
                    assert (our_default, their_default) == DEFAULT_DIFFERENCES[(name, key)]
                else:
                    assert our_default == their_default, (name, key)
        compared += 1
    assert compared > 300


def test_official_single_variant_aliases():
    # anyOf with one member: an alias of that member in both
    assert official.FeedbackStrategy is official.NaiveFeedbackStrategy
    assert models.FeedbackStrategy is models.NaiveFeedbackStrategy
    # oneOf of single-value string enums: qdrant-client keeps one `...OneOf` enum per variant (and
    # its newer spec has only "mmap" here); we merge the variants into one enum with the spec's values
    assert official.SparseVectorStorageType is official.SparseVectorStorageTypeOneOf
    assert [m.value for m in models.SparseVectorStorageType] == ["mmap", "empty"]
    assert models.SparseVectorStorageType.MMAP.name == official.SparseVectorStorageTypeOneOf.MMAP.name


def test_known_differences_are_real():
    """The allow-lists above only name things qdrant-client really has."""
    for name, fields in NEWER_THAN_V119_FIELDS.items():
        assert fields <= json_names(getattr(official, name)), name
    for name, values in NEWER_THAN_V119_ENUM_VALUES.items():
        assert values <= {m.value for m in getattr(official, name)}, name


def test_keyword_fields_use_aliases():
    match = models.MatchExcept(**{"except": [1, 2]})
    assert match.except_ == [1, 2]
    assert models.MatchExcept(except_=["a"]).model_dump() == {"except": ["a"]}
    transfer = models.ShardTransferInfo.model_validate({"shard_id": 1, "from": 2, "to": 3, "sync": False})
    assert transfer.from_ == 2
    assert transfer.model_dump(mode="json", exclude_unset=True) == {"shard_id": 1, "from": 2, "to": 3, "sync": False}


def test_enums():
    assert models.Distance.COSINE == "Cosine"
    assert str(models.Distance.COSINE) == "Cosine"
    assert models.PayloadSchemaType.KEYWORD.value == "keyword"
    assert models.BinaryQuantizationEncoding.ONE_AND_HALF_BITS.value == "one_and_half_bits"
    # oneOf of single-value string enums is one enum
    assert [m.value for m in models.LowMemoryMode] == ["disabled", "no_resident", "no_populate"]
    assert models.VectorStorageType("ChunkedMmap") is models.VectorStorageType.CHUNKEDMMAP


def test_defaults():
    assert models.CountRequest().exact is True
    assert models.CountRequest().model_dump(exclude_unset=True) == {}
    assert models.SearchParams().exact is False
    assert models.Bm25Config().k == 1.2
    assert models.FormulaQuery(formula=1.0).defaults == {}
    assert models.FormulaQuery(formula=1.0).defaults is not models.FormulaQuery(formula=2.0).defaults
    assert models.VectorParams(size=4, distance="Dot").hnsw_config is None
    with pytest.raises(ValidationError):
        models.VectorParams(size=4)  # distance is required


def test_request_models_forbid_unknown_fields():
    with pytest.raises(ValidationError):
        models.PointStruct(id=1, vector=[0.1], vectors=[0.1])
    with pytest.raises(ValidationError):
        models.Filter(mst=[])
    # response models ignore fields a newer server may add
    info = models.CollectionDescription.model_validate({"name": "a", "new_field": 1})
    assert info.name == "a"


# ------------------------------------------------------------------------------------------------
# Round trips
# ------------------------------------------------------------------------------------------------

FILTER_JSON = {
    "must": [
        {"key": "city", "match": {"value": "London"}},
        {
            "should": [
                {"key": "count", "range": {"gte": 1, "lt": 10.5}},
                {"has_id": [1, "550e8400-e29b-41d4-a716-446655440000"]},
                {"key": "created", "range": {"gt": "2024-01-01T00:00:00Z"}},
            ],
            "min_should": {"conditions": [{"key": "flag", "match": {"value": True}}], "min_count": 1},
        },
        {"key": "location", "geo_radius": {"center": {"lon": 13.4, "lat": 52.5}, "radius": 1000.0}},
    ],
    "must_not": [
        {"is_empty": {"key": "tags"}},
        {"is_null": {"key": "owner"}},
        {"nested": {"key": "items", "filter": {"must": [{"key": "price", "match": {"any": [1, 2, 3]}}]}}},
        {"key": "color", "match": {"except": ["red", "blue"]}},
        {"has_vector": "image"},
    ],
    "should": {"key": "description", "match": {"text": "good cheap"}},
}

QUERY_REQUEST_JSON = {
    "prefetch": [
        {"query": [0.1, 0.2, 0.3], "using": "dense", "limit": 20},
        {"query": {"indices": [1, 42], "values": [0.5, 0.25]}, "using": "sparse", "limit": 20},
        {
            "prefetch": {"query": {"nearest": [0.3, 0.2, 0.1]}, "using": "dense", "limit": 50},
            "query": {"order_by": {"key": "timestamp", "direction": "desc"}},
            "limit": 30,
            "filter": {"must": {"key": "lang", "match": {"value": "en"}}},
        },
    ],
    "query": {"fusion": "rrf"},
    "limit": 10,
    "offset": 5,
    "with_payload": ["city", "title"],
    "with_vector": False,
    "params": {"hnsw_ef": 128, "exact": False, "quantization": {"rescore": True, "oversampling": 2.0}},
    "score_threshold": 0.25,
    "filter": {"must_not": [{"key": "deleted", "match": {"value": True}}]},
}

POINTS_LIST_JSON = {
    "points": [
        {
            "id": 1,
            "vector": {"dense": [0.1, 0.2, 0.3], "sparse": {"indices": [3, 7], "values": [0.5, 0.75]}},
            "payload": {"city": "Berlin", "tags": ["a", "b"], "nested": {"x": 1}},
        },
        {
            "id": "550e8400-e29b-41d4-a716-446655440000",
            "vector": {"dense": [0.4, 0.5, 0.6], "colbert": [[0.1, 0.2], [0.3, 0.4]]},
            "payload": None,
        },
    ],
    "update_filter": {"must": [{"key": "version", "range": {"lt": 3}}]},
}

CREATE_COLLECTION_JSON = {
    "vectors": {
        "size": 768,
        "distance": "Cosine",
        "hnsw_config": {"m": 32, "ef_construct": 200, "on_disk": True},
        "on_disk": True,
        "datatype": "float16",
    },
    "sparse_vectors": {"text": {"modifier": "idf", "index": {"on_disk": False}}},
    "shard_number": 2,
    "replication_factor": 1,
    "on_disk_payload": True,
    "hnsw_config": {"m": 16, "ef_construct": 100, "full_scan_threshold": 10000, "payload_m": 16},
    "optimizers_config": {"deleted_threshold": 0.2, "indexing_threshold": 20000},
    "wal_config": {"wal_capacity_mb": 32},
    "quantization_config": {"scalar": {"type": "int8", "quantile": 0.99, "always_ram": True}},
    "metadata": {"owner": "team-a"},
}

# GET /collections/{name} result as Qdrant 1.19 returns it
COLLECTION_INFO_JSON = {
    "status": "green",
    "optimizer_status": "ok",
    "warnings": [],
    "indexed_vectors_count": 0,
    "points_count": 2,
    "segments_count": 2,
    "config": {
        "params": {
            "vectors": {
                "dense": {"size": 4, "distance": "Dot", "on_disk": False},
                "colbert": {
                    "size": 2,
                    "distance": "Cosine",
                    "multivector_config": {"comparator": "max_sim"},
                },
            },
            "shard_number": 1,
            "replication_factor": 1,
            "write_consistency_factor": 1,
            "on_disk_payload": True,
            "sparse_vectors": {"sparse": {"modifier": "none"}},
        },
        "hnsw_config": {
            "m": 16,
            "ef_construct": 100,
            "full_scan_threshold": 10000,
            "max_indexing_threads": 0,
            "on_disk": False,
        },
        "optimizer_config": {
            "deleted_threshold": 0.2,
            "vacuum_min_vector_number": 1000,
            "default_segment_number": 0,
            "max_segment_size": None,
            "memmap_threshold": None,
            "indexing_threshold": 10000,
            "flush_interval_sec": 5,
            "max_optimization_threads": None,
        },
        "wal_config": {"wal_capacity_mb": 32, "wal_segments_ahead": 0, "wal_retain_closed": 1},
        "quantization_config": None,
        "strict_mode_config": {"enabled": False},
        "metadata": {},
    },
    "payload_schema": {
        "city": {"data_type": "keyword", "params": {"type": "keyword", "is_tenant": True}, "points": 2},
        "price": {"data_type": "float", "points": 1},
    },
    "update_queue": {"length": 0},
}


@pytest.mark.parametrize(
    "model, body",
    [
        ("Filter", FILTER_JSON),
        ("QueryRequest", QUERY_REQUEST_JSON),
        ("PointsList", POINTS_LIST_JSON),
        ("CreateCollection", CREATE_COLLECTION_JSON),
        ("CollectionInfo", COLLECTION_INFO_JSON),
    ],
)
def test_round_trip(model, body):
    cls = getattr(models, model)
    obj = cls.model_validate(body)
    assert obj.model_dump(mode="json", exclude_unset=True) == body
    # and through JSON text, as the transport would do it
    again = cls.model_validate_json(json.dumps(body))
    assert again.model_dump(mode="json", exclude_unset=True) == body


def test_round_trip_resolves_to_the_right_classes():
    filt = models.Filter.model_validate(FILTER_JSON)
    assert isinstance(filt.must[0], models.FieldCondition)
    assert isinstance(filt.must[0].match, models.MatchValue)
    assert isinstance(filt.must[1], models.Filter)
    assert isinstance(filt.must[1].should[1], models.HasIdCondition)
    assert isinstance(filt.must[1].should[2].range, models.DatetimeRange)
    assert isinstance(filt.must[1].should[0].range, models.Range)
    assert isinstance(filt.must_not[0], models.IsEmptyCondition)
    assert isinstance(filt.must_not[1], models.IsNullCondition)
    assert isinstance(filt.must_not[2], models.NestedCondition)
    assert isinstance(filt.must_not[3].match, models.MatchExcept)
    assert isinstance(filt.must_not[4], models.HasVectorCondition)
    assert isinstance(filt.should, models.FieldCondition)
    assert isinstance(filt.should.match, models.MatchText)

    query = models.QueryRequest.model_validate(QUERY_REQUEST_JSON)
    assert isinstance(query.query, models.FusionQuery)
    assert query.query.fusion is models.Fusion.RRF
    assert query.prefetch[0].query == [0.1, 0.2, 0.3]
    assert isinstance(query.prefetch[1].query, models.SparseVector)
    assert isinstance(query.prefetch[2].prefetch, models.Prefetch)
    assert isinstance(query.prefetch[2].prefetch.query, models.NearestQuery)
    assert isinstance(query.prefetch[2].query, models.OrderByQuery)
    assert query.with_payload == ["city", "title"]
    assert query.with_vector is False

    points = models.PointsList.model_validate(POINTS_LIST_JSON)
    assert isinstance(points.points[0].vector["sparse"], models.SparseVector)
    assert points.points[1].vector["colbert"] == [[0.1, 0.2], [0.3, 0.4]]
    assert points.points[1].id == "550e8400-e29b-41d4-a716-446655440000"

    create = models.CreateCollection.model_validate(CREATE_COLLECTION_JSON)
    assert isinstance(create.vectors, models.VectorParams)
    assert create.vectors.distance is models.Distance.COSINE
    assert isinstance(create.quantization_config, models.ScalarQuantization)

    info = models.CollectionInfo.model_validate(COLLECTION_INFO_JSON)
    assert info.status is models.CollectionStatus.GREEN
    assert info.optimizer_status == "ok"
    assert isinstance(info.config.params.vectors["dense"], models.VectorParams)
    assert info.payload_schema["city"].data_type is models.PayloadSchemaType.KEYWORD
    assert isinstance(info.payload_schema["city"].params, models.KeywordIndexParams)
    failing = models.CollectionInfo.model_validate({**COLLECTION_INFO_JSON, "optimizer_status": {"error": "boom"}})
    assert isinstance(failing.optimizer_status, models.OptimizersStatusError)


def test_legacy_request_models():
    search = models.SearchRequest.model_validate(
        {"vector": {"name": "image", "vector": [0.1, 0.2]}, "limit": 3, "filter": FILTER_JSON}
    )
    assert isinstance(search.vector, models.NamedVector)
    sparse = models.SearchRequest(vector={"name": "text", "vector": {"indices": [1], "values": [0.5]}}, limit=1)
    assert isinstance(sparse.vector, models.NamedSparseVector)
    plain = models.SearchRequest(vector=[0.1, 0.2], limit=1)
    assert plain.vector == [0.1, 0.2]
    rec = models.RecommendRequest(positive=[1, "550e8400-e29b-41d4-a716-446655440000", [0.5, 0.5]], limit=2)
    assert rec.positive[0] == 1 and rec.positive[2] == [0.5, 0.5]
    assert rec.negative == []
    disc = models.DiscoverRequest(target=5, context=[{"positive": 1, "negative": 2}], limit=1)
    assert isinstance(disc.context[0], models.ContextExamplePair)
    batch = models.SearchRequestBatch(searches=[plain])
    assert batch.model_dump(exclude_unset=True) == {"searches": [{"vector": [0.1, 0.2], "limit": 1}]}


# ------------------------------------------------------------------------------------------------
# Union discrimination
# ------------------------------------------------------------------------------------------------


def validate(tp, value):
    return TypeAdapter(tp).validate_python(value)


def test_match_value_keeps_its_type():
    assert models.MatchValue(value=True).value is True
    one = models.MatchValue(value=1).value
    assert one == 1 and type(one) is int
    assert models.MatchValue(value="1").value == "1"
    assert models.FieldCondition(key="a", match={"value": False}).match.value is False
    assert validate(models.ValueVariants, True) is True
    assert type(validate(models.FacetValue, 7)) is int


def test_extended_point_id():
    assert validate(models.ExtendedPointId, 42) == 42
    text = "550e8400-e29b-41d4-a716-446655440000"
    assert validate(models.ExtendedPointId, text) == text
    as_uuid = uuid.UUID(text)
    assert validate(models.ExtendedPointId, as_uuid) == as_uuid
    assert models.PointStruct(id=as_uuid, vector=[1.0]).model_dump(mode="json")["id"] == text
    with pytest.raises(ValidationError):
        validate(models.ExtendedPointId, 1.5)
    with pytest.raises(ValidationError):
        validate(models.ExtendedPointId, True)


@pytest.mark.parametrize(
    "body, cls",
    [
        ({"key": "a", "match": {"value": 1}}, "FieldCondition"),
        ({"key": "a", "range": {"gte": 1}}, "FieldCondition"),
        ({"must": [{"key": "a", "match": {"value": 1}}]}, "Filter"),
        ({"should": [], "must_not": []}, "Filter"),
        ({"has_id": [1, 2]}, "HasIdCondition"),
        ({"is_empty": {"key": "a"}}, "IsEmptyCondition"),
        ({"is_null": {"key": "a"}}, "IsNullCondition"),
        ({"has_vector": "dense"}, "HasVectorCondition"),
        ({"nested": {"key": "a", "filter": {}}}, "NestedCondition"),
    ],
)
def test_condition_resolves(body, cls):
    assert type(validate(models.Condition, body)) is getattr(models, cls)


@pytest.mark.parametrize(
    "value, expected",
    [
        ([0.1, 0.2], list),
        ([[0.1, 0.2], [0.3, 0.4]], list),
        (7, int),
        ("550e8400-e29b-41d4-a716-446655440000", str),
        ({"indices": [1], "values": [0.5]}, "SparseVector"),
        ({"nearest": [0.1, 0.2]}, "NearestQuery"),
        ({"recommend": {"positive": [1]}}, "RecommendQuery"),
        ({"fusion": "dbsf"}, "FusionQuery"),
        ({"order_by": "price"}, "OrderByQuery"),
        ({"sample": "random"}, "SampleQuery"),
        ({"formula": {"sum": ["$score", 1.0]}}, "FormulaQuery"),
        ({"text": "hello", "model": "bm25"}, "Document"),
    ],
)
def test_query_interface_resolves(value, expected):
    result = validate(models.QueryInterface, value)
    expected_type = getattr(models, expected) if isinstance(expected, str) else expected
    assert type(result) is expected_type


def test_other_unions():
    assert validate(models.WithPayloadInterface, True) is True
    assert validate(models.WithPayloadInterface, ["a"]) == ["a"]
    assert isinstance(validate(models.WithPayloadInterface, {"exclude": ["a"]}), models.PayloadSelectorExclude)
    assert isinstance(validate(models.PointInsertOperations, {"points": []}), models.PointsList)
    assert isinstance(
        validate(models.PointInsertOperations, {"batch": {"ids": [1], "vectors": [[1.0]]}}), models.PointsBatch
    )
    assert isinstance(validate(models.PointsSelector, {"points": [1]}), models.PointIdsList)
    assert isinstance(validate(models.PointsSelector, {"filter": {}}), models.FilterSelector)
    assert isinstance(validate(models.VectorsConfig, {"size": 3, "distance": "Dot"}), models.VectorParams)
    named = validate(models.VectorsConfig, {"a": {"size": 3, "distance": "Dot"}})
    assert isinstance(named, dict) and isinstance(named["a"], models.VectorParams)
    assert isinstance(validate(models.QuantizationConfigDiff, {"binary": {}}), models.BinaryQuantization)
    assert validate(models.QuantizationConfigDiff, "Disabled") is models.Disabled.DISABLED
    assert validate(models.ReadConsistency, 2) == 2
    assert validate(models.ReadConsistency, "majority") is models.ReadConsistencyType.MAJORITY
    assert isinstance(validate(models.Match, {"any": ["a"]}), models.MatchAny)
    assert isinstance(validate(models.Match, {"text": "a"}), models.MatchText)
    assert isinstance(validate(models.RangeInterface, {"lt": "2024-05-01T10:00:00Z"}), models.DatetimeRange)
    assert isinstance(validate(models.RangeInterface, {"lt": 5}), models.Range)
    assert type(validate(models.OrderValue, 3)) is int
    assert isinstance(validate(models.UpdateOperation, {"upsert": {"points": []}}), models.UpsertOperation)
    assert isinstance(validate(models.UpdateOperation, {"delete": {"points": [1]}}), models.DeleteOperation)
    assert validate(models.TrackerStatus, "done") == "done"
    assert isinstance(validate(models.TrackerStatus, {"error": "x"}), models.TrackerStatusError)
    assert isinstance(validate(models.ClusterStatus, {"status": "disabled"}), models.ClusterStatusDisabled)


# ------------------------------------------------------------------------------------------------
# numpy
# ------------------------------------------------------------------------------------------------


def test_numpy_vectors():
    point = models.PointStruct(id=1, vector=np.array([0.5, 0.25, 1.0], dtype=np.float32))
    assert point.vector == [0.5, 0.25, 1.0]
    assert type(point.vector) is list and all(type(x) is float for x in point.vector)

    named = models.PointStruct(
        id=2,
        vector={"dense": np.arange(3, dtype=np.float64), "multi": [np.ones(2), np.zeros(2)], "plain": [1.0]},
    )
    assert named.vector == {"dense": [0.0, 1.0, 2.0], "multi": [[1.0, 1.0], [0.0, 0.0]], "plain": [1.0]}

    multi = models.PointStruct(id=3, vector=np.ones((2, 3), dtype=np.float32))
    assert multi.vector == [[1.0] * 3] * 2

    batch = models.Batch(ids=[1, 2], vectors=np.zeros((2, 4), dtype=np.float32))
    assert batch.vectors == [[0.0] * 4] * 2
    batch_rows = models.Batch(ids=[1, 2], vectors=[np.zeros(2), np.ones(2)])
    assert batch_rows.vectors == [[0.0, 0.0], [1.0, 1.0]]
    batch_named = models.Batch(ids=[1], vectors={"a": [np.ones(2)]})
    assert batch_named.vectors == {"a": [[1.0, 1.0]]}

    update = models.PointVectors(id=1, vector={"a": np.array([1.0, 2.0])})
    assert update.vector == {"a": [1.0, 2.0]}

    query = models.QueryRequest(query=np.array([0.1, 0.2], dtype=np.float32))
    assert type(query.query) is list
    mixed = models.RecommendInput(positive=[1, np.array([0.5, 1.0])], negative=[np.array([2.0])])
    assert mixed.positive == [1, [0.5, 1.0]] and mixed.negative == [[2.0]]
    nearest = models.NearestQuery(nearest=np.array([1.0]))
    assert nearest.nearest == [1.0]
    sparse = models.SparseVector(indices=np.array([1, 5]), values=np.array([0.5, 0.25], dtype=np.float32))
    assert sparse.indices == [1, 5] and sparse.values == [0.5, 0.25]
    legacy = models.SearchRequest(vector=np.array([1.0, 2.0]), limit=1)
    assert legacy.vector == [1.0, 2.0]
    assert models.PointStruct(id=1, vector=np.array([1.0])).model_dump(mode="json")["vector"] == [1.0]


# ------------------------------------------------------------------------------------------------
# Operations table
# ------------------------------------------------------------------------------------------------

LEGACY_OPERATION_IDS = {
    "search_points",
    "search_batch_points",
    "search_point_groups",
    "recommend_points",
    "recommend_batch_points",
    "recommend_point_groups",
    "discover_points",
    "discover_batch_points",
}


def test_operations_cover_the_spec():
    spec_ops = {
        op["operationId"]: (method.upper(), path)
        for path, item in SPEC["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    }
    assert len(spec_ops) == 69
    assert set(OPERATIONS) == set(spec_ops) | LEGACY_OPERATION_IDS
    for op_id, (method, path) in spec_ops.items():
        op = OPERATIONS[op_id]
        assert isinstance(op, Operation)
        assert (op.method, op.path) == (method, path)
        assert op.operation_id == op_id
        assert not op.legacy
    assert {op_id for op_id, op in OPERATIONS.items() if op.legacy} == LEGACY_OPERATION_IDS


def test_operation_entries():
    upsert = OPERATIONS["upsert_points"]
    assert upsert == Operation(
        operation_id="upsert_points",
        method="PUT",
        path="/collections/{collection_name}/points",
        path_params=("collection_name",),
        query_params=("wait", "ordering", "timeout"),
        body_model="PointInsertOperations",
        result_type="UpdateResult",
    )
    assert OPERATIONS["get_points"].result_type == "List[Record]"
    assert OPERATIONS["get_collections"].result_type == "CollectionsResponse"
    assert OPERATIONS["create_collection"].result_type == "bool"
    assert OPERATIONS["get_point"].path_params == ("collection_name", "id")
    assert OPERATIONS["delete_field_index"].path_params == ("collection_name", "field_name")
    assert OPERATIONS["recover_from_uploaded_snapshot"].body_model == "multipart"
    assert OPERATIONS["root"].result_type is None and OPERATIONS["root"].response_type == "VersionInfo"
    assert OPERATIONS["healthz"].response_type == "str"
    assert OPERATIONS["get_snapshot"].response_type == "bytes"
    search = OPERATIONS["search_points"]
    assert (search.method, search.path, search.body_model, search.result_type) == (
        "POST",
        "/collections/{collection_name}/points/search",
        "SearchRequest",
        "List[ScoredPoint]",
    )
    assert OPERATIONS["search_batch_points"].result_type == "List[List[ScoredPoint]]"
    assert OPERATIONS["recommend_point_groups"].result_type == "GroupsResult"
    assert OPERATIONS["discover_batch_points"].body_model == "DiscoverRequestBatch"


def test_operation_types_resolve():
    namespace = {**vars(typing), **{name: getattr(models, name) for name in models.__all__}}
    for op in OPERATIONS.values():
        if op.body_model not in (None, "multipart"):
            assert op.body_model in models.__all__, op
        for expr in (op.result_type, op.response_type):
            if expr is not None and expr not in ("str", "bytes"):
                TypeAdapter(eval(expr, namespace))  # noqa: S307 - generated type expressions


# ------------------------------------------------------------------------------------------------
# Generator drift
# ------------------------------------------------------------------------------------------------


def test_generated_files_are_up_to_date(tmp_path):
    script = REPO_ROOT / "tools" / "gen_models.py"
    subprocess.run([sys.executable, str(script), "--out-dir", str(tmp_path), "--spec", str(SPEC_PATH)], check=True)
    for rel in ("sdk/models/_generated.py", "sdk/_operations_spec.py"):
        fresh = (tmp_path / rel).read_bytes()
        assert fresh == (REPO_ROOT / rel).read_bytes(), f"{rel} is stale: run tools/gen_models.py"


def test_generated_code_has_no_spec_prose():
    text = (REPO_ROOT / "sdk" / "models" / "_generated.py").read_text(encoding="utf-8")
    assert text.startswith("# Generated by tools/gen_models.py from qdrant-openapi-v1.19.json")
    assert "description" not in text
    assert '"""' not in text


def test_generator_handles_shapes_the_spec_does_not_use(tmp_path, monkeypatch):
    """allOf wrappers and merges, keyword / BaseModel-attribute field names, enum defaults."""
    spec = importlib.util.spec_from_file_location("gen_models_under_test", REPO_ROOT / "tools" / "gen_models.py")
    gen_models = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, gen_models)  # dataclasses look their module up
    spec.loader.exec_module(gen_models)
    ref = "#/components/schemas/"
    schemas = {
        "Colour": {"type": "string", "enum": ["light-blue", "Red"]},
        "Base": {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}},
        "Wrapped": {"allOf": [{"$ref": ref + "Base"}]},
        "Merged": {
            "allOf": [
                {"$ref": ref + "Base"},
                {"type": "object", "properties": {"schema": {"type": "string"}, "json": {"type": "boolean"}}},
            ]
        },
        "Holder": {
            "type": "object",
            "properties": {
                "colour": {"allOf": [{"$ref": ref + "Colour"}], "nullable": True, "default": "Red"},
                "import": {"type": "string", "format": "date-time"},
                "extra": {"type": "object", "properties": {"a": {"type": "integer"}}},
            },
            "additionalProperties": False,
        },
    }
    gen = gen_models.Generator(schemas, forbid_names=set())
    gen.run()
    package = tmp_path / "synthetic_models"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "_numpy.py").write_text((REPO_ROOT / "sdk" / "models" / "_numpy.py").read_text())
    (package / "_generated.py").write_text(gen_models.emit_models(gen, "synthetic.json", "legacy.json"))
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("synthetic_models._generated")

    assert [m.name for m in mod.Colour] == ["LIGHT_BLUE", "RED"]
    assert mod.Wrapped is mod.Base
    merged = mod.Merged.model_validate({"id": 1, "schema": "s", "json": True})
    assert (merged.id, merged.schema_, merged.json_) == (1, "s", True)
    assert merged.model_dump() == {"id": 1, "schema": "s", "json": True}
    holder = mod.Holder.model_validate({"import": "2024-01-02T03:04:05Z", "extra": {"a": 1}})
    assert holder.colour is mod.Colour.RED
    assert holder.import_.year == 2024
    assert isinstance(holder.extra, mod.HolderExtra)
    assert mod.Holder(colour=None).colour is None
    with pytest.raises(ValidationError):
        mod.Holder(unknown=1)
