"""Replication lag in bytes: the backlog's arithmetic, and a replica paused with SIGSTOP
whose lag in bytes (``slaveN:...,lag_bytes=`` on the primary) rises with every write,
then returns to 0 on both sides (``memvec_lag_bytes`` on the replica) once it resumes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from store.replication import protocol
from store.replication.primary import Backlog
from store.replication.protocol import record_bytes
from store.resp import RequestParser
from store.wal.base import LogRecord
from tests.harness.wait import wait_for

from .nodes import Node, converged, info

VALUE = b"v" * 400


def test_ping_golden_bytes_carry_unsent_bytes() -> None:
    data = protocol.encode_ping(5, 7, 300)
    assert data == b"*4\r\n$8\r\nREPLPING\r\n$1\r\n5\r\n$1\r\n7\r\n$3\r\n300\r\n"
    parser = RequestParser()
    parser.feed(data + protocol.command(protocol.REPLPING, b"5", b"7"))  # the 3-part form
    items = [protocol.decode_item(a) for a in parser.drain()]
    assert items == [protocol.StreamPing(5, 7, 300), protocol.StreamPing(5, 7, 0)]
    assert record_bytes(LogRecord(1, 1, b"abc")) == 25 + 3  # the file log's header + payload


def test_backlog_bytes_after_is_exact_where_held_and_estimated_before() -> None:
    records = [LogRecord(seq, 1, b"x" * seq) for seq in range(1, 11)]
    backlog = Backlog(limit_bytes=1 << 20)
    for rec in records:
        backlog.add(rec)
    assert backlog.first_seq() is None  # no replica attached yet: it holds nothing
    backlog.active = True
    for rec in records:
        backlog.add(rec)

    def exact(seq: int, last: int) -> int:
        return sum(record_bytes(r) for r in records if seq < r.seq <= last)

    for seq, last in ((0, 10), (3, 10), (3, 7), (9, 10), (10, 10), (12, 10)):
        assert backlog.bytes_after(seq, last) == exact(seq, last)
    mean = exact(0, 10) // 10
    assert backlog.bytes_after(8, 13) == exact(8, 10) + 3 * mean  # not added yet

    small = Backlog(limit_bytes=400)  # keeps only the newest few records
    small.active = True
    for rec in records:
        small.add(rec)
    first = small.first_seq()
    assert first is not None and first > 1
    held = exact(first - 1, 10)
    assert small.bytes_after(0, 10) == held + (first - 1) * (held // (11 - first))
    assert Backlog(1 << 20).bytes_after(0, 2) == 2 * record_bytes(LogRecord(0, 0, b""))


def slave_lag_bytes(primary: Node) -> int:
    return int(info(primary)["slave0"]["lag_bytes"])  # redis-py parses "a=1,b=2" into a dict


def write(primary: Node, start: int, n: int) -> None:
    with primary.r.pipeline(transaction=False) as p:
        for i in range(start, start + n):
            p.hset(f"h:{i}", mapping={"v": VALUE})
        p.execute()


def test_lag_bytes_rise_while_a_replica_is_paused_and_return_to_zero(tmp_path: Path) -> None:
    primary = Node(tmp_path / "p")
    replica = Node(tmp_path / "r", "--replicaof", primary.replicaof)
    assert replica.proc is not None
    pid = replica.proc.proc.pid
    stopped = False
    try:
        write(primary, 0, 50)
        wait_for(lambda: converged(primary, replica), 30, message="replica caught up")
        wait_for(lambda: slave_lag_bytes(primary) == 0, 10, message="primary sees no lag")
        assert info(replica)["memvec_lag_bytes"] == 0

        os.kill(pid, signal.SIGSTOP)
        stopped = True
        write(primary, 50, 100)
        first = slave_lag_bytes(primary)
        assert first >= 100 * len(VALUE)
        write(primary, 150, 100)
        second = slave_lag_bytes(primary)
        assert second >= first + 100 * len(VALUE)
        assert info(primary)["memvec_replicas_lag_bytes_max"] == second

        os.kill(pid, signal.SIGCONT)
        stopped = False
        wait_for(lambda: converged(primary, replica), 30, message="replica caught up again")
        wait_for(lambda: slave_lag_bytes(primary) == 0, 10, message="primary lag back to 0")
        fields = info(replica)
        assert fields["memvec_lag_bytes"] == 0 and fields["memvec_lag_records"] == 0
    finally:
        if stopped:
            os.kill(pid, signal.SIGCONT)
        replica.stop()
        primary.stop()
