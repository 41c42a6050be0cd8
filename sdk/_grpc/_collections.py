"""Collections: creation/update parameters, CollectionInfo, payload index parameters, aliases.

Where gRPC and REST differ: ``vectors`` / ``sparse_vectors`` are ``vectors_config`` /
``sparse_vectors_config`` and wrap their maps in a message (``VectorParamsMap``,
``SparseVectorConfig``, the strict-mode maps); ``VectorsConfigDiff`` keys REST's unnamed vector
``""`` as ``params``; ``max_optimization_threads`` is a oneof of a number and ``Auto``; the
optimizer status is ``{ok, error}`` where REST says ``"ok"`` or ``{"error": ...}``; payload index
parameters are a oneof where REST tags each variant with ``type``; a field index is created from a
``FieldType`` enum plus optional parameters where REST takes one ``field_schema``.
"""

from __future__ import annotations

from typing import Any, Dict

from .._exceptions import BadRequestError
from ._codec import (
    RENAMES, SKIPPED, decode, decode_fields, decoder, encode, encode_fields, encoder, enum_from_pb,
    enum_to_pb, get, map_wrapper, plain,
)

RENAMES.update({
    "qdrant.CreateCollection": {"vectors_config": "vectors", "sparse_vectors_config": "sparse_vectors"},
    "qdrant.UpdateCollection": {"vectors_config": "vectors", "sparse_vectors_config": "sparse_vectors"},
    "qdrant.CollectionParams": {"vectors_config": "vectors", "sparse_vectors_config": "sparse_vectors"},
    "qdrant.QuantizationConfig": {"turboquant": "turbo"},
    "qdrant.QuantizationConfigDiff": {"turboquant": "turbo"},
})
# Request fields of Qdrant's gRPC API that REST v1.19 has no place for.
SKIPPED.update({
    "qdrant.OptimizersConfigDiff": ("deprecated_max_optimization_threads",),
})

map_wrapper("qdrant.VectorParamsMap", "map")
map_wrapper("qdrant.VectorParamsDiffMap", "map")
map_wrapper("qdrant.SparseVectorConfig", "map")
map_wrapper("qdrant.StrictModeMultivectorConfig", "multivector_config")
map_wrapper("qdrant.StrictModeSparseConfig", "sparse_config")


@encoder("qdrant.VectorsConfig")
def encode_vectors_config(value: Any, msg: Any) -> None:
    if isinstance(value, dict) and "size" not in value:
        encode(value, msg.params_map)
    else:
        encode(value, msg.params)


@decoder("qdrant.VectorsConfig")
def decode_vectors_config(msg: Any) -> Any:
    kind = msg.WhichOneof("config")
    return decode(getattr(msg, kind)) if kind else None


@encoder("qdrant.VectorsConfigDiff")
def encode_vectors_config_diff(value: Any, msg: Any) -> None:
    if not isinstance(value, dict):
        raise BadRequestError("Wrong input: vectors config diff must be a mapping of vector names")
    if set(value) == {""}:
        encode(value[""], msg.params)
    else:
        encode(value, msg.params_map)


@decoder("qdrant.VectorsConfigDiff")
def decode_vectors_config_diff(msg: Any) -> Any:
    kind = msg.WhichOneof("config")
    if kind == "params":
        return {"": decode(msg.params)}
    return decode(msg.params_map) if kind else None


@encoder("qdrant.MaxOptimizationThreads")
def encode_max_threads(value: Any, msg: Any) -> None:
    value = plain(value)
    if isinstance(value, int) and not isinstance(value, bool):
        msg.value = value
    else:
        msg.setting = enum_to_pb("qdrant.MaxOptimizationThreads.Setting", value)


@decoder("qdrant.MaxOptimizationThreads")
def decode_max_threads(msg: Any) -> Any:
    if msg.WhichOneof("variant") == "value":
        return msg.value
    return enum_from_pb("qdrant.MaxOptimizationThreads.Setting", msg.setting)


@decoder("qdrant.OptimizersConfigDiff")
def decode_optimizers(msg: Any) -> Dict[str, Any]:
    out = decode_fields(msg)
    if "max_optimization_threads" not in out and msg.HasField("deprecated_max_optimization_threads"):
        out["max_optimization_threads"] = msg.deprecated_max_optimization_threads
    return out


@decoder("qdrant.CollectionConfig")
def decode_collection_config(msg: Any) -> Dict[str, Any]:
    out = decode_fields(msg)
    optimizer = out.get("optimizer_config")
    if optimizer is not None and optimizer.get("max_optimization_threads") == "auto":
        optimizer["max_optimization_threads"] = None   # REST's output form of "auto"
    return out


@encoder("qdrant.OptimizersConfigDiff")
def encode_optimizers(value: Any, msg: Any) -> None:
    encode_fields(value, msg)
    threads = plain(get(value, "max_optimization_threads"))
    if isinstance(threads, int) and not isinstance(threads, bool):
        msg.deprecated_max_optimization_threads = threads   # what servers before v1.12 read (as qdrant-client)


@encoder("qdrant.CollectionConfig")
def encode_collection_config(value: Any, msg: Any) -> None:
    encode_fields(value, msg)
    optimizer = get(value, "optimizer_config")
    if optimizer is not None and get(optimizer, "max_optimization_threads") is None:
        msg.optimizer_config.max_optimization_threads.setting = 0   # Auto


@encoder("qdrant.OptimizerStatus")
def encode_optimizer_status(value: Any, msg: Any) -> None:
    if plain(value) == "ok":
        msg.ok = True
    else:
        msg.ok = False
        msg.error = get(value, "error") or ""


@decoder("qdrant.OptimizerStatus")
def decode_optimizer_status(msg: Any) -> Any:
    return "ok" if msg.ok else {"error": msg.error}


@encoder("qdrant.QuantizationConfigDiff")
def encode_quantization_diff(value: Any, msg: Any) -> None:
    if plain(value) == "Disabled":
        msg.disabled.SetInParent()
    else:
        encode_fields(value, msg, skip=("disabled",))


@decoder("qdrant.QuantizationConfigDiff")
def decode_quantization_diff(msg: Any) -> Any:
    if msg.WhichOneof("quantization") == "disabled":
        return "Disabled"
    return decode_fields(msg)


@encoder("qdrant.BinaryQuantizationQueryEncoding")
def encode_query_encoding(value: Any, msg: Any) -> None:
    msg.setting = enum_to_pb("qdrant.BinaryQuantizationQueryEncoding.Setting", value)


@decoder("qdrant.BinaryQuantizationQueryEncoding")
def decode_query_encoding(msg: Any) -> Any:
    return enum_from_pb("qdrant.BinaryQuantizationQueryEncoding.Setting", msg.setting)


# -- payload index parameters -----------------------------------------------------------------------------------------------
_INDEX_VARIANTS = {
    "keyword": "keyword_index_params", "integer": "integer_index_params", "float": "float_index_params",
    "geo": "geo_index_params", "text": "text_index_params", "bool": "bool_index_params",
    "datetime": "datetime_index_params", "uuid": "uuid_index_params",
}
_INDEX_TYPES = {v: k for k, v in _INDEX_VARIANTS.items()}


@encoder("qdrant.PayloadIndexParams")
def encode_index_params(value: Any, msg: Any) -> None:
    kind = plain(get(value, "type"))
    field = _INDEX_VARIANTS.get(kind)
    if field is None:
        raise BadRequestError(f"Wrong input: unknown payload index type {kind!r}")
    encode(value, getattr(msg, field))


@decoder("qdrant.PayloadIndexParams")
def decode_index_params(msg: Any) -> Any:
    field = msg.WhichOneof("index_params")
    if field is None:
        return None
    out = decode(getattr(msg, field))
    out["type"] = _INDEX_TYPES[field]
    return out


@encoder("qdrant.KeywordIndexParams")
def encode_keyword_params(value: Any, msg: Any) -> None:
    encode_fields(value, msg, skip=("prefix",), extra_ok=("type",))
    if get(value, "prefix"):
        msg.prefix.SetInParent()


@decoder("qdrant.KeywordIndexParams")
def decode_keyword_params(msg: Any) -> Dict[str, Any]:
    out = decode_fields(msg, skip=("prefix",))
    if msg.HasField("prefix"):
        out["prefix"] = True
    return out


@encoder("qdrant.TextIndexParams")
def encode_text_params(value: Any, msg: Any) -> None:
    encode_fields(value, msg, skip=("stopwords",), extra_ok=("type",))
    stopwords = get(value, "stopwords")
    if stopwords is not None:
        msg.stopwords.SetInParent()
        if isinstance(plain(stopwords), str):
            msg.stopwords.languages.append(plain(stopwords))
        else:
            msg.stopwords.languages.extend(plain(lang) for lang in get(stopwords, "languages") or [])
            msg.stopwords.custom.extend(get(stopwords, "custom") or [])


@encoder(*(f"qdrant.{n}IndexParams" for n in ("Integer", "Float", "Geo", "Bool", "Datetime", "Uuid")))
def encode_index_variant(value: Any, msg: Any) -> None:
    encode_fields(value, msg, extra_ok=("type",))


@encoder("qdrant.StemmingAlgorithm")
def encode_stemmer(value: Any, msg: Any) -> None:
    kind = plain(get(value, "type"))
    if kind == "snowball":
        msg.snowball.language = plain(get(value, "language"))
    elif kind == "none":
        msg.disabled.SetInParent()
    else:
        raise BadRequestError(f"Wrong input: unknown stemmer {value!r}")


@decoder("qdrant.StemmingAlgorithm")
def decode_stemmer(msg: Any) -> Any:
    kind = msg.WhichOneof("stemming_params")
    if kind == "snowball":
        return {"type": "snowball", "language": msg.snowball.language}
    if kind == "disabled":
        return {"type": "none"}
    return None


@encoder("qdrant.PayloadSchemaInfo")
def encode_schema_info(value: Any, msg: Any) -> None:
    encode_fields(value, msg)


# -- field index creation ------------------------------------------------------------------------------------------------------
@encoder("qdrant.CreateFieldIndexCollection")
def encode_create_field_index(value: Any, msg: Any) -> None:
    msg.field_name = get(value, "field_name")
    schema = get(value, "field_schema")
    if schema is None:
        return
    if isinstance(plain(schema), str):
        msg.field_type = enum_to_pb("qdrant.FieldType", schema)
    else:
        msg.field_type = enum_to_pb("qdrant.FieldType", get(schema, "type"))
        encode_index_params(schema, msg.field_index_params)


@decoder("qdrant.CreateFieldIndexCollection")
def decode_create_field_index(msg: Any) -> Dict[str, Any]:
    out = decode_fields(msg, skip=("field_type", "field_index_params"))
    if msg.HasField("field_index_params"):
        out["field_schema"] = decode_index_params(msg.field_index_params)
    elif msg.HasField("field_type"):
        out["field_schema"] = enum_from_pb("qdrant.FieldType", msg.field_type)
    return out


# -- vector names (create_vector_name) -----------------------------------------------------------------------------------------------
@encoder("qdrant.CreateVectorNameRequest")
def encode_create_vector_name(value: Any, msg: Any) -> None:
    if get(value, "dense") is not None:
        encode(get(value, "dense"), msg.dense_config)
    elif get(value, "sparse") is not None:
        encode(get(value, "sparse"), msg.sparse_config)
    else:
        raise BadRequestError("Wrong input: a vector name config is `dense` or `sparse`")


@decoder("qdrant.CreateVectorNameRequest")
def decode_create_vector_name(msg: Any) -> Dict[str, Any]:
    out = decode_fields(msg, skip=("dense_config", "sparse_config"))
    kind = msg.WhichOneof("vector_config")
    if kind == "dense_config":
        out["dense"] = decode(msg.dense_config)
    elif kind == "sparse_config":
        out["sparse"] = decode(msg.sparse_config)
    return out

