"""Scripts through real replication: a replica of a `memvec server` primary gets a
script's effects (never the script: EVALSHA of the primary's script answers NOSCRIPT
there, as in Redis 7) and the FUNCTION libraries (loaded, replaced, deleted), and refuses
a script's write per call with READONLY. (Libraries across restarts: tests/store.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from tests.harness.wait import wait_for
from tests.replication.nodes import Node, converged, keyspace

LIB = (
    "#!lua name=rlib\n"
    "redis.register_function('radd', function(keys, args) "
    "redis.call('hset', keys[1], 'f', args[1]) return redis.call('incrby', keys[2], args[1]) end)"
)


def libraries(node: Node) -> list[bytes]:
    # a map per library in RESP3, a flat [b"library_name", name, ...] in RESP2
    return [
        entry[b"library_name"] if isinstance(entry, dict) else entry[1]
        for entry in node.r.function_list()
    ]


def test_replica_gets_effects_and_libraries(tmp_path: Path) -> None:
    primary = Node(tmp_path / "p")
    replica = Node(tmp_path / "r", "--replicaof", primary.replicaof)
    try:
        p, r = primary.r, replica.r
        sha = p.script_load("redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])")
        assert p.evalsha(sha, 1, "s", "v1") == b"v1"
        assert p.function_load(LIB) == b"rlib"
        assert p.fcall("radd", 2, "h", "n", 5) == 5
        wait_for(lambda: converged(primary, replica), 20, message="replica converges")
        assert keyspace(replica) == keyspace(primary)
        with pytest.raises(redis.exceptions.NoScriptError):
            r.evalsha(sha, 1, "s", "v2")  # the script cache is not replicated
        with pytest.raises(redis.exceptions.ReadOnlyError, match="read only replica"):
            r.eval("return redis.call('set', 'x', '1')", 0)
        assert libraries(replica) == [b"rlib"]
        p.function_load(LIB.replace("incrby", "decrby"), replace=True)
        assert p.fcall("radd", 2, "h", "n", 2) == 3
        wait_for(lambda: converged(primary, replica), 20, message="replica converges")
        assert r.get("n") == b"3"
        p.function_delete("rlib")
        wait_for(lambda: libraries(replica) == [], 20, message="the delete is replicated")
    finally:
        replica.stop()
        primary.stop()
