"""Value columns: what one JSON path resolves to in every document, as numpy arrays.

Filters are answered from these columns with whole-array numpy operations; no Python loop over
documents happens at query time. The rules that keep that correct:

1. A column covers every document of its domain. It is built by one pass over the documents
   when a filter first asks about its path; after that, EVERY document change reaches
   ``Column.replace`` (the domain does this, see ``domains.py``). A column is never rebuilt
   (a whole nested domain may be, see ``domains.py``).

2. Entries are grouped by document. A document's entries are appended together, so they occupy
   one contiguous range, and they die together (tombstone) when the document changes; the
   replacement entries go to the end. A range is therefore either all alive or all dead.

3. Writes cost O(values of the document) in plain Python: new rows go to a staging list, dead
   ranges are marked. ``flush()`` (called before every query) moves staged rows into the arrays
   in one vectorised step and compacts when more than half of the entries are dead, so the
   arrays never hold more than about twice the live entries.

4. Two tables per column, because Qdrant asks two kinds of questions:
   ``values``  one entry per value compared by match / range / geo (raw arrays unwrapped one
               level, json_path.flatten): kind, float value, exact integer, string code, geo;
   ``raws``    one entry per raw value (array kept whole) for is_empty / is_null /
               values_count: element count, "is or contains null", "is null or []".
   A document the path does not resolve in has no entries in either table.

5. Strings are dictionary-encoded per column (``strings[code]``); string conditions are decided
   once per distinct string and mapped to entries by code. Codes change only when a compaction
   finds the dictionary mostly unused; the per-string caches (parsed datetimes, text tokens)
   are reset at that moment.

6. Integers are exact: ``ival`` holds integers that fit int64; larger ones (up to 2**64 and
   beyond, as Python allows) are kind BIGINT with ``ival`` indexing ``bigints``. ``num`` is the
   float64 value used for range comparisons; entries where it is not exact (``fix``) are
   re-checked with Python integers (rare: |v| > 2**53).
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable

import numpy as np

from .json_path import Path, resolve

# value kinds
NULL, BOOL, INT, BIGINT, FLOAT, STR, OBJ, ARR, OTHER = range(9)

_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
_NAN = float("nan")

_COMPACT_MIN_DEAD = 256
_MISSING = object()


class EntryBuffer:
    """Rows grouped by document id, with tombstones, staged appends and compaction.

    Field 0 of every row is the owning document id. ``field(i)`` is a view of the flushed prefix
    of a growable buffer; call ``flush()`` first.
    """

    def __init__(self, dtypes: tuple, compactable: bool = True) -> None:
        self._dtypes = dtypes
        # staged tuples are converted in one go through a structured dtype (faster than zip)
        self._rowtype = np.dtype([(f"f{i}", dt) for i, dt in enumerate(dtypes)])
        self._bufs = [np.empty(16, dtype=dt) for dt in dtypes]
        self._alive = np.empty(16, dtype=bool)
        self.n = 0  # flushed rows
        self._staged: list[tuple] = []
        self._staged_kills: list[tuple[int, int]] = []
        # per document: its rows are [start, stop); numpy (not lists) so that a bulk load of a
        # million documents needs no Python ints
        self._start = np.zeros(0, dtype=np.int64)
        self._stop = np.zeros(0, dtype=np.int64)
        self.n_dead = 0
        self._compactable = compactable

    # -- writes (plain Python, O(rows of the document)) --

    @property
    def total(self) -> int:
        return self.n + len(self._staged)

    def add(self, doc: int, rows: list[tuple]) -> None:
        if doc >= len(self._start):
            size = max(doc + 1, 2 * len(self._start), 16)
            self._start = _grown_zeros(self._start, size)
            self._stop = _grown_zeros(self._stop, size)
        start = self.n + len(self._staged)
        self._staged += rows
        self._start[doc] = start
        self._stop[doc] = start + len(rows)

    def range_of(self, doc: int) -> tuple[int, int]:
        if doc >= len(self._start):
            return (0, 0)
        return int(self._start[doc]), int(self._stop[doc])

    def kill(self, doc: int) -> None:
        start, stop = self.range_of(doc)
        if stop <= start:
            return
        if start >= self.n:
            self._staged_kills.append((start, stop))
        else:
            self._alive[start:stop] = False
        self.n_dead += stop - start
        self._start[doc] = self._stop[doc] = 0

    def load(self, owners: np.ndarray, fields: list[np.ndarray], n_docs: int) -> None:
        """Bulk-fill an empty buffer: ``owners`` (field 0) is non-decreasing, so every document's
        rows are one range (rule 2). ``fields`` are the other fields, in order."""
        assert self.n == 0 and not self._staged and not len(self._start)
        n = len(owners)
        cap = max(16, n + n // 8)  # headroom: the first writes after a load do not copy everything
        self._bufs = [_grown(np.asarray(a, dtype=dt), cap, n) for a, dt in zip([owners, *fields], self._dtypes)]
        self._alive = np.ones(cap, dtype=bool)
        self.n = n
        start = np.zeros(n_docs, dtype=np.int64)
        stop = np.zeros(n_docs, dtype=np.int64)
        if n:
            owners = np.asarray(owners, dtype=np.int64)
            first = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])  # owners are sorted
            docs = owners[first]
            start[docs] = first
            stop[docs] = np.append(first[1:], n)
        self._start = start
        self._stop = stop

    # -- reads --

    def flush(self) -> bool:
        """Make the arrays current; returns True when the rows were renumbered (compacted)."""
        if self._staged:
            rows = self._staged
            new_n = self.n + len(rows)
            if new_n > len(self._alive):
                cap = max(new_n, 2 * len(self._alive))
                self._bufs = [_grown(b, cap, self.n) for b in self._bufs]
                self._alive = _grown(self._alive, cap, self.n)
            table = np.array(rows, dtype=self._rowtype)
            for i, buf in enumerate(self._bufs):
                buf[self.n : new_n] = table[f"f{i}"]
            self._alive[self.n : new_n] = True
            self.n = new_n
            self._staged = []
            for start, stop in self._staged_kills:
                self._alive[start:stop] = False
            self._staged_kills = []
        if self._compactable and self.n_dead >= _COMPACT_MIN_DEAD and 2 * self.n_dead > self.n:
            self._compact()
            return True
        return False

    def field(self, i: int) -> np.ndarray:
        return self._bufs[i][: self.n]

    def live(self) -> np.ndarray | None:
        """Bool mask of live rows, or None when every row is alive."""
        return self._alive[: self.n] if self.n_dead else None

    def _compact(self) -> None:
        alive = self._alive[: self.n]
        # new position of a row = live rows before it; ranges move as a block (rule 2)
        before = np.concatenate(([0], np.cumsum(alive)))
        self._bufs = [b[: self.n][alive] for b in self._bufs]
        self.n = len(self._bufs[0])
        self._bufs = [_grown(b, max(16, 2 * self.n), self.n) for b in self._bufs]
        self._alive = np.ones(len(self._bufs[0]), dtype=bool)
        start, stop = self._start, self._stop
        has = stop > start
        new_start = np.where(has, before[np.minimum(start, len(before) - 1)], 0)
        self._start = new_start
        self._stop = np.where(has, new_start + (stop - start), 0)
        self.n_dead = 0


def _grown_zeros(buf: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros(size, dtype=buf.dtype)
    out[: len(buf)] = buf
    return out


def _grown(buf: np.ndarray, capacity: int, used: int) -> np.ndarray:
    out = np.empty(capacity, dtype=buf.dtype)
    out[:used] = buf[:used]
    return out


# values table: owner, kind, num, ival, scode, lat, lon, fix
_VALUE_DTYPES = (np.int64, np.int8, np.float64, np.int64, np.int64, np.float64, np.float64, bool)
# raws table: owner, count, null, empty
_RAW_DTYPES = (np.int64, np.int64, bool, bool)

_WORD = re.compile(r"[^\W_]+")


def text_tokens(text: str) -> list[str]:
    """Qdrant's default word tokenizer (used for text conditions on unindexed fields)."""
    return [t.lower() for t in _WORD.findall(text)]


class Column:
    """Everything a filter needs to know about one JSON path, for all documents of a domain."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.values = EntryBuffer(_VALUE_DTYPES)
        self.raws = EntryBuffer(_RAW_DTYPES)
        self.strings: list[str] = []
        self._code: dict[str, int] = {}
        self.bigints: list[int] = []
        self.n_fix = 0  # entries ever added with an inexact float value
        self.epoch = 0  # bumped when the value rows are renumbered (compaction)
        self.dict_epoch = 0  # bumped when string codes are renumbered
        self._aligned_key: tuple | None = None
        self._aligned = False
        self._dt_micros = np.empty(0, dtype=np.int64)
        self._dt_ok = np.empty(0, dtype=bool)
        self._tokens: list[list[str]] = []
        self._token_sets: list[frozenset] = []

    # -- maintenance --

    def build(self, docs: list) -> None:
        """First pass over every document: one Python loop to collect the raw values, then the
        rows are typed in bulk (``_bulk_values``) instead of tuple by tuple."""
        path = self.path
        n_docs = len(docs)
        if len(path) == 1 and type(path[0]) is str:
            key = path[0]
            # documents are dicts or None (domains.py); one pass, then numpy picks the present ones
            got = np.fromiter([d.get(key, _MISSING) if d else _MISSING for d in docs], dtype=object, count=n_docs)
            present = got != _MISSING
            owner_arr = np.flatnonzero(present)
            raw_values = got[present].tolist()
            if list not in set(map(type, raw_values)):
                # scalars only (the common case): one value per raw value
                fields = self._bulk_values(owner_arr, raw_values)
                null = fields[0] == NULL
                self.raws.load(owner_arr, [(~null).astype(np.int64), null, null.copy()], n_docs)
                self.values.load(owner_arr, fields, n_docs)
                return
            raw_owner = owner_arr.tolist()
            found = list(zip(raw_owner, raw_values))
        else:
            found = [(i, r) for i, d in enumerate(docs) if d for r in resolve(d, path)]
        raw_owner = []
        raw_count: list[int] = []
        raw_null: list[bool] = []
        raw_empty: list[bool] = []
        owners: list[int] = []
        values: list = []
        for doc_id, raw in found:
            if type(raw) is list:
                raw_owner.append(doc_id)
                raw_count.append(len(raw))
                raw_null.append(any(v is None for v in raw))
                raw_empty.append(not raw)
                owners.extend([doc_id] * len(raw))
                values.extend(raw)
            else:
                null = raw is None
                raw_owner.append(doc_id)
                raw_count.append(0 if null else 1)
                raw_null.append(null)
                raw_empty.append(null)
                owners.append(doc_id)
                values.append(raw)
        self.raws.load(
            np.array(raw_owner, dtype=np.int64),
            [np.array(raw_count, dtype=np.int64), np.array(raw_null, dtype=bool), np.array(raw_empty, dtype=bool)],
            n_docs,
        )
        self.values.load(np.array(owners, dtype=np.int64), self._bulk_values(owners, values), n_docs)

    def _bulk_values(self, owners: list[int], values: list) -> list[np.ndarray]:
        """The value-table fields (kind, num, ival, scode, lat, lon, fix) of ``values``, typed by
        groups: strings, ints, floats and bools in numpy; anything else through ``_row``."""
        n = len(values)
        kind = np.full(n, OTHER, dtype=np.int8)
        num = np.full(n, _NAN)
        ival = np.zeros(n, dtype=np.int64)
        scode = np.full(n, -1, dtype=np.int64)
        lat = np.full(n, _NAN)
        lon = np.full(n, _NAN)
        fix = np.zeros(n, dtype=bool)
        types = set(map(type, values))
        if types == {str}:
            kind[:] = STR
            scode[:] = self._encode_all(values)
            return [kind, num, ival, scode, lat, lon, fix]
        if types == {int}:
            try:
                ints = np.array(values, dtype=np.int64)
            except OverflowError:
                ints = None
            if ints is not None and not np.any(np.abs(ints) > 2**53):
                kind[:] = INT
                ival[:] = ints
                num[:] = ints
                return [kind, num, ival, scode, lat, lon, fix]
        s_pos, s_val, i_pos, i_val, f_pos, f_val, b_pos, b_val, n_pos, o_pos = ([] for _ in range(10))
        for i, v in enumerate(values):
            t = type(v)
            if t is str:
                s_pos.append(i)
                s_val.append(v)
            elif t is int:
                i_pos.append(i)
                i_val.append(v)
            elif t is float:
                f_pos.append(i)
                f_val.append(v)
            elif t is bool:
                b_pos.append(i)
                b_val.append(v)
            elif v is None:
                n_pos.append(i)
            else:
                o_pos.append(i)
        if s_pos:
            kind[s_pos] = STR
            scode[s_pos] = self._encode_all(s_val)
        if f_pos:
            kind[f_pos] = FLOAT
            num[f_pos] = f_val
        if b_pos:
            kind[b_pos] = BOOL
            ival[b_pos] = b_val
        if n_pos:
            kind[n_pos] = NULL
        if i_pos:
            try:
                ints = np.array(i_val, dtype=np.int64)
            except OverflowError:  # integers beyond int64: the slow path handles them
                o_pos.extend(i_pos)
            else:
                kind[i_pos] = INT
                ival[i_pos] = ints
                num[i_pos] = ints
                big = np.flatnonzero(np.abs(ints) > 2**53)
                for j in big.tolist():  # float64 image may be inexact (rule 6)
                    v = i_val[j]
                    if float(v) != v:
                        fix[i_pos[j]] = True
                        self.n_fix += 1
        for i in o_pos:
            row = self._row(owners[i], values[i])
            kind[i], num[i], ival[i], scode[i], lat[i], lon[i], fix[i] = row[1:]
        return [kind, num, ival, scode, lat, lon, fix]

    def replace(self, doc_id: int, doc: Any) -> None:
        self.values.kill(doc_id)
        self.raws.kill(doc_id)
        if doc:
            self.add(doc_id, doc)

    def add(self, doc_id: int, doc: Any) -> None:
        raw = resolve(doc, self.path)
        if not raw:
            return
        if len(raw) == 1 and type(raw[0]) is not list:  # the common case: one scalar or object
            value = raw[0]
            null = value is None
            self.values.add(doc_id, [self._row(doc_id, value)])
            self.raws.add(doc_id, [(doc_id, 0 if null else 1, null, null)])
            return
        raw_rows = []
        value_rows = []
        row = self._row
        for value in raw:
            if isinstance(value, list):
                raw_rows.append((doc_id, len(value), any(v is None for v in value), not value))
                value_rows.extend(row(doc_id, v) for v in value)
            else:
                null = value is None
                raw_rows.append((doc_id, 0 if null else 1, null, null))
                value_rows.append(row(doc_id, value))
        self.values.add(doc_id, value_rows)
        self.raws.add(doc_id, raw_rows)

    def rows_are_owners(self) -> bool:
        """True when value row i belongs to document i for every row and no row is dead (a
        freshly built column of a field every document has once): then a row mask *is* the
        owner mask, and the scatter to owners can be skipped. Cached per column state."""
        key = (self.epoch, self.values.n, self.values.n_dead)
        if self._aligned_key != key:
            owners = self.values.field(0)
            self._aligned = self.values.n_dead == 0 and bool(
                len(owners) == 0 or (owners[0] == 0 and owners[-1] == len(owners) - 1 and np.all(np.diff(owners) == 1))
            )
            self._aligned_key = key
        return self._aligned

    def flush(self) -> None:
        if self.values.flush():
            self.epoch += 1
            self._after_compaction()
        self.raws.flush()

    def _after_compaction(self) -> None:
        """Drop dictionary entries no live value uses any more (rule 5's one exception)."""
        kind, ival, scode = self.values.field(1), self.values.field(3), self.values.field(4)
        self.n_fix = int(np.count_nonzero(self.values.field(7)))
        if self.bigints:
            big = kind == BIGINT
            self.bigints = [self.bigints[i] for i in ival[big].tolist()]
            ival[big] = np.arange(len(self.bigints))
        is_str = scode >= 0
        if len(self.strings) <= 2 * np.count_nonzero(is_str) + 1024:
            return
        used, new_codes = np.unique(scode[is_str], return_inverse=True)
        self.strings = [self.strings[c] for c in used.tolist()]
        self._code = {s: i for i, s in enumerate(self.strings)}
        scode[is_str] = new_codes
        self.dict_epoch += 1
        self._dt_micros = np.empty(0, dtype=np.int64)
        self._dt_ok = np.empty(0, dtype=bool)
        self._tokens, self._token_sets = [], []

    def _row(self, owner: int, v: Any) -> tuple:
        t = type(v)
        if t is str:
            return (owner, STR, _NAN, 0, self._encode(v), _NAN, _NAN, False)
        if t is float:
            return (owner, FLOAT, v, 0, -1, _NAN, _NAN, False)
        if t is bool:
            return (owner, BOOL, _NAN, int(v), -1, _NAN, _NAN, False)
        if t is int:
            return self._int_row(owner, v)
        if v is None:
            return (owner, NULL, _NAN, 0, -1, _NAN, _NAN, False)
        if t is dict:
            lat, lon = _geo_point(v)
            return (owner, OBJ, _NAN, 0, -1, lat, lon, False)
        if t is list:
            return (owner, ARR, _NAN, 0, -1, _NAN, _NAN, False)
        # subclasses of the JSON types (str/int enums, ...), then anything else
        for base in (bool, int, float, str, dict, list):
            if isinstance(v, base):
                return self._row(owner, base(v))
        return (owner, OTHER, _NAN, 0, -1, _NAN, _NAN, False)

    def _int_row(self, owner: int, v: int) -> tuple:
        try:
            f = float(v)
        except OverflowError:
            f = math.inf if v > 0 else -math.inf
        exact = f == v  # Python compares int and float exactly
        if not exact:
            self.n_fix += 1
        if _I64_MIN <= v <= _I64_MAX:
            return (owner, INT, f, v, -1, _NAN, _NAN, not exact)
        self.bigints.append(v)
        return (owner, BIGINT, f, len(self.bigints) - 1, -1, _NAN, _NAN, not exact)

    def _encode_all(self, strings: list[str]) -> list[int]:
        code, known = self._code, self.strings
        for s in dict.fromkeys(strings):  # first-seen order keeps codes deterministic
            if s not in code:
                code[s] = len(known)
                known.append(s)
        return list(map(code.__getitem__, strings))

    def _encode(self, s: str) -> int:
        code = self._code.get(s)
        if code is None:
            code = self._code[s] = len(self.strings)
            self.strings.append(s)
        return code

    # -- per-string questions (decided once per distinct string) --

    def code_of(self, s: str) -> int | None:
        return self._code.get(s)

    def string_mask(self, predicate: Callable[[int, str], bool]) -> np.ndarray:
        """Per-code verdicts, with one extra False at the end so that ``mask[scode]`` also works
        for the non-string code -1."""
        out = np.zeros(len(self.strings) + 1, dtype=bool)
        for code, s in enumerate(self.strings):
            if predicate(code, s):
                out[code] = True
        return out

    def datetimes(self) -> tuple[np.ndarray, np.ndarray]:
        """(micros since epoch, parsed ok) per code, plus a trailing not-ok slot for code -1."""
        from .datetimes import parse_micros

        known = len(self._dt_ok)
        if known < len(self.strings):
            parsed = [parse_micros(s) for s in self.strings[known:]]
            self._dt_micros = np.concatenate(
                (self._dt_micros, np.array([p or 0 for p in parsed], dtype=np.int64))
            )
            self._dt_ok = np.concatenate((self._dt_ok, np.array([p is not None for p in parsed], dtype=bool)))
        return np.append(self._dt_micros, 0), np.append(self._dt_ok, False)

    def tokens(self, code: int) -> tuple[list[str], frozenset]:
        while len(self._tokens) <= code:
            toks = text_tokens(self.strings[len(self._tokens)])
            self._tokens.append(toks)
            self._token_sets.append(frozenset(toks))
        return self._tokens[code], self._token_sets[code]

    def exact_int(self, kind: int, ival: int) -> int:
        return self.bigints[ival] if kind == BIGINT else ival


def _geo_point(v: dict) -> tuple[float, float]:
    """(lat, lon) when the object is a usable geo point (finite JSON numbers), else NaNs."""
    lat, lon = v.get("lat"), v.get("lon")
    if type(lat) not in (int, float) or type(lon) not in (int, float):
        return _NAN, _NAN
    try:
        flat, flon = float(lat), float(lon)
    except OverflowError:
        return _NAN, _NAN
    if not (math.isfinite(flat) and math.isfinite(flon)):
        return _NAN, _NAN
    return flat, flon
