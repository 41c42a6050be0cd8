"""Vector indexes and the query planner.

    hnsw.py       HnswIndex -- one hnswlib graph per dense vector name, labels = point offsets
    settings.py   IndexSettings -- hnsw_config / optimizers_config resolved per vector name
    planner.py    plan_search -- exact scan, graph search or filtered graph search, per query
    maintainer.py VectorIndexes -- when graphs are built, kept current, saved and reloaded

docs/indexing.md is the newcomer's map.
"""

from .hnsw import HnswIndex, HnswParams
from .planner import PlannedSearch, plan_search
from .settings import IndexSettings, resolve

__all__ = ["HnswIndex", "HnswParams", "IndexSettings", "PlannedSearch", "plan_search", "resolve"]
