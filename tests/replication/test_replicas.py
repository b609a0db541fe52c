"""Primary + 2 replicas as separate processes: writes reach FT.SEARCH on every replica,
replicas refuse writes, a restarted replica resumes with a partial resync, a node with an
unrelated history resyncs fully, WAIT and --min-replicas-to-ack hold replies for acks."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import redis

from tests.harness.wait import wait_for

from .nodes import Node, converged, info, keyspace

DIM = 8


def vec(n: int) -> bytes:
    return np.random.default_rng(n).standard_normal(DIM).astype(np.float32).tobytes()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Node, Node, Node]]:
    nodes: list[Node] = []
    try:
        primary = Node(tmp_path / "p")
        nodes.append(primary)
        for name in ("r1", "r2"):
            nodes.append(Node(tmp_path / name, "--replicaof", primary.replicaof))
        yield nodes[0], nodes[1], nodes[2]
    finally:
        for n in nodes:
            n.stop()


def knn_ids(node: Node, n: int) -> list[bytes]:
    res = node.r.execute_command(
        "FT.SEARCH", "idx", "*=>[KNN 3 @v $B AS score]", "PARAMS", "2", "B", vec(n),
        "SORTBY", "score", "RETURN", "1", "score", "DIALECT", "2",
    )  # fmt: skip
    if isinstance(res, dict):  # redis-py may parse the reply into a dict
        return [d[b"id"] for d in res[b"results"]]
    return list(res[1::2])


def top_hit_is(node: Node, n: int) -> bool:
    return knn_ids(node, n)[:1] == [f"doc:{n}".encode()]


def test_writes_reach_search_on_every_replica(cluster: tuple[Node, Node, Node]) -> None:
    primary, r1, r2 = cluster
    primary.r.execute_command(
        "FT.CREATE", "idx", "ON", "HASH", "PREFIX", "1", "doc:", "SCHEMA",
        "v", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", str(DIM), "DISTANCE_METRIC", "L2",
    )  # fmt: skip
    with primary.r.pipeline(transaction=False) as p:
        for n in range(200):
            p.hset(f"doc:{n}", mapping={"v": vec(n), "n": n})
        p.execute()
    for replica in (r1, r2):
        wait_for(partial(top_hit_is, replica, 199), 20, message="KNN")
        assert replica.r.execute_command("FT.INFO", "idx") is not None
        wait_for(partial(converged, primary, replica), 20, message="replica converges")
        fields = info(replica)
        assert fields["role"] == "slave" and fields["master_link_status"] == "up"
        with pytest.raises(redis.ReadOnlyError):
            replica.r.hset("doc:x", mapping={"n": 1})
    assert keyspace(r1) == keyspace(primary) == keyspace(r2)
    p_info = info(primary)
    assert p_info["connected_slaves"] == 2
    assert p_info["slave0"]["state"] == "online"
    assert primary.r.execute_command("ROLE")[0] == b"master"
    assert r1.r.execute_command("ROLE")[0] == b"slave"


def test_restarted_replica_resumes_partially(cluster: tuple[Node, Node, Node]) -> None:
    primary, r1, _ = cluster
    for n in range(100):
        primary.r.set(f"k:{n}", n)
    wait_for(lambda: converged(primary, r1), 20, message="replica converges")
    before = info(primary)
    r1.kill9()
    for n in range(100, 300):
        primary.r.set(f"k:{n}", n)
    r1.restart("--replicaof", primary.replicaof)
    wait_for(lambda: converged(primary, r1), 20, message="replica catches up")
    after = info(primary)
    assert after["sync_partial_ok"] == before["sync_partial_ok"] + 1
    assert after["sync_full"] == before["sync_full"]
    assert keyspace(r1) == keyspace(primary)


def test_unrelated_history_resyncs_fully(cluster: tuple[Node, Node, Node], tmp_path: Path) -> None:
    primary, _, _ = cluster
    for n in range(50):
        primary.r.set(f"k:{n}", n)
    other = Node(tmp_path / "other")
    try:
        for n in range(80):
            other.r.set(f"stray:{n}", n)
        before = info(primary)["sync_full"]
        other.r.execute_command("REPLICAOF", "127.0.0.1", str(primary.port))
        wait_for(lambda: converged(primary, other), 20, message="full resync converges")
        assert info(primary)["sync_full"] == before + 1
        assert keyspace(other) == keyspace(primary)
        for n in range(50, 60):
            primary.r.set(f"k:{n}", n)
        wait_for(lambda: converged(primary, other), 20, message="streams after full resync")
        other.kill9()
        other.restart("--replicaof", primary.replicaof)  # recovers from the installed snapshot
        wait_for(lambda: converged(primary, other), 20, message="resumes after restart")
        assert info(primary)["sync_full"] == before + 1
        assert keyspace(other) == keyspace(primary)
    finally:
        other.stop()


def test_wait_and_min_replicas_to_ack(tmp_path: Path) -> None:
    primary = Node(tmp_path / "p", "--min-replicas-to-ack", "1", "--min-replicas-timeout-ms", "300")
    replica: Node | None = None
    try:
        with pytest.raises(redis.ResponseError, match="NOREPLICAS"):
            primary.r.set("a", 1)
        replica = Node(tmp_path / "r", "--replicaof", primary.replicaof)
        wait_for(lambda: info(primary)["connected_slaves"] == 1, 20, message="replica attached")
        assert primary.r.set("b", 2) is True
        assert primary.r.execute_command("WAIT", 1, 1000) == 1
        assert replica.r.get("b") == b"2"  # acked by the replica before the reply
        assert primary.r.execute_command("WAIT", 2, 50) == 1
    finally:
        if replica is not None:
            replica.stop()
        primary.stop()


def test_partial_resync_from_the_log_file_beyond_the_backlog(tmp_path: Path) -> None:
    primary = Node(tmp_path / "p", "--repl-backlog-size", "2kb")
    replica = Node(tmp_path / "r", "--replicaof", primary.replicaof)
    try:
        for n in range(50):
            primary.r.set(f"k:{n}", n)
        wait_for(partial(converged, primary, replica), 20, message="replica converges")
        replica.kill9()
        with primary.r.pipeline(transaction=False) as p:
            for n in range(50, 1000):
                p.set(f"k:{n}", b"v" * 50)
            p.execute()
        assert info(primary)["repl_backlog_first_byte_offset"] > 60  # the gap is not in memory
        before = info(primary)
        replica.restart("--replicaof", primary.replicaof)
        wait_for(partial(converged, primary, replica), 20, message="replica catches up")
        after = info(primary)
        assert after["sync_partial_ok"] == before["sync_partial_ok"] + 1
        assert after["sync_full"] == before["sync_full"]
        assert keyspace(replica) == keyspace(primary)
    finally:
        replica.stop()
        primary.stop()
