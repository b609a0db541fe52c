"""Failover under load with ``--min-replicas-to-ack 1``, repeated: clients write
continuously, the primary is ``kill -9``ed, the replica with the highest offset is
promoted (``REPLICAOF NO ONE``), every write any client saw acknowledged is on the new
primary, and the old primary restarts as a replica of the new one and converges (its
unreplicated tail, if any, is discarded by a full resync). Also: a deposed primary that
comes back as a primary is fenced: a replica of the new primary refuses its records."""

from __future__ import annotations

import threading
from functools import partial
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.harness.wait import wait_for

from .nodes import Node, converged, info, keyspace, offset

ROUNDS = 5
ACK_FLAGS = ("--min-replicas-to-ack", "1", "--min-replicas-timeout-ms", "5000")


class Writer(threading.Thread):
    """SETs unique keys until the server goes away; remembers every acknowledged one."""

    def __init__(self, port: int, name: str) -> None:
        super().__init__(daemon=True)
        self.r = redis.Redis(port=port, retry=Retry(NoBackoff(), 0), socket_timeout=10)
        self.name_ = name
        self.acked: set[bytes] = set()
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        try:
            while not self.stop.is_set():
                keys = [f"{self.name_}:{n + i}".encode() for i in range(5)]
                n += 5
                with self.r.pipeline(transaction=False) as p:
                    for k in keys:
                        p.set(k, k)
                    replies = p.execute(raise_on_error=False)
                self.acked.update(k for k, ok in zip(keys, replies, strict=True) if ok is True)
        except (redis.ConnectionError, redis.TimeoutError):
            pass
        finally:
            self.r.close()


def has_replicas(node: Node, n: int) -> bool:
    return bool(info(node)["connected_slaves"] == n)


def acked_at_least(writers: list[Writer], n: int) -> bool:
    return sum(len(w.acked) for w in writers) >= n


@pytest.mark.slow
def test_failover_loses_no_acknowledged_write(tmp_path: Path) -> None:
    nodes = [Node(tmp_path / "n0", *ACK_FLAGS)]
    try:
        for i in (1, 2):
            nodes.append(Node(tmp_path / f"n{i}", "--replicaof", nodes[0].replicaof, *ACK_FLAGS))
        primary, replicas = nodes[0], nodes[1:]
        acked: set[bytes] = set()
        for rnd in range(ROUNDS):
            wait_for(partial(has_replicas, primary, 2), 20, message="replicas")
            writers = [Writer(primary.port or 0, f"r{rnd}w{i}") for i in range(2)]
            for w in writers:
                w.start()
            wait_for(partial(acked_at_least, writers, 100), 20, message="load")
            primary.kill9()
            for w in writers:
                w.stop.set()
                w.join(15)
                acked |= w.acked
            new = max(replicas, key=offset)
            assert new.r.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
            other = next(r for r in replicas if r is not new)
            other.r.execute_command("REPLICAOF", "127.0.0.1", str(new.port))
            present = {k for k in acked if new.r.exists(k)}
            assert present == acked, f"round {rnd}: lost {len(acked - present)} acked writes"
            primary.restart("--replicaof", new.replicaof, *ACK_FLAGS)
            for r in (other, primary):
                wait_for(partial(converged, new, r), 30, message=f"round {rnd} converge")
            assert keyspace(primary) == keyspace(new) == keyspace(other)
            primary, replicas = new, [other, primary]
    finally:
        for n in nodes:
            n.stop()


def test_deposed_primary_is_fenced(tmp_path: Path) -> None:
    a = Node(tmp_path / "a")
    b = Node(tmp_path / "b", "--replicaof", a.replicaof)
    try:
        a.r.set("x", 1)
        wait_for(lambda: converged(a, b), 20, message="replica converges")
        assert b.r.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
        b.r.set("y", 2)
        a.r.set("zombie", 1)  # a still believes it is the primary
        c = Node(tmp_path / "c", "--replicaof", b.replicaof)
        try:
            wait_for(lambda: converged(b, c), 20, message="c follows b")
            c.r.execute_command("REPLICAOF", "127.0.0.1", str(a.port))
            wait_for(lambda: info(c)["master_link_down_since_seconds"] >= 0, 20, message="refused")
            a.r.set("zombie2", 1)
            assert info(c)["master_link_status"] == "down"
            assert c.r.exists("zombie", "zombie2") == 0
            assert c.r.get("y") == b"2"
        finally:
            c.stop()
    finally:
        b.stop()
        a.stop()


def test_failover_command_swaps_roles(tmp_path: Path) -> None:
    a = Node(tmp_path / "a")
    b = Node(tmp_path / "b", "--replicaof", a.replicaof)
    try:
        for n in range(50):
            a.r.set(f"k:{n}", n)
        wait_for(partial(has_replicas, a, 1), 20, message="replica attached")
        assert a.r.execute_command("FAILOVER", "TIMEOUT", 5000) == b"OK"
        assert b.r.execute_command("ROLE")[0] == b"master"
        b.r.set("after", 1)
        wait_for(partial(converged, b, a), 20, message="old primary follows")
        assert a.r.execute_command("ROLE")[0] == b"slave"
        with pytest.raises(redis.ReadOnlyError):
            a.r.set("x", 1)
        assert keyspace(a) == keyspace(b)
    finally:
        b.stop()
        a.stop()
