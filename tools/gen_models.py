#!/usr/bin/env python3
"""Generate ``sdk/models/_generated.py`` and ``sdk/_operations_spec.py`` from Qdrant's OpenAPI spec.

Usage::

    python tools/gen_models.py                 # rewrite the committed files in this repository
    python tools/gen_models.py --check         # exit 1 if the committed files are out of date
    python tools/gen_models.py --out-dir /tmp/x --spec path/to/openapi.json

Inputs: the v1.19 spec (every schema of ``components.schemas`` and every operation) and the
v1.18 "legacy" spec, from which only the operations removed in v1.19 (search / recommend /
discover and their batch / groups variants) and the schemas they need that v1.19 lacks are
taken. On a name clash the v1.19 schema wins.

How schemas map to Python (see ``Generator`` for the details):

* object schema with ``properties`` -> ``class X(BaseModel)``; ``extra="forbid"`` when the schema
  says ``additionalProperties: false`` or the schema is reachable from a request body (that is
  what qdrant-client does; it is what lets unions of request models discriminate);
* string ``enum`` -> ``class X(str, Enum)``; a ``oneOf`` of string enums is merged into one enum;
* ``anyOf`` / ``oneOf`` -> ``X = Union[...]`` with pydantic strict primitives inside, primitives
  first (bool, int, float, str, ...), inline object variants become named classes;
* ``additionalProperties: <schema>`` -> ``Dict[str, X]``; free-form objects -> ``Dict[str, Any]``;
* ``nullable`` -> ``Optional``; ``default`` -> field default (``None`` when absent);
* fields holding vectors get a ``BeforeValidator`` turning numpy arrays into lists.

No description text from the spec ends up in the generated code. The output is deterministic.
"""

from __future__ import annotations

import argparse
import json
import keyword
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = REPO_ROOT.parent / "shared" / "reference"
DEFAULT_SPEC = REFERENCE_DIR / "qdrant-openapi-v1.19.json"
DEFAULT_LEGACY_SPEC = REFERENCE_DIR / "qdrant-openapi-v1.18-legacy.json"

MODELS_OUT = Path("sdk") / "models" / "_generated.py"
OPERATIONS_OUT = Path("sdk") / "_operations_spec.py"

# Operations that v1.19 no longer documents but the server still serves (taken from the v1.18 spec).
LEGACY_OPERATIONS = (
    "search_points",
    "search_batch_points",
    "search_point_groups",
    "recommend_points",
    "recommend_batch_points",
    "recommend_point_groups",
    "discover_points",
    "discover_batch_points",
)

# Named types whose values are (or contain) vectors a user may pass as numpy arrays. Every field
# typed with one of them (directly, nullable, or as list items) gets the numpy BeforeValidator.
VECTOR_TYPES = frozenset(
    {
        "VectorStruct",
        "BatchVectorStruct",
        "Vector",
        "VectorInput",
        "QueryInterface",
        "NamedVectorStruct",
        "RecommendExample",
    }
)
# Individual fields with inline vector types that get the validator too.
VECTOR_FIELDS = frozenset({("NamedVector", "vector"), ("SparseVector", "indices"), ("SparseVector", "values")})

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

# Union members that are primitives go first, in this order (qdrant-client does the same).
_PRIMITIVE_RANK = {
    "StrictBool": 0,
    "bool": 0,
    "StrictInt": 1,
    "int": 1,
    "StrictFloat": 2,
    "float": 2,
    "StrictStr": 3,
    "str": 3,
    "UUID": 4,
    "datetime": 5,
    "date": 6,
    "bytes": 7,
}

_BASEMODEL_ATTRIBUTES = frozenset(
    {
        # pydantic.BaseModel public attributes and methods (v1 and v2 names) a field must not shadow
        "construct",
        "copy",
        "dict",
        "fields",
        "from_orm",
        "json",
        "parse_file",
        "parse_obj",
        "parse_raw",
        "schema",
        "schema_json",
        "update_forward_refs",
        "validate",
    }
)


class SpecError(Exception):
    """The spec has a shape this generator does not know how to map."""


# ----------------------------------------------------------------------------------------------
# Definitions collected from the spec
# ----------------------------------------------------------------------------------------------


@dataclass
class FieldDef:
    name: str  # Python attribute name
    alias: Optional[str]  # JSON name when it differs from the attribute name
    annotation: str
    required: bool
    default: Optional[str]  # Python source of the default (None means "no default" for required)
    default_factory: Optional[str] = None
    numpy: bool = False


@dataclass
class ModelDef:
    name: str
    fields: List[FieldDef]
    forbid: bool


@dataclass
class EnumDef:
    name: str
    values: List[str]


@dataclass
class AliasDef:
    name: str
    members: List[str]
    nullable: bool
    deps: Set[str] = field(default_factory=set)


def ref_name(ref: str) -> str:
    prefix = "#/components/schemas/"
    if not ref.startswith(prefix):
        raise SpecError(f"unsupported $ref {ref!r}")
    return ref[len(prefix) :]


def pascal(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", text) if part)


def enum_member_name(value: str) -> str:
    name = re.sub(r"[^0-9A-Za-z]", "_", value).upper()
    if not name or name[0].isdigit():
        name = "V_" + name
    return name


def python_field_name(json_name: str) -> str:
    if keyword.iskeyword(json_name) or json_name in _BASEMODEL_ATTRIBUTES or json_name.startswith("model_"):
        return json_name + "_"
    if not json_name.isidentifier():
        raise SpecError(f"field name {json_name!r} is not an identifier")
    return json_name


def is_null_variant(schema: Dict[str, Any]) -> bool:
    keys = set(schema) - {"description", "title", "example", "examples", "default"}
    return keys == {"nullable"} or schema.get("type") == "null"


def is_string_enum(schema: Dict[str, Any]) -> bool:
    return "enum" in schema and schema.get("type", "string") == "string" and "properties" not in schema


def collect_refs(node: Any, out: Set[str]) -> Set[str]:
    if isinstance(node, dict):
        if "$ref" in node:
            out.add(ref_name(node["$ref"]))
        for value in node.values():
            collect_refs(value, out)
    elif isinstance(node, list):
        for value in node:
            collect_refs(value, out)
    return out


def closure(roots: Iterable[str], schemas: Dict[str, Any]) -> Set[str]:
    seen: Set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        if name not in schemas:
            raise SpecError(f"reference to unknown schema {name!r}")
        seen.add(name)
        stack.extend(sorted(collect_refs(schemas[name], set())))
    return seen


# ----------------------------------------------------------------------------------------------
# Type rendering
# ----------------------------------------------------------------------------------------------


class Generator:
    def __init__(self, schemas: Dict[str, Any], forbid_names: Set[str]) -> None:
        self.schemas = schemas
        self.forbid_names = forbid_names
        self.models: Dict[str, ModelDef] = {}
        self.enums: Dict[str, EnumDef] = {}
        self.aliases: Dict[str, AliasDef] = {}
        self.inline_names: Set[str] = set()

    # -- classification of named schemas ------------------------------------------------------

    def run(self) -> None:
        for name in sorted(self.schemas):
            self.define(name, self.schemas[name])
        clash = self.inline_names & set(self.schemas)
        if clash:
            raise SpecError(f"inline class names clash with schema names: {sorted(clash)}")

    @staticmethod
    def unwrap_all_of(schema: Dict[str, Any]) -> Dict[str, Any]:
        """``allOf: [X]`` (a wrapper, often with nullable/default siblings) -> X with the siblings."""
        all_of = schema.get("allOf")
        if all_of is None or len(all_of) != 1:
            return schema
        siblings = {k: v for k, v in schema.items() if k != "allOf"}
        inner = all_of[0]
        if "$ref" in inner:
            nullable = [{"nullable": True}] if siblings.pop("nullable", False) else []
            return {**siblings, "anyOf": [inner] + nullable}
        return {**inner, **siblings}

    def merge_all_of(self, schema: Dict[str, Any]) -> Dict[str, Any]:
        """``allOf`` with several object parts -> one object schema."""
        properties: Dict[str, Any] = {}
        required: List[str] = []
        additional: Any = None
        for part in schema["allOf"]:
            if "$ref" in part:
                part = self.schemas[ref_name(part["$ref"])]
            part = self.unwrap_all_of(part)
            if "allOf" in part:
                part = self.merge_all_of(part)
            if part.get("type", "object") != "object" or not ("properties" in part or "additionalProperties" in part):
                raise SpecError("allOf of non-object schemas is not supported")
            properties.update(part.get("properties", {}))
            required.extend(r for r in part.get("required", []) if r not in required)
            if part.get("additionalProperties") is False:
                additional = False
        merged = {"type": "object", "properties": properties, "required": required}
        if additional is False:
            merged["additionalProperties"] = False
        return merged

    def define(self, name: str, schema: Dict[str, Any]) -> None:
        schema = self.unwrap_all_of(schema)
        if "allOf" in schema:
            schema = self.merge_all_of(schema)
        if is_string_enum(schema):
            self.enums[name] = EnumDef(name, [str(v) for v in schema["enum"]])
            return
        variants = schema.get("oneOf") or schema.get("anyOf")
        if variants is not None:
            non_null = [v for v in variants if not is_null_variant(v)]
            if non_null and len(non_null) == len(variants) and all(is_string_enum(v) for v in non_null):
                values: List[str] = []
                for variant in non_null:
                    values.extend(str(v) for v in variant["enum"] if str(v) not in values)
                self.enums[name] = EnumDef(name, values)
                return
        if schema.get("type", "object") == "object" and "properties" in schema:
            self.define_model(name, schema, forbid=name in self.forbid_names)
            return
        members, nullable = self.atoms(schema, strict=False, owner=name, field_name=None)
        deps = self.alias_deps(members)
        self.aliases[name] = AliasDef(name, members, nullable, deps)

    def alias_deps(self, members: List[str]) -> Set[str]:
        words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", " ".join(members)))
        return {w for w in words if w in self.schemas or w in self.inline_names}

    def define_model(self, name: str, schema: Dict[str, Any], forbid: bool) -> None:
        if name in self.models:
            raise SpecError(f"model {name} defined twice")
        required = set(schema.get("required", []))
        fields: List[FieldDef] = []
        # Register first so that recursive inline definitions can see the name.
        model = ModelDef(name, fields, forbid or schema.get("additionalProperties") is False)
        self.models[name] = model
        for json_name, prop in schema.get("properties", {}).items():
            fields.append(self.make_field(name, json_name, prop, json_name in required))

    def make_field(self, owner: str, json_name: str, prop: Dict[str, Any], required: bool) -> FieldDef:
        prop = self.unwrap_all_of(prop)
        members, nullable = self.atoms(prop, strict=False, owner=owner, field_name=json_name)
        annotation = self.join(members, nullable or not required)
        py_name = python_field_name(json_name)
        alias = json_name if py_name != json_name else None
        numpy = (owner, json_name) in VECTOR_FIELDS or self.holds_vectors(prop)
        default: Optional[str] = None
        default_factory: Optional[str] = None
        if not required:
            if "default" in prop:
                default, default_factory = self.default_source(prop["default"], prop)
            else:
                default = "None"
        return FieldDef(py_name, alias, annotation, required, default, default_factory, numpy)

    def holds_vectors(self, prop: Dict[str, Any]) -> bool:
        candidates = [prop]
        for key in ("anyOf", "oneOf"):
            candidates.extend(prop.get(key, []))
        for candidate in candidates:
            if "$ref" in candidate and ref_name(candidate["$ref"]) in VECTOR_TYPES:
                return True
            items = candidate.get("items") if candidate.get("type") == "array" else None
            if items and "$ref" in items and ref_name(items["$ref"]) in VECTOR_TYPES:
                return True
        return False

    def default_source(self, value: Any, prop: Dict[str, Any]) -> Tuple[Optional[str], Optional[str]]:
        if value is None or isinstance(value, (bool, int, float)):
            return repr(value), None
        if isinstance(value, str):
            target = prop.get("$ref")
            if target is None:
                refs = [v["$ref"] for v in prop.get("anyOf", []) + prop.get("oneOf", []) if "$ref" in v]
                target = refs[0] if len(refs) == 1 else None
            if target is not None and ref_name(target) in self.enums_or_enum_schemas():
                return f"{ref_name(target)}.{enum_member_name(value)}", None
            return repr(value), None
        if value == {}:
            return None, "dict"
        if value == []:
            return None, "list"
        raise SpecError(f"unsupported default {value!r}")

    def enums_or_enum_schemas(self) -> Set[str]:
        return {n for n, s in self.schemas.items() if is_string_enum(self.unwrap_all_of(s))} | set(self.enums)

    # -- rendering of anonymous schemas -------------------------------------------------------

    @staticmethod
    def join(members: List[str], nullable: bool) -> str:
        if not members:
            return "None" if nullable else "Any"
        expr = members[0] if len(members) == 1 else "Union[" + ", ".join(members) + "]"
        if nullable and expr != "Any":
            return f"Optional[{expr}]"
        return expr

    def render(self, schema: Dict[str, Any], strict: bool, owner: str, field_name: Optional[str]) -> str:
        members, nullable = self.atoms(schema, strict, owner, field_name)
        return self.join(members, nullable)

    def atoms(
        self,
        schema: Dict[str, Any],
        strict: bool,
        owner: str,
        field_name: Optional[str],
    ) -> Tuple[List[str], bool]:
        """Union members (flattened, ordered, de-duplicated) and whether null is allowed."""
        schema = self.unwrap_all_of(schema)
        nullable = bool(schema.get("nullable"))
        if "$ref" in schema:
            return [ref_name(schema["$ref"])], nullable
        variants = schema.get("anyOf") or schema.get("oneOf")
        if variants is not None:
            members: List[str] = []
            count = sum(1 for v in variants if not is_null_variant(v))
            for index, variant in enumerate(variants):
                if is_null_variant(variant):
                    nullable = True
                    continue
                variant = self.unwrap_all_of(variant)
                if variant.get("type", "object") == "object" and "properties" in variant:
                    members.append(self.inline_model(owner, field_name, variant, index, count))
                    continue
                if is_string_enum(variant):
                    members.append(self.literal(variant["enum"]))
                    continue
                sub, sub_nullable = self.atoms(variant, True, owner, field_name)
                nullable = nullable or sub_nullable
                members.extend(sub)
            return self.order(members), nullable
        if "allOf" in schema:
            merged = self.merge_all_of(schema)
            return [self.inline_model(owner, field_name, merged, 0, 1)], nullable
        if is_string_enum(schema):
            return [self.literal(schema["enum"])], nullable
        kind = schema.get("type", "object" if "properties" in schema or "additionalProperties" in schema else None)
        if kind is None:
            return ["Any"], False
        if kind == "array":
            item = self.render(schema.get("items", {}), strict, owner, field_name)
            return [f"List[{item}]"], nullable
        if kind == "object":
            if "properties" in schema:
                return [self.inline_model(owner, field_name, schema, 0, 1)], nullable
            key = "StrictStr" if strict else "str"
            additional = schema.get("additionalProperties", True)
            if additional is True or additional == {}:
                return [f"Dict[{key}, Any]"], nullable
            if additional is False:
                return ["Dict[str, Any]"], nullable
            return [f"Dict[{key}, {self.render(additional, strict, owner, field_name)}]"], nullable
        if kind == "string":
            fmt = schema.get("format")
            if fmt == "date-time":
                return ["datetime", "date"], nullable
            if fmt == "date":
                return ["date"], nullable
            if fmt == "uuid":
                return (["StrictStr", "UUID"] if strict else ["UUID"]), nullable
            if fmt == "binary":
                return ["bytes"], nullable
            return ["StrictStr" if strict else "str"], nullable
        if kind == "integer":
            return ["StrictInt" if strict else "int"], nullable
        if kind == "number":
            return ["StrictFloat" if strict else "float"], nullable
        if kind == "boolean":
            return ["StrictBool" if strict else "bool"], nullable
        raise SpecError(f"unsupported schema type {kind!r} in {owner}.{field_name}")

    @staticmethod
    def literal(values: List[Any]) -> str:
        return "Literal[" + ", ".join(json.dumps(v) for v in values) + "]"

    @staticmethod
    def order(members: List[str]) -> List[str]:
        unique: List[str] = []
        for member in members:
            if member not in unique:
                unique.append(member)
        return sorted(unique, key=lambda m: _PRIMITIVE_RANK.get(m, 100))

    def inline_model(
        self, owner: str, field_name: Optional[str], schema: Dict[str, Any], index: int, count: int
    ) -> str:
        """Name and define a class for an object schema written inline."""
        name = self.inline_model_name(owner, field_name, schema, index, count)
        if name in self.models:
            raise SpecError(f"inline class name {name} is taken")
        self.inline_names.add(name)
        self.define_model(name, schema, forbid=owner in self.forbid_names)
        return name

    @staticmethod
    def inline_model_name(
        owner: str, field_name: Optional[str], schema: Dict[str, Any], index: int, count: int
    ) -> str:
        base = owner + (pascal(field_name) if field_name else "")
        if count == 1:
            return base
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        # Internally tagged variant: a required property holding a single-value string enum.
        for prop_name in required:
            prop = properties.get(prop_name, {})
            if is_string_enum(prop) and len(prop["enum"]) == 1:
                return base + pascal(str(prop["enum"][0]))
        # Externally tagged variant: an object with a single required property.
        if len(required) == 1 and len(properties) == 1:
            return base + pascal(required[0])
        return f"{base}Variant{index}"


# ----------------------------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------------------------

HEADER = (
    "# Generated by tools/gen_models.py from {spec} -- do not edit.\n"
    "# The legacy search/recommend/discover operations and their request models come from {legacy}.\n"
)


def sort_aliases(aliases: Dict[str, AliasDef]) -> List[AliasDef]:
    """Aliases are evaluated at import time: emit each after the aliases it uses."""
    done: List[AliasDef] = []
    placed: Set[str] = set()
    visiting: Set[str] = set()

    def visit(name: str) -> None:
        if name in placed:
            return
        if name in visiting:
            raise SpecError(f"type aliases form a cycle through {name}")
        visiting.add(name)
        for dep in sorted(aliases[name].deps):
            if dep in aliases:
                visit(dep)
        visiting.discard(name)
        placed.add(name)
        done.append(aliases[name])

    for name in sorted(aliases):
        visit(name)
    return done


def emit_models(gen: Generator, spec_name: str, legacy_name: str) -> str:
    out: List[str] = [HEADER.format(spec=spec_name, legacy=legacy_name)]
    out.append(
        "# Enums, then models, in alphabetical order with postponed annotations; type aliases follow in\n"
        "# dependency order. Models are built lazily (defer_build): on first use pydantic resolves the\n"
        "# forward references against this module, which keeps `import sdk.models` fast.\n"
    )
    out.append("from __future__ import annotations\n\n")
    out.append("from datetime import date, datetime\n")
    out.append("from enum import Enum\n")
    out.append("from typing import Annotated, Any, Dict, List, Literal, Optional, Union\n")
    out.append("from uuid import UUID\n\n")
    out.append("from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr\n\n")
    out.append("from ._numpy import NumpyToLists\n")

    # Enums first: model defaults may name enum members, and those are evaluated at class creation.
    for name in sorted(gen.enums):
        out.append("\n\n")
        out.append(emit_enum(gen.enums[name]))
    for name in sorted(gen.models):
        out.append("\n\n")
        out.append(emit_model(gen.models[name]))

    out.append("\n\n")
    for alias in sort_aliases(gen.aliases):
        out.append(emit_alias(alias))

    out.append("\n\n__all__ = (\n")
    for name in sorted(set(gen.enums) | set(gen.models) | set(gen.aliases)):
        out.append(f'    "{name}",\n')
    out.append(")\n")
    return "".join(out)


def emit_enum(enum: EnumDef) -> str:
    lines = [f"class {enum.name}(str, Enum):\n"]
    lines.append("    def __str__(self) -> str:\n")
    lines.append("        return str(self.value)\n\n")
    seen: Set[str] = set()
    for value in enum.values:
        member = enum_member_name(value)
        if member in seen:
            raise SpecError(f"enum {enum.name}: two values map to member {member}")
        seen.add(member)
        lines.append(f"    {member} = {json.dumps(value)}\n")
    return "".join(lines)


def emit_model(model: ModelDef) -> str:
    lines = [f"class {model.name}(BaseModel):\n"]
    config: List[str] = ["defer_build=True"]
    if model.forbid:
        config.append('extra="forbid"')
    if any(f.alias for f in model.fields):
        config.append("populate_by_name=True")
        config.append("serialize_by_alias=True")
    lines.append(f"    model_config = ConfigDict({', '.join(config)})\n\n")
    if not model.fields:
        lines.append("    pass\n")
    for f in model.fields:
        annotation = f.annotation
        if f.numpy:
            annotation = f"Annotated[{annotation}, NumpyToLists]"
        args: List[str] = []
        if f.default_factory is not None:
            args.append(f"default_factory={f.default_factory}")
        elif not f.required:
            args.append(f"default={f.default}")
        if f.alias is not None:
            args.append(f'alias="{f.alias}"')
        if f.alias is None and f.default_factory is None:
            value = "" if f.required else f" = {f.default}"
        else:
            value = f" = Field({', '.join(args)})"
        lines.append(f"    {f.name}: {annotation}{value}\n")
    return "".join(lines)


def emit_alias(alias: AliasDef) -> str:
    members = alias.members
    if len(members) <= 1:
        return f"{alias.name} = {Generator.join(members, alias.nullable)}\n"
    body = "".join(f"    {m},\n" for m in members)
    if alias.nullable:
        body += "    None,\n"
    return f"{alias.name} = Union[\n{body}]\n"


# ----------------------------------------------------------------------------------------------
# Operations
# ----------------------------------------------------------------------------------------------


@dataclass
class OperationDef:
    operation_id: str
    method: str
    path: str
    path_params: Tuple[str, ...]
    query_params: Tuple[str, ...]
    body_model: Optional[str]
    result_type: Optional[str]
    response_type: Optional[str]
    legacy: bool


def collect_operations(
    spec: Dict[str, Any], gen: Generator, legacy: bool, only: Optional[Set[str]]
) -> List[OperationDef]:
    result: List[OperationDef] = []
    for path, item in spec["paths"].items():
        shared_params = item.get("parameters", [])
        for method in HTTP_METHODS:
            op = item.get(method)
            if op is None:
                continue
            op_id = op["operationId"]
            if only is not None and op_id not in only:
                continue
            params = [resolve_parameter(spec, p) for p in shared_params + op.get("parameters", [])]
            path_params = tuple(p["name"] for p in params if p["in"] == "path")
            template_params = tuple(re.findall(r"{([^}]+)}", path))
            if sorted(path_params) != sorted(template_params):
                raise SpecError(f"{op_id}: path parameters {path_params} do not match {path}")
            query_params = tuple(p["name"] for p in params if p["in"] == "query")
            result.append(
                OperationDef(
                    operation_id=op_id,
                    method=method.upper(),
                    path=path,
                    path_params=template_params,
                    query_params=query_params,
                    body_model=body_model(op, op_id),
                    result_type=result_type(op, gen, op_id),
                    response_type=response_type(op, gen, op_id),
                    legacy=legacy,
                )
            )
    return result


def resolve_parameter(spec: Dict[str, Any], param: Dict[str, Any]) -> Dict[str, Any]:
    if "$ref" in param:
        name = param["$ref"].rsplit("/", 1)[-1]
        return spec["components"]["parameters"][name]
    return param


def body_model(op: Dict[str, Any], op_id: str) -> Optional[str]:
    body = op.get("requestBody")
    if body is None:
        return None
    content = body.get("content", {})
    if "application/json" in content:
        schema = content["application/json"]["schema"]
        if "$ref" not in schema:
            raise SpecError(f"{op_id}: inline JSON request body")
        return ref_name(schema["$ref"])
    if "multipart/form-data" in content:
        return "multipart"
    raise SpecError(f"{op_id}: unsupported request content {sorted(content)}")


def success_response(op: Dict[str, Any]) -> Dict[str, Any]:
    return op.get("responses", {}).get("200", {})


def envelope_result(op: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    content = success_response(op).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    if not schema or "$ref" in schema:
        return None
    props = schema.get("properties", {})
    if "result" in props and "status" in props and "time" in props:
        return props["result"]
    return None


def result_type(op: Dict[str, Any], gen: Generator, op_id: str) -> Optional[str]:
    result = envelope_result(op)
    if result is None:
        return None
    return gen.render(result, strict=False, owner=op_id, field_name="result")


def response_type(op: Dict[str, Any], gen: Generator, op_id: str) -> Optional[str]:
    """Type of the whole 200 body when it is not the ``{"result": ...}`` envelope."""
    if envelope_result(op) is not None:
        return None
    content = success_response(op).get("content", {})
    if "application/json" in content:
        return gen.render(content["application/json"]["schema"], strict=False, owner=op_id, field_name=None)
    if "text/plain" in content:
        return "str"
    if "application/octet-stream" in content:
        return "bytes"
    return None


def emit_operations(ops: List[OperationDef], spec_name: str, legacy_name: str) -> str:
    out = [HEADER.format(spec=spec_name, legacy=legacy_name)]
    out.append('"""Every REST operation of the spec, keyed by operationId (plain data)."""\n\n')
    out.append("from typing import Dict\n\n")
    out.append("from ._operation import Operation\n\n")
    out.append("OPERATIONS: Dict[str, Operation] = {\n")
    for op in sorted(ops, key=lambda o: o.operation_id):
        out.append(f'    "{op.operation_id}": Operation(\n')
        out.append(f'        operation_id="{op.operation_id}",\n')
        out.append(f'        method="{op.method}",\n')
        out.append(f'        path="{op.path}",\n')
        out.append(f"        path_params={tuple_source(op.path_params)},\n")
        out.append(f"        query_params={tuple_source(op.query_params)},\n")
        out.append(f"        body_model={optional_str(op.body_model)},\n")
        out.append(f"        result_type={optional_str(op.result_type)},\n")
        out.append(f"        response_type={optional_str(op.response_type)},\n")
        out.append(f"        legacy={op.legacy},\n")
        out.append("    ),\n")
    out.append("}\n")
    return "".join(out)


def tuple_source(items: Tuple[str, ...]) -> str:
    if not items:
        return "()"
    return "(" + ", ".join(f'"{i}"' for i in items) + ("," if len(items) == 1 else "") + ")"


def optional_str(value: Optional[str]) -> str:
    return "None" if value is None else f'"{value}"'


# ----------------------------------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------------------------------


def request_roots(spec: Dict[str, Any], only: Optional[Set[str]] = None) -> Set[str]:
    roots: Set[str] = set()
    for item in spec["paths"].values():
        for method in HTTP_METHODS:
            op = item.get(method)
            if op is None or (only is not None and op["operationId"] not in only):
                continue
            if "requestBody" in op:
                collect_refs(op["requestBody"], roots)
    return roots


def legacy_schemas(spec: Dict[str, Any], legacy: Dict[str, Any], legacy_ops: Set[str]) -> Dict[str, Any]:
    """Schemas the legacy operations need that the current spec does not define."""
    current = spec["components"]["schemas"]
    old = legacy["components"]["schemas"]
    roots: Set[str] = set()
    for item in legacy["paths"].values():
        for method in HTTP_METHODS:
            op = item.get(method)
            if op is not None and op["operationId"] in legacy_ops:
                collect_refs(op, roots)
    # Walk the legacy definitions, but stop at names the current spec defines (it wins on a clash).
    needed: Dict[str, Any] = {}
    stack = sorted(roots)
    while stack:
        name = stack.pop()
        if name in needed or name in current:
            continue
        if name not in old:
            raise SpecError(f"legacy schema {name!r} not found")
        needed[name] = old[name]
        stack.extend(sorted(collect_refs(old[name], set())))
    return needed


def generate(spec_path: Path, legacy_path: Path) -> Dict[Path, str]:
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    legacy = json.loads(legacy_path.read_text(encoding="utf-8"))

    current_ops = {op["operationId"] for item in spec["paths"].values() for m, op in item.items() if m in HTTP_METHODS}
    legacy_ops = set(LEGACY_OPERATIONS)
    if legacy_ops & current_ops:
        raise SpecError(f"legacy operations present in the current spec: {sorted(legacy_ops & current_ops)}")

    schemas: Dict[str, Any] = dict(spec["components"]["schemas"])
    extra = legacy_schemas(spec, legacy, legacy_ops)
    schemas.update(extra)

    roots = request_roots(spec) | request_roots(legacy, legacy_ops)
    forbid = closure(roots, schemas)

    gen = Generator(schemas, forbid)
    gen.run()

    ops = collect_operations(spec, gen, legacy=False, only=None)
    ops += collect_operations(legacy, gen, legacy=True, only=legacy_ops)
    found = {op.operation_id for op in ops}
    missing = legacy_ops - found
    if missing:
        raise SpecError(f"legacy operations not found: {sorted(missing)}")
    if len(found) != len(ops):
        raise SpecError("duplicate operationId")

    return {
        MODELS_OUT: emit_models(gen, spec_path.name, legacy_path.name),
        OPERATIONS_OUT: emit_operations(ops, spec_path.name, legacy_path.name),
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="Qdrant OpenAPI spec (v1.19)")
    parser.add_argument(
        "--legacy-spec",
        type=Path,
        default=None,
        help="v1.18 spec with the legacy search/recommend/discover operations "
        "(default: qdrant-openapi-v1.18-legacy.json next to --spec)",
    )
    parser.add_argument("--out-dir", type=Path, default=REPO_ROOT, help="root to write sdk/... under")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if the files differ")
    args = parser.parse_args(argv)

    legacy_path = args.legacy_spec or args.spec.parent / DEFAULT_LEGACY_SPEC.name
    files = generate(args.spec, legacy_path)
    stale = []
    for rel, text in files.items():
        target = args.out_dir / rel
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            continue
        stale.append(str(rel))
        if not args.check:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    if args.check and stale:
        print("out of date: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
