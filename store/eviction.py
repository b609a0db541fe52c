"""Eviction under ``maxmemory`` (Redis's ``evict.c``): which keys go when a write would pass
the limit.

Policies: ``noeviction`` (refuse with -OOM), ``allkeys-lru``, ``volatile-lru``,
``allkeys-lfu``, ``volatile-lfu``, ``allkeys-random``, ``volatile-random``,
``volatile-ttl``; ``volatile-*`` consider only keys with a TTL. As in Redis, candidates
are sampled, not sorted: each round draws ``maxmemory-samples`` keys (default 5) and
merges them into a pool of the 16 best candidates kept between rounds (highest idle time;
lowest LFU counter; nearest deadline); the best live key of the pool is evicted. Random
policies evict a random key of the chosen set.

The engine calls :meth:`Evictor.evict` under its lock before a ``denyoom`` write while
the dataset estimate is over the limit, logs every evicted key as ``DEL`` (so replicas and
replay reach the same state without evicting by themselves) and counts them
(``evicted_keys``). If nothing can be evicted, the write gets Redis's -OOM error.

Access information: the engine reports the keys of every command it runs to
:meth:`Evictor.touch` while an LRU or LFU policy is set (the engine cannot see the
server's access clock; this record is the engine's own and costs nothing under other
policies). LRU keeps a last-access time per key; LFU keeps Redis's 8-bit logarithmic
counter (``lfu-log-factor`` 10: the counter grows with probability
``1 / ((counter - 5) * 10 + 1)``; it starts at 5 and loses 1 per ``lfu-decay-time``
minute, 1, of idleness). Keys never touched count as idle since the evictor started (LRU)
or as fresh at 5 (LFU). Sampling draws from a list of the keys (O(keys) per round), which
is the cost of a dict keyspace; noted in docs/compatibility.md.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from .keyspace import Keyspace, Stored

__all__ = ["EVICTION_POOL_SIZE", "Evictor", "Policy", "value_bytes"]

EVICTION_POOL_SIZE = 16
LFU_INIT = 5
LFU_LOG_FACTOR = 10
LFU_DECAY_MINUTES = 1


class Policy(Enum):
    NOEVICTION = "noeviction"
    ALLKEYS_LRU = "allkeys-lru"
    VOLATILE_LRU = "volatile-lru"
    ALLKEYS_LFU = "allkeys-lfu"
    VOLATILE_LFU = "volatile-lfu"
    ALLKEYS_RANDOM = "allkeys-random"
    VOLATILE_RANDOM = "volatile-random"
    VOLATILE_TTL = "volatile-ttl"

    @property
    def volatile(self) -> bool:
        return self.value.startswith("volatile")

    @property
    def lru(self) -> bool:
        return self.value.endswith("-lru")

    @property
    def lfu(self) -> bool:
        return self.value.endswith("-lfu")


_TRACKS_ACCESS = tuple(p for p in Policy if p.lru or p.lfu)


def value_bytes(key: bytes, value: Stored) -> int:
    """One key's share of :meth:`store.keyspace.Keyspace.memory_bytes` (same formula)."""
    total = len(key) + 64
    if isinstance(value, bytes | bytearray):
        return total + len(value) + 33
    if isinstance(value, dict):
        return total + 232 + sum(len(f) + len(v) + 100 for f, v in value.items())
    return total + value.memory_usage()


@dataclass
class Evictor:
    """The eviction policy of one engine and the access record it needs."""

    policy: Policy = Policy.NOEVICTION
    samples: int = 5
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    started: float = field(init=False)
    last_access: dict[bytes, float] = field(default_factory=dict)
    lfu: dict[bytes, tuple[int, float]] = field(default_factory=dict)  # counter, when
    pool: list[tuple[float, bytes]] = field(default_factory=list)  # (score, key), best last

    def __post_init__(self) -> None:
        self.started = self.clock()

    def configure(self, policy: str | Policy, samples: int | None = None) -> None:
        """Switch policy (the access record and the pool start afresh)."""
        self.policy = Policy(policy)
        if samples is not None:
            self.samples = samples
        self.last_access.clear()
        self.lfu.clear()
        self.pool.clear()

    @property
    def tracks_access(self) -> bool:
        """Whether the policy needs the access record (LRU, LFU): asked for every command,
        so a membership test, not the enum's ``value`` string (~0.5 us)."""
        return self.policy in _TRACKS_ACCESS

    def touch(self, keys: list[bytes]) -> None:
        """Record an access to each key (a client command named it)."""
        now = self.clock()
        if self.policy.lru:
            for key in keys:
                self.last_access[key] = now
        elif self.policy.lfu:
            for key in keys:
                counter = self.frequency(key, now)
                if counter < 255:
                    p = 1.0 / ((max(counter - LFU_INIT, 0)) * LFU_LOG_FACTOR + 1)
                    if self.rng.random() < p:
                        counter += 1
                self.lfu[key] = (counter, now)

    def frequency(self, key: bytes, now: float | None = None) -> int:
        """The key's LFU counter after decay (Redis's ``LFUDecrAndReturn``)."""
        counter, when = self.lfu.get(key, (LFU_INIT, self.started))
        now = self.clock() if now is None else now
        periods = int((now - when) // (LFU_DECAY_MINUTES * 60))
        return max(counter - periods, 0)

    def forget(self, key: bytes) -> None:
        self.last_access.pop(key, None)
        self.lfu.pop(key, None)

    def evict(self, keyspace: Keyspace, need_bytes: int) -> list[bytes]:
        """Delete keys until about ``need_bytes`` are freed; the keys deleted (empty when
        the policy is noeviction or nothing qualifies). The caller logs them as DEL."""
        if self.policy is Policy.NOEVICTION:
            return []
        freed, out = 0, []
        while freed < need_bytes:
            key = self._choose(keyspace)
            if key is None:
                break
            value = keyspace.data.get(key)
            if value is None:
                continue
            freed += value_bytes(key, value)
            keyspace.delete(key)
            self.forget(key)
            out.append(key)
        return out

    def _candidates(self, keyspace: Keyspace) -> list[bytes]:
        source = keyspace.expires if self.policy.volatile else keyspace.data
        return list(source)

    def _choose(self, keyspace: Keyspace) -> bytes | None:
        keys = self._candidates(keyspace)
        if not keys:
            return None
        if self.policy in (Policy.ALLKEYS_RANDOM, Policy.VOLATILE_RANDOM):
            return self.rng.choice(keys)
        now = self.clock()
        drawn = self.rng.sample(keys, min(self.samples, len(keys)))
        fresh = {key: self._score(keyspace, key, now) for key in drawn}
        pool = [entry for entry in self.pool if entry[1] not in fresh]
        pool += [(score, key) for key, score in fresh.items()]
        pool.sort(key=lambda entry: entry[0])
        self.pool = pool[-EVICTION_POOL_SIZE:]
        while self.pool:
            _, key = self.pool.pop()
            if key in keyspace.data and (not self.policy.volatile or key in keyspace.expires):
                return key
        return None

    def _score(self, keyspace: Keyspace, key: bytes, now: float) -> float:
        """Higher is a better victim (Redis's ``idle`` in the pool)."""
        if self.policy.lru:
            return now - self.last_access.get(key, self.started)
        if self.policy.lfu:
            return 255 - self.frequency(key, now)
        return -float(keyspace.expires.get(key, 0))  # volatile-ttl: nearest deadline
