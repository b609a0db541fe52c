"""Streams (Redis's ``stream`` type): entries, consumer groups, pending entries lists.

An entry id is ``(ms, seq)``, two unsigned 64-bit integers compared as a pair. The value
keeps Redis's observable state (``t_stream.c``):

* ``entries`` (id -> flat ``[field, value, ...]``) and ``order``, the live ids ascending;
* ``last_id`` (the last id generated or set by XSETID), ``max_deleted`` (the largest id
  XDEL removed), ``entries_added`` (every entry ever appended);
* ``nodes``: the layout of Redis's radix-tree nodes, each a listpack of up to
  :data:`NODE_MAX_ENTRIES` entries (live or deleted) or :data:`NODE_MAX_BYTES` bytes.
  Only approximate trimming (``MAXLEN ~``, ``MINID ~``) and XINFO's ``radix-tree-keys``
  see it: ``~`` removes whole nodes only, as Redis does, so the same commands trim the
  same entries here and on the peer. Node sizes are Redis's listpack sizes
  (:mod:`store.datatypes.stream_listpack`);
* ``groups`` (name -> :class:`Group`): the last delivered id, the logical read counter
  (``entries_read``, -1 when unknown), the group PEL (id -> :class:`Nack`) and consumers.
  The counter and XINFO's ``lag`` follow the peer's ``t_stream.c`` (Valkey 9 / Redis 7.4:
  an id before the largest deleted one has no known counter).

The value never reads a clock: every time (delivery time, seen time) is passed in by the
handler from ``ctx.now_ms``. An empty stream is kept (Redis deletes a stream key only by
DEL), so :meth:`Stream.is_empty` is always False.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any

from . import stream_listpack as listpack
from .base import TypedValue
from .limits import LIMITS
from .stream_groups import Consumer, Group, Nack
from .stream_ids import MAX_ID, MIN_ID, SortedIDs, StreamID

__all__ = ["INVALID_ENTRIES_READ", "NODE_MAX_BYTES", "NODE_MAX_ENTRIES", "Node", "Stream"]

NODE_MAX_ENTRIES = 100  # stream-node-max-entries (default; the live value: LIMITS)
NODE_MAX_BYTES = 4096  # stream-node-max-bytes (default; the live value: LIMITS)
INVALID_ENTRIES_READ = -1  # SCG_INVALID_ENTRIES_READ


class Node:
    """One radix-tree node of Redis's layout: the ids it holds (live and deleted, in
    order), how many are live, its listpack size in bytes and its master entry's field
    names (:mod:`store.datatypes.stream_listpack`)."""

    __slots__ = ("ids", "live", "master", "size")

    def __init__(self, ids: list[StreamID], live: int, size: int, master: list[bytes]) -> None:
        self.ids = ids
        self.live = live
        self.size = size
        self.master = master


# Field names repeat from entry to entry: entries share one bytes object per name (for the
# first _NAMES_MAX short names seen), as hashes share theirs (store.commands.hashes).
_NAMES: dict[bytes, bytes] = {}
_NAMES_MAX = 65536
_NAME_MAX_LEN = 64


def shared_name(name: bytes) -> bytes:
    found = _NAMES.get(name)
    if found is not None:
        return found
    if len(name) <= _NAME_MAX_LEN and len(_NAMES) < _NAMES_MAX:
        _NAMES[name] = name
    return name


def _own_bytes(fields: list[bytes]) -> int:
    names = sum(33 + len(f) for f in fields[0::2] if len(f) > 1 and _NAMES.get(f) is not f)
    return names + sum(33 + len(v) for v in fields[1::2] if len(v) > 1)


# The layout of to_plain(); a change bumps it and from_plain() keeps reading the old one.
PLAIN_VERSION = 1

PENDING_BYTES = 240  # a Nack, its id tuple, the group dict slot, two SortedIDs slots


def entry_bytes(fields: list[bytes]) -> int:
    """CPython cost of one entry (tracemalloc): ~100 bytes of id tuple, dict and list
    slots, the field list, and each bytes object it owns (one-byte ones and shared field
    names are not its own)."""
    return 156 + 8 * len(fields) + _own_bytes(fields)


class Stream(TypedValue):
    """A stream value (see the module docstring)."""

    __slots__ = (
        "entries", "entries_added", "entry_bytes", "groups", "last_id", "max_deleted", "nodes",
        "order",
    )  # fmt: skip

    type_name = "stream"
    tag = "stream"

    def __init__(self) -> None:
        self.entries: dict[StreamID, list[bytes]] = {}
        self.order = SortedIDs()
        self.nodes: list[Node] = []
        self.last_id: StreamID = MIN_ID
        self.max_deleted: StreamID = MIN_ID
        self.entries_added = 0
        self.entry_bytes = 0  # memory_usage() of the live entries
        self.groups: dict[bytes, Group] = {}

    # -- TypedValue ------------------------------------------------------------------
    def is_empty(self) -> bool:
        return False

    def encoding(self) -> str:
        return "stream"

    def memory_usage(self) -> int:
        """What this stream costs in CPython, measured with tracemalloc (entries: a key
        tuple, the dict and list slots, the field list and its bytes objects; a pending
        entry: its Nack, key and three index slots). Entries are counted as they come
        and go, so this is O(groups + consumers)."""
        size = 400 + 120 * len(self.nodes) + self.entry_bytes
        for name, group in self.groups.items():
            size += 300 + len(name) + PENDING_BYTES * len(group.pel)
            size += sum(250 + len(c) for c in group.consumers)
        return size

    def to_plain(self) -> Any:
        nodes = []
        for node in self.nodes:
            flat = [x for sid in node.ids for x in sid]
            nodes.append([flat, node.live, node.size, list(node.master)])
        groups = []
        for name, g in self.groups.items():
            pel = [
                [sid[0], sid[1], n.consumer, n.delivery_time, n.delivery_count]
                for sid, n in g.pel.items()
            ]
            consumers = [[c.name, c.seen_time, c.active_time] for c in g.consumers.values()]
            groups.append([name, list(g.last_id), g.entries_read, pel, consumers])
        return {
            "version": PLAIN_VERSION,
            "entries": [[sid[0], sid[1], list(f)] for sid, f in self.entries.items()],
            "nodes": nodes,
            "last_id": list(self.last_id),
            "max_deleted": list(self.max_deleted),
            "entries_added": self.entries_added,
            "groups": groups,
        }

    @classmethod
    def from_plain(cls, plain: Any) -> Stream:
        if plain.get("version") != PLAIN_VERSION:
            raise ValueError(
                f"stream snapshot format {plain.get('version')!r} is not {PLAIN_VERSION}: "
                "load it with the memvec version that wrote it"
            )
        s = cls()
        for ms, seq, fields in plain["entries"]:
            fields = list(fields)
            fields[0::2] = [shared_name(f) for f in fields[0::2]]
            s.entries[(ms, seq)] = fields
            s.entry_bytes += entry_bytes(fields)
        s.order = SortedIDs(sorted(s.entries))
        for flat, live, size, master in plain["nodes"]:
            ids = [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]
            s.nodes.append(Node(ids, live, size, list(master)))
        s.last_id = (plain["last_id"][0], plain["last_id"][1])
        s.max_deleted = (plain["max_deleted"][0], plain["max_deleted"][1])
        s.entries_added = plain["entries_added"]
        for name, last, entries_read, pel, consumers in plain["groups"]:
            g = Group((last[0], last[1]), entries_read)
            for cname, seen, active in consumers:
                g.consumers[cname] = Consumer(cname, seen, active)
            for ms, seq, owner, time_ms, count in pel:
                sid = (ms, seq)
                g.pel[sid] = Nack(owner, time_ms, count)
                g.pel_ids.add(sid)
                g.consumers[owner].pel.add(sid)
            s.groups[name] = g
        return s

    # -- reads -----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.entries)

    @property
    def first_id(self) -> StreamID:
        """Redis's ``recorded-first-entry-id``: the first live entry's id, 0-0 if none."""
        return self.order.first() or MIN_ID

    def last_live_id(self) -> StreamID:
        return self.order.last() or MIN_ID

    def range(
        self, start: StreamID, end: StreamID, count: int = 0, rev: bool = False
    ) -> list[tuple[StreamID, list[bytes]]]:
        """Entries with ``start <= id <= end``, ascending (descending if ``rev``); at most
        ``count`` (0: all)."""
        ids = self.order.ids
        lo = bisect_left(ids, start)
        hi = bisect_right(ids, end)
        if lo >= hi:
            return []
        if count:  # slice only what is returned
            if rev:
                lo = max(lo, hi - count)
            else:
                hi = min(hi, lo + count)
        picked = ids[hi - 1 : lo - 1 if lo else None : -1] if rev else ids[lo:hi]
        return [(sid, self.entries[sid]) for sid in picked]

    # -- writes ----------------------------------------------------------------------
    def append(self, sid: StreamID, fields: list[bytes]) -> None:
        """Add an entry; the caller checked ``sid > last_id``."""
        fields[0::2] = [shared_name(f) for f in fields[0::2]]
        node = self.nodes[-1] if self.nodes else None
        raw = sum(len(f) for f in fields)
        max_bytes, max_entries = LIMITS.stream_node_max_bytes, LIMITS.stream_node_max_entries
        if (
            node is None
            or (max_bytes and node.size + raw >= max_bytes)
            or (max_entries and len(node.ids) >= max_entries)
        ):
            node = Node([], 0, listpack.master_size(fields), fields[0::2])
            self.nodes.append(node)
        master = node.ids[0] if node.ids else sid
        id_diff = (listpack.diff(sid[0], master[0]), listpack.diff(sid[1], master[1]))
        node.size += listpack.entry_size(fields, node.master, id_diff)
        node.ids.append(sid)
        node.live += 1
        self.entries[sid] = fields
        self.entry_bytes += entry_bytes(fields)
        self.order.add(sid)
        self.last_id = sid
        self.entries_added += 1

    def _node_index(self, sid: StreamID) -> int:
        return bisect_right(self.nodes, sid, key=lambda n: n.ids[0]) - 1

    def delete(self, sid: StreamID) -> bool:
        """XDEL of one id: whether it was there. Updates ``max_deleted``."""
        if sid not in self.entries:
            return False
        self.entry_bytes -= entry_bytes(self.entries.pop(sid))
        self.order.remove(sid)
        i = self._node_index(sid)
        node = self.nodes[i]
        node.live -= 1
        if node.live == 0:
            del self.nodes[i]
        if sid > self.max_deleted:
            self.max_deleted = sid
        return True

    def trim(self, *, maxlen: int | None, minid: StreamID | None, approx: bool, limit: int) -> int:
        """Redis's ``streamTrim``: remove entries from the head until at most ``maxlen``
        remain (or none below ``minid``). ``approx`` removes whole nodes only; ``limit``
        (0: none) caps how many entries are removed. Returns how many were."""
        deleted = 0
        while self.nodes:
            if maxlen is not None and len(self.entries) <= maxlen:
                break
            node = self.nodes[0]
            if limit and deleted + node.live > limit:
                break
            if maxlen is not None:
                remove_node = len(self.entries) - node.live >= maxlen
            else:
                assert minid is not None
                remove_node = node.ids[-1] < minid
            if remove_node:
                for sid in node.ids:
                    fields = self.entries.pop(sid, None)
                    if fields is not None:
                        self.entry_bytes -= entry_bytes(fields)
                        deleted += 1
                del self.nodes[0]
                continue
            if approx:
                break
            for sid in node.ids:
                if sid not in self.entries:
                    continue
                if maxlen is not None and len(self.entries) <= maxlen:
                    break
                if minid is not None and sid >= minid:
                    break
                self.entry_bytes -= entry_bytes(self.entries.pop(sid))
                node.live -= 1
                deleted += 1
            break
        if deleted:  # trimming removes the smallest live ids, in order
            del self.order.ids[:deleted]
        return deleted

    # -- consumer-group counters (t_stream.c) ----------------------------------------
    def has_tombstones(self, start: StreamID | None, end: StreamID | None = None) -> bool:
        """``streamRangeHasTombstones``: whether a deleted entry may lie in the range."""
        if not self.entries or self.max_deleted == MIN_ID:
            return False
        lo = start or MIN_ID
        hi = end or MAX_ID
        return lo <= self.max_deleted <= hi

    def estimate_read_counter(self, sid: StreamID) -> int:
        """``streamEstimateDistanceFromFirstEverEntry``: the logical read counter of
        ``sid``, or -1 when it cannot be known."""
        if not self.entries_added:
            return 0
        if not self.entries and sid <= self.last_id:
            return self.entries_added
        if sid != MIN_ID and sid < self.max_deleted:  # before the last tombstone: unknown
            return INVALID_ENTRIES_READ
        if sid == self.last_id:
            return self.entries_added
        if sid > self.last_id:
            return INVALID_ENTRIES_READ
        first = self.first_id
        if self.max_deleted == MIN_ID or self.max_deleted < first:
            if sid < first:
                return self.entries_added - len(self.entries)
            if sid == first:
                return self.entries_added - len(self.entries) + 1
        return INVALID_ENTRIES_READ

    def lag(self, group: Group) -> int | None:
        """XINFO's ``lag`` of a group (None: unknown)."""
        if not self.entries_added:
            return 0
        if group.entries_read != INVALID_ENTRIES_READ and not self.has_tombstones(group.last_id):
            return self.entries_added - group.entries_read
        read = self.estimate_read_counter(group.last_id)
        return None if read == INVALID_ENTRIES_READ else self.entries_added - read

    def advance_group(self, group: Group, sid: StreamID) -> None:
        """A ``>`` read delivered ``sid`` (greater than the group's last id)."""
        if (
            group.entries_read != INVALID_ENTRIES_READ
            and group.last_id >= self.first_id
            and not self.has_tombstones(group.last_id)
        ):
            group.entries_read += 1
        elif self.entries_added:
            group.entries_read = self.estimate_read_counter(sid)
        group.last_id = sid
