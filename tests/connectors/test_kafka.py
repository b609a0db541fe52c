"""Kafka source and sink against the real tansu broker, plus the offset ledger on its own.

What is pinned: batches of one partition in offset order; resume from the committed offset
after a restart with no loss and no redelivery beyond the unacknowledged window; two
members of a group, one stopped mid-batch: every record processed and no commit ever past
unacknowledged work (checked at every commit); a late ack of a batch abandoned by a
rebalance is a no-op; a commit lost to a rebalance goes with the revoke; the producer
sink's deliveries and ordering; error translation. The shared Source contract suite
(test_source_contract.py) runs here too: its tests are imported and resolve `harness` from
this module.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError

from connectors.base import Batch, Record, Source
from connectors.errors import EndpointUnavailable
from connectors.kafka_config import KafkaClientState, KafkaSecurity
from connectors.kafka_sink import KafkaSink, OutgoingRecord
from connectors.kafka_source import KafkaSource, PartitionLedger
from store.aio import within
from tests.connectors.test_source_contract import (  # noqa: F401  (run here, on Kafka)
    Harness,
    test_ack_of_a_later_batch_never_loses_an_earlier_one,
    test_everything_delivered_once_when_acked,
    test_records_carry_their_origin,
    test_resume_after_restart,
)
from tests.harness import FAST_GROUP_TIMEOUTS, KafkaBroker, free_port, unique_name, wait_for_async

GROUP_TIMEOUTS: dict[str, Any] = dict(FAST_GROUP_TIMEOUTS)


async def _create_topic(bootstrap: str, partitions: int) -> str:
    topic = unique_name("kafka-src")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, num_partitions=partitions, replication_factor=1)]
        )
    finally:
        await admin.close()
    return topic


async def _produce(bootstrap: str, topic: str, partitions: int, per_partition: int) -> None:
    """``per_partition`` records on each partition, values ``b"p:i"`` at offset i."""
    async with KafkaSink(bootstrap) as sink:
        await sink.send_batch(
            topic,
            [
                OutgoingRecord(value=f"{p}:{i}".encode(), key=f"k{p}".encode(), partition=p)
                for i in range(per_partition)
                for p in range(partitions)
            ],
        )


class Tracker:
    """What every member acknowledged, and every commit checked against it when it is made."""

    def __init__(self) -> None:
        self.acked: dict[int, set[int]] = defaultdict(set)
        self.by_member: dict[str, list[Batch]] = defaultdict(list)
        self.commits: list[tuple[str, int, int]] = []
        self.violations: list[str] = []

    def record_ack(self, member: str, batch: Batch) -> None:
        self.by_member[member].append(batch)
        self.acked[int(batch.partition)].update(int(r.position) for r in batch.records)

    def check_commit(self, member: str, offsets: dict[TopicPartition, int]) -> None:
        for tp, offset in offsets.items():
            self.commits.append((member, tp.partition, offset))
            unacked = [o for o in range(offset) if o not in self.acked[tp.partition]]
            if unacked:
                self.violations.append(
                    f"{member} committed {offset} on partition {tp.partition} "
                    f"with {unacked[:5]} unacknowledged"
                )

    def covers(self, partitions: int, per_partition: int) -> bool:
        return all(self.acked[p] >= set(range(per_partition)) for p in range(partitions))


class CheckedSource(KafkaSource):
    def __init__(self, *args: Any, tracker: Tracker, member: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tracker = tracker
        self.member = member

    async def _commit_offsets(self, offsets: dict[TopicPartition, int]) -> None:
        self.tracker.check_commit(self.member, offsets)
        await super()._commit_offsets(offsets)


def _source(
    broker: KafkaBroker, topic: str, group: str, tracker: Tracker, member: str
) -> CheckedSource:
    return CheckedSource(
        broker.bootstrap,
        [topic],
        group,
        tracker=tracker,
        member=member,
        fetch_max_wait_ms=100,
        **GROUP_TIMEOUTS,
    )


async def _next_batch(source: KafkaSource, max_records: int = 10, timeout_s: float = 20) -> Batch:
    async def one() -> Batch | None:
        return await source.get_batch(max_records, 0.2)

    return await wait_for_async(one, timeout_s, interval_s=0, message="no batch arrived")


async def _drain(
    source: KafkaSource, tracker: Tracker, member: str, done: Callable[[], bool], timeout_s: float
) -> None:
    async def step() -> bool:
        batch = await source.get_batch(10, 0.2)
        if batch is not None:
            tracker.record_ack(member, batch)
            await source.ack(batch)
        return done()

    await wait_for_async(step, timeout_s, interval_s=0, message=f"{member} did not drain")


def _offsets(records: tuple[Record, ...]) -> list[int]:
    return [int(r.position) for r in records]


def _batch(first: int, count: int) -> Batch:
    records = tuple(Record("kafka", "t", "0", str(o), b"v") for o in range(first, first + count))
    return Batch("t", "0", records)


def test_ledger_commits_only_the_acknowledged_prefix() -> None:
    ledger = PartitionLedger()
    one, two, three = _batch(0, 5), _batch(5, 5), _batch(10, 5)
    for batch, end in ((one, 5), (two, 10), (three, 15)):
        ledger.hand_out(batch, end)
    assert ledger.ack(two)
    assert ledger.to_commit() is None
    assert ledger.ack(one)
    assert ledger.to_commit() == 10
    ledger.mark_committed(10)
    assert ledger.to_commit() is None
    assert not ledger.ack(_batch(10, 5)), "an equal batch is not the one handed out"
    assert ledger.abandon() == [three]
    assert ledger.in_flight == 0


def test_security_options_are_validated() -> None:
    with pytest.raises(ValueError, match="ssl_context"):
        KafkaSecurity(security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512")
    sasl = KafkaSecurity(
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username="u",
        sasl_plain_password="p",
    )
    assert sasl.as_kwargs()["sasl_plain_username"] == "u"


async def test_unreachable_broker_is_endpoint_unavailable() -> None:
    source = KafkaSource(
        f"127.0.0.1:{free_port()}", ["t"], "g", client_options={"request_timeout_ms": 2000}
    )
    with pytest.raises(EndpointUnavailable):
        await source.start()
    await source.stop()


async def test_sink_delivers_in_order(kafka_broker: KafkaBroker) -> None:
    topic = await _create_topic(kafka_broker.bootstrap, 2)
    async with KafkaSink(kafka_broker.bootstrap) as sink:
        first = await sink.send(topic, b"a", b"k", headers=[("h", b"1")], partition=1)
        rest = await sink.send_batch(topic, [(b"k", b"b"), (b"k", b"c")])
    assert (first.partition, first.offset) == (1, 0)
    assert len({d.partition for d in rest}) == 1
    assert rest[1].offset == rest[0].offset + 1
    assert sink.state is KafkaClientState.STOPPED


async def test_batches_are_one_partition_in_order(kafka_broker: KafkaBroker) -> None:
    partitions, per_partition = 3, 30
    topic = await _create_topic(kafka_broker.bootstrap, partitions)
    await _produce(kafka_broker.bootstrap, topic, partitions, per_partition)
    tracker = Tracker()
    seen: dict[int, list[Record]] = defaultdict(list)
    async with _source(kafka_broker, topic, unique_name("g"), tracker, "a") as source:
        while not tracker.covers(partitions, per_partition):
            batch = await _next_batch(source, max_records=7)
            assert 0 < len(batch.records) <= 7
            assert {r.partition for r in batch.records} == {batch.partition}
            seen[int(batch.partition)].extend(batch.records)
            tracker.record_ack("a", batch)
            await source.ack(batch)
        assert source.committed() == {(topic, p): per_partition for p in range(partitions)}
    for p in range(partitions):
        assert _offsets(tuple(seen[p])) == list(range(per_partition))
        assert [r.value for r in seen[p]] == [f"{p}:{i}".encode() for i in range(per_partition)]
        assert seen[p][0].key == f"k{p}".encode()
    assert not tracker.violations


async def test_resume_after_restart_from_last_ack(kafka_broker: KafkaBroker) -> None:
    topic = await _create_topic(kafka_broker.bootstrap, 1)
    await _produce(kafka_broker.bootstrap, topic, 1, 50)
    group, tracker = unique_name("g"), Tracker()
    first = _source(kafka_broker, topic, group, tracker, "first")
    async with first:
        for _ in range(3):
            batch = await _next_batch(first)
            tracker.record_ack("first", batch)
            await first.ack(batch)
        unacked = await _next_batch(first)
    last_acked = int(tracker.by_member["first"][-1].records[-1].position)
    assert int(unacked.records[0].position) == last_acked + 1
    assert first.abandoned_batches == 1

    second = _source(kafka_broker, topic, group, tracker, "second")
    async with second:
        resumed = await _next_batch(second, timeout_s=30)
        assert int(resumed.records[0].position) == last_acked + 1
        tracker.record_ack("second", resumed)
        await second.ack(resumed)
        await _drain(second, tracker, "second", lambda: tracker.covers(1, 50), 20)
    redelivered = [int(r.position) for b in tracker.by_member["second"] for r in b.records]
    assert redelivered == list(range(last_acked + 1, 50))
    assert not tracker.violations


async def test_late_ack_after_rebalance_on_join_is_a_no_op(kafka_broker: KafkaBroker) -> None:
    partitions, per_partition = 2, 20
    topic = await _create_topic(kafka_broker.bootstrap, partitions)
    await _produce(kafka_broker.bootstrap, topic, partitions, per_partition)
    group, tracker = unique_name("g"), Tracker()
    a = _source(kafka_broker, topic, group, tracker, "a")
    b = _source(kafka_broker, topic, group, tracker, "b")
    async with a:
        held = await _next_batch(a, max_records=5)
        async with b:
            await wait_for_async(
                lambda: a.assignment and b.assignment and a.assignment.isdisjoint(b.assignment),
                30,
                message="the group did not rebalance when b joined",
            )
            assert a.assignment | b.assignment == {(topic, p) for p in range(partitions)}
            commits_before = list(tracker.commits)
            await a.ack(held)
            assert tracker.commits == commits_before, "an abandoned batch was committed"
            assert a.abandoned_batches == 1
            with pytest.raises(ValueError, match="did not hand out"):
                await a.ack(_batch(0, 1))
            done = lambda: tracker.covers(partitions, per_partition)  # noqa: E731
            await asyncio.gather(
                _drain(a, tracker, "a", done, 30), _drain(b, tracker, "b", done, 30)
            )
    assert not tracker.violations


class FlakyCommitSource(CheckedSource):
    """Its first commit is lost to a rebalance, as a broker rejecting a stale generation."""

    lost = 0

    async def _commit_offsets(self, offsets: dict[TopicPartition, int]) -> None:
        if not self.lost:
            self.lost += 1
            raise CommitFailedError("the group rebalanced")
        await super()._commit_offsets(offsets)


async def test_commit_lost_to_a_rebalance_goes_with_the_revoke(kafka_broker: KafkaBroker) -> None:
    topic = await _create_topic(kafka_broker.bootstrap, 2)
    await _produce(kafka_broker.bootstrap, topic, 2, 10)
    group, tracker = unique_name("g"), Tracker()
    a = FlakyCommitSource(
        kafka_broker.bootstrap, [topic], group, tracker=tracker, member="a", **GROUP_TIMEOUTS
    )
    async with a:
        batch = await _next_batch(a, max_records=4)
        tracker.record_ack("a", batch)
        await a.ack(batch)
        assert a.lost == 1 and tracker.commits == [], "the lost commit was not swallowed"
        async with _source(kafka_broker, topic, group, tracker, "b") as b:
            await wait_for_async(lambda: b.assignment, 30, message="b got no partition")
        position = int(batch.records[-1].position) + 1
        assert ("a", int(batch.partition), position) in tracker.commits
    committed = await _committed_offsets(kafka_broker.bootstrap, topic, group, 2)
    assert committed[int(batch.partition)] == position
    assert not tracker.violations


async def test_stop_releases_a_waiting_get_batch(kafka_broker: KafkaBroker) -> None:
    topic = await _create_topic(kafka_broker.bootstrap, 1)
    source = KafkaSource(
        kafka_broker.bootstrap, [topic], unique_name("g"), join_timeout_s=20, **GROUP_TIMEOUTS
    )
    await source.start()
    waiting = asyncio.create_task(source.get_batch(10, timeout_s=30))
    await asyncio.sleep(0.1)
    await source.stop()
    assert await within(waiting, 10) is None
    assert source.state is KafkaClientState.STOPPED


async def _committed_offsets(
    bootstrap: str, topic: str, group: str, partitions: int
) -> dict[int, int | None]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        return {p: await consumer.committed(TopicPartition(topic, p)) for p in range(partitions)}
    finally:
        await consumer.stop()


async def test_member_stopped_mid_batch_loses_nothing(kafka_broker: KafkaBroker) -> None:
    """Done-when: two consumers, one stopped mid-batch; all processed, no commit past work."""
    partitions, per_partition = 4, 50
    topic = await _create_topic(kafka_broker.bootstrap, partitions)
    await _produce(kafka_broker.bootstrap, topic, partitions, per_partition)
    group, tracker = unique_name("g"), Tracker()
    a = _source(kafka_broker, topic, group, tracker, "a")
    b = _source(kafka_broker, topic, group, tracker, "b")
    done = lambda: tracker.covers(partitions, per_partition)  # noqa: E731
    await a.start()
    try:
        for _ in range(3):
            batch = await _next_batch(a)
            tracker.record_ack("a", batch)
            await a.ack(batch)
        await b.start()
        await wait_for_async(
            lambda: a.assignment and b.assignment and a.assignment.isdisjoint(b.assignment),
            30,
            message="the group did not rebalance when b joined",
        )
        b_drains = asyncio.create_task(_drain(b, tracker, "b", done, 40))
        held = await _next_batch(a)
        await a.stop()
        held_offsets = {int(r.position) for r in held.records}
        await b_drains
        acked_by_b = {
            int(r.position)
            for batch in tracker.by_member["b"]
            if batch.partition == held.partition
            for r in batch.records
        }
        assert held_offsets <= acked_by_b, "the batch a held was not redone by b"
    finally:
        await a.stop()
        await b.stop()
    assert not tracker.violations, tracker.violations
    assert {member for member, _, _ in tracker.commits} == {"a", "b"}
    highest: dict[int, int] = defaultdict(int)
    for _, partition, offset in tracker.commits:
        highest[partition] = max(highest[partition], offset)
    assert highest == dict.fromkeys(range(partitions), per_partition)
    committed = await _committed_offsets(kafka_broker.bootstrap, topic, group, partitions)
    assert committed == dict.fromkeys(range(partitions), per_partition)


@pytest.fixture
async def harness(kafka_broker: KafkaBroker) -> Harness:
    """The shared Source contract (imported from test_source_contract) on KafkaSource."""
    topic = await _create_topic(kafka_broker.bootstrap, 2)
    group = unique_name("contract")

    async def produce(values: list[bytes]) -> None:
        async with KafkaSink(kafka_broker.bootstrap) as sink:
            await sink.send_batch(
                topic, [OutgoingRecord(value=v, partition=i % 2) for i, v in enumerate(values)]
            )

    def make_source() -> Source:
        return KafkaSource(
            kafka_broker.bootstrap,
            [topic],
            group,
            fetch_max_wait_ms=100,
            join_timeout_s=20,
            **GROUP_TIMEOUTS,
        )

    return Harness(produce, make_source, ordered=True)
