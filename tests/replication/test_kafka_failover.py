"""Failover on the Kafka transaction log (tansu broker, real ``memvec server`` processes).

* Under load: clients write continuously to the writer; it is ``kill -9``ed; the follower
  is promoted (``REPLICAOF NO ONE``); every write any client saw acknowledged is on it;
  the old writer restarts as a follower (newest snapshot + the topic after it) and a
  fresh node is rebuilt from the topic alone, both with exactly the same keys.
* A zombie: the writer is SIGSTOPped with a client write queued, the follower is
  promoted, the old writer is SIGCONTed: that write and every later one is refused (never
  acknowledged), and neither the new writer nor a fresh node built from the topic has it.
  ``REPLICAOF`` on the fenced node is refused too (it must restart as a follower).
* ``FAILOVER TO host port`` on the writer: roles swap and the old writer follows.
"""

from __future__ import annotations

import os
import signal
import uuid
from functools import partial
from pathlib import Path

import pytest
import redis

from tests.harness.components import KafkaBroker
from tests.harness.wait import wait_for

from .nodes import Node, QueuedWrite, keyspace, offset
from .test_failover import Writer, acked_at_least


@pytest.fixture
def log_url(kafka_broker: KafkaBroker) -> str:
    return f"kafka://{kafka_broker.bootstrap}/memvec-{uuid.uuid4().hex[:12]}"


def caught_up(follower: Node, writer: Node) -> bool:
    return offset(follower) == offset(writer)


def test_kill9_then_promote_loses_no_acknowledged_write(tmp_path: Path, log_url: str) -> None:
    snapshots = ("--snapshot-after-writes", "100")
    primary = Node(tmp_path / "p", "--log", log_url, *snapshots)
    follower = Node(tmp_path / "f", "--log", log_url, "--replicaof", primary.replicaof)
    fresh: Node | None = None
    try:
        assert follower.r.execute_command("ROLE")[0] == b"slave"
        with pytest.raises(redis.ReadOnlyError):
            follower.r.set("x", 1)
        writers = [Writer(primary.port or 0, f"w{i}") for i in range(2)]
        for w in writers:
            w.start()
        wait_for(partial(acked_at_least, writers, 300), 20, message="load")
        snaps = tmp_path / "p" / "snapshots"
        wait_for(lambda: any(snaps.glob("*.mvs")), 20, message="a snapshot on the writer")
        primary.kill9()
        acked: set[bytes] = set()
        for w in writers:
            w.stop.set()
            w.join(15)
            acked |= w.acked
        assert follower.r.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
        assert follower.r.execute_command("ROLE")[0] == b"master"
        present = {k for k in acked if follower.r.exists(k)}
        assert present == acked, f"lost {len(acked - present)} of {len(acked)} acked writes"
        assert follower.r.set("after", 1) is True

        primary.restart("--log", log_url, "--replicaof", follower.replicaof, *snapshots)
        fresh = Node(tmp_path / "fresh", "--log", log_url, "--replicaof", follower.replicaof)
        for rebuilt in (primary, fresh):
            wait_for(partial(caught_up, rebuilt, follower), 20, message="rebuilt node catches up")
            assert keyspace(rebuilt) == keyspace(follower)
    finally:
        for node in (primary, follower, fresh):
            if node is not None:
                node.stop()


def test_zombie_writer_is_fenced(tmp_path: Path, log_url: str) -> None:
    old = Node(tmp_path / "old", "--log", log_url)
    new = Node(tmp_path / "new", "--log", log_url, "--replicaof", old.replicaof)
    fresh: Node | None = None
    assert old.proc is not None
    pid = old.proc.proc.pid
    try:
        for n in range(20):
            old.r.set(f"k:{n}", n)
        wait_for(partial(caught_up, new, old), 20, message="follower catches up")

        os.kill(pid, signal.SIGSTOP)
        queued = QueuedWrite(old, "zombie", 20)
        assert new.r.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
        new.r.set("y", 2)
        os.kill(pid, signal.SIGCONT)
        queued.join(20)
        outcome = queued.outcome
        assert len(outcome) == 1 and isinstance(outcome[0], redis.ResponseError), outcome
        assert "fenced" in str(outcome[0])
        try:
            with pytest.raises(redis.ResponseError):
                old.r.set("zombie2", 1)
        except redis.TimeoutError:
            assert old.proc is not None
            raise AssertionError("".join(old.proc.stderr[-60:])) from None
        with pytest.raises(redis.ResponseError, match="fenced"):  # its state may hold "zombie"
            old.r.execute_command("REPLICAOF", "127.0.0.1", str(new.port))

        assert new.r.exists("zombie", "zombie2") == 0
        assert new.r.get("y") == b"2"
        fresh = Node(tmp_path / "fresh", "--log", log_url, "--replicaof", new.replicaof)
        wait_for(partial(caught_up, fresh, new), 20, message="fresh node catches up")
        assert keyspace(fresh) == keyspace(new)
        assert fresh.r.exists("zombie", "zombie2") == 0
    finally:
        with_cont = old.proc
        if with_cont is not None:
            os.kill(pid, signal.SIGCONT)
        for node in (old, new, fresh):
            if node is not None:
                node.stop()


def test_failover_to_hands_over(tmp_path: Path, log_url: str) -> None:
    a = Node(tmp_path / "a", "--log", log_url)
    b = Node(tmp_path / "b", "--log", log_url, "--replicaof", a.replicaof)
    try:
        for n in range(50):
            a.r.set(f"k:{n}", n)
        assert a.r.execute_command("FAILOVER", "TO", "127.0.0.1", str(b.port)) == b"OK"
        assert b.r.execute_command("ROLE")[0] == b"master"
        assert a.r.execute_command("ROLE")[0] == b"slave"
        assert b.r.set("after", 1) is True
        with pytest.raises(redis.ReadOnlyError):
            a.r.set("x", 1)
        wait_for(partial(caught_up, a, b), 20, message="old writer follows")
        assert keyspace(a) == keyspace(b)
        assert len(keyspace(b)) == 51
    finally:
        b.stop()
        a.stop()
