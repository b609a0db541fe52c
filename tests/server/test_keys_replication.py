"""Issue #18 commands through replication and restart on real `memvec server` processes:
a replica and a restarted primary hold the same keys, bytes (DUMP) and deadlines as the
primary, evictions included (the primary logs them as DEL)."""

from __future__ import annotations

from pathlib import Path

from store.engine import STARTUP_MEMORY_BYTES
from tests.harness.wait import wait_for
from tests.replication.nodes import Node, converged


def snapshot_of(node: Node) -> dict[bytes, tuple[bytes, int]]:
    """key -> (its DUMP payload, its PEXPIRETIME)."""
    r = node.r
    return {
        key: (r.dump(key), r.execute_command("PEXPIRETIME", key)) for key in r.scan_iter(count=1000)
    }


def test_replica_and_restart_agree(tmp_path: Path) -> None:
    primary = Node(
        tmp_path / "p",
        "--maxmemory",
        str(STARTUP_MEMORY_BYTES + 60_000),
        "--maxmemory-policy",
        "allkeys-lru",
    )
    replica: Node | None = None
    try:
        replica = Node(tmp_path / "r", "--replicaof", primary.replicaof)
        p = primary.r
        p.execute_command("SETEX", "ex", "1000", "v")
        p.execute_command("GETEX", "ex", "PX", "500000")
        p.execute_command("SETRANGE", "range", "5", "abc")
        p.execute_command("SETBIT", "bits", "77", "1")
        p.execute_command("BITFIELD", "bits", "INCRBY", "u8", "8", "300", "SET", "i5", "90", "-3")
        p.execute_command("BITOP", "XOR", "xor", "bits", "range")
        p.execute_command("PFADD", "hll", *[f"e{i}" for i in range(500)])
        p.execute_command("PFMERGE", "hll2", "hll")
        p.execute_command("HSET", "h", "a", "1", "b", "2")
        p.execute_command("RENAME", "h", "h2")
        p.execute_command("COPY", "h2", "h3")
        p.execute_command("RESTORE", "restored", "100000", p.dump("range"))
        p.execute_command("MSETNX", "m1", "1", "m2", "2")
        i = 0
        while p.info("stats")["evicted_keys"] < 20:  # past maxmemory: LRU evicts
            p.set(f"fill:{i}", "x" * 300)
            i += 1
        wait_for(lambda: converged(primary, replica), 30)
        expected = snapshot_of(primary)
        assert snapshot_of(replica) == expected
        primary.stop()
        primary.restart(
            "--maxmemory", str(STARTUP_MEMORY_BYTES + 60_000), "--maxmemory-policy", "allkeys-lru"
        )
        assert snapshot_of(primary) == expected
    finally:
        if replica is not None:
            replica.stop()
        primary.stop()
