"""Several vectors per document in one VECTOR field (RediSearch's multi-value vectors).

An index ON JSON whose VECTOR path selects several arrays (``$.chunks[*].vec``) gives a
document several vectors. The vector indexes hold one vector per label, so the first
vector keeps the document's label and each other one gets a *sub-label* from a range
above every document label (:data:`SUB_LABEL_BASE`); :class:`SubVectors` remembers whose
it is. Searches map what the vector index answers back to documents and keep each
document once, at its nearest vector's distance, as RediSearch ranks multi-vector
documents (KNN and VECTOR_RANGE alike). The mapping is saved in snapshots with the index.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["SUB_LABEL_BASE", "SubVectors"]

SUB_LABEL_BASE = 1 << 40
"""First sub-label: far above any document label an index hands out."""


class SubVectors:
    """The sub-labels of one index: per VECTOR field, per document label, its extra
    vectors' labels; and each sub-label's document."""

    def __init__(self) -> None:
        self.owner: dict[int, int] = {}
        self.by_field: dict[bytes, dict[int, list[int]]] = {}
        self.next_label = SUB_LABEL_BASE

    def has(self, field: bytes) -> bool:
        """Whether any document holds several vectors in ``field``."""
        return bool(self.by_field.get(field))

    def doc(self, label: int) -> int:
        """The document label behind a vector index label."""
        return self.owner.get(label, label)

    def drop(self, field: bytes, label: int) -> list[int]:
        """Forget the document's extra vectors in ``field``; their sub-labels (to remove
        from the vector index)."""
        held = self.by_field.get(field, {}).pop(label, [])
        for sub in held:
            del self.owner[sub]
        return held

    def allocate(self, field: bytes, label: int, count: int) -> list[int]:
        """``count`` fresh sub-labels for the document's extra vectors in ``field``."""
        subs = list(range(self.next_label, self.next_label + count))
        self.next_label += count
        self.by_field.setdefault(field, {})[label] = subs
        for sub in subs:
            self.owner[sub] = label
        return subs

    def collapse(self, hits: Iterable[tuple[int, float]]) -> list[tuple[int, float]]:
        """``(document label, distance)`` for vector hits: each document once, at its
        smallest distance, nearest first (ties by label)."""
        best: dict[int, float] = {}
        for label, distance in hits:
            doc = self.owner.get(label, label)
            if doc not in best or distance < best[doc]:
                best[doc] = distance
        return sorted(best.items(), key=lambda item: (item[1], item[0]))

    def state(self) -> dict[str, Any]:
        return {"by_field": self.by_field, "next_label": self.next_label}

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> SubVectors:
        out = cls()
        if state:
            out.next_label = state["next_label"]
            for field, docs in state["by_field"].items():
                for label, subs in docs.items():
                    out.by_field.setdefault(field, {})[label] = list(subs)
                    for sub in subs:
                        out.owner[sub] = label
        return out
