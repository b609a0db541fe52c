"""KafkaTransactionLog against the real tansu broker: the reading rules in a real topic
(markers, stale epochs, duplicates, gaps), append/wait_durable/durable_future, replay after
reopening, a restart checkpoint, fencing of a writer whose records land after another's
marker, promotion races, close(), and a broker that lost the topic. The pure reading rules
are in test_kafka_reading.py.

Races are made deterministic by holding a log's event-loop thread (``loop_held``): while
it is held the log neither reads the topic nor sends, so a test can put records in the
topic that the held log will only see later. Tests that stop or restart the broker use a
broker of their own (``own_broker``), never the session's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest

from store.errors import DurabilityError
from store.wal import kafka, record
from store.wal.base import LogRecord
from store.wal.kafka import KafkaLogState, KafkaTransactionLog
from store.wal.kafka import client as kafka_client
from store.wal.kafka import log as kafka_log
from store.wal.kafka import reading as kafka_reading
from store.wal.kafka import roles as kafka_roles
from store.wal.position import LogPosition
from tests.harness.components import KafkaBroker
from tests.harness.wait import wait_for

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


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[KafkaBroker]:
    broker = KafkaBroker(log_dir=tmp_path / "broker")
    broker.start()
    yield broker
    broker.stop()


@contextlib.contextmanager
def loop_held(log: KafkaTransactionLog) -> Iterator[None]:
    """Hold ``log``'s event-loop thread (no reading, no sending) inside the block."""
    held, release = threading.Event(), threading.Event()

    def block() -> None:
        held.set()
        release.wait(30)

    log._loop.call_soon(block)
    assert held.wait(5)
    try:
        yield
    finally:
        release.set()


def loop_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("kafka-log:")]


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


def test_public_names_are_importable_from_the_kafka_package() -> None:
    assert kafka.KafkaTransactionLog is kafka_log.KafkaTransactionLog
    assert kafka.CHECKPOINT_FILE is kafka_reading.CHECKPOINT_FILE
    assert kafka.interpret is kafka_reading.interpret
    assert kafka.ReaderState is kafka_reading.ReaderState
    assert kafka.Verdict is kafka_reading.Verdict
    assert kafka.parse_kafka_url is kafka_client.parse_kafka_url
    assert kafka.KafkaLogState is kafka_roles.KafkaLogState


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

    with pytest.raises(DurabilityError, match="fenced"):
        # the deposed writer learns of the marker either from its tail (then the append
        # itself is refused: seen under load) or when its record lands after the marker
        a.wait_durable(a.append(b"after the marker"), 10)
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


def test_fenced_writer_never_confirms_a_record_it_appended_before_reading_the_marker(
    kafka_broker: KafkaBroker, topic: str, logs: list[KafkaTransactionLog]
) -> None:
    a = open_log(logs, kafka_broker, topic)
    a.promote(E1).result(10)
    a.wait_durable(a.append(b"before"), 10)  # seq 2
    assert a.take(0) == [LogRecord(1, E1, b"")]  # its own marker, applied as a follower
    b = open_log(logs, kafka_broker, topic)
    with loop_held(a):
        assert b.promote(E2).result(10) == 3
        for n in range(3):
            b.wait_durable(b.append(b"new%d" % n), 10)  # seqs 4..6
        end = b.read_offset
        zombie = a.append(b"zombie")  # seq 3 at epoch E1: lands after b's records
    wait_for(lambda: a.state is KafkaLogState.FAILED, 10, message="a reads b's marker")
    wait_for(lambda: a.read_offset > end, 10, message="a reads past b's records")
    with pytest.raises(DurabilityError, match="fenced"):
        a.wait_durable(zombie, 5)
    assert isinstance(a.durable_future(zombie).exception(5), DurabilityError)
    assert a.durable_position == LogPosition(3)
    assert a.take(0.05) == []  # a fenced node applies nothing more: it must restart
    with pytest.raises(DurabilityError, match="fenced"):
        a.become_follower()


def test_a_cancelled_durable_future_does_not_stop_the_log(
    kafka_broker: KafkaBroker,
    topic: str,
    logs: list[KafkaTransactionLog],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A client that disconnects cancels its future (``asyncio.wrap_future``): settling
    it must neither raise into the reader (which would stop reading) nor skip the rest."""
    a = open_log(logs, kafka_broker, topic)
    a.promote(E1).result(10)
    with loop_held(a):
        seqs = [a.append(b"w%d" % n) for n in range(20)]
        futures = [a.durable_future(s) for s in seqs]
        for f in futures[::2]:
            assert f.cancel()
    for f in futures[1::2]:
        f.result(10)
    a.wait_durable(a.append(b"later"), 10)
    b = open_log(logs, kafka_broker, topic)
    b.promote(E2).result(10)
    wait_for(lambda: a.state is KafkaLogState.FAILED, 10, message="a still reads: fenced")
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []


def test_a_higher_marker_that_lands_second_wins(
    kafka_broker: KafkaBroker, topic: str, logs: list[KafkaTransactionLog]
) -> None:
    a = open_log(logs, kafka_broker, topic)
    b = open_log(logs, kafka_broker, topic)
    a.start_tail()
    with loop_held(a):
        high = a.promote(E2)  # its marker is sent only after b's has landed
        assert b.promote(E1).result(10) == 1
    assert high.result(10) == 2
    assert a.state is KafkaLogState.WRITER
    wait_for(lambda: b.state is not KafkaLogState.WRITER, 10, message="b fenced")
    a.wait_durable(a.append(b"x"), 10)


def test_close_fails_a_pending_promotion_and_stops_its_thread(
    own_broker: KafkaBroker, topic: str
) -> None:
    log = KafkaTransactionLog(own_broker.bootstrap, topic, fetch_max_wait_ms=20)
    log.open()
    log.start_tail()
    own_broker.stop()
    promotion: Future[int] = log.promote(E1)
    t0 = time.monotonic()
    log.close()
    log.close()
    assert time.monotonic() - t0 < 25
    assert isinstance(promotion.exception(5), DurabilityError)
    assert f"kafka-log:{topic}" not in loop_threads()


def test_a_broker_that_lost_the_topic_fails_the_writer(own_broker: KafkaBroker, topic: str) -> None:
    log = KafkaTransactionLog(own_broker.bootstrap, topic, fetch_max_wait_ms=20)
    try:
        log.open()
        log.promote(E1).result(10)
        for n in range(3):
            log.wait_durable(log.append(b"x%d" % n), 10)
        own_broker.stop()
        own_broker.start()  # memory storage: the topic is gone, its offsets start again at 0
        seq = log.append(b"after the restart")
        with pytest.raises(DurabilityError):
            log.wait_durable(seq, 30)
        assert log.state is KafkaLogState.FAILED
    finally:
        log.close()


def test_close_flushes_and_is_idempotent(
    kafka_broker: KafkaBroker, topic: str, logs: list[KafkaTransactionLog]
) -> None:
    a = open_log(logs, kafka_broker, topic)
    a.promote(E1).result(10)
    futures = [a.durable_future(a.append(b"c%d" % n)) for n in range(50)]
    a.close()
    a.close()
    for f in futures:
        f.result(0)
    assert f"kafka-log:{topic}" not in loop_threads()
    with pytest.raises(DurabilityError):
        a.append(b"after close")
    again = open_log(logs, kafka_broker, topic)
    assert again.next_position == LogPosition(52)
