"""RESTORE of every type through replication on real `memvec server` processes: the
replica holds the same payloads (DUMP), field TTLs and deadlines as the primary (replay
after a restart runs the same log: tests/store/test_rdb.py)."""

from __future__ import annotations

from pathlib import Path

from tests.harness.wait import wait_for
from tests.replication.nodes import Node, converged
from tests.server.test_keys_replication import snapshot_of


def assert_same(
    got: dict[bytes, tuple[bytes, int]], expected: dict[bytes, tuple[bytes, int]]
) -> None:
    """Equal snapshots but for the source stream's consumer seen/active times: a replica
    or a replay sets them from its own clock when it re-runs XREADGROUP (a streams
    replication matter, see the branch report); the restored copies carry the primary's
    times in their payload and must match exactly."""
    got, expected = dict(got), dict(expected)
    assert got.pop(b"x")[0][:60] == expected.pop(b"x")[0][:60]
    assert got == expected


def test_restored_values_replicate(tmp_path: Path) -> None:
    primary = Node(tmp_path / "p")
    replica: Node | None = None
    try:
        replica = Node(tmp_path / "r", "--replicaof", primary.replicaof)
        p = primary.r
        p.rpush("l", "a", "1", "-5000", *[f"x{i}" * 40 for i in range(300)])
        p.sadd("si", "1", "-70000")
        p.sadd("sl", "a", "b")
        p.zadd("z", {"a": 1.5, "b": -3})
        p.zadd("zs", {f"m{i}": i / 3 for i in range(200)})
        p.xadd("x", {"f": "v"}, id="1-1")
        p.xadd("x", {"f": "w"}, id="1-2")
        p.xdel("x", "1-1")
        p.xgroup_create("x", "g", "0")
        p.xreadgroup("g", "c", {"x": ">"})
        p.execute_command("JSON.SET", "j", "$", '{"a":[1,2.5,null]}')
        p.hset("h", mapping={"f": "v", "g": "w"})
        p.execute_command("HPEXPIRE", "h", "900000", "FIELDS", "1", "f")
        for key in ("l", "si", "sl", "z", "zs", "x", "j", "h"):
            p.execute_command("RESTORE", f"{key}:r", "500000", p.dump(key))
            p.execute_command("RESTORE", f"{key}:r", "0", p.dump(key), "REPLACE")
            p.execute_command("RESTORE", f"{key}:t", "500000", p.dump(key))
        wait_for(lambda: converged(primary, replica), 30)
        expected = snapshot_of(primary)
        assert len(expected) == 24
        assert_same(snapshot_of(replica), expected)
        field_ttl = p.execute_command("HPEXPIRETIME", "h:r", "FIELDS", "2", "f", "g")
        assert field_ttl[0] > 0 and field_ttl[1] == -1
        assert (
            replica.r.execute_command("HPEXPIRETIME", "h:r", "FIELDS", "2", "f", "g") == field_ttl
        )
    finally:
        if replica is not None:
            replica.stop()
        primary.stop()
