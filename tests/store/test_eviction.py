"""maxmemory policies (store/eviction.py) through the engine: what is evicted, that it is
logged as DEL (a replica applying the log agrees), counted, and -OOM when nothing can go."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from store.config import EngineConfig
from store.engine import STARTUP_MEMORY_BYTES, Engine
from store.errors import OutOfMemoryError
from store.eviction import Evictor, Policy
from store.wal.payload import decode_commands
from store.wal.position import LogPosition

DATASET = 20_000  # bytes of dataset estimate: about 100 keys of 100 bytes
LIMIT = STARTUP_MEMORY_BYTES + DATASET  # maxmemory bounds used_memory, the server's part too
# The engine reuses its memory estimate for up to 0.1 s (store/engine.py) plus the bytes
# written since; tests write until a condition holds rather than a fixed count.
MAX_WRITES = 200_000


def fill(e: Engine, n: int, prefix: str = "k", **opts: str) -> None:
    for i in range(n):
        args = ["SET", f"{prefix}{i}", "x" * 100]
        if "px" in opts:
            args += ["PX", str(int(opts["px"]) + i * 1000)]
        e.execute(*args)


def fill_until(e: Engine, done: Callable[[], bool], prefix: str = "k", ttl: bool = False) -> int:
    """SET prefix0, prefix1, ... until ``done()``; how many were written."""
    for i in range(MAX_WRITES):
        if done():
            return i
        args = ["SET", f"{prefix}{i}", "x" * 100]
        e.execute(*args, *(["PX", str(1_000_000 + i * 1000)] if ttl else []))
    raise AssertionError("condition never held")


def test_noeviction_refuses_writes_past_maxmemory() -> None:
    with Engine(EngineConfig(maxmemory_bytes=LIMIT)) as e:
        with pytest.raises(OutOfMemoryError):
            fill(e, MAX_WRITES)
        assert e.stats.evicted_keys == 0
        assert e.execute("GET", "k0") == b"x" * 100  # reads still work
        e.execute("DEL", "k0")  # and writes that free memory


def test_a_burst_of_writes_cannot_pass_maxmemory_unseen() -> None:
    """400 writes of 2 KB within the estimate's reuse window (0.1 s) into 300 KB: the
    bytes written since the estimate count, so the dataset stays within the limit (it
    grew to 840 KB before that bound)."""
    limit = STARTUP_MEMORY_BYTES + 300_000
    with Engine(EngineConfig(maxmemory_bytes=limit)) as e:
        e.evictor.configure("allkeys-lru", samples=5)
        for i in range(400):
            e.execute("SET", f"k{i}", "x" * 2000)
        assert e.stats.evicted_keys > 200
        assert e.used_memory() <= limit + 3000  # one value's worth at most
    with Engine(EngineConfig(maxmemory_bytes=limit)) as e:  # noeviction refuses instead
        with pytest.raises(OutOfMemoryError):
            for i in range(400):
                e.execute("SET", f"k{i}", "x" * 2000)
        assert e.used_memory() <= limit + 3000


def test_allkeys_lru_keeps_recently_used_keys(tmp_path: Path) -> None:
    with Engine(EngineConfig(data_dir=tmp_path, maxmemory_bytes=LIMIT)) as e:
        e.evictor.configure("allkeys-lru", samples=10)
        e.execute("SET", "hot", "v")
        i = 0
        while e.stats.evicted_keys < 300:
            e.execute("SET", f"k{i}", "x" * 100)
            e.execute("GET", "hot")  # touched after every write
            i += 1
        assert e.execute("GET", "hot") == b"v"
        survivors = [k for k in e.keyspace.data if k.startswith(b"k")]
        newest = sum(1 for k in survivors if int(k[1:]) >= i - 300)
        assert newest > len(survivors) // 2  # sampled LRU keeps mostly recent keys
        log = e.transaction_log
        assert log is not None
        records = list(log.read_from(LogPosition.start()))
        primary = dict(e.keyspace.data)
    dels = [c for r in records for c in decode_commands(r.payload) if c[0] == b"DEL"]
    assert len(dels) == e.stats.evicted_keys
    with Engine(EngineConfig(read_only=True)) as replica:
        for rec in records:
            replica.apply(rec)
        assert dict(replica.keyspace.data) == primary


def test_volatile_ttl_evicts_nearest_deadline_and_spares_persistent_keys() -> None:
    with Engine(EngineConfig(maxmemory_bytes=LIMIT)) as e:
        e.evictor.configure("volatile-ttl", samples=64)
        fill(e, 60, "p")  # no TTL: never evicted
        n = fill_until(e, lambda: e.stats.evicted_keys > 5, "t", ttl=True)
        assert all(e.execute("EXISTS", f"p{i}") for i in range(60))
        assert e.execute("EXISTS", "t0") == 0 and e.execute("EXISTS", f"t{n - 1}") == 1
        with pytest.raises(OutOfMemoryError):  # only persistent keys left to grow
            fill(e, MAX_WRITES, "q")


def test_random_and_lfu_policies_evict() -> None:
    for policy in ("allkeys-random", "allkeys-lfu", "volatile-random", "volatile-lfu"):
        with Engine(EngineConfig(maxmemory_bytes=LIMIT)) as e:
            e.evictor.configure(policy)
            fill_until(e, lambda: e.stats.evicted_keys > 100, ttl=True)
            assert e.used_memory() < STARTUP_MEMORY_BYTES + 3 * DATASET, policy


def test_lfu_counter_is_logarithmic_and_decays() -> None:
    now = [0.0]
    ev = Evictor(Policy.ALLKEYS_LFU, clock=lambda: now[0])
    for _ in range(1000):
        ev.touch([b"a"])
    counter = ev.frequency(b"a")
    assert 10 < counter < 30  # 1000 hits: log-factor 10 keeps the counter small
    assert ev.frequency(b"never") == 5
    now[0] += 5 * 60  # five idle minutes
    assert ev.frequency(b"a") == counter - 5


def test_every_lru_and_lfu_policy_and_only_those_track_access() -> None:
    tracking = {p for p in Policy if Evictor(policy=p).tracks_access}
    assert tracking == {Policy.ALLKEYS_LRU, Policy.VOLATILE_LRU, Policy.ALLKEYS_LFU,
                        Policy.VOLATILE_LFU}  # fmt: skip
    evictor = Evictor()
    evictor.configure("allkeys-lfu")
    assert evictor.tracks_access
    evictor.configure("volatile-ttl")
    assert not evictor.tracks_access
