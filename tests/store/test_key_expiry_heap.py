"""Active expiry finds due keys from a heap of deadlines, not a walk over every TTL.

``Keyspace.expired_keys`` used to walk all of ``expires`` on every sweeper tick (10 a
second): with 500,000 keys with a TTL and none due, an idle server spent 13% CPU and each
tick stalled requests ~13 ms. Held here: what it returns equals the walk's answer under
random EXPIRE / PEXPIREAT / PERSIST / SET / DEL / RENAME / restart, a tick with nothing
due reads nothing else, repeated EXPIREs keep the heap bounded, and a caller that stops
half-way loses no due key.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from store import Engine, EngineConfig
from store.keyspace import Keyspace


def _walk(ks: Keyspace, now: int) -> set[bytes]:
    return {k for k, d in ks.expires.items() if d <= now}


def test_the_heap_agrees_with_the_walk(tmp_path: Path) -> None:
    rng = random.Random(12)
    base = int(time.time() * 1000) + 10**9  # deadlines days ahead: none is really due
    keys = [f"k{i}".encode() for i in range(60)]
    cfg = EngineConfig(data_dir=tmp_path / "data")
    checks = 0
    for round_ in range(3):
        with Engine(cfg) as e:
            ks = e.keyspace
            for _ in range(1500):
                key = rng.choice(keys)
                op = rng.randrange(7)
                if op == 0:
                    e.execute("SET", key, "v")
                elif op in (1, 2):
                    if ks.data.get(key) is None:
                        e.execute("SET", key, "v")
                    e.execute("PEXPIREAT", key, str(base + rng.randrange(0, 50)))
                elif op == 3:
                    e.execute("PERSIST", key)
                elif op == 4:
                    e.execute("DEL", key)
                elif op == 5:
                    e.execute("RENAME", key, rng.choice(keys)) if key in ks.data else None
                else:
                    now = base + rng.randrange(-5, 55)
                    got = ks.expired_keys(now, limit=10**6)
                    assert len(got) == len(set(got)), "a key returned twice"
                    assert set(got) == _walk(ks, now), round_
                    checks += bool(got)
                    assert ks.expired_keys(now, limit=3) == got[:3]  # nothing consumed
            if round_ == 1:
                e.execute("SAVE")  # the next start loads a snapshot: a rebuilt heap
    assert checks > 50  # due keys were there to find


def test_a_tick_with_nothing_due_reads_no_deadline() -> None:
    class Counting(dict[bytes, int]):
        walks = 0

        def items(self):  # type: ignore[no-untyped-def, override]
            Counting.walks += 1
            return super().items()

        def __iter__(self):  # type: ignore[no-untyped-def]
            Counting.walks += 1
            return super().__iter__()

    ks = Keyspace()
    for i in range(20_000):
        ks.set_string(f"k{i}".encode(), b"v")
        ks.set_deadline(f"k{i}".encode(), 10**13 + i)
    ks.expires = Counting(ks.expires)
    assert ks.expired_keys(10**12) == []
    assert Counting.walks == 0
    assert ks.expired_keys(10**13 + 2) == [b"k0", b"k1", b"k2"]


def test_repeated_expires_keep_the_heap_bounded() -> None:
    ks = Keyspace()
    for i in range(100):
        ks.set_string(f"k{i}".encode(), b"v")
    for round_ in range(200):
        for i in range(100):
            ks.set_deadline(f"k{i}".encode(), 10**12 + round_)
    assert len(ks._key_heap) <= 2 * 100 + 1024 + 1
    assert set(ks.expired_keys(10**12 + 199)) == {f"k{i}".encode() for i in range(100)}
    assert ks.expired_keys(10**12 + 198) == []


def test_the_sweeper_deletes_due_keys_among_many_ttls() -> None:
    with Engine(EngineConfig(data_dir=None)) as e:
        for i in range(5000):
            e.execute("SET", f"later{i}", "v", "EX", "1000")
        e.execute("SET", "soon", "v", "PX", "1")
        e.keyspace.set_deadline(b"soon", 1)  # long past
        assert e.expire_now() == 1
        assert b"soon" not in e.keyspace.data and len(e.keyspace.data) == 5000
