"""Fusing a vector ranking and a text (BM25) ranking into one: hybrid search's arithmetic.

Both functions take the two candidate lists as the store returned them, best first, and
return :class:`Fused` candidates, best first, each keeping what each side said about it
(``vector_distance`` and ``text_score``, ``None`` when that side did not return it).

- :func:`rrf`, reciprocal rank fusion (Cormack, Clarke and Buettcher, SIGIR 2009):
  ``score = sum over the lists holding the candidate of 1 / (rrf_k + rank)``, rank from 1.
  Only ranks count, so the two sides' incomparable scales never meet; ``rrf_k`` (60 in
  the paper and by default) damps the head of each list.
- :func:`linear`: ``score = alpha * v + (1 - alpha) * t`` where ``v`` is the candidate's
  vector similarity (``-distance``) and ``t`` its text score, each min-max normalised to
  [0, 1] over that side's candidates. A candidate a side did not return gets 0 there (it
  ranked below that side's last candidate, which normalises to 0 as well); a side whose
  candidates all score the same gives each of them 1. ``alpha = 1`` is the vector ranking,
  ``alpha = 0`` the text ranking.

Ties (equal fused scores) go to the candidate with the better best rank on either side,
then to the smaller id, so the order is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..stores.base import SearchHit

__all__ = ["DEFAULT_ALPHA", "DEFAULT_RRF_K", "Fused", "linear", "rrf"]

DEFAULT_RRF_K = 60
DEFAULT_ALPHA = 0.6
"""The linear blend's default vector weight: the best recall@10 on the tuning half of the
quality benchmark's queries (docs/decisions/0005-recall-knob-and-hybrid.md)."""


@dataclass(frozen=True)
class Fused:
    """One fused candidate: its ``hit`` (fields from whichever side returned it first),
    fused ``score`` (higher is better) and each side's own number."""

    hit: SearchHit
    score: float
    vector_distance: float | None
    text_score: float | None


@dataclass
class _Seen:
    hit: SearchHit
    best_rank: int
    vector_distance: float | None = None
    text_score: float | None = None
    vector_rank: int | None = None
    text_rank: int | None = None


def _merge(vector: Sequence[SearchHit], text: Sequence[SearchHit]) -> dict[str, _Seen]:
    seen: dict[str, _Seen] = {}
    for rank, hit in enumerate(vector, 1):
        if hit.id not in seen:
            distance = hit.distance if math.isfinite(hit.distance) else None
            seen[hit.id] = _Seen(hit, rank, vector_distance=distance, vector_rank=rank)
    for rank, hit in enumerate(text, 1):
        entry = seen.get(hit.id)
        if entry is None:
            entry = seen[hit.id] = _Seen(hit, rank)
        elif entry.text_rank is not None:
            continue
        entry.best_rank = min(entry.best_rank, rank)
        entry.text_rank = rank
        entry.text_score = hit.score if hit.score is not None and math.isfinite(hit.score) else None
    return seen


def _ranked(seen: dict[str, _Seen], scores: dict[str, float]) -> list[Fused]:
    order = sorted(seen, key=lambda i: (-scores[i], seen[i].best_rank, i))
    return [
        Fused(seen[i].hit, scores[i], seen[i].vector_distance, seen[i].text_score) for i in order
    ]


def rrf(
    vector: Sequence[SearchHit], text: Sequence[SearchHit], rrf_k: int = DEFAULT_RRF_K
) -> list[Fused]:
    """Reciprocal rank fusion of the two lists (module docstring); ``rrf_k >= 1``."""
    if rrf_k < 1:
        raise ValueError(f"rrf_k must be >= 1, got {rrf_k}")
    seen = _merge(vector, text)
    scores = {
        i: sum(1 / (rrf_k + r) for r in (s.vector_rank, s.text_rank) if r is not None)
        for i, s in seen.items()
    }
    return _ranked(seen, scores)


def _normalised(values: dict[str, float]) -> dict[str, float]:
    if not values:
        return {}
    low, high = min(values.values()), max(values.values())
    if high == low:
        return dict.fromkeys(values, 1.0)
    return {i: (v - low) / (high - low) for i, v in values.items()}


def linear(vector: Sequence[SearchHit], text: Sequence[SearchHit], alpha: float) -> list[Fused]:
    """Linear blend of min-max normalised similarity and text score (module docstring);
    ``0 <= alpha <= 1`` weighs the vector side."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    seen = _merge(vector, text)
    v = _normalised(
        {i: -s.vector_distance for i, s in seen.items() if s.vector_distance is not None}
    )
    t = _normalised({i: s.text_score for i, s in seen.items() if s.text_score is not None})
    scores = {i: alpha * v.get(i, 0.0) + (1 - alpha) * t.get(i, 0.0) for i in seen}
    return _ranked(seen, scores)
