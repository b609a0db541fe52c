"""SPOP and SRANDMEMBER pick from the set's pool in O(1) (store/datatypes/sets.py).

They copied the members for every pick (500,000: 3 ms a call; draining a set with SPOP
was quadratic). Held here: under random SADD/SREM churn, re-adding removed members
included, every member has exactly one live slot in the pool, picks are members and
roughly uniform; SPOP drains a set returning each member once; copies, snapshots and
restarts of a set with a pool read the same members.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from store import Engine, EngineConfig
from store.datatypes.sets import POOL_MIN, SetValue


def _live_slots(s: SetValue) -> Counter[bytes]:
    assert s._pool is not None and s._pool_of is s.members
    return Counter(m for slot, m in enumerate(s._pool) if s.members.get(m) == slot)


def test_every_member_keeps_one_live_slot_under_churn() -> None:
    rng = random.Random(3)
    random.seed(4)
    universe = [b"m%d" % i for i in range(3 * POOL_MIN)]
    s = SetValue(universe[: 2 * POOL_MIN])
    for step in range(20_000):
        op = rng.random()
        if op < 0.3:
            s.add(rng.choice(universe))
        elif op < 0.6 and len(s) > POOL_MIN + 10:
            s.remove(rng.choice(universe))
        else:
            assert s.random_member() in s.members
        if s._pool is not None and step % 40 == 0:
            live = _live_slots(s)
            assert set(live) == set(s.members) and max(live.values()) == 1
            assert len(s._pool) <= 2 * len(s) + 64 + 1
    counts = Counter(s.random_member() for _ in range(40 * len(s)))
    assert set(counts) == set(s.members)
    assert max(counts.values()) < 3 * min(counts.values())  # ~40 each


def test_spop_drains_a_set_once_each(tmp_path: Path) -> None:
    n = 5 * POOL_MIN
    cfg = EngineConfig(data_dir=tmp_path / "data")
    with Engine(cfg) as e:
        e.execute("SADD", "s", *[f"m{i}" for i in range(n)])
        e.execute("SRANDMEMBER", "s")  # builds the pool
        e.execute("COPY", "s", "c")
        e.execute("SAVE")
        popped = [e.execute("SPOP", "s") for _ in range(n // 2)]
        popped += e.execute("SPOP", "s", str(n // 4))
        assert len(set(popped)) == len(popped)
        assert e.execute("SCARD", "s") == n - len(popped)
        assert len(e.execute("SRANDMEMBER", "s", "100")) == 100
        assert len(set(e.execute("SRANDMEMBER", "s", "-300"))) <= 300
    with Engine(cfg) as e:  # the log replays the SREMs of the pops
        rest = set(e.execute("SMEMBERS", "s"))
        assert rest | set(popped) == {f"m{i}".encode() for i in range(n)}
        assert not rest & set(popped)
        assert e.execute("SCARD", "c") == n
        assert e.execute("SRANDMEMBER", "c") in {f"m{i}".encode() for i in range(n)}


def test_the_pool_stays_bounded_under_churn_without_picks() -> None:
    s = SetValue([b"m%d" % i for i in range(2 * POOL_MIN)])
    s.random_member()
    for i in range(20 * POOL_MIN):  # SADD/SREM churn, no random pick
        s.remove(b"m%d" % (i % (2 * POOL_MIN)))
        s.add(b"m%d" % (i % (2 * POOL_MIN)))
    assert s._pool is None or len(s._pool) <= 2 * len(s) + 64 + 1
    assert s.random_member() in s.members
    assert Counter(_live_slots(s).values()) == {1: len(s)}
