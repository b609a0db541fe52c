"""HSCAN, SSCAN and ZSCAN of a large value: pages of COUNT elements, not one reply.

Redis answers a value in a compact encoding (listpack, intset) in one reply with cursor 0,
and walks a hashtable or skiplist COUNT buckets per call. memvec used to answer every value
in one reply: HSCAN of a 500,000-field hash took 1.3 s of the event loop, which every other
client waited through, for a reply of ~1,000,000 bulk strings.

A value of more than :data:`ONE_REPLY_MAX` elements is paged here (a smaller one still
comes in one reply with cursor 0: Redis does that for a compact value, and for a small
hashtable its bucket walk often covers everything in one call too; 512 elements cost
~1 ms):

* The first call (cursor 0) lists the value's element names once, references only
  (~8 bytes each; a few ms for 500,000), into a snapshot. It replies the first COUNT.
* The cursor names the snapshot and the offset. Each later call replies the next COUNT
  names of the snapshot that the value still holds, with their current values or scores.
  The snapshot's last page answers cursor 0 and drops it.

SCAN's guarantee holds: an element present from the first call to the last is in the
snapshot, so it is returned exactly once. Elements added during the scan are not returned
(SCAN allows either), and elements removed are skipped. MATCH filters each page after it
is cut, so a page may come back empty with a non-zero cursor, as in Redis.

Snapshots are bounded: at most :data:`SNAPSHOTS_KEPT` of them, holding at most
:data:`NAMES_KEPT` names in all, least recently used dropped first. A cursor whose snapshot
is gone (dropped, from before a restart, or never handed out) is answered as a compact value
is answered: every element in one reply with cursor 0. That is the old cost, once, and
the guarantee still holds. Snapshots are process-wide and shared by every connection, as a
Redis cursor can be continued from any connection.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable

ONE_REPLY_MAX = 512
"""Values of at most this many elements are answered in one reply with cursor 0."""
SNAPSHOTS_KEPT = 256
NAMES_KEPT = 4_000_000
"""At most this many names referenced by all snapshots together: 32 MB of pointers. The
names are the value's own bytes objects, shared while the value holds them; a snapshot of
a value deleted since keeps its names alive until it is dropped, so this bounds that too."""
_OFFSET_BITS = 32  # a cursor is snapshot id << 32 | offset: below 2**63, never 0


class ElementScans:
    """The snapshots of the scans in progress, keyed by snapshot id."""

    def __init__(
        self,
        kept: int = SNAPSHOTS_KEPT,
        names_kept: int = NAMES_KEPT,
        one_reply_max: int = ONE_REPLY_MAX,
    ) -> None:
        self.kept = kept
        self.one_reply_max = one_reply_max
        self.names_kept = names_kept
        self._snapshots: OrderedDict[int, tuple[bytes, list[bytes]]] = OrderedDict()
        self._names = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._snapshots)

    def page(
        self, key: bytes, cursor: int, count: int, names_now: Callable[[], list[bytes]]
    ) -> tuple[int, list[bytes]]:
        """The next cursor and the element names of this call's page of the value at
        ``key``: every name with cursor 0 for a value of up to ``one_reply_max`` (or
        COUNT) elements, else a page. ``names_now`` lists the value's names, in the order
        a one-reply answer gives them (called for cursor 0 and for a cursor whose snapshot
        is gone). The caller skips names the value no longer holds."""
        with self._lock:
            if cursor == 0:
                names = names_now()
                if len(names) <= max(count, self.one_reply_max):
                    return 0, names
                snapshot_id = next(self._ids) % (1 << 31) or next(self._ids)
                self._snapshots[snapshot_id] = (key, names)
                self._names += len(names)
                self._evict(keep=snapshot_id)
                return snapshot_id << _OFFSET_BITS | count, names[:count]
            snapshot_id, offset = cursor >> _OFFSET_BITS, cursor & ((1 << _OFFSET_BITS) - 1)
            found = self._snapshots.get(snapshot_id)
            if found is None or found[0] != key:
                return 0, names_now()
            names = found[1]
            end = offset + count
            if end >= len(names):
                del self._snapshots[snapshot_id]
                self._names -= len(names)
                return 0, names[offset:]
            self._snapshots.move_to_end(snapshot_id)
            return snapshot_id << _OFFSET_BITS | end, names[offset:end]

    def _evict(self, keep: int) -> None:
        while len(self._snapshots) > 1 and (
            len(self._snapshots) > self.kept or self._names > self.names_kept
        ):
            oldest = next(iter(self._snapshots))
            if oldest == keep:
                break
            self._names -= len(self._snapshots.pop(oldest)[1])


ELEMENT_SCANS = ElementScans()
