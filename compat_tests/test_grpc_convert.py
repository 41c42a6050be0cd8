"""Conversion between sdk.models and Qdrant's protobuf messages (``sdk._grpc``), without a network.

* the committed protos and stubs are what ``tools/gen_protos.py`` produces, and their descriptors
  are the official client's field for field;
* our stubs and qdrant-client's live in one process, in either import order (private pool);
* every operation's request survives client -> wire -> server (model -> pb -> bytes -> pb -> model),
  and every result survives server -> wire -> client, over a corpus of edge cases;
* our request messages equal the ones qdrant-client's own converter builds for the same request;
* what cannot be converted raises ``UnsupportedOperationError`` naming it;
* every rpc of the four public services is accounted for, and every operation has a route.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sdk import models as m
from sdk._exceptions import BadRequestError, UnsupportedOperationError
from sdk._grpc import _pool
from sdk._grpc import points_pb2 as ppb
from sdk._grpc._codec import decode, encode
from sdk._grpc.operations import BY_PATH, NOT_CONVERTED, REST_ONLY, RPCS
from sdk._operations_spec import OPERATIONS

ROOT = Path(__file__).resolve().parents[1]
UTC = dt.timezone.utc
U1 = str(uuid.UUID(int=1))
U2 = "5c56c793-69f3-4fbf-87e6-c4bf54c28c26"


# -- generated files -------------------------------------------------------------------------------------------------
def test_protos_and_stubs_are_up_to_date() -> None:
    done = subprocess.run([sys.executable, "tools/gen_protos.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("first", ["official", "ours"])
def test_both_stub_sets_import_in_one_process(first: str) -> None:
    ours = "import sdk._grpc.points_pb2 as p, sdk._grpc.collections_pb2, sdk._grpc.qdrant_pb2"
    theirs = "import qdrant_client.grpc as q"
    order = [theirs, ours] if first == "official" else [ours, theirs]
    script = "; ".join(order + [
        "assert p.PointStruct is not q.PointStruct",
        "assert p.PointStruct.DESCRIPTOR.file.pool is not q.PointStruct.DESCRIPTOR.file.pool",
        "x = p.PointStruct(); x.id.num = 7",
        "assert q.PointStruct.FromString(x.SerializeToString()).id.num == 7",
    ])
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_descriptors_equal_the_official_ones() -> None:
    import importlib

    from google.protobuf import descriptor_pb2

    for stem in ("json_with_int", "qdrant_common", "collections", "collections_service", "points",
                 "points_service", "snapshots_service", "qdrant"):
        ours = importlib.import_module(f"sdk._grpc.{stem}_pb2").DESCRIPTOR.serialized_pb
        theirs = importlib.import_module(f"qdrant_client.grpc.{stem}_pb2").DESCRIPTOR.serialized_pb
        assert descriptor_pb2.FileDescriptorProto.FromString(ours) == \
            descriptor_pb2.FileDescriptorProto.FromString(theirs), stem


def test_every_rpc_and_operation_is_accounted_for() -> None:
    served = {f"/{s}/{meth.name}" for s in ("qdrant.Collections", "qdrant.Points", "qdrant.Snapshots", "qdrant.Qdrant")
              for meth in _pool.POOL.FindServiceByName(s).methods}
    assert served == set(BY_PATH) | set(NOT_CONVERTED.values())
    assert set(OPERATIONS) == set(RPCS) | set(NOT_CONVERTED) | REST_ONLY
    # qdrant-client sends these over REST even with prefer_grpc: Qdrant has no rpc for them
    for op in ("get_point", "get_snapshot", "recover_from_snapshot", "recover_from_uploaded_snapshot",
               "telemetry", "metrics", "cluster_status", "healthz", "get_full_snapshot"):
        assert op in REST_ONLY


# -- round trips --------------------------------------------------------------------------------------------------------
def request_round_trip(op: str, body: Any, **params: Any) -> tuple[Any, dict]:
    spec = RPCS[op]
    sent = spec.build({"collection_name": "c", "body": body, **params})
    received = spec.request.FromString(sent.SerializeToString())
    return sent, spec.accept(received)


def result_round_trip(op: str, result: Any, body: Any = None) -> Any:
    spec = RPCS[op]
    sent = spec.reply(result, spec.request())
    received = spec.response.FromString(sent.SerializeToString())
    return spec.parse(received, {"body": body})


NESTED_FILTER = m.Filter(
    must=[
        m.FieldCondition(key="city", match=m.MatchValue(value="London")),
        m.FieldCondition(key="n", match=m.MatchValue(value=-3)),
        m.FieldCondition(key="flag", match=m.MatchValue(value=False)),
        m.FieldCondition(key="tags", match=m.MatchAny(any=["a", "b"])),
        m.FieldCondition(key="ids", match=m.MatchAny(any=[1, 2, 3])),
        m.FieldCondition(key="x", match=m.MatchExcept(**{"except": [5]})),
        m.FieldCondition(key="y", match=m.MatchExcept(**{"except": ["no"]})),
        m.FieldCondition(key="t", match=m.MatchText(text="hello")),
        m.FieldCondition(key="t", match=m.MatchTextAny(text_any="hello world")),
        m.FieldCondition(key="t", match=m.MatchPhrase(phrase="hello world")),
        m.FieldCondition(key="t", match=m.MatchPrefix(prefix="hel")),
        m.FieldCondition(key="price", range=m.Range(gte=1.5, lt=10.0)),
        m.FieldCondition(key="ts", range=m.DatetimeRange(gt=dt.datetime(2024, 5, 1, 12, 30, 15, 250000, tzinfo=UTC),
                                                        lte=dt.datetime(2025, 1, 1, tzinfo=UTC))),
        m.FieldCondition(key="loc", geo_radius=m.GeoRadius(center=m.GeoPoint(lon=13.4, lat=52.5), radius=1000.0)),
        m.FieldCondition(key="loc", geo_bounding_box=m.GeoBoundingBox(
            top_left=m.GeoPoint(lon=1.0, lat=2.0), bottom_right=m.GeoPoint(lon=3.0, lat=0.5))),
        m.FieldCondition(key="loc", geo_polygon=m.GeoPolygon(
            exterior=m.GeoLineString(points=[m.GeoPoint(lon=0.0, lat=0.0), m.GeoPoint(lon=1.0, lat=0.0),
                                             m.GeoPoint(lon=0.0, lat=1.0), m.GeoPoint(lon=0.0, lat=0.0)]),
            interiors=[m.GeoLineString(points=[m.GeoPoint(lon=0.1, lat=0.1)])])),
        m.FieldCondition(key="arr", values_count=m.ValuesCount(gte=1, lt=5)),
        m.FieldCondition(key="maybe", is_empty=True),
        m.FieldCondition(key="maybe", is_null=False),
        m.IsEmptyCondition(is_empty=m.PayloadField(key="e")),
        m.IsNullCondition(is_null=m.PayloadField(key="n")),
        m.HasIdCondition(has_id=[1, U1, 2**63]),
        m.HasVectorCondition(has_vector="image"),
        m.NestedCondition(nested=m.Nested(key="diet", filter=m.Filter(
            must=[m.FieldCondition(key="food", match=m.MatchValue(value="meat"))],
            must_not=[m.FieldCondition(key="likes", match=m.MatchValue(value=True))]))),
        m.Filter(should=[m.FieldCondition(key="a", match=m.MatchValue(value=1)),
                         m.Filter(must_not=[m.HasIdCondition(has_id=[U2])])]),
    ],
    must_not=[m.FieldCondition(key="deleted", match=m.MatchValue(value=True))],
    min_should=m.MinShould(conditions=[m.FieldCondition(key="a", match=m.MatchValue(value="x")),
                                       m.FieldCondition(key="b", match=m.MatchValue(value="y"))], min_count=1),
)

PAYLOAD = {
    "null": None, "int": -7, "big": 2**62, "float": 1.25, "str": "ü", "bool": True,
    "nested": {"a": [1, [2, [3, {"deep": None}]]], "empty_obj": {}, "empty_list": []},
    "list_of_objects": [{"x": 1}, {"x": None}],
}

# (operation, request body, extra params, expected body after the round trip or None for "equal")
REQUESTS: list[tuple[str, Any, dict, Any]] = [
    ("create_collection", m.CreateCollection(vectors=m.VectorParams(size=4, distance=m.Distance.DOT)), {"timeout": 7}, None),
    ("create_collection", m.CreateCollection(
        vectors={"img": m.VectorParams(size=8, distance=m.Distance.COSINE, on_disk=True, datatype=m.Datatype.FLOAT16,
                                       hnsw_config=m.HnswConfigDiff(m=8, payload_m=4),
                                       multivector_config=m.MultiVectorConfig(comparator=m.MultiVectorComparator.MAX_SIM),
                                       quantization_config=m.BinaryQuantization(binary=m.BinaryQuantizationConfig(
                                           always_ram=True, encoding=m.BinaryQuantizationEncoding.ONE_AND_HALF_BITS,
                                           query_encoding=m.BinaryQuantizationQueryEncoding.SCALAR8BITS))),
                 "txt": m.VectorParams(size=2, distance=m.Distance.MANHATTAN)},
        sparse_vectors={"bm25": m.SparseVectorParams(modifier=m.Modifier.IDF,
                                                     index=m.SparseIndexParams(full_scan_threshold=10, on_disk=False))},
        shard_number=2, sharding_method=m.ShardingMethod.AUTO, replication_factor=1, write_consistency_factor=1,
        on_disk_payload=True, hnsw_config=m.HnswConfigDiff(ef_construct=50, full_scan_threshold=100, on_disk=False),
        wal_config=m.WalConfigDiff(wal_capacity_mb=16, wal_segments_ahead=1),
        optimizers_config=m.OptimizersConfigDiff(deleted_threshold=0.5, indexing_threshold=0, max_optimization_threads=2,
                                                 flush_interval_sec=3),
        quantization_config=m.ScalarQuantization(scalar=m.ScalarQuantizationConfig(
            type=m.ScalarType.INT8, quantile=0.5, always_ram=True)),
        strict_mode_config=m.StrictModeConfig(enabled=True, max_query_limit=100,
                                              multivector_config={"img": m.StrictModeMultivector(max_vectors=4)},
                                              sparse_config={"bm25": m.StrictModeSparse(max_length=100)}),
        metadata={"owner": "me", "n": 1, "deep": {"x": [None, 1.5]}},
        payload=m.PayloadStorageParams(memory=m.Memory.CACHED),
    ), {}, None),
    ("create_collection", m.CreateCollection(
        vectors=m.VectorParams(size=4, distance=m.Distance.EUCLID),
        optimizers_config=m.OptimizersConfigDiff(max_optimization_threads=m.MaxOptimizationThreadsSetting.AUTO),
        quantization_config=m.ProductQuantization(product=m.ProductQuantizationConfig(compression=m.CompressionRatio.X16)),
    ), {}, None),
    ("update_collection", m.UpdateCollection(
        vectors={"": m.VectorParamsDiff(on_disk=True)}, params=m.CollectionParamsDiff(replication_factor=2),
        quantization_config=m.Disabled.DISABLED, metadata={"drop": None, "keep": "v"}), {"timeout": 3}, None),
    ("update_collection", m.UpdateCollection(
        vectors={"a": m.VectorParamsDiff(hnsw_config=m.HnswConfigDiff(m=0)), "b": m.VectorParamsDiff(on_disk=False)},
        optimizers_config=m.OptimizersConfigDiff(indexing_threshold=20000),
        quantization_config=m.TurboQuantization(turbo=m.TurboQuantQuantizationConfig(bits=m.TurboQuantBitSize.BITS1_5))),
     {}, None),
    ("delete_collection", None, {"timeout": 2}, None),
    ("update_aliases", m.ChangeAliasesOperation(actions=[
        m.CreateAliasOperation(create_alias=m.CreateAlias(collection_name="c", alias_name="a")),
        m.RenameAliasOperation(rename_alias=m.RenameAlias(old_alias_name="a", new_alias_name="b")),
        m.DeleteAliasOperation(delete_alias=m.DeleteAlias(alias_name="b"))]), {}, None),
    ("upsert_points", m.PointsList(points=[
        m.PointStruct(id=1, vector=[0.5, -1.0, 2.25], payload=PAYLOAD),
        m.PointStruct(id=U1, vector={"img": [1.0, 2.0], "sparse": m.SparseVector(indices=[3, 7], values=[0.5, 0.25]),
                                     "multi": [[1.0, 2.0], [3.0, 4.0]]}, payload={"k": "v"}),
        m.PointStruct(id=2**64 - 1, vector=[[1.0], [2.0]], payload={"z": 0}),
    ], update_filter=m.Filter(must=[m.FieldCondition(key="v", range=m.Range(lt=3.0))]), update_mode=m.UpdateMode.INSERT_ONLY),
     {"wait": True, "ordering": m.WriteOrdering.STRONG}, None),
    ("upsert_points", m.PointsList(points=[
        m.PointStruct(id=3, vector=m.Document(text="hello", model="bm25", options={"k": 1.2})),
        m.PointStruct(id=4, vector={"clip": m.Image(image="https://x/y.png", model="clip")}),
    ]), {}, None),
    ("delete_points", m.PointIdsList(points=[1, U1]), {"wait": False}, None),
    ("delete_points", m.FilterSelector(filter=NESTED_FILTER), {}, None),
    ("set_payload", m.SetPayload(payload=PAYLOAD, points=[1, 2], key="nested.a"), {"wait": True}, None),
    ("set_payload", m.SetPayload(payload={"a": 1}, filter=m.Filter(must=[m.HasIdCondition(has_id=[1])])), {}, None),
    ("overwrite_payload", m.SetPayload(payload={"x": [1, 2]}, points=[U1]), {}, None),
    ("delete_payload", m.DeletePayload(keys=["a", "b.c", "d[].e"], points=[1]), {}, None),
    ("clear_payload", m.PointIdsList(points=[5]), {}, None),
    ("clear_payload", m.FilterSelector(filter=m.Filter(must=[m.FieldCondition(key="a", match=m.MatchValue(value=1))])), {}, None),
    ("create_field_index", m.CreateFieldIndex(field_name="city", field_schema=m.PayloadSchemaType.KEYWORD), {"wait": True}, None),
    ("create_field_index", m.CreateFieldIndex(field_name="t", field_schema=m.TextIndexParams(
        type=m.TextIndexType.TEXT, tokenizer=m.TokenizerType.WORD, min_token_len=2, max_token_len=10, lowercase=True,
        ascii_folding=True, phrase_matching=True, stemmer=m.SnowballParams(type=m.Snowball.SNOWBALL,
                                                                            language=m.SnowballLanguage.ENGLISH),
        stopwords=m.StopwordsSet(languages=[m.Language.ENGLISH], custom=["the"]), on_disk=True)), {}, None),
    ("create_field_index", m.CreateFieldIndex(field_name="k", field_schema=m.KeywordIndexParams(
        type=m.KeywordIndexType.KEYWORD, is_tenant=True, on_disk=True)), {}, None),
    ("create_field_index", m.CreateFieldIndex(field_name="i", field_schema=m.IntegerIndexParams(
        type=m.IntegerIndexType.INTEGER, lookup=True, range=False, is_principal=True)), {}, None),
    ("create_field_index", m.CreateFieldIndex(field_name="d", field_schema=m.DatetimeIndexParams(
        type=m.DatetimeIndexType.DATETIME, is_principal=True)), {}, None),
    ("create_field_index", m.CreateFieldIndex(field_name="u", field_schema=m.PayloadSchemaType.UUID), {}, None),
    ("get_points", m.PointRequest(ids=[1, U1], with_payload=True, with_vector=["img"]), {"consistency": "majority"}, None),
    ("get_points", m.PointRequest(ids=[1], with_payload=m.PayloadSelectorExclude(exclude=["a"]), with_vector=False), {}, None),
    ("get_points", m.PointRequest(ids=[1], with_payload=["a", "b"]), {},
     m.PointRequest(ids=[1], with_payload=m.PayloadSelectorInclude(include=["a", "b"]))),
    ("scroll_points", m.ScrollRequest(offset=U1, limit=5, filter=NESTED_FILTER, with_payload=False, with_vector=True,
                                      order_by=m.OrderBy(key="ts", direction=m.Direction.DESC,
                                                         start_from=dt.datetime(2024, 1, 1, tzinfo=UTC))), {}, None),
    ("scroll_points", m.ScrollRequest(limit=1, order_by=m.OrderBy(key="n", start_from=5)), {}, None),
    ("scroll_points", m.ScrollRequest(order_by="price"), {}, m.ScrollRequest(order_by=m.OrderBy(key="price"))),
    ("count_points", m.CountRequest(filter=m.Filter(should=[]), exact=False), {}, m.CountRequest(filter=m.Filter(), exact=False)),
    ("count_points", m.CountRequest(filter=m.Filter(must=m.FieldCondition(key="a", match=m.MatchValue(value=1)))), {},
     m.CountRequest(filter=m.Filter(must=[m.FieldCondition(key="a", match=m.MatchValue(value=1))]))),
    ("query_points", m.QueryRequest(query=m.NearestQuery(nearest=[0.25, 0.5]), using="img", filter=NESTED_FILTER,
                                    params=m.SearchParams(hnsw_ef=64, exact=True, indexed_only=False,
                                                          quantization=m.QuantizationSearchParams(rescore=True, oversampling=2.0),
                                                          acorn=m.AcornSearchParams(enable=True, max_selectivity=0.5)),
                                    score_threshold=0.5, limit=7, offset=3, with_payload=True, with_vector=["img"]),
     {"consistency": 2, "timeout": 10}, None),
    ("query_points", m.QueryRequest(query=[0.25, 0.5]), {},
     m.QueryRequest(query=m.NearestQuery(nearest=[0.25, 0.5]))),
    ("query_points", m.QueryRequest(query=U1), {}, m.QueryRequest(query=m.NearestQuery(nearest=U1))),
    ("query_points", m.QueryRequest(query=m.NearestQuery(nearest=m.SparseVector(indices=[1, 5], values=[0.5, 1.0]),
                                                         mmr=m.Mmr(diversity=0.5, candidates_limit=20))), {}, None),
    ("query_points", m.QueryRequest(query=m.NearestQuery(nearest=[[1.0, 2.0], [3.0, 4.0]])), {}, None),
    ("query_points", m.QueryRequest(
        prefetch=[m.Prefetch(query=m.NearestQuery(nearest=[1.0, 0.0]), using="a", limit=50,
                             filter=m.Filter(must=[m.FieldCondition(key="x", match=m.MatchValue(value=1))])),
                  m.Prefetch(prefetch=[m.Prefetch(query=m.NearestQuery(nearest=7), limit=10)],
                             query=m.NearestQuery(nearest=m.SparseVector(indices=[1], values=[1.0])), using="s",
                             score_threshold=0.25, params=m.SearchParams(exact=True),
                             lookup_from=m.LookupLocation(collection="other", vector="v"))],
        query=m.FusionQuery(fusion=m.Fusion.RRF), limit=10), {}, None),
    ("query_points", m.QueryRequest(query=m.FusionQuery(fusion=m.Fusion.DBSF)), {}, None),
    ("query_points", m.QueryRequest(query=m.RrfQuery(rrf=m.Rrf(k=60, weights=[1.0, 0.5]))), {}, None),
    ("query_points", m.QueryRequest(query=m.RecommendQuery(recommend=m.RecommendInput(
        positive=[1, U1, [0.5, 0.25]], negative=[m.SparseVector(indices=[1], values=[2.0])],
        strategy=m.RecommendStrategy.BEST_SCORE))), {}, None),
    ("query_points", m.QueryRequest(query=m.DiscoverQuery(discover=m.DiscoverInput(
        target=[1.0, 2.0], context=[m.ContextPair(positive=1, negative=2), m.ContextPair(positive=3, negative=[0.5, 0.5])]))),
     {}, None),
    ("query_points", m.QueryRequest(query=m.ContextQuery(context=[m.ContextPair(positive=1, negative=2)])), {}, None),
    ("query_points", m.QueryRequest(query=m.ContextQuery(context=m.ContextPair(positive=1, negative=2))), {},
     m.QueryRequest(query=m.ContextQuery(context=[m.ContextPair(positive=1, negative=2)]))),
    ("query_points", m.QueryRequest(query=m.OrderByQuery(order_by=m.OrderBy(key="price", direction=m.Direction.ASC))), {}, None),
    ("query_points", m.QueryRequest(query=m.SampleQuery(sample=m.Sample.RANDOM), limit=3), {}, None),
    ("query_points", m.QueryRequest(query=m.FormulaQuery(
        formula=m.SumExpression(sum=[
            "$score", 0.5,
            m.MultExpression(mult=[2.0, "rating", m.FieldCondition(key="tag", match=m.MatchValue(value="hot"))]),
            m.NegExpression(neg=m.AbsExpression(abs="x")),
            m.DivExpression(div=m.DivParams(left=1.0, right="y", by_zero_default=0.0)),
            m.PowExpression(pow=m.PowParams(base="b", exponent=2.0)),
            m.SqrtExpression(sqrt=m.ExpExpression(exp=m.Log10Expression(log10=m.LnExpression(ln=1.5)))),
            m.GaussDecayExpression(gauss_decay=m.DecayParamsExpression(
                x=m.DatetimeKeyExpression(datetime_key="ts"), target=m.DatetimeExpression(datetime="now"), scale=3600.0,
                midpoint=0.5)),
            m.LinDecayExpression(lin_decay=m.DecayParamsExpression(
                x=m.GeoDistance(geo_distance=m.GeoDistanceParams(origin=m.GeoPoint(lon=1.0, lat=2.0), to="loc")))),
            m.ExpDecayExpression(exp_decay=m.DecayParamsExpression(x="d", scale=10.0)),
            m.Filter(must=[m.IsEmptyCondition(is_empty=m.PayloadField(key="q"))]),
        ]),
        defaults={"rating": 1, "tags": ["a"]}),
        prefetch=m.Prefetch(query=m.NearestQuery(nearest=[1.0]), limit=100)), {},
     "prefetch_as_list"),
    ("query_points", m.QueryRequest(query=m.RelevanceFeedbackQuery(relevance_feedback=m.RelevanceFeedbackInput(
        target=[1.0, 0.0], feedback=[m.FeedbackItem(example=1, score=0.5), m.FeedbackItem(example=[0.5, 0.5], score=-1.0)],
        strategy=m.NaiveFeedbackStrategy(naive=m.NaiveFeedbackStrategyParams(a=1.0, b=0.5, c=0.25))))), {}, None),
    ("query_points", m.QueryRequest(query=m.NearestQuery(nearest=m.Document(text="q", model="m")),
                                    params=m.SearchParams(idf=m.IdfScope.GLOBAL)), {}, None),
    ("query_points", m.QueryRequest(query=[1.0], params=m.SearchParams(idf=m.IdfCorpusParams(corpus=m.Filter(
        must=[m.FieldCondition(key="lang", match=m.MatchValue(value="en"))])))), {},
     m.QueryRequest(query=m.NearestQuery(nearest=[1.0]), params=m.SearchParams(idf=m.IdfCorpusParams(corpus=m.Filter(
         must=[m.FieldCondition(key="lang", match=m.MatchValue(value="en"))]))))),
    ("query_batch_points", m.QueryRequestBatch(searches=[
        m.QueryRequest(query=m.NearestQuery(nearest=[1.0, 2.0]), limit=2, with_payload=True),
        m.QueryRequest(query=m.NearestQuery(nearest=3), filter=m.Filter(must=[m.HasIdCondition(has_id=[1])]))]),
     {"consistency": m.ReadConsistencyType.QUORUM}, None),
    ("query_points_groups", m.QueryGroupsRequest(query=m.NearestQuery(nearest=[1.0]), group_by="doc", group_size=2, limit=3,
                                                 with_lookup=m.WithLookup(collection="docs", with_payload=["t"],
                                                                          with_vectors=True),
                                                 with_payload=False), {},
     m.QueryGroupsRequest(query=m.NearestQuery(nearest=[1.0]), group_by="doc", group_size=2, limit=3,
                          with_lookup=m.WithLookup(collection="docs", with_payload=m.PayloadSelectorInclude(include=["t"]),
                                                   with_vectors=True), with_payload=False)),
    ("query_points_groups", m.QueryGroupsRequest(group_by="doc", with_lookup="docs"), {},
     m.QueryGroupsRequest(group_by="doc", with_lookup=m.WithLookup(collection="docs"))),
    ("facet", m.FacetRequest(key="city", limit=5, exact=True, filter=m.Filter(must_not=[
        m.IsNullCondition(is_null=m.PayloadField(key="city"))])), {}, None),
    ("search_matrix_pairs", m.SearchMatrixRequest(sample=10, limit=2, using="img",
                                                  filter=m.Filter(must=[m.HasVectorCondition(has_vector="img")])), {}, None),
    ("search_matrix_offsets", m.SearchMatrixRequest(sample=5), {}, None),
    ("update_vectors", m.UpdateVectors(points=[m.PointVectors(id=1, vector=[1.0, 2.0]),
                                               m.PointVectors(id=U1, vector={"s": m.SparseVector(indices=[1], values=[1.0])})],
                                       update_filter=m.Filter(must=[m.HasIdCondition(has_id=[1])])), {}, None),
    ("delete_vectors", m.DeleteVectors(points=[1, 2], vector=["img", "txt"]), {}, None),
    ("delete_vectors", m.DeleteVectors(filter=m.Filter(must=[m.HasIdCondition(has_id=[1])]), vector=["img"]), {}, None),
    ("batch_update", m.UpdateOperations(operations=[
        m.UpsertOperation(upsert=m.PointsList(points=[m.PointStruct(id=1, vector=[1.0], payload={"a": None})])),
        m.DeleteOperation(delete=m.PointIdsList(points=[2])),
        m.SetPayloadOperation(set_payload=m.SetPayload(payload={"a": 1}, points=[1])),
        m.OverwritePayloadOperation(overwrite_payload=m.SetPayload(payload={"b": 2}, filter=NESTED_FILTER)),
        m.DeletePayloadOperation(delete_payload=m.DeletePayload(keys=["a"], points=[1])),
        m.ClearPayloadOperation(clear_payload=m.FilterSelector(filter=m.Filter(must=[m.HasIdCondition(has_id=[3])]))),
        m.UpdateVectorsOperation(update_vectors=m.UpdateVectors(points=[m.PointVectors(id=1, vector=[2.0])])),
        m.DeleteVectorsOperation(delete_vectors=m.DeleteVectors(points=[1], vector=[""])),
    ]), {"wait": True}, None),
    ("create_vector_name", m.DenseVectorNameConfig(dense=m.DenseVectorConfig(
        size=4, distance=m.Distance.DOT, datatype=m.VectorStorageDatatype.FLOAT16,
        multivector_config=m.MultiVectorConfig(comparator=m.MultiVectorComparator.MAX_SIM))), {"vector_name": "v"}, None),
    ("create_vector_name", m.SparseVectorNameConfig(sparse=m.SparseVectorConfig(modifier=m.Modifier.IDF)),
     {"vector_name": "s"}, None),
    # the deprecated rpcs
    ("search_points", m.SearchRequest(vector=[1.0, 2.0], limit=3, filter=NESTED_FILTER, with_payload=True,
                                      score_threshold=0.25, offset=1), {}, None),
    ("search_points", m.SearchRequest(vector=m.NamedVector(name="img", vector=[1.0]), limit=3), {}, None),
    ("search_points", m.SearchRequest(vector=m.NamedSparseVector(name="s", vector=m.SparseVector(indices=[1], values=[2.0])),
                                      limit=3), {}, None),
    ("search_batch_points", m.SearchRequestBatch(searches=[m.SearchRequest(vector=[1.0], limit=1),
                                                           m.SearchRequest(vector=[2.0], limit=2)]), {}, None),
    ("search_point_groups", m.SearchGroupsRequest(vector=[1.0], group_by="g", group_size=2, limit=3), {}, None),
    ("recommend_points", m.RecommendRequest(positive=[1, U1], negative=[[1.0, 0.0]], limit=5,
                                            strategy=m.RecommendStrategy.SUM_SCORES, using="img",
                                            lookup_from=m.LookupLocation(collection="o")), {}, None),
    ("recommend_batch_points", m.RecommendRequestBatch(searches=[m.RecommendRequest(positive=[1], limit=2)]), {}, None),
    ("recommend_point_groups", m.RecommendGroupsRequest(positive=[1], group_by="g", group_size=1, limit=2), {}, None),
    ("discover_points", m.DiscoverRequest(target=1, context=[m.ContextExamplePair(positive=2, negative=[1.0, 0.0])],
                                          limit=4), {}, None),
    ("discover_batch_points", m.DiscoverRequestBatch(searches=[m.DiscoverRequest(target=[1.0], limit=1)]), {}, None),
    # no body
    ("get_collection", None, {}, None),
    ("collection_exists", None, {}, None),
    ("delete_field_index", None, {"field_name": "city", "wait": True}, None),
    ("delete_vector_name", None, {"vector_name": "v"}, None),
    ("create_snapshot", None, {}, None),
    ("delete_snapshot", None, {"snapshot_name": "s.snapshot"}, None),
]


def _expected(op: str, body: Any, expected: Any) -> Any:
    if expected == "prefetch_as_list":
        return body.model_copy(update={"prefetch": [body.prefetch]})
    return body if expected is None else expected


@pytest.mark.parametrize("op, body, params, expected", REQUESTS, ids=[f"{i}-{r[0]}" for i, r in enumerate(REQUESTS)])
def test_request_round_trip(op: str, body: Any, params: dict, expected: Any) -> None:
    sent, kwargs = request_round_trip(op, body, **params)
    assert kwargs.get("collection_name", "c") == "c"
    for name in ("field_name", "vector_name", "snapshot_name"):
        if name in params:
            assert kwargs[name] == params[name]
    if body is not None:
        assert kwargs["body"] == _expected(op, body, expected)
    if "timeout" in params:
        assert sent.timeout == params["timeout"]
    if "wait" in params:
        assert sent.wait == params["wait"]


def test_request_envelope_fields() -> None:
    sent, _ = request_round_trip("query_points", m.QueryRequest(limit=1), consistency=m.ReadConsistencyType.ALL, timeout=2.5)
    assert sent.read_consistency.type == ppb.ReadConsistencyType.Value("All") and sent.timeout == 3
    sent, _ = request_round_trip("upsert_points", m.PointsList(points=[]), wait=True, ordering="medium")
    assert sent.wait is True and sent.ordering.type == ppb.WriteOrderingType.Value("Medium")
    sent, _ = request_round_trip("search_batch_points", m.SearchRequestBatch(searches=[m.SearchRequest(vector=[1.0], limit=1)]))
    assert [s.collection_name for s in sent.search_points] == ["c"]


def as_points(body: Any) -> m.PointsList:
    """The server's fast path hands the engine a PointsBatch of float32 matrices: compare as points."""
    if isinstance(body, m.PointsList):
        return body
    batch = body.batch
    vectors = batch.vectors
    rows = ([{name: matrix[i].tolist() for name, matrix in vectors.items()} for i in range(len(batch.ids))]
            if isinstance(vectors, dict) else [row.tolist() for row in vectors])
    return m.PointsList(points=[m.PointStruct(id=pid, vector=rows[i], payload=(batch.payloads or [None] * len(rows))[i])
                                for i, pid in enumerate(batch.ids)])


def test_numpy_batch_becomes_points() -> None:
    vectors = np.arange(12, dtype=np.float32).reshape(4, 3)
    batch = m.PointsBatch.model_construct(
        batch=m.Batch.model_construct(ids=[1, 2, U1, 4], vectors=vectors, payloads=[{"a": 1}, None, {}, {"b": [1]}]),
        shard_key=None, update_filter=None, update_mode=None)
    sent, kwargs = request_round_trip("upsert_points", batch, wait=True)
    assert [p.id.num or p.id.uuid for p in sent.points] == [1, 2, U1, 4]
    assert list(sent.points[3].vectors.vector.dense.data) == [9.0, 10.0, 11.0]
    assert as_points(kwargs["body"]) == m.PointsList(points=[
        m.PointStruct(id=1, vector=[0.0, 1.0, 2.0], payload={"a": 1}),
        m.PointStruct(id=2, vector=[3.0, 4.0, 5.0]),
        m.PointStruct(id=U1, vector=[6.0, 7.0, 8.0]),
        m.PointStruct(id=4, vector=[9.0, 10.0, 11.0], payload={"b": [1]}),
    ])
    named = m.Batch(ids=[1, 2], vectors={"a": [[1.0], [2.0]], "m": [[[1.0], [2.0]], [[3.0], [4.0]]]})
    _, kwargs = request_round_trip("upsert_points", m.PointsBatch(batch=named))
    assert [p.vector for p in as_points(kwargs["body"]).points] == [{"a": [1.0], "m": [[1.0], [2.0]]},
                                                                    {"a": [2.0], "m": [[3.0], [4.0]]}]
    with pytest.raises(BadRequestError):
        request_round_trip("upsert_points", m.PointsBatch.model_construct(
            batch=m.Batch.model_construct(ids=[1, 2], vectors=np.zeros((3, 2)), payloads=None),
            shard_key=None, update_filter=None, update_mode=None))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int64, np.uint8, ">f4"])
@pytest.mark.parametrize("dim", [1, 3, 32, 300])
def test_numpy_matrix_batches_encode_like_lists(dtype: Any, dim: int) -> None:
    """A numpy matrix in a batch is sent as packed DenseVector bytes: the message must equal the one
    built from the same values as Python lists (dims past 31 floats need a two-byte length)."""
    from sdk._grpc import _points

    rng = np.random.default_rng(dim)
    matrix = (rng.random((5, dim)) * 200).astype(dtype)
    ids = [1, 2, U1, 4, 5]
    payloads = [{"a": 1}, None, {}, {"b": [1]}, {"c": "x"}]

    def encode(vectors: Any) -> bytes:
        msg = ppb.UpsertPoints(collection_name="c")
        _points.encode_batch_points(m.Batch.model_construct(ids=ids, vectors=vectors, payloads=payloads), msg.points)
        return msg.SerializeToString()

    as_lists = matrix.astype(np.float64).tolist()
    assert encode(matrix) == encode(as_lists)
    assert encode({"a": matrix, "b": matrix[:, :1]}) == encode({"a": as_lists, "b": [row[:1] for row in as_lists]})
    with pytest.raises(BadRequestError, match="5 ids but 4 vectors"):
        encode(matrix[:4])


def test_server_reads_dense_upserts_as_float32_matrices() -> None:
    points = [m.PointStruct(id=i, vector={"a": [float(i), 0.5], "b": [1.0, 2.0, float(i)]}, payload={"i": i} if i else None)
              for i in range(3)]
    _, kwargs = request_round_trip("upsert_points", m.PointsList(points=points))
    body = kwargs["body"]
    assert isinstance(body, m.PointsBatch) and body.batch.vectors["b"].dtype == np.float32
    assert body.batch.vectors["b"].shape == (3, 3) and body.batch.payloads == [None, {"i": 1}, {"i": 2}]
    assert as_points(body) == m.PointsList(points=points)
    # anything else takes the general path, unchanged
    for odd in ([m.PointStruct(id=1, vector=[1.0, 2.0]), m.PointStruct(id=2, vector=[1.0])],           # ragged
                [m.PointStruct(id=1, vector={"a": [1.0]}), m.PointStruct(id=2, vector={"b": [1.0]})],  # other names
                [m.PointStruct(id=1, vector=[1.0]), m.PointStruct(id=2, vector=[[1.0]])]):             # multi
        _, kwargs = request_round_trip("upsert_points", m.PointsList(points=odd))
        assert kwargs["body"] == m.PointsList(points=odd)


def test_numpy_vectors_in_points_and_queries() -> None:
    point = m.PointStruct.model_construct(id=1, vector=np.array([1.0, 2.0], dtype=np.float32), payload=None)
    _, kwargs = request_round_trip("upsert_points", m.PointsList.model_construct(points=[point], shard_key=None,
                                                                                update_filter=None, update_mode=None))
    assert as_points(kwargs["body"]).points[0].vector == [1.0, 2.0]
    query = m.QueryRequest.model_construct(query=np.array([0.5, 0.25]), limit=1)
    _, kwargs = request_round_trip("query_points", query)
    assert kwargs["body"].query == m.NearestQuery(nearest=[0.5, 0.25])


def test_payload_values_survive_exactly() -> None:
    _, kwargs = request_round_trip("set_payload", m.SetPayload(payload=PAYLOAD, points=[1]))
    got = kwargs["body"].payload
    assert got == PAYLOAD
    assert type(got["int"]) is int and type(got["float"]) is float and type(got["bool"]) is bool
    assert got["nested"]["empty_obj"] == {} and got["nested"]["empty_list"] == []


def test_filter_shapes_on_the_wire() -> None:
    msg = ppb.CountPoints()
    encode(m.Filter(must=m.FieldCondition(key="a", match=m.MatchValue(value=True)), should=[]), msg.filter)
    assert len(msg.filter.must) == 1 and len(msg.filter.should) == 0 and msg.HasField("filter")
    assert msg.filter.must[0].field.match.WhichOneof("match_value") == "boolean"
    cond = m.FieldCondition(key="t", range=m.DatetimeRange(gte=dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)))
    from sdk._grpc import qdrant_common_pb2 as cpb

    fc = cpb.FieldCondition()
    encode(cond, fc)
    assert fc.HasField("datetime_range") and not fc.HasField("range") and fc.datetime_range.gte.seconds == 1704164645
    # a JSON-shaped dict is accepted the same way, with a string date-time
    fc2 = cpb.FieldCondition()
    encode({"key": "t", "range": {"gte": "2024-01-02T03:04:05Z"}}, fc2)
    assert fc2 == fc
    # an empty match list is keywords (REST cannot tell either)
    match = cpb.Match()
    encode(m.MatchAny(any=[]), match)
    assert match.WhichOneof("match_value") == "keywords"


# -- results ------------------------------------------------------------------------------------------------------------------------
RECORD = m.Record(id=1, payload=PAYLOAD, vector=[0.5, 1.0])
RECORD_NAMED = m.Record(id=U1, payload={}, vector={"a": [1.0], "s": m.SparseVector(indices=[1], values=[0.5]),
                                                   "m": [[1.0, 2.0], [3.0, 4.0]]}, order_value=5)
SCORED = m.ScoredPoint(id=2, version=3, score=0.0, payload={"x": None}, vector=None)
SCORED_2 = m.ScoredPoint(id=U2, version=0, score=-1.5, payload={}, vector=[[1.0], [2.0]], order_value=1.5)

COLLECTION_INFO = m.CollectionInfo(
    status=m.CollectionStatus.YELLOW, optimizer_status=m.OptimizersStatusError(error="boom"), warnings=[m.CollectionWarning(message="w")],
    indexed_vectors_count=10, points_count=12, segments_count=2,
    config=m.CollectionConfig(
        params=m.CollectionParams(vectors={"a": m.VectorParams(size=3, distance=m.Distance.COSINE)}, shard_number=1,
                                  replication_factor=1, write_consistency_factor=1, on_disk_payload=True,
                                  sparse_vectors={"s": m.SparseVectorParams(modifier=m.Modifier.IDF)}),
        hnsw_config=m.HnswConfig(m=16, ef_construct=100, full_scan_threshold=10000, max_indexing_threads=0, on_disk=False),
        optimizer_config=m.OptimizersConfig(deleted_threshold=0.2, vacuum_min_vector_number=1000, default_segment_number=0,
                                            flush_interval_sec=5, max_optimization_threads=None, indexing_threshold=10000),
        wal_config=m.WalConfig(wal_capacity_mb=32, wal_segments_ahead=0, wal_retain_closed=1),
        quantization_config=m.ScalarQuantization(scalar=m.ScalarQuantizationConfig(type=m.ScalarType.INT8)),
        strict_mode_config=m.StrictModeConfigOutput(enabled=False), metadata={"k": [1, None]}),
    payload_schema={
        "city": m.PayloadIndexInfo(data_type=m.PayloadSchemaType.KEYWORD, points=3),
        "t": m.PayloadIndexInfo(data_type=m.PayloadSchemaType.TEXT, points=1, params=m.TextIndexParams(
            type=m.TextIndexType.TEXT, tokenizer=m.TokenizerType.PREFIX, stemmer=m.DisabledStemmerParams(type=m.NoStemmer.NONE))),
        "k": m.PayloadIndexInfo(data_type=m.PayloadSchemaType.KEYWORD, points=0, params=m.KeywordIndexParams(
            type=m.KeywordIndexType.KEYWORD, is_tenant=True, prefix=True)),
    },
    update_queue=m.UpdateQueueInfo(length=0),
)

RESULTS: list[tuple[str, Any, Any]] = [
    ("get_collections", m.CollectionsResponse(collections=[m.CollectionDescription(name="a"), m.CollectionDescription(name="b")]), None),
    ("get_collections", m.CollectionsResponse(collections=[]), None),
    ("collection_exists", m.CollectionExistence(exists=False), None),
    ("get_collection", COLLECTION_INFO, None),
    ("get_collection", COLLECTION_INFO.model_copy(update={
        "optimizer_status": "ok", "warnings": [], "points_count": 0,
        "config": COLLECTION_INFO.config.model_copy(update={
            "params": COLLECTION_INFO.config.params.model_copy(update={"vectors": m.VectorParams(size=2, distance=m.Distance.DOT)}),
            "optimizer_config": COLLECTION_INFO.config.optimizer_config.model_copy(update={"max_optimization_threads": 4}),
            "quantization_config": None, "metadata": None}),
        "payload_schema": {}}), None),
    ("create_collection", True, None),
    ("delete_collection", False, None),
    ("get_collections_aliases", m.CollectionsAliasesResponse(aliases=[m.AliasDescription(alias_name="a", collection_name="c")]), None),
    ("get_collection_aliases", m.CollectionsAliasesResponse(aliases=[]), None),
    ("upsert_points", m.UpdateResult(operation_id=5, status=m.UpdateStatus.COMPLETED), None),
    ("upsert_points", m.UpdateResult(status=m.UpdateStatus.ACKNOWLEDGED), None),
    ("batch_update", [m.UpdateResult(operation_id=1, status=m.UpdateStatus.COMPLETED),
                      m.UpdateResult(operation_id=2, status=m.UpdateStatus.WAIT_TIMEOUT)], None),
    ("get_points", [RECORD, RECORD_NAMED, m.Record(id=3, payload={}, vector=None)], m.PointRequest(ids=[1], with_payload=True)),
    ("get_points", [m.Record(id=3, payload=None, vector=[1.0])], m.PointRequest(ids=[1], with_payload=False)),
    ("get_points", [RECORD_NAMED.model_copy(update={"order_value": None})], m.PointRequest(ids=[1], with_payload=True)),
    ("get_points", [m.Record(id=3, payload={}, vector=None)], m.PointRequest(ids=[1])),
    ("scroll_points", m.ScrollResult(points=[RECORD], next_page_offset=U1), m.ScrollRequest()),
    ("scroll_points", m.ScrollResult(points=[], next_page_offset=None), None),
    ("count_points", m.CountResult(count=0), None),
    ("query_points", m.QueryResponse(points=[SCORED, SCORED_2]), m.QueryRequest(with_payload=True)),
    ("query_points", m.QueryResponse(points=[m.ScoredPoint(id=1, version=1, score=1.0, payload=None)]), m.QueryRequest()),
    ("query_batch_points", [m.QueryResponse(points=[SCORED]), m.QueryResponse(points=[])],
     m.QueryRequestBatch(searches=[m.QueryRequest(with_payload=True), m.QueryRequest()])),
    ("query_points_groups", m.GroupsResult(groups=[
        m.PointGroup(id="doc-1", hits=[SCORED], lookup=RECORD), m.PointGroup(id=7, hits=[]),
        m.PointGroup(id=-3, hits=[SCORED_2])]), m.QueryGroupsRequest(group_by="g", with_payload=True, with_lookup="l")),
    ("facet", m.FacetResponse(hits=[m.FacetValueHit(value="a", count=3), m.FacetValueHit(value=5, count=2),
                                    m.FacetValueHit(value=True, count=1)]), None),
    ("search_matrix_pairs", m.SearchMatrixPairsResponse(pairs=[m.SearchMatrixPair(a=1, b=U1, score=0.5)]), None),
    ("search_matrix_offsets", m.SearchMatrixOffsetsResponse(offsets_row=[0, 1], offsets_col=[1, 0], scores=[0.5, 0.5],
                                                            ids=[1, U1]), None),
    ("search_points", [SCORED_2], m.SearchRequest(vector=[1.0], limit=1, with_payload=True)),
    ("search_batch_points", [[SCORED], []], m.SearchRequestBatch(searches=[m.SearchRequest(vector=[1.0], limit=1, with_payload=True),
                                                                           m.SearchRequest(vector=[1.0], limit=1)])),
    ("create_snapshot", m.SnapshotDescription(name="c-1.snapshot", creation_time="2024-05-01T10:20:30", size=1024,
                                              checksum="abc"), None),
    ("list_snapshots", [m.SnapshotDescription(name="s", creation_time="2024-05-01T10:20:30.500000", size=0)], None),
    ("list_full_snapshots", [], None),
    ("delete_snapshot", True, None),
    ("root", m.VersionInfo(title="qdrant - vector search engine", version="1.19.0", commit="abc"), None),
]


@pytest.mark.parametrize("op, result, body", RESULTS, ids=[f"{i}-{r[0]}" for i, r in enumerate(RESULTS)])
def test_result_round_trip(op: str, result: Any, body: Any) -> None:
    assert result_round_trip(op, result, body) == result


def test_payload_is_none_only_where_not_asked_for() -> None:
    no_payload = m.QueryResponse(points=[m.ScoredPoint(id=1, version=0, score=1.0, payload={})])
    assert result_round_trip("query_points", no_payload, m.QueryRequest()).points[0].payload is None
    assert result_round_trip("query_points", no_payload, m.QueryRequest(with_payload=["a"])).points[0].payload == {}
    records = [m.Record(id=1, payload={})]
    assert result_round_trip("get_points", records, m.PointRequest(ids=[1]))[0].payload == {}
    assert result_round_trip("get_points", records, m.PointRequest(ids=[1], with_payload=False))[0].payload is None


def test_scores_are_float32_on_the_wire() -> None:
    got = result_round_trip("query_points", m.QueryResponse(points=[m.ScoredPoint(id=1, version=0, score=0.1)]), None)
    assert got.points[0].score == float(np.float32(0.1))


# -- compared with qdrant-client's own converter ------------------------------------------------------------------------------------
OFFICIAL_SAME: list[tuple[str, Any, dict]] = [
    ("convert_filter", NESTED_FILTER, {}),
    ("convert_vectors_config", {"a": m.VectorParams(size=3, distance=m.Distance.COSINE, on_disk=True,
                                                    hnsw_config=m.HnswConfigDiff(m=4))}, {}),
    ("convert_vectors_config", m.VectorParams(size=3, distance=m.Distance.DOT), {}),
    ("convert_optimizers_config_diff", m.OptimizersConfigDiff(max_optimization_threads=2, deleted_threshold=0.5), {}),
    ("convert_quantization_config", m.ScalarQuantization(scalar=m.ScalarQuantizationConfig(type=m.ScalarType.INT8,
                                                                                           quantile=0.75)), {}),
    ("convert_quantization_config_diff", m.Disabled.DISABLED, {}),
    ("convert_strict_mode_config", m.StrictModeConfig(enabled=True, max_query_limit=5,
                                                      sparse_config={"s": m.StrictModeSparse(max_length=3)}), {}),
    ("convert_query_request", m.QueryRequest(
        prefetch=[m.Prefetch(query=m.NearestQuery(nearest=[1.0, 2.0]), using="a", limit=5)],
        query=m.FusionQuery(fusion=m.Fusion.RRF), filter=NESTED_FILTER, with_payload=["a"], with_vector=True, limit=3,
        score_threshold=0.5, params=m.SearchParams(hnsw_ef=8)), {"collection_name": "c"}),
    ("convert_query_request", m.QueryRequest(query=m.RecommendQuery(recommend=m.RecommendInput(positive=[1, U1], negative=[2]))),
     {"collection_name": "c"}),
    ("convert_query_request", m.QueryRequest(query=m.OrderByQuery(order_by=m.OrderBy(key="k", direction=m.Direction.DESC))),
     {"collection_name": "c"}),
    ("convert_query_request", m.QueryRequest(query=m.FormulaQuery(formula=m.SumExpression(sum=["$score", m.MultExpression(
        mult=[0.5, m.FieldCondition(key="t", match=m.MatchValue(value="x"))])]), defaults={"x": 1})), {"collection_name": "c"}),
    ("convert_order_by", m.OrderBy(key="n", start_from=1.5), {}),
    ("convert_payload_selector", m.PayloadSelectorExclude(exclude=["a"]), {}),
    ("convert_text_index_params", m.TextIndexParams(type=m.TextIndexType.TEXT, tokenizer=m.TokenizerType.MULTILINGUAL,
                                                    lowercase=True, stopwords=m.Language.ENGLISH), {}),
    ("convert_points_selector", m.PointIdsList(points=[1, U1]), {}),
    ("convert_points_update_operation", m.SetPayloadOperation(set_payload=m.SetPayload(payload={"a": 1}, points=[1])), {}),
    ("convert_points_update_operation", m.DeleteOperation(delete=m.FilterSelector(filter=NESTED_FILTER)), {}),
]


@pytest.mark.parametrize("method, model, kwargs", OFFICIAL_SAME, ids=[f"{i}-{x[0]}" for i, x in enumerate(OFFICIAL_SAME)])
def test_messages_equal_the_official_converters(method: str, model: Any, kwargs: dict) -> None:
    """Field for field what qdrant-client builds (read back into our message class)."""
    from qdrant_client.conversions.conversion import RestToGrpc
    from qdrant_client.http import models as official

    if isinstance(model, dict):
        theirs_model = {k: official.VectorParams.model_validate(v.model_dump(mode="json")) for k, v in model.items()}
    elif isinstance(model, m.Disabled):
        theirs_model = official.Disabled.DISABLED
    else:
        theirs_model = getattr(official, type(model).__name__).model_validate(model.model_dump(mode="json", by_alias=True))
    theirs = getattr(RestToGrpc, method)(theirs_model, **kwargs)
    ours = _our_message_class(theirs)()
    encode(model, ours)
    if "collection_name" in kwargs:
        ours.collection_name = kwargs["collection_name"]
    assert type(ours).FromString(theirs.SerializeToString()) == ours


def _our_message_class(theirs: Any) -> Any:
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(_pool.POOL.FindMessageTypeByName(theirs.DESCRIPTOR.full_name))


def test_points_on_the_wire_are_what_qdrant_client_reads() -> None:
    from qdrant_client.conversions.conversion import GrpcToRest
    from qdrant_client.grpc import PointStruct as TheirPoint

    msg = ppb.PointStruct()
    encode(m.PointStruct(id=U1, vector={"a": [1.0, 2.0], "s": m.SparseVector(indices=[1], values=[0.5])}, payload=PAYLOAD), msg)
    theirs = GrpcToRest.convert_point_struct(TheirPoint.FromString(msg.SerializeToString()))
    assert theirs.id == U1 and theirs.payload == PAYLOAD
    assert theirs.vector["a"] == [1.0, 2.0] and theirs.vector["s"].indices == [1]


# -- what does not convert ---------------------------------------------------------------------------------------------------------------
def test_cluster_rpcs_are_not_converted() -> None:
    from sdk._grpc.operations import not_converted

    for op in NOT_CONVERTED:
        err = not_converted(op)
        assert isinstance(err, UnsupportedOperationError) and op in str(err)


def test_unknown_fields_are_refused_not_dropped() -> None:
    with pytest.raises(UnsupportedOperationError, match="frobnicate"):
        encode({"limit": 3, "frobnicate": True}, ppb.QueryPoints())
    with pytest.raises(BadRequestError):
        from sdk._grpc import qdrant_common_pb2 as cpb

        encode({"key": "a", "match": {"whatever": 1}}, cpb.FieldCondition())


def test_grpc_only_shapes_are_refused_on_decode() -> None:
    from sdk._grpc import qdrant_common_pb2 as cpb

    match = cpb.Match(substring="abc")
    with pytest.raises(UnsupportedOperationError, match="substring"):
        decode(match)
    query = ppb.Query()
    query.text.query = "hello"
    with pytest.raises(UnsupportedOperationError, match="text"):
        decode(query)
    expression = ppb.Expression()
    expression.max.max.add().constant = 1.0
    with pytest.raises(UnsupportedOperationError, match="max"):
        decode(expression)
    status = ppb.UpdateResult(status=ppb.UpdateStatus.Value("ClockRejected"))
    with pytest.raises(UnsupportedOperationError, match="ClockRejected"):
        decode(status)


def test_bad_values_are_bad_requests() -> None:
    with pytest.raises(BadRequestError):
        request_round_trip("delete_points", m.PointIdsList.model_construct(points=[-1], shard_key=None))
    with pytest.raises(BadRequestError):
        request_round_trip("get_points", m.PointRequest.model_construct(ids=[1.5], with_payload=None, with_vector=None,
                                                                        shard_key=None))


@pytest.mark.parametrize("op,body", [
    ("upsert_points", m.PointsList(points=[m.PointStruct(id=1, vector=[1.0])], shard_key="tenant")),
    ("delete_points", m.PointIdsList(points=[1], shard_key=[3, "b"])),
    ("set_payload", m.SetPayload(payload={"a": 1}, points=[1], shard_key=7)),
    ("count_points", m.CountRequest(shard_key=m.ShardKeyWithFallback(target="t", fallback="f"))),
    ("query_points", m.QueryRequest(query=[1.0], shard_key="tenant")),
    ("scroll_points", m.ScrollRequest(shard_key=["x"])),
])
def test_shard_key_selectors_travel_as_grpc_shard_key_selector(op: str, body: Any) -> None:
    """REST's ``shard_key`` is gRPC's ``shard_key_selector`` (keys as keyword / number, the
    fallback as its own field), so a real Qdrant cluster gets the selector a caller passed."""
    sent, kwargs = request_round_trip(op, body)
    selector = sent.shard_key_selector
    key = body.shard_key
    if isinstance(key, m.ShardKeyWithFallback):
        assert [k.keyword for k in selector.shard_keys] == ["t"] and selector.fallback.keyword == "f"
    else:
        keys = key if isinstance(key, list) else [key]
        assert [k.keyword or k.number for k in selector.shard_keys] == keys
    got = kwargs["body"].shard_key
    if isinstance(key, list) and len(key) == 1:
        assert got in (key, key[0])   # gRPC has one form for a key and a list of one key
    else:
        assert got == key
