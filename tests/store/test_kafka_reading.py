"""The Kafka log's reading rules and restart checkpoint (pure: no broker)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from store.errors import LogCorruptError
from store.wal import record
from store.wal.kafka.client import parse_kafka_url
from store.wal.kafka.reading import (
    CHECKPOINT_FILE,
    START,
    ReaderState,
    Verdict,
    interpret,
    load_checkpoint,
    save_checkpoint,
)

E1 = 1 << 32 | 7
E2 = 2 << 32 | 3


def read_all(state: ReaderState, values: list[bytes]) -> tuple[ReaderState, list[object]]:
    out: list[object] = []
    for value in values:
        state, verdict, rec = interpret(state, state.offset, value)
        out.append((verdict, rec.seq))
    return state, out


def test_reading_rules() -> None:
    steps = [
        (record.encode(0, E1, b""), Verdict.MARKER, 1),
        (record.encode(2, E1, b"a"), Verdict.ACCEPTED, 2),
        (record.encode(2, E1, b"a"), Verdict.DUPLICATE, 2),
        (record.encode(0, E1, b""), Verdict.DUPLICATE, 0),  # a retried marker
        (record.encode(9, E1, b"x"), Verdict.GAP, 9),
        (record.encode(0, E2, b""), Verdict.MARKER, 3),
        (record.encode(3, E1, b"zombie"), Verdict.STALE, 3),
        (record.encode(4, E2, b"b"), Verdict.ACCEPTED, 4),
    ]
    state, got = read_all(START, [value for value, _, _ in steps])
    assert got == [(verdict, seq) for _, verdict, seq in steps]
    assert state == ReaderState(len(steps), 5, E2)
    assert [v.accepted for v in Verdict] == [True, True, False, False, False]


def test_unanchored_reading() -> None:
    """Reading that starts mid-topic without a checkpoint: the first data record sets the
    seq; a marker before it only sets the epoch (it cannot know its seq), so records
    after it are not mistaken for gaps."""
    state, got = read_all(ReaderState(40, 0, 0), [record.encode(17, E2, b"c")])
    assert (got, state.expected) == ([(Verdict.ACCEPTED, 17)], 18)
    state, got = read_all(
        ReaderState(40, 0, 0),
        [record.encode(0, E2, b""), record.encode(17, E2, b"c"), record.encode(18, E2, b"d")],
    )
    assert got == [(Verdict.MARKER, 0), (Verdict.ACCEPTED, 17), (Verdict.ACCEPTED, 18)]
    assert state == ReaderState(43, 19, E2)


def test_a_foreign_message_is_corruption() -> None:
    with pytest.raises(LogCorruptError, match="topic of its own"):
        interpret(START, 3, b"not a memvec record")


def test_checkpoint_file(tmp_path: Path) -> None:
    path = tmp_path / CHECKPOINT_FILE
    save_checkpoint(path, "t", ReaderState(5, 3, E1))
    assert json.loads(path.read_bytes()) == {"topic": "t", "offset": 5, "expected": 3, "epoch": E1}
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_FILE]  # no tmp left
    assert load_checkpoint(path, "t") == ReaderState(5, 3, E1)
    assert load_checkpoint(path, "other topic") is None
    assert load_checkpoint(tmp_path / "missing.json", "t") is None
    assert load_checkpoint(None, "t") is None
    for damaged in (b'{"topic": "t", "offset": 5', b"[1, 2]", b'{"topic": "t"}'):
        path.write_bytes(damaged)
        assert load_checkpoint(path, "t") is None


def test_parse_kafka_url() -> None:
    assert parse_kafka_url("kafka://127.0.0.1:9092,h2:9092/memvec") == (
        "127.0.0.1:9092,h2:9092",
        "memvec",
    )
    for bad in ("kafka://127.0.0.1:9092", "s3://b/t", "kafka:///t", "kafka://h:1/a/b"):
        with pytest.raises(ValueError):
            parse_kafka_url(bad)
