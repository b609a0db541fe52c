"""maxmemory admission walks the dataset a bounded share of the time, however large.

``Engine.used_memory(max_age_s)`` reused its estimate for 0.1 s, timed from before the
walk: once a walk took longer than that (~800,000 keys), every write walked again (1M
keys: 160 ms per SET, 6 writes a second). Now an estimate is reused for 20x the last
walk's duration when that is longer. The walk is slowed here to 0.15 s so the test needs
no large dataset; what is counted is walks, not time.
"""

from __future__ import annotations

import time

import pytest

from store import Engine, EngineConfig
from store.errors import OutOfMemoryError


def test_writes_under_maxmemory_reuse_a_slow_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    with Engine(EngineConfig(maxmemory_bytes=1 << 30)) as e:
        walks = []
        real = e.keyspace.memory_bytes

        def slow_walk() -> int:
            walks.append(1)
            time.sleep(0.15)
            return real()

        monkeypatch.setattr(e.keyspace, "memory_bytes", slow_walk)
        for i in range(30):
            e.execute("SET", f"k{i}", "v" * 100)
        assert len(walks) <= 2, len(walks)  # was 30: one walk per write
        # INFO's exact reading still walks every time
        before = len(walks)
        e.used_memory()
        e.used_memory()
        assert len(walks) == before + 2


def test_a_write_past_the_limit_is_still_refused_on_a_fresh_walk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Engine(EngineConfig(maxmemory_bytes=(1 << 20) + 50_000)) as e:
        real = e.keyspace.memory_bytes
        monkeypatch.setattr(e.keyspace, "memory_bytes", lambda: (time.sleep(0.05), real())[1])
        refused = 0
        for i in range(100):
            try:
                e.execute("SET", f"k{i}", "v" * 2000)
            except OutOfMemoryError:
                refused += 1
        assert 60 <= refused < 100  # ~25 of 2 KB fit in 50 KB, the rest refused
        assert e.used_memory() <= (1 << 20) + 50_000 + 2200


def test_info_walks_only_while_walks_are_quick(monkeypatch: pytest.MonkeyPatch) -> None:
    with Engine(EngineConfig()) as e:
        walks = []
        real = e.keyspace.memory_bytes
        delay = [0.0]

        def walk() -> int:
            walks.append(1)
            time.sleep(delay[0])
            return real()

        monkeypatch.setattr(e.keyspace, "memory_bytes", walk)
        for i in range(5):
            e.execute("SET", f"k{i}", "v")
            e.reported_memory()
        assert len(walks) == 5  # quick walks: INFO is exact
        delay[0] = 0.05  # a dataset whose walk takes 50 ms
        e.reported_memory()
        before = len(walks)
        for _ in range(10):
            e.reported_memory()
        assert len(walks) == before  # reused for up to 20 x 50 ms
