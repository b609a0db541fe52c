"""The API's ``recall`` knob: ``fast`` | ``balanced`` | ``exact`` as an HNSW search breadth.

The mapping (chosen by measurement, docs/decisions/0005-recall-knob-and-hybrid.md):

- ``fast``: ``EF_RUNTIME 10``, RediSearch's own default breadth: the cheapest search,
  ~0.92 of the exact top-10 neighbours at ~3k chunks (0.98x exact search's document
  recall@10 on the quality benchmark), less on larger indexes (0.78 at 100k);
- ``balanced``: no ``EF_RUNTIME``: the store's recall-aware default (memvec: a breadth
  from k and the index size reaching >= 0.99 of exact search, decision 0003; RediSearch:
  its default of 10, so against the peer ``balanced`` is ``fast``);
- ``exact``: ``EF_RUNTIME max(k, num_docs)`` (at most ``MAX_EF_RUNTIME``): a beam as
  wide as the index keeps every reachable vector a candidate, so the HNSW walk becomes
  an exhaustive scan and returns the exact top k (up to ``MAX_EF_RUNTIME`` = 10,000
  documents; above that it is the widest breadth allowed, near-exact). It costs a scan
  of the index per query, linear in its size.

``ef_runtime`` and ``recall`` are two spellings of one setting: a request gives at most one.
"""

from __future__ import annotations

from typing import Literal

from .settings import MAX_EF_RUNTIME

__all__ = ["FAST_EF", "RECALL_DESCRIPTION", "Recall", "ef_for_recall"]

Recall = Literal["fast", "balanced", "exact"]

FAST_EF = 10

RECALL_DESCRIPTION = (
    "vector and hybrid modes; not with `ef_runtime`. Measured on the quality benchmark "
    "(2,840 chunks; store time per KNN over RESP on RediSearch; the API adds ~20-40 ms of "
    "query embedding): `fast`: EF_RUNTIME 10, RediSearch's default breadth: 0.85-0.92 of "
    "the exact top-10 chunks, 0.98x exact search's recall@10, 0.26 ms; lower recall on "
    "large indexes. `balanced` (the default when neither is given): the store's default "
    "breadth (memvec: recall-aware, >= 0.99 of exact search; measured 0.999 of the exact "
    "top-10, 1.00x recall@10, ~0.37 ms at its breadth of 120; RediSearch: 10, as `fast`). "
    "`exact`: EF_RUNTIME = the index's size (capped at 10,000): an exhaustive walk, the "
    "exact top k, 1.00x recall@10, 1.85 ms; cost grows linearly with the index."
)


def ef_for_recall(recall: Recall | None, k: int, num_docs: int) -> int | None:
    """The ``EF_RUNTIME`` to send for ``recall`` (None: send none, the index's default)."""
    if recall == "fast":
        return FAST_EF
    if recall == "exact":
        return min(MAX_EF_RUNTIME, max(k, num_docs, 1))
    return None
