"""Maximal marginal relevance: re-rank nearest-neighbour candidates for diversity.

Candidates are the plain nearest search's answer (``candidates_limit``, default ``limit``).
The first pick is the most relevant candidate; each next pick maximises
``λ·relevance − (1 − λ)·max similarity to the picked ones`` with ``λ = 1 − diversity``
(diversity defaults to 0.5). Relevance and similarity are core's raw similarities
(``VectorAccess.raw``). Returned points keep their nearest-search scores, in pick order.

Similarity between candidates is core's with the *pending* candidate as the query (it matters for
multivectors, whose max_sim is not symmetric).

Ties follow Qdrant's core exactly (the official client's local mode reproduces it too): the
pending candidates live in a list from which a pick is removed with *swap-remove* (the last
element moves into the freed slot), and the best candidate is the *last* maximum.
"""

from __future__ import annotations

import numpy as np

from ..errors import BadRequest
from .access import VectorAccess


def _last_argmax(values: list) -> int:
    best = 0
    for i, v in enumerate(values):
        if v >= values[best]:
            best = i
    return best


def _swap_remove(items: list, pos: int):
    items[pos], items[-1] = items[-1], items[pos]
    return items.pop()


def mmr_order(access: VectorAccess, query, offsets: np.ndarray, diversity: float | None, limit: int) -> list[int]:
    """Positions into ``offsets`` in MMR pick order (at most ``limit``)."""
    diversity = 0.5 if diversity is None else float(diversity)
    lam = 1.0 - diversity
    if not 0.0 <= lam <= 1.0:
        raise BadRequest("Wrong input: MMR diversity must be between 0.0 and 1.0")
    n = len(offsets)
    if n == 0:
        return []
    relevance = access.raw(access.prepare(query), offsets)
    # max similarity of every candidate to the picked ones, updated after each pick (O(limit * n))
    max_sim = np.full(n, -np.inf)

    symmetric = getattr(access.store, "kind", "dense") != "multi"
    prepared_candidates: dict[int, object] = {}

    def pick(pos: int) -> int:
        chosen = _swap_remove(pending, pos)
        if symmetric:
            row = access.raw(access.prepare(access.vector(int(offsets[chosen]))), offsets)
        else:
            # max_sim of multivectors is not symmetric: core scores a pending candidate (as the
            # query) against the picked one, so one scoring per pending candidate
            row = np.full(n, -np.inf)
            target = offsets[chosen : chosen + 1]
            for p in pending:
                if p not in prepared_candidates:
                    prepared_candidates[p] = access.prepare(access.vector(int(offsets[p])))
                row[p] = access.raw(prepared_candidates[p], target)[0]
        np.maximum(max_sim, row, out=max_sim)
        return chosen

    pending = list(range(n))
    selected = [pick(_last_argmax(relevance[pending].tolist()))]
    while len(selected) < limit and pending:
        idx = np.asarray(pending)
        scores = (lam * relevance[idx] - (1.0 - lam) * max_sim[idx]).tolist()
        if all(np.isneginf(s) for s in scores):
            break
        selected.append(pick(_last_argmax(scores)))
    return selected
