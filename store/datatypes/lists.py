"""Lists (Redis's ``list`` type): the value behind LPUSH, LRANGE, BLPOP and friends.

The elements live in a :class:`collections.deque` (O(1) at both ends, as a quicklist).
``OBJECT ENCODING`` follows Redis 7.2's rule for ``list-max-listpack-size``
(:mod:`store.datatypes.limits`; the default -2 is 8 KB per listpack): a list is
``listpack`` until the listpack it would be in Redis passes the node limit, then
``quicklist``; a quicklist shrinks back to ``listpack`` once it would fit in half of it
(Redis converts back only when its quicklist has a single node: memvec does not model
nodes, so a list trimmed from both ends may convert back here where Redis
keeps two half-full nodes; docs/compatibility.md). The listpack size is tracked exactly as
Redis encodes entries (:func:`lp_entry_size`), so the switch happens at the same element.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from itertools import islice
from typing import Any

from ..numbers import parse_int64
from .base import TypedValue
from .limits import list_exceeds, list_fits_half

# the node size of the default list-max-listpack-size -2 (the live limit: .limits)
LISTPACK_MAX_BYTES = 8192
_LP_HEADER = 7  # total-bytes (4) + count (2) + end marker (1)


def lp_entry_size(value: bytes) -> int:
    """Bytes one element takes in a Redis listpack: encoding + payload + back-length."""
    n = parse_int64(value) if len(value) <= 20 else None
    if n is not None:
        if 0 <= n <= 127:
            enc = 1
        elif -4096 <= n <= 4095:
            enc = 2
        elif -32768 <= n <= 32767:
            enc = 3
        elif -8388608 <= n <= 8388607:
            enc = 4
        elif -(2**31) <= n < 2**31:
            enc = 5
        else:
            enc = 9
    else:
        size = len(value)
        enc = size + (1 if size < 64 else 2 if size < 4096 else 5)
    if enc < 128:
        back = 1
    elif enc < 16384:
        back = 2
    elif enc < 2097152:
        back = 3
    elif enc < 268435456:
        back = 4
    else:
        back = 5
    return enc + back


class ListValue(TypedValue):
    """One list. ``items`` is the sequence, head first; ``lp_bytes`` the size of the
    Redis listpack holding it; ``quick`` whether Redis would hold it as a quicklist.

    Mutators keep ``lp_bytes`` right; callers check :meth:`grow` *before* an insert of
    arguments (Redis decides on the raw argument lengths first) and :meth:`shrink` after
    removing elements.
    """

    __slots__ = ("items", "lp_bytes", "quick")

    type_name = "list"
    tag = "list"

    def __init__(self, items: Iterable[bytes] = ()) -> None:
        self.items: deque[bytes] = deque(items)
        self.lp_bytes = _LP_HEADER + sum(lp_entry_size(v) for v in self.items)
        self.quick = list_exceeds(self.lp_bytes, len(self.items))

    def __len__(self) -> int:
        return len(self.items)

    # -- encoding bookkeeping -------------------------------------------------------------
    def grow(self, incoming: Iterable[bytes]) -> None:
        """Before inserting ``incoming``: switch to quicklist as Redis's
        ``listTypeTryConvertListpack`` does (current bytes plus the raw lengths)."""
        if not self.quick:
            values = list(incoming)
            added = sum(len(v) for v in values)
            if list_exceeds(self.lp_bytes + added, len(self.items) + len(values)):
                self.quick = True

    def shrink(self) -> None:
        """After removing elements: back to listpack once it fits in half a node."""
        if self.quick and list_fits_half(self.lp_bytes, len(self.items)):
            self.quick = False

    # -- mutations ------------------------------------------------------------------------
    def push(self, values: list[bytes], *, left: bool) -> None:
        self.grow(values)
        for v in values:
            self.lp_bytes += lp_entry_size(v)
        if left:
            self.items.extendleft(values)
        else:
            self.items.extend(values)

    def pop(self, count: int, *, left: bool) -> list[bytes]:
        """Up to ``count`` elements from one end, in pop order."""
        items = self.items
        take = min(count, len(items))
        popper = items.popleft if left else items.pop
        out = [popper() for _ in range(take)]
        self.lp_bytes -= sum(lp_entry_size(v) for v in out)
        self.shrink()
        return out

    def insert_at(self, index: int, value: bytes) -> None:
        """Insert ``value`` before position ``index`` (LINSERT; the caller called
        :meth:`grow` first)."""
        self.items.insert(index, value)
        self.lp_bytes += lp_entry_size(value)

    def remove_value(self, value: bytes, limit: int, *, from_tail: bool) -> int:
        """Remove up to ``limit`` elements equal to ``value`` (0: all), scanning from the
        head or the tail; how many went (LREM). Costs the scan to the last one removed,
        and the bookkeeping of what was removed, not a recount of the whole list."""
        items = self.items
        n = len(items)
        order = reversed(items) if from_tail else iter(items)
        found: list[int] = []
        for j, item in enumerate(order):
            if item == value:
                found.append(n - 1 - j if from_tail else j)
                if len(found) == limit:
                    break
        if not found:
            return 0
        if len(found) <= 32:  # a few: delete in place, the last ones first
            for index in sorted(found, reverse=True):
                del items[index]
        else:
            drop = set(found)
            self.items = deque(v for i, v in enumerate(items) if i not in drop)
        self.lp_bytes -= len(found) * lp_entry_size(value)
        self.shrink()
        return len(found)

    def trim(self, start: int, stop: int) -> None:
        """Keep positions ``start..stop`` (inclusive, within the list; LTRIM). Costs the
        smaller of what is dropped and what is kept: the LPUSH + LTRIM idiom drops one
        element a call."""
        items = self.items
        dropped = len(items) - (stop - start + 1)
        if dropped > stop - start + 1:
            self.replace_all(list(islice(items, start, stop + 1)))
            return
        for _ in range(start):
            self.lp_bytes -= lp_entry_size(items.popleft())
        for _ in range(len(items) - (stop - start + 1)):
            self.lp_bytes -= lp_entry_size(items.pop())
        self.shrink()

    def replace_all(self, values: Iterable[bytes]) -> None:
        """Replace the contents, recounting every element (LTRIM keeping fewer than it
        drops, a list emptied); O(len(values)). Redis checks the growth of LINSERT/LSET by
        their argument first (callers call :meth:`grow`)."""
        self.items = deque(values)
        self.lp_bytes = _LP_HEADER + sum(lp_entry_size(v) for v in self.items)
        self.shrink()

    def set_at(self, index: int, value: bytes) -> None:
        old = self.items[index]
        self.grow([value])
        self.items[index] = value
        self.lp_bytes += lp_entry_size(value) - lp_entry_size(old)
        self.shrink()

    # -- the TypedValue contract ----------------------------------------------------------
    def is_empty(self) -> bool:
        return not self.items

    def encoding(self) -> str:
        return "quicklist" if self.quick else "listpack"

    def memory_usage(self) -> int:
        # memvec's own heap: a deque slot and a bytes object per element (~41 bytes + the
        # element, measured with tracemalloc); lp_bytes already counts each element's length
        return 64 + 40 * len(self.items) + self.lp_bytes

    def to_plain(self) -> Any:
        return {"items": list(self.items), "quick": self.quick}

    @classmethod
    def from_plain(cls, plain: Any) -> ListValue:
        value = cls(plain["items"])
        value.quick = bool(plain["quick"])
        return value

    def copy(self) -> ListValue:
        value = ListValue(self.items)
        value.quick = self.quick
        return value
