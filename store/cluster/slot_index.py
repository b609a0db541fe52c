"""The per-slot key index of a cluster node: COUNTKEYSINSLOT and GETKEYSINSLOT without
scanning the keyspace, and the key lists resharding moves.

:class:`SlotIndex` is a :class:`store.keyspace.KeyTracker`: the server installs it with
``Keyspace.track`` in cluster mode only, and the keyspace tells it of every key created
and deleted (under the engine lock), as it tells SCAN's order. Each slot holds its keys in
a dict used as an insertion-ordered set: adding and removing a key is O(1) plus hashing
its slot (CRC16 in C, :func:`store.cluster.slots.key_slot`); counting is O(1), listing
``count`` keys O(count). Redis keeps the same thing (a dict per slot since 8.0, a radix
tree of slot-prefixed keys before). Measured on 200,000 keys (``Keyspace`` alone, one
core): a key add or delete costs 1.7 us with the index against 0.8 us without, and the
index holds about 51 bytes per key (tracemalloc), on top of the keyspace's own entry.

Like ``KEYS``, the index holds keys whose TTL has passed but that were not deleted yet;
``GETKEYSINSLOT`` lists them as Redis does (it does not check expiry either).
"""

from __future__ import annotations

from collections.abc import Iterable

from .slots import key_slot

__all__ = ["SlotIndex"]


class SlotIndex:
    """Slot -> its keys. Not thread-safe: the engine lock guards it with the keyspace."""

    def __init__(self) -> None:
        self._slots: dict[int, dict[bytes, None]] = {}

    def created(self, key: bytes) -> None:
        slot = key_slot(key)
        keys = self._slots.get(slot)
        if keys is None:
            keys = self._slots[slot] = {}
        keys[key] = None

    def removed(self, key: bytes) -> None:
        slot = key_slot(key)
        keys = self._slots.get(slot)
        if keys is not None:
            keys.pop(key, None)
            if not keys:
                del self._slots[slot]

    def rebuild(self, keys: Iterable[bytes]) -> None:
        self._slots = {}
        for key in keys:
            self.created(key)

    def count(self, slot: int) -> int:
        keys = self._slots.get(slot)
        return len(keys) if keys is not None else 0

    def keys(self, slot: int, limit: int | None = None) -> list[bytes]:
        """Up to ``limit`` keys of ``slot`` (all if None), oldest first."""
        keys = self._slots.get(slot)
        if not keys:
            return []
        if limit is None or limit >= len(keys):
            return list(keys)
        out: list[bytes] = []
        for key in keys:
            if len(out) >= limit:
                break
            out.append(key)
        return out

    def slots_in_use(self) -> list[int]:
        """Every slot holding at least one key, ascending."""
        return sorted(self._slots)
