"""Golden bytes of the replication stream, and the log operations replicas rely on:
``FileLog.append_record`` (keep the primary's seq and epoch), ``FileLog.reset`` (restart
at a snapshot's position), ``Engine.replicate`` / ``Engine.promote``."""

from __future__ import annotations

from pathlib import Path

import pytest

from store.config import EngineConfig
from store.engine import Engine
from store.replication import protocol
from store.replication.role import parse_hostport
from store.resp import RequestParser
from store.wal.base import LogRecord
from store.wal.file_log import FileLog
from store.wal.payload import encode_commands
from store.wal.position import LogPosition


def test_record_golden_bytes() -> None:
    data = protocol.encode_record(LogRecord(7, 2, b"*1\r\n$4\r\nPING\r\n"), 1700000000123)
    assert data == (
        b"*5\r\n$7\r\nREPLREC\r\n$1\r\n7\r\n$1\r\n2\r\n$13\r\n1700000000123\r\n"
        b"$14\r\n*1\r\n$4\r\nPING\r\n\r\n"
    )
    parser = RequestParser()
    parser.feed(data + protocol.encode_ping(5, 7))
    items = [protocol.decode_item(a) for a in parser.drain()]
    assert items == [
        protocol.StreamRecord(LogRecord(7, 2, b"*1\r\n$4\r\nPING\r\n"), 1700000000123),
        protocol.StreamPing(5, 7),
    ]


def test_handshake_golden_bytes() -> None:
    assert protocol.continue_line("abc", 3) == b"+CONTINUE abc 3\r\n"
    assert protocol.fullresync_header("abc", 10, 3, 42) == b"+FULLRESYNC abc 10 3\r\n$42\r\n"
    assert protocol.command(b"REPLCONF", b"ACK", b"9") == (
        b"*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$1\r\n9\r\n"
    )
    assert protocol.parse_answer(b"+FULLRESYNC abc 10 3\r\n") == ("FULLRESYNC", ["abc", "10", "3"])
    with pytest.raises(protocol.StreamError, match="refused"):
        protocol.parse_answer(b"-ERR no\r\n")
    with pytest.raises(protocol.StreamError):
        protocol.decode_item([b"REPLREC", b"x", b"1", b"1", b""])
    assert parse_hostport("127.0.0.1:6379") == ("127.0.0.1", 6379)
    assert parse_hostport("[::1]:7000") == ("::1", 7000)


def test_epochs_are_terms_with_random_tags() -> None:
    a, b = protocol.new_epoch(1), protocol.new_epoch(1)
    assert protocol.term_of(a) == protocol.term_of(b) == 1
    assert a != b  # two fresh histories never share an epoch (31 random bits)
    assert protocol.term_of(protocol.new_epoch(2)) == 2
    assert protocol.new_epoch(2) > a  # epochs order by term first


def test_append_record_keeps_seq_and_epoch(tmp_path: Path) -> None:
    log = FileLog(tmp_path / "log")
    log.open()
    assert log.append_record(1, 5, b"a") == 1
    with pytest.raises(ValueError, match="does not follow"):
        log.append_record(3, 5, b"c")
    log.set_epoch(6)
    assert log.append(b"b") == 2
    log.wait_durable(2)
    assert [(r.seq, r.epoch) for r in log.read_from(LogPosition(1))] == [(1, 5), (2, 6)]
    log.close()


def test_reset_restarts_at_a_position_and_survives_reopen(tmp_path: Path) -> None:
    log = FileLog(tmp_path / "log", segment_max_bytes=64)
    log.open()
    for _ in range(10):
        log.append(b"x" * 30)
    log.wait_durable(10)
    log.reset(LogPosition(100))
    assert log.next_position == LogPosition(100)
    assert log.durable_position == LogPosition(100)
    with pytest.raises(ValueError, match="dropped"):
        list(log.read_from(LogPosition(5)))
    assert log.append_record(100, 1, b"y") == 100
    log.wait_durable(100)
    log.close()
    again = FileLog(tmp_path / "log")
    report = again.open()
    assert report.first_position == LogPosition(100)
    assert report.next_position == LogPosition(101)
    assert [r.seq for r in again.read_from(LogPosition(100))] == [100]
    assert again.recovered_epoch == 1
    again.close()


def test_engine_replicate_promote_and_install(tmp_path: Path) -> None:
    with Engine(EngineConfig(data_dir=tmp_path / "a")) as primary:
        primary.execute("SET", "k", "1")
        primary.execute("HSET", "h", "f", "v")
        records = list(primary.transaction_log.read_from(LogPosition(1)))  # type: ignore[union-attr]
        position, snap = primary.persistence.write_temp_snapshot()
    with Engine(EngineConfig(data_dir=tmp_path / "b", read_only=True)) as replica:
        last = replica.replicate(records[:1])
        assert last == 1
        replica.wait_durable(1)
        assert replica.execute("GET", "k") == b"1"
        assert replica.persistence.install(snap) == position
        assert replica.execute("HGET", "h", "f") == b"v"
        replica.set_read_only(False)
        seq = replica.promote(replica.last_epoch + 1)
        assert seq == position.seq
        replica.execute("SET", "after", "1")
    with Engine(EngineConfig(data_dir=tmp_path / "b")) as reopened:
        assert reopened.execute("GET", "after") == b"1"
        assert reopened.execute("HGET", "h", "f") == b"v"
        assert reopened.last_epoch == 1
        assert reopened.transaction_log.epoch == 1  # type: ignore[union-attr]
    assert encode_commands([]) == b""
