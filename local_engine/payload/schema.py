"""Payload index schemas: what ``create_field_index`` may ask for, read into an ``IndexSpec``.

A schema arrives as a ``PayloadSchemaType`` value or string (``"keyword"``), as a params model
(``KeywordIndexParams``, ``TextIndexParams(...)``, from ``sdk.models`` or ``qdrant_client.models``)
or as the dict a path-mode collection saved (``{"type": "text", "tokenizer": "word", ...}``).
Everything is read by attribute / key, never with ``isinstance`` against one module's classes.

Parameters that only tune storage or HNSW in Qdrant (``on_disk``, ``memory``, ``enable_hnsw``,
``is_tenant``, ``is_principal``, keyword ``prefix``) are accepted and change no answer. A value
this engine does not implement (the multilingual tokenizer, stemmers, stopword languages other
than English, ``nested``/``scoring`` from newer clients) raises ``Unsupported`` naming it: never
accept-and-ignore something that would change results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import BadRequest, Unsupported
from ._stopwords import LANGUAGES

TYPES = ("keyword", "integer", "float", "bool", "geo", "text", "datetime", "uuid")
TOKENIZERS = ("word", "whitespace", "prefix")


@dataclass(frozen=True)
class TextSpec:
    tokenizer: str = "word"
    min_token_len: int | None = None
    max_token_len: int | None = None
    lowercase: bool = True
    ascii_folding: bool = False
    phrase_matching: bool = False
    stopwords: frozenset = frozenset()  # as compared with tokens (lower-cased when `lowercase`)


@dataclass(frozen=True)
class IndexSpec:
    type: str
    lookup: bool = True  # integer: match value/any/except served by the index
    range: bool = True  # integer: range / order_by served by the index
    text: TextSpec | None = None


def _value(v: Any) -> Any:
    """Enum members -> their value; everything else unchanged."""
    return getattr(v, "value", v)


def _get(schema: Any, name: str) -> Any:
    if isinstance(schema, dict):
        return schema.get(name)
    return getattr(schema, name, None)


def parse_schema(schema: Any) -> IndexSpec:
    """Read a field schema; BadRequest when malformed, Unsupported for what is not implemented."""
    if schema is None:
        raise BadRequest("Wrong input: `field_schema` is required to create a payload index")
    is_params = _has_type(schema)
    raw_type = _value(_get(schema, "type") if is_params else schema)
    if not isinstance(raw_type, str) or raw_type.lower() not in TYPES:
        raise BadRequest(
            f"Format error in JSON body: unknown payload index type {raw_type!r}; expected one of {', '.join(TYPES)}"
        )
    kind = raw_type.lower()
    if not is_params:
        return IndexSpec(kind, text=TextSpec() if kind == "text" else None)
    nested = _get(schema, "nested")
    if nested is not None:
        raise Unsupported(f"Payload index parameter `nested` ({nested!r}) is not supported by the built-in engine")
    if kind == "integer":
        lookup, rng = _get(schema, "lookup"), _get(schema, "range")
        if lookup is False and rng is False:
            raise BadRequest(
                "Validation error in JSON body: [lookup: the 'lookup' and 'range' capabilities can't be both disabled]"
            )
        return IndexSpec(kind, lookup=lookup is not False, range=rng is not False)
    if kind == "text":
        return IndexSpec(kind, text=_text_spec(schema))
    return IndexSpec(kind)


def _has_type(schema: Any) -> bool:
    """A params object/dict (it has a `type`), as opposed to a bare type name or enum member."""
    if isinstance(schema, dict):
        return "type" in schema
    return not isinstance(schema, str) and hasattr(schema, "type")


def _text_spec(schema: Any) -> TextSpec:
    scoring = _get(schema, "scoring")
    if scoring is not None and scoring is not False:
        raise Unsupported("Full-text index parameter `scoring` (BM25) is not supported by the built-in engine")
    tokenizer = _value(_get(schema, "tokenizer")) or "word"
    if not isinstance(tokenizer, str) or tokenizer.lower() not in TOKENIZERS:
        raise Unsupported(
            f"Full-text tokenizer `{tokenizer}` is not supported by the built-in engine (supported: word, whitespace, prefix)"
        )
    min_len, max_len = _get(schema, "min_token_len"), _get(schema, "max_token_len")
    for name, v in (("min_token_len", min_len), ("max_token_len", max_len)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise BadRequest(f"Format error in JSON body: `{name}` must be a non-negative integer, got {v!r}")
    lowercase = _get(schema, "lowercase")
    lowercase = True if lowercase is None else bool(lowercase)
    stemmer = _get(schema, "stemmer")
    if stemmer is not None and str(_value(_get(stemmer, "type"))).lower() != "none":
        language = _value(_get(stemmer, "language"))
        raise Unsupported(
            f"Full-text stemmer `{_value(_get(stemmer, 'type'))}` ({language}) is not supported by the built-in engine"
        )
    return TextSpec(
        tokenizer=tokenizer.lower(),
        min_token_len=min_len,
        max_token_len=max_len,
        lowercase=lowercase,
        ascii_folding=bool(_get(schema, "ascii_folding")),
        phrase_matching=bool(_get(schema, "phrase_matching")),
        stopwords=_stopwords(_get(schema, "stopwords"), lowercase),
    )


def _stopwords(spec: Any, lowercase: bool) -> frozenset:
    """A language name, or a set ``{languages: [...], custom: [...]}``; custom words are lower-cased
    when the index lower-cases (Qdrant's StopwordsFilter)."""
    if spec is None:
        return frozenset()
    spec = _value(spec)
    if isinstance(spec, str):
        languages, custom = [spec], []
    else:
        languages = [_value(x) for x in (_get(spec, "languages") or [])]
        custom = list(_get(spec, "custom") or [])
    words: set[str] = set()
    for language in languages:
        table = LANGUAGES.get(str(language).lower())
        if table is None:
            raise Unsupported(
                f"Stopwords language `{language}` is not supported by the built-in engine (supported: english, custom lists)"
            )
        words.update(w.lower() if lowercase else w for w in table)
    words.update(w.lower() if lowercase else w for w in custom)
    return frozenset(words)


def schema_type(schema: Any) -> str:
    """The index type name of a schema (``parse_schema(schema).type`` without the validation)."""
    if isinstance(schema, str):
        return schema.lower()
    return str(_value(_get(schema, "type") if _has_type(schema) else schema)).lower()
