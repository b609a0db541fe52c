"""The keyspace: Redis-like keys holding strings or hashes, with expiry times.

The keyspace is plain data with no locking and no logging; :class:`store.engine.Engine`
owns both. Every mutation reports the touched key to ``on_change`` so the index manager
can update every index whose prefix matches before the write is acknowledged.

Expiry follows Redis: a key whose deadline (absolute unix ms) has passed is *logically*
gone for readers at once. Only the primary deletes it (lazily on access or by the active
sweeper), and that delete is logged as a ``DEL`` so that log replay and replicas, which
never expire keys by their own clock, reach the same state.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterator

from .errors import WrongTypeError

Value = bytes | dict[bytes, bytes]


def glob_to_regex(pattern: bytes) -> re.Pattern[bytes]:
    """Compile a Redis glob (``*``, ``?``, ``[a-z]``, ``\\x``) to a regex over bytes."""
    text = pattern.decode("latin-1")
    return re.compile(fnmatch.translate(text).encode("latin-1"), re.DOTALL)


class Keyspace:
    """Keys -> values (``bytes`` for strings, ``dict`` for hashes) plus deadlines."""

    def __init__(self, on_change: Callable[[bytes], None] | None = None) -> None:
        self.data: dict[bytes, Value] = {}
        self.expires: dict[bytes, int] = {}
        self.on_change = on_change or (lambda key: None)

    def __len__(self) -> int:
        return len(self.data)

    # -- expiry -----------------------------------------------------------------------
    def is_expired(self, key: bytes, now_ms: int) -> bool:
        deadline = self.expires.get(key)
        return deadline is not None and deadline <= now_ms

    def expired_keys(self, now_ms: int, limit: int = 1000) -> list[bytes]:
        out = []
        for key, deadline in self.expires.items():
            if deadline <= now_ms:
                out.append(key)
                if len(out) >= limit:
                    break
        return out

    # -- reads ------------------------------------------------------------------------
    def get(self, key: bytes, now_ms: int | None) -> Value | None:
        """The live value, or None. ``now_ms=None`` ignores deadlines (replay, replicas)."""
        value = self.data.get(key)
        if value is None:
            return None
        if now_ms is not None and self.is_expired(key, now_ms):
            return None
        return value

    def get_string(self, key: bytes, now_ms: int | None) -> bytes | None:
        value = self.get(key, now_ms)
        if value is None or isinstance(value, bytes):
            return value
        raise WrongTypeError()

    def get_hash(self, key: bytes, now_ms: int | None) -> dict[bytes, bytes] | None:
        value = self.get(key, now_ms)
        if value is None or isinstance(value, dict):
            return value
        raise WrongTypeError()

    def type_name(self, key: bytes, now_ms: int | None) -> str:
        value = self.get(key, now_ms)
        if value is None:
            return "none"
        return "string" if isinstance(value, bytes) else "hash"

    def iter_keys(self, now_ms: int | None) -> Iterator[bytes]:
        for key in list(self.data):
            if now_ms is None or not self.is_expired(key, now_ms):
                yield key

    # -- writes -----------------------------------------------------------------------
    def set_string(self, key: bytes, value: bytes, *, keep_ttl: bool = False) -> None:
        self.data[key] = value
        if not keep_ttl:
            self.expires.pop(key, None)
        self.on_change(key)

    def hash_for_write(self, key: bytes) -> dict[bytes, bytes]:
        """The hash at ``key``, created empty if missing. Caller must call ``touched``."""
        value = self.data.get(key)
        if value is None:
            value = {}
            self.data[key] = value
        elif not isinstance(value, dict):
            raise WrongTypeError()
        return value

    def touched(self, key: bytes) -> None:
        """Report an in-place change; removes a hash left empty, as Redis does."""
        value = self.data.get(key)
        if isinstance(value, dict) and not value:
            del self.data[key]
            self.expires.pop(key, None)
        self.on_change(key)

    def delete(self, key: bytes) -> bool:
        existed = self.data.pop(key, None) is not None
        self.expires.pop(key, None)
        if existed:
            self.on_change(key)
        return existed

    def set_deadline(self, key: bytes, deadline_ms: int | None) -> None:
        if deadline_ms is None:
            self.expires.pop(key, None)
        else:
            self.expires[key] = deadline_ms

    def replace(self, data: dict[bytes, Value], expires: dict[bytes, int]) -> None:
        """Take ``data`` and ``expires`` as the whole keyspace (a snapshot being loaded).

        ``on_change`` is not called: the caller rebuilds the indexes from the same snapshot.
        """
        self.data = data
        self.expires = expires

    def clear(self) -> list[bytes]:
        keys = list(self.data)
        self.data.clear()
        self.expires.clear()
        return keys

    def memory_bytes(self) -> int:
        """A cheap estimate: payload bytes plus a per-key and per-field overhead."""
        total = 0
        for key, value in self.data.items():
            total += len(key) + 64
            if isinstance(value, bytes):
                total += len(value) + 33
            else:
                total += 232 + sum(len(f) + len(v) + 100 for f, v in value.items())
        return total
