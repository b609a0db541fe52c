"""The keyspace: Redis-like keys holding strings, hashes or typed values, with expiry times.

Strings are ``bytes`` and hashes ``dict[bytes, bytes]``; every other type (lists, sets,
JSON documents, ...) is a :class:`store.datatypes.base.TypedValue`, read with
:meth:`Keyspace.get_typed` and created with :meth:`Keyspace.typed_for_write`. A typed value
left empty by a write is deleted by :meth:`Keyspace.touched`, as Redis deletes an empty
list.

The keyspace is plain data with no locking and no logging; :class:`store.engine.Engine`
owns both. Every mutation reports the touched key to ``on_change`` so the index manager
can update every index whose prefix matches before the write is acknowledged.

Expiry follows Redis: a key whose deadline (absolute unix ms) has passed is *logically*
gone for readers at once. Only the primary deletes it (lazily on access or by the active
sweeper), and that delete is logged as a ``DEL`` so that log replay and replicas, which
never expire keys by their own clock, reach the same state.

Hash fields expire the same way (Redis 7.4 ``HEXPIRE``): ``field_expires`` maps a key to
its fields' deadlines; an expired field is hidden from every read at once and the primary
removes it (on write access, or by the sweeper, which pops a heap of deadlines so a tick
costs O(log n) per expired field), logging an ``HDEL``. A hash whose last
field goes is deleted, as Redis does. Writing a field with ``HSET`` clears its deadline.

Strings written in place: APPEND, SETRANGE, SETBIT and BITFIELD change a string of at least
:data:`IN_PLACE_MIN_BYTES` as a stored ``bytearray`` (:meth:`Keyspace.string_buffer`,
:meth:`Keyspace.string_written`), so each call costs what it writes, not the string's
length: Redis's sds strings grow in place the same way. No reader ever gets that buffer:
:meth:`Keyspace.get` turns it back into ``bytes`` first (once, until the next in-place
write), so a reply queued for a later loop iteration can never change under the client,
and every ``isinstance(value, bytes)`` check sees a string. Readers that only look inside
the string for the length of one command (GETBIT, STRLEN, GETRANGE, BITCOUNT, BITPOS)
use :meth:`Keyspace.peek_string` and leave it mutable.

SCAN order: :class:`store.key_order.KeyOrder` (one sequence number per key, in creation
order) keeps SCAN's guarantee; the keyspace tells it of every key created and deleted.

Key trackers (:meth:`Keyspace.track`): in cluster mode the server adds a per-slot key
index (:class:`store.cluster.slot_index.SlotIndex`) told of every key created and deleted
exactly as the SCAN order is; a standalone node has none and pays nothing.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from heapq import heapify, heappop, heappush
from typing import Protocol, TypeVar, cast

from .datatypes.base import TypedValue
from .errors import WrongTypeError
from .key_order import KeyOrder

Value = bytes | dict[bytes, bytes] | TypedValue
# What ``Keyspace.data`` holds: a Value, or a string being written in place (see above).
Stored = Value | bytearray
T = TypeVar("T", bound=TypedValue)

IN_PLACE_MIN_BYTES = 512
"""Strings shorter than this are rewritten as new ``bytes`` on each in-place write: the
copy costs less than the ``bytearray`` header, its spare room and the copy back to
``bytes`` when it is next read."""


def glob_to_regex(pattern: bytes) -> re.Pattern[bytes]:
    """Compile a Redis glob (``*``, ``?``, ``[a-z]``, ``\\x``) to a regex over bytes."""
    text = pattern.decode("latin-1")
    return re.compile(fnmatch.translate(text).encode("latin-1"), re.DOTALL)


class KeyTracker(Protocol):
    """Told of every key the keyspace creates and deletes (under the engine lock)."""

    def created(self, key: bytes) -> None: ...

    def removed(self, key: bytes) -> None: ...

    def rebuild(self, keys: Iterable[bytes]) -> None: ...


class Keyspace:
    """Keys -> values (``bytes`` strings, ``dict`` hashes, typed values) plus deadlines."""

    def __init__(self, on_change: Callable[[bytes], None] | None = None) -> None:
        self.data: dict[bytes, Stored] = {}
        self.expires: dict[bytes, int] = {}
        # key -> {field: deadline ms} for hash fields with a TTL (HEXPIRE)
        self.field_expires: dict[bytes, dict[bytes, int]] = {}
        # (deadline, key, field) for the sweeper; entries whose deadline changed since are
        # skipped when popped, and the heap is rebuilt once they could outnumber the live
        self._field_heap: list[tuple[int, bytes, bytes]] = []
        self._field_heap_limit = 1024
        # (deadline, key) for the sweeper, the same way: a tick with nothing due costs O(1)
        # whatever the number of keys with a TTL (it was a walk over all of them)
        self._key_heap: list[tuple[int, bytes]] = []
        self._key_heap_limit = 1024
        self.on_change = on_change or (lambda key: None)
        self.order = KeyOrder()
        # extra key trackers (cluster mode's per-slot index); KeyOrder is always one
        self._trackers: tuple[KeyTracker, ...] = (self.order,)

    def track(self, tracker: KeyTracker) -> None:
        """Tell ``tracker`` of every key created and deleted from now on, starting from
        the keys held now. The caller holds the engine lock."""
        tracker.rebuild(list(self.data))
        self._trackers = (*self._trackers, tracker)

    def _created(self, key: bytes) -> None:
        for tracker in self._trackers:
            tracker.created(key)

    def _removed(self, key: bytes) -> None:
        for tracker in self._trackers:
            tracker.removed(key)

    def _rebuilt(self) -> None:
        keys = list(self.data)
        for tracker in self._trackers:
            tracker.rebuild(keys)

    def __len__(self) -> int:
        return len(self.data)

    def scan(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        """See :meth:`store.key_order.KeyOrder.scan` (expired keys included)."""
        return self.order.scan(cursor, count)

    # -- expiry -----------------------------------------------------------------------
    def is_expired(self, key: bytes, now_ms: int) -> bool:
        deadline = self.expires.get(key)
        return deadline is not None and deadline <= now_ms

    def expired_fields(self, key: bytes, now_ms: int) -> list[bytes]:
        """The fields of ``key`` whose deadline has passed."""
        deadlines = self.field_expires.get(key)
        if not deadlines:
            return []
        return [f for f, d in deadlines.items() if d <= now_ms]

    def keys_with_expired_fields(self, now_ms: int, limit: int = 1000) -> list[bytes]:
        """Keys with a field whose deadline passed, at most ``limit``, in deadline order.

        O(log n) per expired field (a heap), never a walk over every TTL. The caller must
        remove each key's :meth:`expired_fields` (the heap entries are consumed).
        """
        out: dict[bytes, None] = {}
        heap = self._field_heap
        while heap and heap[0][0] <= now_ms and len(out) < limit:
            deadline, key, field = heappop(heap)
            if self.field_deadline(key, field) == deadline:
                out[key] = None
        return list(out)

    def _rebuild_field_heap(self) -> None:
        self._field_heap = [
            (d, k, f) for k, fields in self.field_expires.items() for f, d in fields.items()
        ]
        heapify(self._field_heap)
        self._field_heap_limit = 2 * len(self._field_heap) + 1024

    def field_deadline(self, key: bytes, field: bytes) -> int | None:
        deadlines = self.field_expires.get(key)
        return None if deadlines is None else deadlines.get(field)

    def set_field_deadline(self, key: bytes, field: bytes, deadline_ms: int | None) -> None:
        """Set or clear (None) one field's deadline; the field must exist."""
        deadlines = self.field_expires.get(key)
        if deadline_ms is None:
            if deadlines is not None:
                deadlines.pop(field, None)
                if not deadlines:
                    del self.field_expires[key]
            return
        if deadlines is None:
            deadlines = self.field_expires[key] = {}
        deadlines[field] = deadline_ms
        heappush(self._field_heap, (deadline_ms, key, field))
        if len(self._field_heap) > self._field_heap_limit:
            self._rebuild_field_heap()

    def clear_field_deadlines(self, key: bytes, fields: Iterator[bytes] | list[bytes]) -> None:
        """Forget the deadlines of ``fields`` (written by HSET, or deleted)."""
        deadlines = self.field_expires.get(key)
        if deadlines is None:
            return
        for f in fields:
            deadlines.pop(f, None)
        if not deadlines:
            del self.field_expires[key]

    def remove_fields(self, key: bytes, fields: list[bytes]) -> int:
        """Delete ``fields`` of the hash at ``key`` (and their deadlines); returns how many
        existed. A hash left empty is deleted; indexes are told."""
        value = self.data.get(key)
        if not isinstance(value, dict):
            return 0
        removed = sum(1 for f in fields if value.pop(f, None) is not None)
        self.clear_field_deadlines(key, fields)
        if removed:
            self.touched(key)
        return removed

    def expired_keys(self, now_ms: int, limit: int = 1000) -> list[bytes]:
        """Keys whose deadline has passed, at most ``limit``, in deadline order.

        O(log n) per expired key (a heap of deadlines, entries whose deadline changed or
        went since skipped when popped), never a walk over every key with a TTL: with
        500,000 TTLs and none due, that walk cost an idle server 13% CPU and each tick
        stalled requests ~13 ms. The keys stay in the heap until deleted or given another
        deadline, so a caller that stops half-way (a failed log append) loses none."""
        due: dict[bytes, int] = {}  # an EXPIRE repeated with the same deadline: one entry
        heap, expires = self._key_heap, self.expires
        while heap and heap[0][0] <= now_ms and len(due) < limit:
            deadline, key = heappop(heap)
            if expires.get(key) == deadline:
                due[key] = deadline
        for key, deadline in due.items():
            heappush(heap, (deadline, key))
        return list(due)

    def _rebuild_key_heap(self) -> None:
        self._key_heap = [(d, k) for k, d in self.expires.items()]
        heapify(self._key_heap)
        self._key_heap_limit = 2 * len(self._key_heap) + 1024

    # -- reads ------------------------------------------------------------------------
    def get(self, key: bytes, now_ms: int | None) -> Value | None:
        """The live value, or None. ``now_ms=None`` ignores deadlines (replay, replicas)."""
        value = self.data.get(key)
        if value is None:
            return None
        if now_ms is not None:
            if self.is_expired(key, now_ms):
                return None
            if self.field_expires and isinstance(value, dict):
                return self.live_fields(key, value, now_ms)
        if isinstance(value, bytearray):  # written in place: readers get bytes
            frozen = self.data[key] = bytes(value)
            return frozen
        return value

    def get_many(self, keys: Sequence[bytes | None], now_ms: int | None) -> list[Value | None]:
        """``[get(key, now_ms) for key in keys]``, a None key reading None: one C-level
        pass over the keys while no key and no hash field has a deadline."""
        values: list[Value | None] = list(map(self.data.get, keys))  # type: ignore[arg-type]
        if now_ms is not None and (self.expires or self.field_expires):
            return [
                None if k is None or v is None else self.get(k, now_ms)
                for k, v in zip(keys, values, strict=True)
            ]
        if bytearray in map(type, values):
            return [None if k is None else self.get(k, now_ms) for k in keys]
        return values

    def live_fields(
        self, key: bytes, value: dict[bytes, bytes], now_ms: int
    ) -> dict[bytes, bytes] | None:
        """``value`` without its expired fields (a copy only if some expired); None if none
        is left."""
        deadlines = self.field_expires.get(key)
        if not deadlines:
            return value
        dead = {f for f, d in deadlines.items() if d <= now_ms}
        if not dead:
            return value
        live = {f: v for f, v in value.items() if f not in dead}
        return live or None

    def get_string(self, key: bytes, now_ms: int | None) -> bytes | None:
        value = self.get(key, now_ms)
        if value is None or isinstance(value, bytes):
            return value
        raise WrongTypeError()

    def exists(self, key: bytes, now_ms: int | None) -> bool:
        """Whether ``get`` would return a value, without reading it (a string written in
        place stays mutable: ``SETBIT`` then ``EXPIRE`` or ``EXISTS`` copies nothing)."""
        value = self.data.get(key)
        if value is None:
            return False
        if now_ms is None:
            return True
        if self.is_expired(key, now_ms):
            return False
        if self.field_expires and isinstance(value, dict):
            return self.live_fields(key, value, now_ms) is not None
        return True

    def peek_string(self, key: bytes, now_ms: int | None) -> bytes | bytearray | None:
        """The live string at ``key`` without turning an in-place buffer back into bytes;
        None if missing; WRONGTYPE for another type. The caller reads it within the
        command and keeps and returns none of it: a ``bytearray`` changes with the next
        write (slice it into ``bytes`` for a reply)."""
        value = self.data.get(key)
        if value is None or (now_ms is not None and self.is_expired(key, now_ms)):
            return None
        if isinstance(value, bytes | bytearray):
            return value
        raise WrongTypeError()

    def string_buffer(self, key: bytes, now_ms: int | None) -> bytearray | None:
        """The live string at ``key`` as a ``bytearray`` to change in place, then hand to
        :meth:`string_written`; None if missing (the caller creates ``bytearray()``);
        WRONGTYPE for another type. A string already written in place is returned as
        stored (no copy); a ``bytes`` one is copied once."""
        value = self.data.get(key)
        if value is None or (now_ms is not None and self.is_expired(key, now_ms)):
            return None
        if type(value) is bytearray:
            return value
        if isinstance(value, bytes):
            return bytearray(value)
        raise WrongTypeError()

    def string_written(self, key: bytes, buffer: bytearray) -> None:
        """Store ``buffer`` (from :meth:`string_buffer`, changed) as the string at ``key``,
        keeping its TTL; ``bytes`` below :data:`IN_PLACE_MIN_BYTES`. Indexes are told."""
        if key not in self.data:
            self._created(key)
        self.data[key] = buffer if len(buffer) >= IN_PLACE_MIN_BYTES else bytes(buffer)
        self.on_change(key)

    def freeze_strings(self) -> None:
        """Turn every string written in place back into ``bytes`` (before a snapshot
        pickles the keyspace, which must hold only :data:`Value` types)."""
        data = self.data
        for key in [k for k, v in data.items() if v.__class__ is bytearray]:
            data[key] = bytes(data[key])  # type: ignore[arg-type]

    def get_hash(self, key: bytes, now_ms: int | None) -> dict[bytes, bytes] | None:
        value = self.get(key, now_ms)
        if value is None or isinstance(value, dict):
            return value
        raise WrongTypeError()

    def get_typed(self, key: bytes, now_ms: int | None, cls: type[T]) -> T | None:
        """The live value at ``key`` if it is a ``cls``; None if missing; WRONGTYPE if the
        key holds another type."""
        value = self.get(key, now_ms)
        if value is None or isinstance(value, cls):
            return value
        raise WrongTypeError()

    def type_name(self, key: bytes, now_ms: int | None) -> str:
        return type_name(self.data[key]) if self.exists(key, now_ms) else "none"

    def iter_keys(self, now_ms: int | None) -> Iterator[bytes]:
        for key in list(self.data):
            if now_ms is None or self.get(key, now_ms) is not None:  # hides all-expired hashes
                yield key

    # -- writes -----------------------------------------------------------------------
    def set_string(self, key: bytes, value: bytes, *, keep_ttl: bool = False) -> None:
        if key not in self.data:
            self._created(key)
        self.data[key] = value
        self.field_expires.pop(key, None)
        if not keep_ttl:
            self.expires.pop(key, None)
        self.on_change(key)

    def hash_for_write(self, key: bytes) -> dict[bytes, bytes]:
        """The hash at ``key``, created empty if missing. Caller must call ``touched``."""
        value = self.data.get(key)
        if value is None:
            value = {}
            self.data[key] = value
            self._created(key)
        elif not isinstance(value, dict):
            raise WrongTypeError()
        return value

    def typed_for_write(self, key: bytes, cls: type[T]) -> T:
        """The ``cls`` value at ``key``, created empty (``cls()``) if missing; WRONGTYPE if
        the key holds another type. The caller must call :meth:`touched` after mutating
        (which deletes the key again if the value is left empty).

        The caller drops an expired key first (the engine does, for a write command's
        declared keys)."""
        value = self.data.get(key)
        if value is None:
            created = cls()
            self.data[key] = created
            self._created(key)
            return created
        if not isinstance(value, cls):
            raise WrongTypeError()
        return value

    def set_value(self, key: bytes, value: Stored, *, keep_ttl: bool = False) -> None:
        """Store ``value`` (any type) at ``key``, replacing what was there (RENAME, COPY,
        RESTORE, JSON.SET at the root); the key's TTL is cleared unless ``keep_ttl``."""
        if key not in self.data:
            self._created(key)
        self.data[key] = value
        self.field_expires.pop(key, None)
        if not keep_ttl:
            self.expires.pop(key, None)
        self.on_change(key)

    def touched(self, key: bytes) -> None:
        """Report an in-place change; removes a hash or typed value left empty, as Redis
        does."""
        value = self.data.get(key)
        if (isinstance(value, dict) and not value) or (
            isinstance(value, TypedValue) and value.is_empty()
        ):
            del self.data[key]
            self.expires.pop(key, None)
            self.field_expires.pop(key, None)
            self._removed(key)
        self.on_change(key)

    def delete(self, key: bytes) -> bool:
        existed = self.data.pop(key, None) is not None
        self.expires.pop(key, None)
        self.field_expires.pop(key, None)
        if existed:
            self._removed(key)
            self.on_change(key)
        return existed

    def set_deadline(self, key: bytes, deadline_ms: int | None) -> None:
        if deadline_ms is None:
            self.expires.pop(key, None)
        else:
            self.expires[key] = deadline_ms
            heappush(self._key_heap, (deadline_ms, key))
            if len(self._key_heap) > self._key_heap_limit:
                self._rebuild_key_heap()

    def replace(
        self,
        data: dict[bytes, Value],
        expires: dict[bytes, int],
        field_expires: dict[bytes, dict[bytes, int]] | None = None,
    ) -> None:
        """Take ``data``, ``expires`` and ``field_expires`` as the whole keyspace (a
        snapshot being loaded).

        ``on_change`` is not called: the caller rebuilds the indexes from the same snapshot.
        """
        self.data = cast(dict[bytes, Stored], data)  # a dict of Values is one of Stored
        self.expires = expires
        self.field_expires = field_expires or {}
        self._rebuilt()
        self._rebuild_field_heap()
        self._rebuild_key_heap()

    def clear(self) -> list[bytes]:
        keys = list(self.data)
        self.data.clear()
        self.expires.clear()
        self.field_expires.clear()
        self._rebuilt()
        self._rebuild_field_heap()
        self._rebuild_key_heap()
        return keys

    def memory_bytes(self) -> int:
        """A cheap estimate: payload bytes plus a per-key and per-field overhead."""
        total = 0
        for key, value in self.data.items():
            total += len(key) + 64
            if isinstance(value, bytes | bytearray):
                total += len(value) + 33
            elif isinstance(value, dict):
                total += 232 + sum(len(f) + len(v) + 100 for f, v in value.items())
            else:
                total += value.memory_usage()
        return total


def type_name(value: Stored | None) -> str:
    """What TYPE says of ``value`` (``none`` for a missing key)."""
    if value is None:
        return "none"
    if isinstance(value, bytes | bytearray):
        return "string"
    if isinstance(value, dict):
        return "hash"
    return value.type_name
