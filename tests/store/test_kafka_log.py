"""KafkaTransactionLog against the real tansu broker: the reading rules (markers, stale
epochs, duplicates, gaps), append/wait_durable/durable_future, replay after reopening, a
restart checkpoint, and fencing of a writer whose records land after another's marker."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.errors import DurabilityError
from store.wal import record
from store.wal.base import LogRecord
from store.wal.kafka_log import (
    KafkaLogState,
    KafkaTransactionLog,
    ReaderState,
    Verdict,
    interpret,
    parse_kafka_url,
)
from store.wal.position import LogPosition
from tests.harness.components import KafkaBroker

E1 = 1 << 32 | 7
E2 = 2 << 32 | 3


@pytest.fixture
def topic() -> str:
    return f"memvec-log-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def logs(kafka_broker: KafkaBroker) -> Iterator[list[KafkaTransactionLog]]:
    opened: list[KafkaTransactionLog] = []
    yield opened
    for log in opened:
        log.close()


def open_log(
    logs: list[KafkaTransactionLog], broker: KafkaBroker, topic: str, **kwargs: object
) -> KafkaTransactionLog:
    log = KafkaTransactionLog(broker.bootstrap, topic, fetch_max_wait_ms=20, **kwargs)  # type: ignore[arg-type]
    logs.append(log)
    log.open()
    return log


def produce_raw(broker: KafkaBroker, topic: str, values: list[bytes]) -> None:
    from aiokafka import AIOKafkaProducer

    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        try:
            for value in values:
                await (await producer.send(topic, value, partition=0))
        finally:
            await producer.stop()

    asyncio.run(run())


def test_reading_rules() -> None:
    state = ReaderState(0, 1, 0)
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
    for offset, (value, verdict, seq) in enumerate(steps):
        state, got, rec = interpret(state, offset, value)
        assert (got, rec.seq) == (verdict, seq), offset
    assert state == ReaderState(len(steps), 5, E2)
    # reading that starts mid-topic without a checkpoint adopts the first record's seq
    state, got, rec = interpret(ReaderState(40, 0, 0), 40, record.encode(17, E2, b"c"))
    assert (got, rec.seq, state.expected) == (Verdict.ACCEPTED, 17, 18)
    assert parse_kafka_url("kafka://127.0.0.1:9092,h2:9092/memvec") == (
        "127.0.0.1:9092,h2:9092",
        "memvec",
    )
    with pytest.raises(ValueError):
        parse_kafka_url("kafka://127.0.0.1:9092")


def test_append_wait_durable_and_replay(
    kafka_broker: KafkaBroker, topic: str, logs: list[KafkaTransactionLog], tmp_path: Path
) -> None:
    log = open_log(logs, kafka_broker, topic, checkpoint_dir=tmp_path)
    assert log.state is KafkaLogState.FOLLOWER
    with pytest.raises(DurabilityError, match="REPLICAOF NO ONE"):
        log.append(b"refused")
    assert log.promote(E1).result(10) == 1
    assert log.state is KafkaLogState.WRITER
    seqs = [log.append(b"p%d" % i) for i in range(300)]
    assert seqs == list(range(2, 302))
    futures = [log.durable_future(s) for s in seqs[::50]]
    log.wait_durable(301, 10)
    for f in futures:
        f.result(1)
    assert log.durable_position == LogPosition(302)
    log.drop_before(LogPosition(290))  # a snapshot covers up to 289: checkpoint
    assert (tmp_path / "kafka-checkpoint.json").exists()
    log.close()

    again = open_log(logs, kafka_broker, topic, checkpoint_dir=tmp_path)
    assert again.next_position == LogPosition(302)
    tail = list(again.read_from(LogPosition(290)))
    assert [r.seq for r in tail] == list(range(290, 302))
    assert tail[-1] == LogRecord(301, E1, b"p299")

    fresh = open_log(logs, kafka_broker, topic)  # no checkpoint: from offset 0
    report_all = list(fresh.read_from(LogPosition(1)))
    assert report_all[0] == LogRecord(1, E1, b"")
    assert [r.payload for r in report_all[1:]] == [b"p%d" % i for i in range(300)]


def test_duplicates_stale_and_gaps_are_dropped(
    kafka_broker: KafkaBroker, topic: str, logs: list[KafkaTransactionLog]
) -> None:
    produce_raw(
        kafka_broker,
        topic,
        [
            record.encode(0, E1, b""),
            record.encode(2, E1, b"a"),
            record.encode(2, E1, b"a"),  # producer retry
            record.encode(3, E1, b"b"),
            record.encode(5, E1, b"lost"),  # after a failed delivery of seq 4
            record.encode(0, E2, b""),
            record.encode(4, E1, b"zombie"),  # the deposed writer, after the marker
            record.encode(5, E2, b"c"),
        ],
    )
    log = open_log(logs, kafka_broker, topic)
    got = [(r.seq, r.epoch, r.payload) for r in log.read_from(LogPosition(1))]
    assert got == [(1, E1, b""), (2, E1, b"a"), (3, E1, b"b"), (4, E2, b""), (5, E2, b"c")]
    assert log.next_position == LogPosition(6)
    assert log.highest_epoch == E2


def test_writer_fenced_by_a_later_marker(
    kafka_broker: KafkaBroker, topic: str, logs: list[KafkaTransactionLog]
) -> None:
    a = open_log(logs, kafka_broker, topic)
    a.promote(E1).result(10)
    a.wait_durable(a.append(b"before"), 10)

    b = open_log(logs, kafka_broker, topic)
    assert b.promote(E2).result(10) == 3
    b.start_tail()
    assert b.take(1)[-1] == LogRecord(3, E2, b"")

    late = a.append(b"after the marker")
    with pytest.raises(DurabilityError, match="fenced"):
        a.wait_durable(late, 10)
    with pytest.raises(DurabilityError, match="fenced"):
        a.append(b"refused")
    assert a.state is KafkaLogState.FAILED

    b.wait_durable(b.append(b"new"), 10)
    c = open_log(logs, kafka_broker, topic)
    got = [(r.seq, r.payload) for r in c.read_from(LogPosition(1))]
    assert got == [(1, b""), (2, b"before"), (3, b""), (4, b"new")]


def test_server_option_log() -> None:
    from store.server.cli import config_from_args
    from store.server.config import ServerConfig

    def parse(**values: str) -> ServerConfig:
        return config_from_args(argparse.Namespace(**values), {})

    assert parse(log="kafka://127.0.0.1:9092/t").log == "kafka://127.0.0.1:9092/t"
    assert parse(log="file").log is None
    with pytest.raises(ValueError, match="--log must be"):
        parse(log="s3://bucket/log")
    with pytest.raises(ValueError, match=r"min\.insync\.replicas"):
        parse(log="kafka://h:1/t", min_replicas_to_ack="1")
