"""Sorted sets (Redis's ``zset`` type): the value behind ``Z*`` and ``GEO*`` commands.

Two views of the same elements: ``scores`` (a dict member -> score, O(1) ZSCORE) and
``order`` (a :class:`sortedcontainers.SortedList` of ``(score, member)`` pairs), which is
Redis's skiplist order: by score, then by member bytes (``memcmp``), so ranks, score ranges
and lexicographic ranges are bisections. ``-0.0`` and ``0.0`` compare equal, as in C.

``OBJECT ENCODING`` follows Redis 7's rules with the default limits
(``zset-max-listpack-entries 128``, ``zset-max-listpack-value 64``): ``listpack`` while
every member fits, ``skiplist`` once one did not, and a skiplist never converts back when
elements are removed (Redis does not either). A value built whole (a STORE result, a
snapshot load) takes the encoding its contents call for, as Redis's
``zsetConvertToListpackIfNeeded`` and RDB loading do.

Snapshot form (:meth:`ZSet.to_plain`): ``[member, score, member, score, ...]`` in order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

from sortedcontainers import SortedList

from .base import TypedValue, sized_by_sample
from .limits import LIMITS

__all__ = ["LexBound", "ZSet"]


# A lexicographic range bound: (member, exclusive); None member: "-" or "+" (unbounded).
LexBound = tuple[bytes | None, bool]


class ZSet(TypedValue):
    """One sorted set. See the module docstring."""

    __slots__ = ("order", "scores", "skiplist")

    type_name = "zset"
    tag = "zset"

    def __init__(self) -> None:
        self.scores: dict[bytes, float] = {}
        self.order: SortedList = SortedList()
        self.skiplist = False

    # -- TypedValue ------------------------------------------------------------------------
    def is_empty(self) -> bool:
        return not self.scores

    def encoding(self) -> str:
        return "skiplist" if self.skiplist else "listpack"

    def memory_usage(self) -> int:
        # per element: the member's bytes object (33 + len), its dict entry, the float, the
        # (score, member) tuple and the SortedList slot: 175 + len measured with
        # tracemalloc over 100,000 elements (bench note in the branch report)
        return 200 + sized_by_sample(self.scores, lambda m: len(m) + 175)

    def to_plain(self) -> Any:
        out: list[Any] = []
        for score, member in self.order:
            out.append(member)
            out.append(score)
        return out

    @classmethod
    def from_plain(cls, plain: Any) -> ZSet:
        z = cls.build(zip(plain[1::2], plain[0::2], strict=True))
        return z

    def copy(self) -> ZSet:
        z = ZSet()
        z.scores = dict(self.scores)
        z.order = SortedList(self.order)
        z.skiplist = self.skiplist
        return z

    @classmethod
    def build(cls, pairs: Iterable[tuple[float, bytes]]) -> ZSet:
        """A new set of ``(score, member)`` pairs (a member repeated: the last score wins),
        encoded as its contents call for."""
        z = cls()
        for score, member in pairs:
            z.scores[member] = score
        z.skiplist = len(z.scores) > LIMITS.zset_max_listpack_entries or any(
            len(m) > LIMITS.zset_max_listpack_value for m in z.scores
        )
        if not z.skiplist:
            z.scores = {m: 0.0 if s == 0 else s for m, s in z.scores.items()}
        z.order = SortedList((s, m) for m, s in z.scores.items())
        return z

    # -- mutation --------------------------------------------------------------------------
    def add(self, member: bytes, score: float) -> None:
        """Insert ``member`` or move it to ``score``."""
        old = self.scores.get(member)
        if old is not None:
            if old == score:  # Redis compares with ==: -0.0 stays -0.0
                return
            self.order.remove((old, member))
        size = len(self.scores) + (old is None)
        if size > LIMITS.zset_max_listpack_entries or len(member) > LIMITS.zset_max_listpack_value:
            self.skiplist = True
        if score == 0 and not self.skiplist:
            score = 0.0  # a listpack holds -0 as the integer 0 (the peer answers "0")
        self.scores[member] = score
        self.order.add((score, member))

    def remove(self, member: bytes) -> bool:
        score = self.scores.pop(member, None)
        if score is None:
            return False
        self.order.remove((score, member))
        return True

    def pop(self, from_max: bool) -> tuple[bytes, float]:
        score, member = self.order.pop(-1 if from_max else 0)
        del self.scores[member]
        return member, score

    def remove_slice(self, start: int, stop: int) -> int:
        """Remove the elements of ranks ``start <= rank < stop``; how many went."""
        doomed = list(self.order.islice(start, stop))
        del self.order[start:stop]
        for _, member in doomed:
            del self.scores[member]
        return len(doomed)

    # -- reads -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.scores)

    def rank(self, member: bytes) -> int | None:
        score = self.scores.get(member)
        if score is None:
            return None
        return int(self.order.bisect_left((score, member)))

    def items(
        self, start: int = 0, stop: int | None = None, reverse: bool = False
    ) -> Iterator[tuple[float, bytes]]:
        """``(score, member)`` of ranks ``start <= rank < stop``, in order (or reversed)."""
        return self.order.islice(start, stop, reverse=reverse)

    def score_span(self, low: float, low_ex: bool, high: float, high_ex: bool) -> tuple[int, int]:
        """The ranks ``[start, stop)`` whose scores lie in the range (Redis ``zrangespec``)."""
        if low_ex:
            start = len(self.order) if low == math.inf else self._first_at(_next_up(low))
        else:
            start = self._first_at(low)
        if high_ex:
            stop = self._first_at(high)
        else:
            stop = len(self.order) if high == math.inf else self._first_at(_next_up(high))
        return start, max(start, stop)

    def lex_span(self, low: LexBound, high: LexBound) -> tuple[int, int]:
        """The ranks ``[start, stop)`` whose members lie in the lexicographic range.

        Like Redis, this assumes every element has the same score (the only case where a
        lexicographic range is meaningful): it bisects on members in rank order."""
        n = len(self.order)
        start = self._bisect_members(lambda m: not _lex_gte_min(m, low), 0, n)
        stop = self._bisect_members(lambda m: _lex_lte_max(m, high), start, n)
        return start, stop

    def _first_at(self, score: float) -> int:
        return int(self.order.bisect_left((score, b"")))

    def _bisect_members(self, before: Any, lo: int, hi: int) -> int:
        """The first rank in ``[lo, hi)`` whose member is not ``before`` (which is true for a
        prefix of the ranks)."""
        order = self.order
        while lo < hi:
            mid = (lo + hi) // 2
            if before(order[mid][1]):
                lo = mid + 1
            else:
                hi = mid
        return lo


def _next_up(x: float) -> float:
    return math.nextafter(x, math.inf)


def _lex_gte_min(member: bytes, low: LexBound) -> bool:
    bound, exclusive = low
    if bound is None:
        return exclusive is False  # "-" matches all; "+" as a minimum matches nothing
    return member > bound if exclusive else member >= bound


def _lex_lte_max(member: bytes, high: LexBound) -> bool:
    bound, exclusive = high
    if bound is None:
        return exclusive is False  # "+" matches all; "-" as a maximum matches nothing
    return member < bound if exclusive else member <= bound
