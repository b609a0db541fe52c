"""Sorted sets and geo through the whole write path of real servers: a replica and a
restarted primary (log replay, then a snapshot) compare equal to the primary key by key,
encodings included; MULTI/EXEC with zset commands is one atomic unit on both."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from store.server import ServerThread
from tests.harness.wait import wait_for

WRITES: list[tuple[object, ...]] = [
    ("ZADD", "z", 1, "a", 2.5, "b", "-inf", "c", 0.1, "d", "+inf", "e"),
    ("ZADD", "z", "GT", "CH", 3, "a", 1, "b"),
    ("ZINCRBY", "z", 0.25, "d"),
    ("ZADD", "big", *[x for i in range(150) for x in (i / 3, f"m{i}")]),
    ("ZREMRANGEBYSCORE", "big", "(10", 20),
    ("BZPOPMIN", "nothing", "z", 0),
    ("ZREMRANGEBYLEX", "z", "-", "+"),
    ("GEOADD", "g", 13.361389, 38.115556, "Palermo", 15.087269, 37.502669, "Catania"),
    ("GEOADD", "g", "XX", "CH", 13.5, 38.2, "Palermo"),
    ("GEOSEARCHSTORE", "gs", "g", "FROMMEMBER", "Palermo", "BYRADIUS", 300, "km", "STOREDIST"),
    ("GEORADIUS", "g", 15, 37, 100, "km", "STORE", "gr"),
    ("ZUNIONSTORE", "u", 3, "z", "gs", "big", "AGGREGATE", "MAX"),
    ("ZINTERSTORE", "i", 2, "big", "u", "WEIGHTS", 2, 0.5),
    ("ZDIFFSTORE", "d", 2, "big", "i"),
    ("ZRANGESTORE", "r", "big", 5, 1, "BYSCORE", "REV", "LIMIT", 1, 3),
    ("BZMPOP", 0, 2, "nothing", "big", "MAX", "COUNT", 4),
    ("ZMPOP", 1, "u", "MIN", "COUNT", 2),
    ("ZPOPMAX", "d", 3),
    ("ZREM", "gs", "Palermo"),
]


def dump(r: redis.Redis) -> dict[bytes, Any]:
    out = {}
    for key in sorted(r.keys("*")):
        out[key] = (
            r.execute_command("ZRANGE", key, 0, -1, "WITHSCORES"),
            r.execute_command("OBJECT", "ENCODING", key),
        )
    return out


def test_replica_and_restart_compare_equal(
    start_server: Callable[..., ServerThread], tmp_path: Path
) -> None:
    data_dir = tmp_path / "primary"
    primary = start_server(data_dir=data_dir)
    r = redis.Redis(host="127.0.0.1", port=primary.port, protocol=2, socket_timeout=20)
    replica = start_server(replicaof=f"127.0.0.1:{primary.port}")
    rr = redis.Redis(host="127.0.0.1", port=replica.port, protocol=2, socket_timeout=20)
    try:
        with r.pipeline(transaction=False) as p:
            for w in WRITES:
                p.execute_command(*w)
            p.execute()
        with r.pipeline(transaction=True) as p:
            p.execute_command("ZADD", "t", 1, "x", 2, "y")
            p.execute_command("BZPOPMAX", "t", 0)  # inside MULTI: never blocks
            p.execute_command("BZPOPMAX", "t", "missing", 0)
            p.execute_command("BZPOPMAX", "missing", 0)
            assert p.execute() == [2, (b"t", b"y", 2.0), (b"t", b"x", 1.0), None]
        expected = dump(r)
        assert b"z" not in expected and b"gs" in expected and expected[b"big"][1] == b"skiplist"
        wait_for(lambda: dump(rr) == expected, 20, message="replica converges")
        primary.stop()
        restarted = start_server(data_dir=data_dir)  # replays the log
        r2 = redis.Redis(host="127.0.0.1", port=restarted.port, protocol=2, socket_timeout=20)
        assert dump(r2) == expected
        assert r2.execute_command("SAVE")
        restarted.stop()
        again = start_server(data_dir=data_dir)  # loads the snapshot
        r3 = redis.Redis(host="127.0.0.1", port=again.port, protocol=2, socket_timeout=20)
        loaded = dump(r3)
        # a snapshot load encodes each set by its contents, as Redis's RDB load does: "big"
        # shrank to 115 elements, so it is a listpack again
        assert loaded.pop(b"big") == (expected.pop(b"big")[0], b"listpack")
        assert loaded == expected
        r2.close()
        r3.close()
    finally:
        r.close()
        rr.close()
