"""The reflective core of the conversion between ``sdk.models`` and Qdrant's protobuf messages.

Rules of this module (everything else in ``sdk._grpc`` builds on them):

* The REST side is "REST-shaped" Python: an ``sdk.models`` instance or a dict in the JSON shape
  (both are read with ``get``), lists, scalars, enums. ``encode(value, msg)`` fills the protobuf
  message ``msg`` IN PLACE from such a value; ``decode(msg)`` returns the REST-shaped value as
  plain dicts/lists/scalars, which the caller validates into the model it expects (pydantic picks
  union variants exactly as it does for REST JSON).
* By default a message converts field by field under the same names (``plan``); ``RENAMES`` says
  where the REST name differs, and message types whose shape differs have an explicit encoder /
  decoder registered with ``@encoder`` / ``@decoder`` (PointId, Value, Filter, Match, ...).
* A message whose fields form one oneof converts to the REST "single-key" union variant named
  after the set field (``{"create_alias": {...}}``) by the same default rule.
* Proto3 scalars without presence always decode (``score: 0.0`` is a value); optional scalars and
  messages decode only when present; empty repeated fields and maps decode as absent (the wire
  cannot tell ``[]`` from "not given" -- e.g. ``Filter(should=[])`` arrives as ``should=None``).
* Nothing is dropped silently: encoding a model field that has no protobuf counterpart raises
  ``UnsupportedOperationError`` naming it; an enum value with no counterpart on the other side
  does the same.
"""

from __future__ import annotations

import datetime as _dt
import sys
from enum import Enum
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple
from uuid import UUID

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from pydantic import BaseModel

from .. import models
from .._exceptions import BadRequestError, UnsupportedOperationError

Encoder = Callable[[Any, Any], None]
Decoder = Callable[[Any], Any]

ENCODERS: Dict[str, Encoder] = {}
DECODERS: Dict[str, Decoder] = {}
# pb message full name -> {pb field name: REST field name}; "*" applies to every message.
RENAMES: Dict[str, Dict[str, str]] = {"*": {"shard_key_selector": "shard_key"}}
# pb fields the default rule leaves alone (handled by the message's own code, or wire-only).
SKIPPED: Dict[str, Tuple[str, ...]] = {}


def encoder(*full_names: str) -> Callable[[Encoder], Encoder]:
    def register(fn: Encoder) -> Encoder:
        for name in full_names:
            ENCODERS[name] = fn
        return fn

    return register


def decoder(*full_names: str) -> Callable[[Decoder], Decoder]:
    def register(fn: Decoder) -> Decoder:
        for name in full_names:
            DECODERS[name] = fn
        return fn

    return register


def unsupported(what: str) -> UnsupportedOperationError:
    return UnsupportedOperationError(f"{what} is not supported over gRPC by this client")


# -- reading REST-shaped values ----------------------------------------------------------------------------
def get(value: Any, name: str) -> Any:
    """Field ``name`` of a model or a JSON-shaped dict (None when absent)."""
    if isinstance(value, dict):
        return value.get(name)
    return getattr(value, name, None)


def has(value: Any, name: str) -> bool:
    """Whether ``value`` (a model or a dict) has the field ``name`` (set or not)."""
    if isinstance(value, dict):
        return name in value
    if isinstance(value, BaseModel):
        return name in type(value).model_fields
    return False


def as_list(value: Any) -> List[Any]:
    """A list for a repeated field: lists and tuples as they are, arrays via ``tolist``, else [value]."""
    if isinstance(value, list):
        return value
    if isinstance(value, tuple):
        return list(value)
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.ndarray):
        return value.tolist()
    return [value]


def plain(value: Any) -> Any:
    """An enum's value; anything else unchanged."""
    return value.value if isinstance(value, Enum) else value


# -- plans: how the default rule converts one message type ------------------------------------------------------
_SCALAR, _ENUM, _MESSAGE, _REP_SCALAR, _REP_ENUM, _REP_MESSAGE, _MAP_SCALAR, _MAP_MESSAGE = range(8)


# pb message -> the sdk.models class it decodes into, where the names differ (default: same name).
# Used for one thing: a repeated/map field whose REST counterpart is required decodes as []/{}
# when empty, instead of being left out.
REST_MODELS: Dict[str, str] = {}
# Optional REST lists that a server always fills (decode an empty one as [] rather than absent).
ALWAYS_PRESENT: Dict[str, Tuple[str, ...]] = {"qdrant.CollectionInfo": ("warnings",)}


def _required_rest_fields(full_name: str) -> frozenset:
    name = REST_MODELS.get(full_name, full_name.rsplit(".", 1)[-1])
    model = getattr(models, name, None)
    always = frozenset(ALWAYS_PRESENT.get(full_name, ()))
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return always
    return always | frozenset(n for n, f in model.model_fields.items() if f.is_required())


class _Field:
    __slots__ = ("name", "rest", "kind", "presence", "type_name", "enum", "always")

    def __init__(self, fd: FieldDescriptor, rest: str, required: frozenset = frozenset()) -> None:
        self.name = fd.name
        self.rest = rest
        self.always = rest in required
        self.presence = fd.has_presence
        self.enum = fd.enum_type.full_name if fd.enum_type is not None else None
        self.type_name = fd.message_type.full_name if fd.message_type is not None else None
        # protobuf >= 5.28 has is_repeated; older runtimes only the label (removed in 7.x)
        repeated = fd.is_repeated if hasattr(fd, "is_repeated") else fd.label == FieldDescriptor.LABEL_REPEATED
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            value_fd = fd.message_type.fields_by_name["value"]
            self.kind = _MAP_MESSAGE if value_fd.message_type is not None else _MAP_SCALAR
            self.type_name = value_fd.message_type.full_name if value_fd.message_type is not None else None
            if value_fd.enum_type is not None:
                raise NotImplementedError("maps of enums do not occur in Qdrant's protos")
        elif fd.message_type is not None:
            self.kind = _REP_MESSAGE if repeated else _MESSAGE
        elif fd.enum_type is not None:
            self.kind = _REP_ENUM if repeated else _ENUM
        else:
            self.kind = _REP_SCALAR if repeated else _SCALAR


_PLANS: Dict[str, Tuple[_Field, ...]] = {}
_REST_NAMES: Dict[str, frozenset] = {}
_LEFTOVERS: Dict[Tuple[type, str], Tuple[str, ...]] = {}


def plan(descriptor: Descriptor) -> Tuple[_Field, ...]:
    name = descriptor.full_name
    fields = _PLANS.get(name)
    if fields is None:
        renames = {**RENAMES["*"], **RENAMES.get(name, {})}
        skipped = SKIPPED.get(name, ())
        required = _required_rest_fields(name)
        fields = tuple(
            _Field(fd, renames.get(fd.name, fd.name), required) for fd in descriptor.fields if fd.name not in skipped
        )
        _PLANS[name] = fields
        _REST_NAMES[name] = frozenset(f.rest for f in fields)
    return fields


def _check_consumed(value: Any, descriptor: Descriptor, extra_ok: Iterable[str] = ()) -> None:
    """Raise if ``value`` sets a field the message has no place for."""
    full = descriptor.full_name
    if isinstance(value, BaseModel):
        key = (type(value), full)
        leftovers = _LEFTOVERS.get(key)
        if leftovers is None:
            known = _REST_NAMES[full] | set(extra_ok)
            leftovers = tuple(n for n in type(value).model_fields if n not in known)
            _LEFTOVERS[key] = leftovers
        for n in leftovers:
            if getattr(value, n, None) is not None:
                raise unsupported(f"`{type(value).__name__}.{n}` (no field of qdrant gRPC message {full})")
    elif isinstance(value, dict):
        known = _REST_NAMES[full]
        for n, v in value.items():
            if v is not None and n not in known and n not in extra_ok:
                raise unsupported(f"`{n}` (no field of qdrant gRPC message {full})")


# -- the two entry points -----------------------------------------------------------------------------------------
def encode(value: Any, msg: Any) -> None:
    """Fill ``msg`` from the REST-shaped ``value``."""
    fn = ENCODERS.get(msg.DESCRIPTOR.full_name)
    if fn is not None:
        fn(value, msg)
    else:
        encode_fields(value, msg)


def decode(msg: Any) -> Any:
    """The REST-shaped value of ``msg``."""
    fn = DECODERS.get(msg.DESCRIPTOR.full_name)
    if fn is not None:
        return fn(msg)
    return decode_fields(msg)


def encode_fields(value: Any, msg: Any, skip: Iterable[str] = (), extra_ok: Iterable[str] = ()) -> None:
    """The default rule: every field of ``msg`` from the REST field of the same (or renamed) name.

    ``skip`` names pb fields the caller fills itself; ``extra_ok`` names REST fields the caller
    consumes itself (both excluded from the "nothing dropped" check)."""
    descriptor = msg.DESCRIPTOR
    if not isinstance(value, (BaseModel, dict)):
        raise BadRequestError(f"Wrong input: expected an object for {descriptor.name}, got {type(value).__name__}")
    msg.SetInParent()
    skipped_rest = []
    lookup = value.get if isinstance(value, dict) else value.__dict__.get   # pydantic keeps fields in __dict__
    for f in plan(descriptor):
        if f.name in skip:
            skipped_rest.append(f.rest)
            continue
        v = lookup(f.rest)
        if v is None:
            continue
        kind = f.kind
        try:
            if kind == _SCALAR:
                setattr(msg, f.name, plain(v))
            elif kind == _MESSAGE:
                encode(v, getattr(msg, f.name))
            elif kind == _ENUM:
                setattr(msg, f.name, enum_to_pb(f.enum, v))
            elif kind == _REP_MESSAGE:
                container = getattr(msg, f.name)
                for item in as_list(v):
                    encode(item, container.add())
            elif kind == _REP_SCALAR:
                getattr(msg, f.name).extend(as_list(v))
            elif kind == _REP_ENUM:
                getattr(msg, f.name).extend(enum_to_pb(f.enum, item) for item in as_list(v))
            elif kind == _MAP_MESSAGE:
                container = getattr(msg, f.name)
                for key, item in v.items():
                    encode(item, container[key])
            else:
                getattr(msg, f.name).update(v)
        except (TypeError, ValueError, OverflowError) as exc:
            if isinstance(exc, BadRequestError):
                raise
            raise BadRequestError(f"Wrong input: {descriptor.name}.{f.name}: {exc}") from None
    _check_consumed(value, descriptor, (*extra_ok, *skipped_rest))


def decode_fields(msg: Any, skip: Iterable[str] = ()) -> Dict[str, Any]:
    """The default rule, in reverse: a dict keyed by REST names."""
    out: Dict[str, Any] = {}
    for f in plan(msg.DESCRIPTOR):
        if f.name in skip:
            continue
        kind = f.kind
        if kind == _SCALAR:
            if f.presence and not msg.HasField(f.name):
                continue
            out[f.rest] = getattr(msg, f.name)
        elif kind == _MESSAGE:
            if msg.HasField(f.name):
                out[f.rest] = decode(getattr(msg, f.name))
        elif kind == _ENUM:
            if f.presence and not msg.HasField(f.name):
                continue
            value = enum_from_pb(f.enum, getattr(msg, f.name))
            if value is not None:
                out[f.rest] = value
        elif kind == _REP_MESSAGE:
            items = getattr(msg, f.name)
            if items or f.always:
                out[f.rest] = [decode(item) for item in items]
        elif kind == _REP_SCALAR:
            items = getattr(msg, f.name)
            if items or f.always:
                out[f.rest] = list(items)
        elif kind == _REP_ENUM:
            items = getattr(msg, f.name)
            if items or f.always:
                out[f.rest] = [enum_from_pb(f.enum, item) for item in items]
        elif kind == _MAP_MESSAGE:
            items = getattr(msg, f.name)
            if items or f.always:
                out[f.rest] = {key: decode(items[key]) for key in items}
        else:
            items = getattr(msg, f.name)
            if items or f.always:
                out[f.rest] = dict(items)
    return out


# -- enums ---------------------------------------------------------------------------------------------------------
# pb enum full name -> the sdk.models enum holding the REST spellings (default: the same short name).
REST_ENUMS: Dict[str, str] = {
    "qdrant.QuantizationType": "ScalarType",
    "qdrant.FieldType": "PayloadSchemaType",
    "qdrant.WriteOrderingType": "WriteOrdering",
    "qdrant.MaxOptimizationThreads.Setting": "MaxOptimizationThreadsSetting",
    "qdrant.BinaryQuantizationQueryEncoding.Setting": "BinaryQuantizationQueryEncoding",
}
_ENUM_PREFIXES = {"qdrant.FieldType": "FieldType"}
# pb values meaning "not given" (the proto3 zero of enums that have no REST default).
_UNSET_NAMES = {"Default", "MemoryUnknown"}
_TO_PB: Dict[str, Dict[str, int]] = {}
_FROM_PB: Dict[str, Dict[int, Optional[str]]] = {}


def _norm(name: str) -> str:
    return name.replace("_", "").lower()


def _enum_tables(full_name: str) -> None:
    from . import _pool

    descriptor = _pool.POOL.FindEnumTypeByName(full_name)
    rest_enum = getattr(models, REST_ENUMS.get(full_name, descriptor.name), None)
    rest_values = [e.value for e in rest_enum] if rest_enum is not None else []
    by_norm = {_norm(v): v for v in rest_values}
    prefix = _ENUM_PREFIXES.get(full_name, "")
    to_pb: Dict[str, int] = {}
    from_pb: Dict[int, Optional[str]] = {}
    for value in descriptor.values:
        name = value.name[len(prefix):] if prefix and value.name.startswith(prefix) else value.name
        rest = by_norm.get(_norm(name))
        if rest is not None:
            to_pb[rest] = value.number
            from_pb[value.number] = rest
        elif value.number == 0 and (name.startswith("Unknown") or name in _UNSET_NAMES):
            from_pb[value.number] = None
    _TO_PB[full_name] = to_pb
    _FROM_PB[full_name] = from_pb


def enum_to_pb(full_name: str, value: Any) -> int:
    table = _TO_PB.get(full_name)
    if table is None:
        _enum_tables(full_name)
        table = _TO_PB[full_name]
    key = plain(value)
    number = table.get(key)
    if number is None:
        if isinstance(key, str):
            for rest, candidate in table.items():
                if _norm(rest) == _norm(key):
                    return candidate
        raise BadRequestError(f"Wrong input: unknown {full_name.split('.')[-1]} value {key!r}")
    return number


def enum_from_pb(full_name: str, number: int) -> Optional[str]:
    table = _FROM_PB.get(full_name)
    if table is None:
        _enum_tables(full_name)
        table = _FROM_PB[full_name]
    try:
        return table[number]
    except KeyError:
        from . import _pool

        descriptor = _pool.POOL.FindEnumTypeByName(full_name)
        value = descriptor.values_by_number.get(number)
        label = value.name if value is not None else str(number)
        raise unsupported(f"{full_name} value {label} (it has no REST equivalent in Qdrant v1.19)") from None


# -- JSON values (payloads, metadata, formula defaults) ---------------------------------------------------------------
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


@encoder("qdrant.Value")
def encode_value(v: Any, msg: Any) -> None:
    t = type(v)
    if t is str:
        msg.string_value = v
    elif t is bool:
        msg.bool_value = v
    elif t is int:
        if _INT64_MIN <= v <= _INT64_MAX:
            msg.integer_value = v
        else:
            msg.double_value = float(v)
    elif t is float:
        msg.double_value = v
    elif v is None:
        msg.null_value = 0
    elif isinstance(v, dict):
        fields = msg.struct_value.fields
        msg.struct_value.SetInParent()
        for key, item in v.items():
            encode_value(item, fields[key])
    elif isinstance(v, (list, tuple)):
        values = msg.list_value.values
        msg.list_value.SetInParent()
        for item in v:
            encode_value(item, values.add())
    else:
        encode_value(_json_scalar(v), msg)


def _json_scalar(v: Any) -> Any:
    if isinstance(v, bool):
        return bool(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, str):
        return str(v)
    if isinstance(v, (_dt.datetime, _dt.date)):
        return v.isoformat()
    if isinstance(v, UUID):
        return str(v)
    if isinstance(v, Enum):
        return v.value
    if isinstance(v, BaseModel):
        return v.model_dump(mode="json", exclude_none=True)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        if isinstance(v, numpy.ndarray):
            return v.tolist()
        if isinstance(v, numpy.generic):
            return v.item()
    raise BadRequestError(f"Wrong input: {type(v).__name__} is not a JSON value")


@decoder("qdrant.Value")
def decode_value(msg: Any) -> Any:
    kind = msg.WhichOneof("kind")
    if kind == "struct_value":
        fields = msg.struct_value.fields
        return {key: decode_value(fields[key]) for key in fields}
    if kind == "list_value":
        return [decode_value(item) for item in msg.list_value.values]
    if kind is None or kind == "null_value":
        return None
    return getattr(msg, kind)   # string_value, integer_value, double_value, bool_value


def encode_payload(payload: Any, container: Any) -> None:
    """A JSON object into a ``map<string, Value>``."""
    if not isinstance(payload, dict):
        raise BadRequestError(f"Wrong input: payload must be a JSON object, got {type(payload).__name__}")
    for key, item in payload.items():
        encode_value(item, container[key])


def decode_payload(container: Any) -> Dict[str, Any]:
    # ``for key in map`` + ``map[key]`` is ~40% faster than ``map.items()`` on upb maps
    return {key: decode_value(container[key]) for key in container}


# -- point ids -------------------------------------------------------------------------------------------------------
@encoder("qdrant.PointId")
def encode_point_id(v: Any, msg: Any) -> None:
    t = type(v)
    if t is int:
        if v < 0:
            raise BadRequestError(f"Wrong input: point id must be an unsigned integer or a UUID, got {v}")
        msg.num = v
    elif t is str:
        msg.uuid = v
    elif isinstance(v, UUID):
        msg.uuid = str(v)
    elif isinstance(v, int) and not isinstance(v, bool):
        encode_point_id(int(v), msg)
    elif type(v).__module__ == "numpy" and hasattr(v, "item"):
        encode_point_id(v.item(), msg)
    else:
        raise BadRequestError(f"Wrong input: point id must be an unsigned integer or a UUID, got {v!r}")


@decoder("qdrant.PointId")
def decode_point_id(msg: Any) -> Any:
    kind = msg.WhichOneof("point_id_options")
    if kind == "num":
        return msg.num
    if kind == "uuid":
        return msg.uuid
    raise BadRequestError("Wrong input: empty point id")


# -- timestamps -------------------------------------------------------------------------------------------------------
_UTC = _dt.timezone.utc


def to_datetime(v: Any) -> _dt.datetime:
    if isinstance(v, _dt.datetime):
        return v if v.tzinfo is not None else v.replace(tzinfo=_UTC)
    if isinstance(v, _dt.date):
        return _dt.datetime(v.year, v.month, v.day, tzinfo=_UTC)
    if isinstance(v, str):
        try:
            return to_datetime(_dt.datetime.fromisoformat(v.replace("Z", "+00:00").replace(" ", "T", 1)))
        except ValueError:
            raise BadRequestError(f"Wrong input: {v!r} is not an RFC 3339 date-time") from None
    raise BadRequestError(f"Wrong input: expected a date-time, got {type(v).__name__}")


@encoder("google.protobuf.Timestamp")
def encode_timestamp(v: Any, msg: Any) -> None:
    moment = to_datetime(v)
    delta = moment - _dt.datetime(1970, 1, 1, tzinfo=_UTC)
    seconds = delta.days * 86400 + delta.seconds
    msg.seconds = seconds
    msg.nanos = delta.microseconds * 1000


@decoder("google.protobuf.Timestamp")
def decode_timestamp(msg: Any) -> _dt.datetime:
    return _dt.datetime(1970, 1, 1, tzinfo=_UTC) + _dt.timedelta(seconds=msg.seconds, microseconds=msg.nanos // 1000)


# -- helpers for message types that are a single map or a single oneof --------------------------------------------------
def map_wrapper(full_name: str, field: str) -> None:
    """A message holding one map field whose REST form is the plain dict."""

    def enc(value: Any, msg: Any) -> None:
        msg.SetInParent()
        container = getattr(msg, field)
        for key, item in value.items():
            encode(item, container[key])

    def dec(msg: Any) -> Any:
        items = getattr(msg, field)
        return {key: decode(items[key]) for key in items}

    ENCODERS[full_name] = enc
    DECODERS[full_name] = dec
