"""Term proximity as RediSearch 2.10 checks it (``IndexResult_IsWithinRange``).

:func:`positions_within` tells whether lists of term positions (one sorted list per term,
1-based, ``2**32 - 1`` for "no more") hold one position each at most ``max_slop``
intervening positions apart, in list order when ``inorder``. It is RediSearch's algorithm,
quirks included: the unordered walk reads positions as C ``int`` (an exhausted list counts
as -1), and the ordered walk accepts the same position for a repeated term, so the exact
phrase ``"a a"`` matches any document holding ``a``. Exact phrases (slop 0, in order),
FT.SEARCH ``SLOP`` / ``INORDER`` and the slop used by the scorers all come through here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["EOF", "positions_within"]

EOF = 0xFFFFFFFF
"""RediSearch's RS_OFFSETVECTOR_EOF: what a position list yields once exhausted."""


def _int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def positions_within(lists: Sequence[Sequence[int]], max_slop: int, inorder: bool) -> bool:
    """Whether one position per list fits within ``max_slop`` (see the module docstring)."""
    cursors = [0] * len(lists)

    def next_of(i: int) -> int:
        k = cursors[i]
        cursors[i] = k + 1
        return lists[i][k] if k < len(lists[i]) else EOF

    if inorder:
        return _in_order(len(lists), next_of, max_slop)
    return _unordered(len(lists), next_of, max_slop)


def _in_order(num: int, next_of: Callable[[int], int], max_slop: int) -> bool:
    positions = [0] * num
    while True:
        span = 0
        for i in range(num):
            pos = positions[i] if i else next_of(i)
            last = positions[i - 1] if i else 0
            while pos != EOF and pos < last:
                pos = next_of(i)
            if pos == EOF:
                return False
            positions[i] = pos
            if i > 0:
                span += pos - last - 1
                if span > max_slop:
                    break
        if span <= max_slop:
            return True


def _unordered(num: int, next_of: Callable[[int], int], max_slop: int) -> bool:
    positions = [next_of(i) for i in range(num)]
    max_pos = max(range(num), key=lambda i: (positions[i], i))  # the last maximum wins
    top = positions[max_pos]
    while True:
        low = min(positions)
        min_pos = positions.index(low)  # the first minimum wins
        # C reads the positions as int: an exhausted child (EOF, 2**32 - 1) counts as -1
        if low != top and _int32(top) - _int32(low) - (num - 1) <= max_slop:
            return True
        positions[min_pos] = next_of(min_pos)
        if positions[min_pos] != EOF and positions[min_pos] > top:
            top = positions[min_pos]
        elif positions[min_pos] == EOF:
            return False
