"""Formula queries: a score computed per point from its prefetch scores and its payload.

The formula is validated whole before any point is scored (variables, JSON paths, datetime
constants, decay parameters), then evaluated per candidate — the union of the prefetch results,
in first-appearance order — with Qdrant's rules (QDRANT_REFERENCE.md §6, the official client's
local mode agrees):

* a number is a constant; a string is a variable: ``$score`` / ``$score[i]`` is the point's score
  in prefetch ``i`` (else ``defaults["$score[i]"]``, else 0), anything else a payload key
  (its single value, else ``defaults[key]``; missing or non-numeric is an error);
* a condition is 1.0 when the point matches it, else 0.0 (evaluated once per formula as a mask);
* ``mult`` stops at the first zero factor, ``div`` answers 0 for a zero numerator without
  evaluating the denominator and ``by_zero_default`` (or an error) for a zero denominator;
* any non-finite result (sqrt/log of a bad value, overflow) is an error naming the operation;
* datetimes are seconds since the epoch (naive = UTC), ``geo_distance`` is haversine metres;
* decays: lin ``max(0, 1 - λ|x-t|)``, λ = (1-midpoint)/scale; exp ``e^{λ|x-t|}``,
  λ = ln(midpoint)/scale; gauss ``e^{λ(x-t)^2}``, λ = ln(midpoint)/scale².

The final score is rounded to f32 (as core keeps scores) and must be finite.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sdk import models

from ..errors import BadRequest
from ..payload.datetimes import parse_micros
from ..payload.geo import EARTH_RADIUS_M
from ..payload.json_path import flatten, parse_path, resolve

_CONDITIONS = frozenset((
    "FieldCondition", "IsEmptyCondition", "IsNullCondition", "HasIdCondition", "HasVectorCondition",
    "NestedCondition", "Filter", "SliceCondition",
))


class FormulaError(BadRequest):
    pass


def _non_finite(text: str) -> FormulaError:
    return FormulaError(f"Wrong input: The expression {text} produced a non-finite number")


def parse_variable(var: str) -> str | int:
    """A payload key (str) or a prefetch index (int) for ``$score`` / ``$score[i]``."""
    if not var.startswith("$score"):
        return var
    rest = var[len("$score"):]
    if rest == "":
        return 0
    if rest.startswith("[") and rest.endswith("]"):
        inner = rest[1:-1]
        if inner.isascii() and inner.isdigit():
            return int(inner)
    raise FormulaError(f"Wrong input: Invalid score pattern: {var}")


def _datetime_seconds(value: Any, what: str) -> float:
    micros = parse_micros(value) if isinstance(value, str) else None
    if micros is None:
        raise FormulaError(f"Wrong input: Expected datetime in supported format for {what}")
    return micros / 1_000_000


def _kind(expr: Any) -> str:
    return type(expr).__name__


def validate(expr: Any) -> None:
    if isinstance(expr, bool):
        raise FormulaError("Wrong input: a boolean is not a formula expression")
    if isinstance(expr, (int, float)):
        return
    if isinstance(expr, str):
        var = parse_variable(expr)
        if isinstance(var, str):
            parse_path(var)
        return
    kind = _kind(expr)
    if kind in _CONDITIONS:
        return
    if kind == "DatetimeExpression":
        _datetime_seconds(expr.datetime, expr.datetime)
        return
    if kind == "DatetimeKeyExpression":
        parse_path(expr.datetime_key)
        return
    if kind == "GeoDistance":
        parse_path(expr.geo_distance.to)
        return
    nested: list = []
    if kind == "MultExpression":
        nested = list(expr.mult)
    elif kind == "SumExpression":
        nested = list(expr.sum)
    elif kind in ("NegExpression", "AbsExpression", "SqrtExpression", "ExpExpression", "Log10Expression", "LnExpression"):
        nested = [getattr(expr, kind[: -len("Expression")].lower())]
    elif kind == "DivExpression":
        nested = [expr.div.left, expr.div.right]
    elif kind == "PowExpression":
        nested = [expr.pow.base, expr.pow.exponent]
    elif kind in ("LinDecayExpression", "ExpDecayExpression", "GaussDecayExpression"):
        params = getattr(expr, kind[: -len("Expression")].replace("Decay", "_decay").lower())
        midpoint = 0.5 if params.midpoint is None else params.midpoint
        if kind == "LinDecayExpression":
            if not 0.0 <= midpoint <= 1.0:
                raise FormulaError(f"Wrong input: Linear decay midpoint should be in the range [0.0, 1.0], got {midpoint}")
        elif not 0.0 < midpoint < 1.0:
            raise FormulaError(f"Wrong input: Decay midpoint should be in the range (0.0, 1.0), got {midpoint}")
        scale = 1.0 if params.scale is None else params.scale
        if scale <= 0.0:
            raise FormulaError(f"Wrong input: Scale must be non-zero positive, got {scale}")
        nested = [params.x] + ([params.target] if params.target is not None else [])
    else:
        raise FormulaError(f"Wrong input: Unsupported formula expression `{kind}`")
    for child in nested:
        validate(child)


class FormulaScorer:
    """Evaluates one formula for candidate offsets of one collection."""

    def __init__(self, collection: Any, formula: Any, defaults: dict | None, sources: list) -> None:
        validate(formula)
        self.collection = collection
        self.formula = formula
        self.defaults: dict[str, Any] = {}
        for key, value in (defaults or {}).items():
            var = parse_variable(key)
            self.defaults[f"$score[{var}]" if isinstance(var, int) else key] = value
        self.scores = [dict(zip(offs.tolist(), np.asarray(sc, dtype=np.float64).tolist())) for offs, sc in sources]
        self._masks: dict[int, np.ndarray] = {}

    def score_all(self, offsets: list[int]) -> np.ndarray:
        out = np.empty(len(offsets), dtype=np.float64)
        payloads = self.collection._payloads
        for i, off in enumerate(offsets):
            value = self._eval(self.formula, off, payloads.get(off) or {})
            f32 = np.float32(value) if math.isfinite(value) and abs(value) < 3.5e38 else np.float32(np.inf)
            if not np.isfinite(f32):
                raise _non_finite(f"{value} as f32 = {f32}")
            out[i] = float(f32)
        return out

    # -- evaluation -------------------------------------------------------------------------
    def _condition(self, expr: Any, off: int) -> float:
        mask = self._masks.get(id(expr))
        if mask is None:
            flt = expr if _kind(expr) == "Filter" else models.Filter(must=[expr])
            mask = self.collection.filter_mask(flt)
            self._masks[id(expr)] = mask
        return 1.0 if off < len(mask) and mask[off] else 0.0

    def _payload_value(self, key: str, payload: dict) -> Any:
        values = flatten(resolve(payload, parse_path(key)))
        value: Any = values if values else None
        if value is None:
            value = self.defaults.get(key)
            if isinstance(value, list) and not value:
                value = None
        if isinstance(value, list) and len(value) == 1:
            return value[0]
        if value is None:
            raise FormulaError(f"Wrong input: No value found for {key} in the payload nor the formula defaults")
        return value

    def _variable(self, var: str, off: int, payload: dict) -> float:
        parsed = parse_variable(var)
        if isinstance(parsed, int):
            if parsed < len(self.scores):
                score = self.scores[parsed].get(off)
                if score is not None:
                    return score
            default = self.defaults.get(f"$score[{parsed}]")
            return float(default) if default is not None else 0.0
        value = self._payload_value(parsed, payload)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise FormulaError(
            f"Wrong input: Expected number value for {parsed} in the payload and/or in the formula defaults. "
            "Error: Value is not a number"
        )

    def _decay(self, params: Any, off: int, payload: dict) -> tuple[float, float, float, float]:
        x = self._eval(params.x, off, payload)
        target = 0.0 if params.target is None else self._eval(params.target, off, payload)
        midpoint = 0.5 if params.midpoint is None else params.midpoint
        scale = 1.0 if params.scale is None else params.scale
        return x, target, midpoint, scale

    def _eval(self, expr: Any, off: int, payload: dict) -> float:
        if isinstance(expr, (int, float)) and not isinstance(expr, bool):
            return float(expr)
        if isinstance(expr, str):
            return self._variable(expr, off, payload)
        kind = _kind(expr)
        if kind in _CONDITIONS:
            return self._condition(expr, off)
        ev = self._eval
        if kind == "MultExpression":
            product = 1.0
            for child in expr.mult:
                factor = ev(child, off, payload)
                if factor == 0.0:
                    return factor
                product *= factor
            return product
        if kind == "SumExpression":
            return float(sum(ev(child, off, payload) for child in expr.sum))
        if kind == "NegExpression":
            return -ev(expr.neg, off, payload)
        if kind == "AbsExpression":
            return abs(ev(expr.abs, off, payload))
        if kind == "DivExpression":
            left = ev(expr.div.left, off, payload)
            if left == 0.0:
                return left
            right = ev(expr.div.right, off, payload)
            if right == 0.0:
                if expr.div.by_zero_default is not None:
                    return float(expr.div.by_zero_default)
                raise _non_finite(f"{left}/{right}")
            result = left / right
            if not math.isfinite(result):
                raise _non_finite(f"{left}/{right}")
            return result
        if kind == "SqrtExpression":
            value = ev(expr.sqrt, off, payload)
            if value >= 0:
                return math.sqrt(value)
            raise _non_finite(f"√{value}")
        if kind == "PowExpression":
            base, exponent = ev(expr.pow.base, off, payload), ev(expr.pow.exponent, off, payload)
            try:
                result = math.pow(base, exponent)
            except (OverflowError, ValueError):
                result = math.nan
            if math.isfinite(result):
                return result
            raise _non_finite(f"{base}^{exponent}")
        if kind == "ExpExpression":
            value = ev(expr.exp, off, payload)
            try:
                return math.exp(value)
            except OverflowError:
                raise _non_finite(f"exp({value})") from None
        if kind in ("Log10Expression", "LnExpression"):
            value = ev(expr.log10 if kind == "Log10Expression" else expr.ln, off, payload)
            if value > 0:
                return math.log10(value) if kind == "Log10Expression" else math.log(value)
            raise _non_finite(f"{'log10' if kind == 'Log10Expression' else 'ln'}({value})")
        if kind == "GeoDistance":
            origin, key = expr.geo_distance.origin, expr.geo_distance.to
            value = self._payload_value(key, payload)
            if isinstance(value, dict) and "lat" in value and "lon" in value:
                return _haversine(origin.lon, origin.lat, float(value["lon"]), float(value["lat"]))
            raise FormulaError(f"Wrong input: Expected geo point for {key} in the payload and/or in the formula defaults.")
        if kind == "DatetimeExpression":
            return _datetime_seconds(expr.datetime, expr.datetime)
        if kind == "DatetimeKeyExpression":
            value = self._payload_value(expr.datetime_key, payload)
            micros = parse_micros(value) if isinstance(value, str) else None
            if micros is None:
                raise FormulaError(
                    f"Wrong input: Expected datetime for {expr.datetime_key} in the payload and/or in the formula defaults."
                )
            return micros / 1_000_000
        if kind == "LinDecayExpression":
            x, t, midpoint, scale = self._decay(expr.lin_decay, off, payload)
            return max(0.0, -((1.0 - midpoint) / scale) * abs(x - t) + 1.0)
        if kind == "ExpDecayExpression":
            x, t, midpoint, scale = self._decay(expr.exp_decay, off, payload)
            return math.exp(math.log(midpoint) / scale * abs(x - t))
        if kind == "GaussDecayExpression":
            x, t, midpoint, scale = self._decay(expr.gauss_decay, off, payload)
            return math.exp(math.log(midpoint) / (scale * scale) * (x - t) * (x - t))
        raise FormulaError(f"Wrong input: Unsupported formula expression `{kind}`")


def _haversine(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (lon1, lat1, lon2, lat2))
    a = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return EARTH_RADIUS_M * 2 * math.asin(math.sqrt(a))
