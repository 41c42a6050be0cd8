"""The payload subsystem: payloads by point offset, JSON-path writes, vectorised filters.

    store.py       PayloadStore -- the public object a collection holds
    json_path.py   key parsing (a.b, a[], a[0], "quoted") and value resolution
    mutate.py      set/merge/delete by path, with_payload selectors (pure functions)
    domains.py     documents + the columns/nested domains derived from them
    columns.py     value columns: numpy struct-of-arrays per JSON path (the invariants live here)
    conditions.py  recognising and validating filter objects
    filters.py     evaluation: conditions -> bool masks
    indexes.py     payload indexes: views over columns with Qdrant's index-dependent answers
    schema.py      index schemas (types and params) -> IndexSpec; what is Unsupported
    tokenizer.py   full-text tokenizers (word / whitespace / prefix) and token processing
    estimate.py    filter cardinality estimates for the query planner
    datetimes.py, geo.py, slicing.py, uuids.py   datetime ranges, geo conditions, slice, UUID strings
    _ascii_folding.py, _stopwords.py   data tables taken from Qdrant (ASCII folding, English stopwords)
"""

from .filters import FilterContext
from .store import PayloadStore

__all__ = ["FilterContext", "PayloadStore"]
