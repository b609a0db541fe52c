"""Automatic failover on the Kafka log (``--auto-failover``): real ``memvec server``
processes, the real Kafka-protocol broker (tansu), a Kafka consumer group as the lease.

Three nodes start with the same flags and no roles; the group elects one writer, the
others follow and name it in ``ROLE``. Clients write to the writer; it is ``kill -9``ed;
with no operator action another node wins the lease, promotes, and accepts writes: every
write a client saw acknowledged is on it, the third node follows the new writer, and the
time from the kill to the first accepted write is measured (and printed). A node that
joins later neither takes the lease from the writer nor disturbs it.
"""

from __future__ import annotations

import time
import uuid
from functools import partial
from pathlib import Path

import pytest
import redis

from tests.harness.components import KafkaBroker
from tests.harness.wait import wait_for

from .nodes import Node, QueuedWrite, keyspace, offset
from .test_failover import Writer, acked_at_least

TIMEOUT_MS = "1500"  # the lease's session timeout: how long a silent writer keeps it


def role(node: Node) -> list[object]:
    try:
        return list(node.r.execute_command("ROLE"))
    except redis.RedisError:
        return []


def writers_of(nodes: list[Node]) -> list[Node]:
    return [n for n in nodes if role(n)[:1] == [b"master"]]


def accepts_writes(node: Node) -> bool:
    try:
        return node.r.set("probe", 1) is True
    except redis.RedisError:
        return False


@pytest.fixture
def log_url(kafka_broker: KafkaBroker) -> str:
    return f"kafka://{kafka_broker.bootstrap}/memvec-auto-{uuid.uuid4().hex[:12]}"


@pytest.mark.slow
def test_kill9_of_the_writer_elects_another_with_every_acknowledged_write(
    tmp_path: Path, log_url: str
) -> None:
    flags = ("--log", log_url, "--auto-failover", "yes", "--failover-timeout-ms", TIMEOUT_MS)
    nodes = [Node(tmp_path / f"n{i}", *flags) for i in range(3)]
    late: Node | None = None
    try:
        wait_for(lambda: len(writers_of(nodes)) == 1, 30, message="one writer elected")
        (first,) = writers_of(nodes)
        wait_for(partial(accepts_writes, first), 20, message="the writer accepts writes")
        others = [n for n in nodes if n is not first]
        address = f"127.0.0.1:{first.port}"
        for n in others:
            wait_for(lambda n=n: role(n)[1:3] == [b"127.0.0.1", first.port], 20,
                     message="followers name the writer")  # fmt: skip
            with pytest.raises(redis.ReadOnlyError):
                n.r.set("x", 1)
        late = Node(tmp_path / "late", *flags)  # joins: a rebalance, the writer keeps it
        wait_for(lambda: role(late)[1:3] == [b"127.0.0.1", first.port], 20,
                 message="a late node follows the writer")  # fmt: skip
        assert writers_of([*nodes, late]) == [first], address

        writers = [Writer(first.port or 0, f"w{i}") for i in range(2)]
        for w in writers:
            w.start()
        wait_for(partial(acked_at_least, writers, 300), 20, message="load")
        first.kill9()
        killed_at = time.monotonic()
        for w in writers:
            w.stop.set()
        survivors = [*others, late]
        wait_for(lambda: len(writers_of(survivors)) == 1, 30, message="a new writer")
        (second,) = writers_of(survivors)
        wait_for(partial(accepts_writes, second), 30, message="the new writer accepts writes")
        failover_s = time.monotonic() - killed_at
        print(f"auto failover: kill -9 to first accepted write {failover_s:.2f} s "
              f"(lease timeout {TIMEOUT_MS} ms)")  # fmt: skip
        acked: set[bytes] = set()
        for w in writers:
            w.join(15)
            acked |= w.acked
        present = {k for k in acked if second.r.exists(k)}
        assert present == acked, f"lost {len(acked - present)} of {len(acked)} acked writes"
        for n in survivors:
            if n is not second:
                wait_for(lambda n=n: role(n)[1:3] == [b"127.0.0.1", second.port], 20,
                         message="followers name the new writer")  # fmt: skip
                wait_for(lambda n=n: offset(n) == offset(second), 20, message="caught up")
                assert keyspace(n) == keyspace(second)
    finally:
        for node in (*nodes, late):
            if node is not None:
                node.stop()


def test_a_paused_writer_is_replaced_and_fenced(tmp_path: Path, log_url: str) -> None:
    """The writer is SIGSTOPped with a write queued: the group drops it after the lease
    timeout and another node promotes; SIGCONT: the queued write is refused (never
    acknowledged), the old writer no longer writes, and the new one never has the write."""
    import os
    import signal

    flags = ("--log", log_url, "--auto-failover", "yes", "--failover-timeout-ms", TIMEOUT_MS)
    nodes = [Node(tmp_path / f"n{i}", *flags) for i in range(2)]
    pid = 0
    try:
        wait_for(lambda: len(writers_of(nodes)) == 1, 30, message="one writer elected")
        (old,) = writers_of(nodes)
        (new,) = [n for n in nodes if n is not old]
        wait_for(partial(accepts_writes, old), 20, message="the writer accepts writes")
        assert old.proc is not None
        pid = old.proc.proc.pid
        os.kill(pid, signal.SIGSTOP)
        queued = QueuedWrite(old, "zombie", 30)
        wait_for(partial(accepts_writes, new), 30, message="the other node takes over")
        new.r.set("y", 2)
        os.kill(pid, signal.SIGCONT)
        pid = 0
        queued.join(30)
        outcome = queued.outcome
        assert len(outcome) == 1 and isinstance(outcome[0], redis.ResponseError), outcome
        wait_for(lambda: not accepts_writes(old), 20, message="the old writer stops writing")
        assert new.r.exists("zombie") == 0 and new.r.get("y") == b"2"
    finally:
        if pid:
            os.kill(pid, signal.SIGCONT)
        for node in nodes:
            node.stop()
