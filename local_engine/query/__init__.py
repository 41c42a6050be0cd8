"""The universal query (issue #5): prefetch trees, every ``Query`` variant, groups, matrices.

| module | what it owns |
|---|---|
| ``operations.py`` | ``QueryOperations``, the ``Engine`` mixin: one method per operation id |
| ``planner.py`` | ``QueryEngine``: the prefetch tree, leaves, ordering and thresholds |
| ``inputs.py`` | point ids as vector inputs, excluded ids, filter merging down the tree |
| ``access.py`` | ``VectorAccess``: what the query needs of one vector name |
| ``recommend.py`` | recommend / discover / context / relevance-feedback scores |
| ``mmr.py`` | maximal marginal relevance re-ranking |
| ``fusion.py`` | RRF and DBSF |
| ``formula.py`` | formula expressions |
| ``groups.py`` | ``group_by`` folding and ``with_lookup`` |
| ``matrix.py`` | ``search_matrix_pairs`` / ``_offsets`` |

See docs/query.md.
"""

from .operations import QueryOperations
from .planner import Hits, QueryEngine

__all__ = ["QueryOperations", "QueryEngine", "Hits"]
