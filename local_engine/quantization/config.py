"""Quantization settings: validating ``quantization_config``, resolving it per vector name, and
reading ``SearchParams.quantization`` the way Qdrant does.

Qdrant's rules followed here (lib/segment, ``hnsw_search_graph`` / ``quantized_vectors``):

* A vector name's ``VectorParams.quantization_config`` overrides the collection's
  ``quantization_config`` as a whole (not field by field).
* A search uses the codes unless ``quantization.ignore`` is true **or** ``exact`` is true
  (``is_quantized_search``: ``!ignore && !exact``).
* ``oversampling``: when larger than 1, ``floor(oversampling * top)`` candidates are kept by code
  score (Rust's ``(oversampling * top as f64) as usize``); otherwise ``top``.
* ``rescore`` not given: the type decides (``default_rescoring``): binary rescores, scalar and
  product do not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..errors import BadRequest

PQ_SUB_DIMS = {"x4": 1, "x8": 2, "x16": 4, "x32": 8, "x64": 16}   # dimensions per 1-byte sub-vector
BINARY_ENCODINGS = ("one_bit", "one_and_half_bits", "two_bits")
QUERY_ENCODINGS = ("default", "binary", "scalar4bits", "scalar8bits")
MEMORY_VALUES = ("cold", "cached", "pinned")


def _value(v: Any) -> Any:
    return getattr(v, "value", v)


def _dump(config: Any) -> Any:
    if config is None or isinstance(config, (str, dict)):
        return config
    if hasattr(config, "model_dump"):
        return config.model_dump(mode="json", exclude_none=True)
    return _value(config)


@dataclass(frozen=True)
class QuantSpec:
    """One vector name's quantization, resolved and validated."""

    kind: str                    # "scalar" | "product" | "binary"
    quantile: float | None = None
    sub_dims: int = 0            # product: dimensions per sub-vector
    encoding: str = "one_bit"    # binary
    query_encoding: str = "default"
    always_ram: bool | None = None
    originals_on_disk: bool = False   # VectorParams on_disk / memory cold: rescore from a memory map

    @property
    def default_rescore(self) -> bool:
        return self.kind == "binary"

    def fingerprint(self) -> str:
        """What a saved codebook must match to be reused (always_ram does not change codes)."""
        return json.dumps([self.kind, self.quantile, self.sub_dims, self.encoding], separators=(",", ":"))


def parse(config: Any) -> QuantSpec | None:
    """A ``QuantSpec`` from a QuantizationConfig (model or JSON), None for none / ``Disabled``.
    Raises ``BadRequest`` with Qdrant's kind of message for invalid values."""
    raw = _dump(config)
    if raw is None or raw == "Disabled":
        return None
    if not isinstance(raw, dict) or len(raw) != 1:
        raise BadRequest("Wrong input: quantization_config must be one of scalar, product, binary or Disabled")
    kind, body = next(iter(raw.items()))
    body = body or {}
    if not isinstance(body, dict):
        raise BadRequest(f"Wrong input: invalid {kind} quantization config")
    always_ram = body.get("always_ram")
    memory = body.get("memory")
    if memory is not None and _value(memory) not in MEMORY_VALUES:
        raise BadRequest(f"Wrong input: unknown quantization memory mode {memory!r}")
    if kind == "scalar":
        if _value(body.get("type", "int8")) != "int8":
            raise BadRequest(f"Wrong input: unknown scalar quantization type {body.get('type')!r} (only int8)")
        quantile = body.get("quantile")
        if quantile is not None:
            if not isinstance(quantile, (int, float)) or not 0.5 <= float(quantile) <= 1.0:
                raise BadRequest(f"Validation error in JSON body: [quantization_config.scalar.quantile: "
                                 f"value {quantile} invalid, must be from 0.5 to 1]")
            quantile = float(quantile)
        return QuantSpec("scalar", quantile=quantile, always_ram=always_ram)
    if kind == "product":
        compression = _value(body.get("compression"))
        if compression not in PQ_SUB_DIMS:
            raise BadRequest(f"Wrong input: unknown product quantization compression {compression!r} "
                             f"(x4, x8, x16, x32 or x64)")
        return QuantSpec("product", sub_dims=PQ_SUB_DIMS[compression], always_ram=always_ram)
    if kind == "binary":
        encoding = _value(body.get("encoding")) or "one_bit"
        if encoding not in BINARY_ENCODINGS:
            raise BadRequest(f"Wrong input: unknown binary quantization encoding {encoding!r}")
        query_encoding = _value(body.get("query_encoding")) or "default"
        if query_encoding not in QUERY_ENCODINGS:
            raise BadRequest(f"Wrong input: unknown binary quantization query encoding {query_encoding!r}")
        return QuantSpec("binary", encoding=encoding, query_encoding=query_encoding, always_ram=always_ram)
    if kind == "turbo":
        from ..errors import Unsupported
        raise Unsupported("TurboQuant quantization is not supported yet by the built-in engine")
    raise BadRequest(f"Wrong input: unknown quantization kind {kind!r}")


def resolve(config: Any, vector_params: Any) -> QuantSpec | None:
    """The quantization of one vector name: its own config, else the collection's."""
    from dataclasses import replace

    from .ondisk import originals_on_disk

    own = vector_params.get("quantization_config") if isinstance(vector_params, dict) else \
        getattr(vector_params, "quantization_config", None)
    spec = parse(own) if own is not None else parse(getattr(config, "quantization_config", None))
    if spec is not None and originals_on_disk(vector_params):
        spec = replace(spec, originals_on_disk=True)
    return spec


@dataclass(frozen=True)
class QuantSearch:
    """How one search uses the codes: keep ``top`` by code score, then rescore or not."""

    top: int
    rescore: bool


def search_options(spec: QuantSpec | None, params: Any, needed: int) -> QuantSearch | None:
    """None when the search must not use codes (no codes, ``ignore``, ``exact``). Validates
    ``oversampling`` (>= 1, as the spec says) whether or not there are codes."""
    qp = getattr(params, "quantization", None) if params is not None else None
    oversampling = getattr(qp, "oversampling", None) if qp is not None else None
    if oversampling is not None and not oversampling >= 1.0:
        raise BadRequest("Validation error in JSON body: [params.quantization.oversampling: value "
                         f"{oversampling} invalid, must be 1 or larger]")
    if spec is None:
        return None
    if params is not None and getattr(params, "exact", False):
        return None
    if qp is not None and getattr(qp, "ignore", False):
        return None
    rescore = getattr(qp, "rescore", None) if qp is not None else None
    if rescore is None:
        rescore = spec.default_rescore
    top = int(oversampling * needed) if oversampling is not None and oversampling > 1.0 else needed
    return QuantSearch(max(top, needed), bool(rescore))
