"""The Source contract, run against MemorySource, SqsSource on a standard queue (no order:
set equality) and SqsSource on a FIFO queue (order) on moto server.

Contract checked: no loss, no duplicates while every batch is acknowledged, order within a
partition where the source promises one, resume after a restart from the acknowledged
position (unacknowledged records come again, acknowledged ones never do).
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from connectors.base import Batch, Source
from connectors.memory import MemoryLog, MemorySource
from connectors.sqs import SqsSink, SqsSource
from tests.harness import unique_name


@dataclass
class Harness:
    produce: Callable[[list[bytes]], Any]  # may return an awaitable
    make_source: Callable[[], Source]
    ordered: bool
    # SQS FIFO: while a message group has messages in flight, no more of that group are
    # handed out, so a second batch cannot be read before the first is acknowledged.
    one_batch_in_flight: bool = False

    async def send(self, values: list[bytes]) -> None:
        result = self.produce(values)
        if asyncio.iscoroutine(result):
            await result


@pytest.fixture(params=["memory", "sqs-standard", "sqs-fifo", "kinesis"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "memory":
        log = MemoryLog(stream="contract", partitions=2)

        def produce(values: list[bytes]) -> None:
            for i, value in enumerate(values):
                log.append(value, partition=i % 2)

        yield Harness(produce, lambda: MemorySource(log, group="g"), ordered=True)
        return

    moto = request.getfixturevalue("moto_server")
    if request.param == "kinesis":
        from connectors.kinesis import KinesisSource

        kinesis = moto.client("kinesis")
        stream, table = unique_name("contract"), unique_name("leases")
        kinesis.create_stream(StreamName=stream, ShardCount=2)

        def put(values: list[bytes]) -> None:
            records = [{"Data": v, "PartitionKey": str(i)} for i, v in enumerate(values)]
            kinesis.put_records(StreamName=stream, Records=records)

        def make_kinesis() -> Source:
            return KinesisSource(
                stream,
                lease_table=table,
                worker_id=unique_name("w"),
                kinesis_client=kinesis,
                dynamodb_client=moto.client("dynamodb"),
                poll_interval_s=0.05,
                lease_timeout_s=1.5,
            )

        yield Harness(put, make_kinesis, ordered=True)
        return

    client = moto.client("sqs")
    fifo = request.param == "sqs-fifo"
    name = unique_name("contract") + (".fifo" if fifo else "")
    attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true"} if fifo else {}
    queue_url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    sink = SqsSink(queue_url, client=client)

    async def send(values: list[bytes]) -> None:
        await sink.send(values, group_id="g" if fifo else None)

    def make_source() -> Source:
        return SqsSource(queue_url, client=client, visibility_timeout_s=10, max_wait_s=1)

    yield Harness(send, make_source, ordered=fifo, one_batch_in_flight=fifo)


def values(n: int, tag: str = "") -> list[bytes]:
    return [f"{tag}record-{i:03d}".encode() for i in range(n)]


async def read_until_quiet(
    source: Source, *, max_records: int = 7, ack: bool = True
) -> list[Batch]:
    """Batches until one poll comes back empty (after at least one batch or 3 s)."""
    batches: list[Batch] = []
    deadline = asyncio.get_running_loop().time() + 3
    while True:
        batch = await source.get_batch(max_records, timeout_s=0.2)
        if batch is None:
            if batches or asyncio.get_running_loop().time() > deadline:
                return batches
            continue
        batches.append(batch)
        if ack:
            await source.ack(batch)


def check_order(batches: list[Batch]) -> None:
    per_partition: dict[str, list[bytes]] = defaultdict(list)
    for batch in batches:
        assert all(r.partition == batch.partition for r in batch.records)
        per_partition[batch.partition].extend(r.value for r in batch.records)
    for partition, seen in per_partition.items():
        assert seen == sorted(seen), f"partition {partition!r} out of order"


def flat(batches: list[Batch]) -> list[bytes]:
    return [r.value for b in batches for r in b.records]


async def test_everything_delivered_once_when_acked(harness: Harness) -> None:
    sent = values(25)
    await harness.send(sent)
    source = harness.make_source()
    await source.start()
    try:
        batches = await read_until_quiet(source)
        assert Counter(flat(batches)) == Counter(sent)
        assert all(0 < len(b.records) <= 7 for b in batches)
        if harness.ordered:
            check_order(batches)
        assert await source.get_batch(10, timeout_s=0.2) is None
    finally:
        await source.stop()


async def test_resume_after_restart(harness: Harness) -> None:
    sent = values(20)
    await harness.send(sent)
    first = harness.make_source()
    await first.start()
    acked = await first.get_batch(5, timeout_s=2)
    assert acked is not None
    await first.ack(acked)
    unacked = await first.get_batch(5, timeout_s=2)
    assert unacked is not None
    await first.stop()
    await first.stop()  # idempotent

    second = harness.make_source()
    await second.start()
    try:
        batches = await read_until_quiet(second)
    finally:
        await second.stop()
    again = flat(batches)
    assert Counter(again) == Counter(v for v in sent if v not in set(flat([acked])))
    assert set(flat([unacked])) <= set(again)
    if harness.ordered:
        check_order(batches)

    third = harness.make_source()
    await third.start()
    try:
        assert await third.get_batch(10, timeout_s=0.2) is None
    finally:
        await third.stop()


async def test_ack_of_a_later_batch_never_loses_an_earlier_one(harness: Harness) -> None:
    sent = values(12)
    await harness.send(sent)
    first = harness.make_source()
    await first.start()
    early = await first.get_batch(3, timeout_s=2)
    assert early is not None
    if harness.one_batch_in_flight:
        assert await first.get_batch(3, timeout_s=0.2) is None
        await first.stop()
        return
    late = await first.get_batch(3, timeout_s=2)
    assert late is not None
    await first.ack(late)
    await first.stop()

    second = harness.make_source()
    await second.start()
    try:
        again = flat(await read_until_quiet(second))
    finally:
        await second.stop()
    assert set(flat([early])) <= set(again)
    seen = set(flat([early, late])) | set(again)
    assert seen == set(sent)


async def test_records_carry_their_origin(harness: Harness) -> None:
    await harness.send([b"payload"])
    source = harness.make_source()
    await source.start()
    try:
        batch = await source.get_batch(10, timeout_s=2)
        assert batch is not None
        (record,) = batch.records
        assert record.value == b"payload"
        assert record.stream == batch.stream
        assert record.position
        assert record.timestamp_ms > 0
        await source.ack(batch)
    finally:
        await source.stop()


async def test_memory_commit_never_passes_an_unacked_batch() -> None:
    log = MemoryLog(partitions=1)
    for value in values(9):
        log.append(value)
    source = MemorySource(log, group="g")
    await source.start()
    b1, b2, b3 = [await source.get_batch(3, timeout_s=0) for _ in range(3)]
    assert b1 and b2 and b3
    await source.ack(b3)
    await source.ack(b1)
    assert log.committed("g", 0) == 3  # b2 is still unacknowledged
    await source.ack(b2)
    assert log.committed("g", 0) == 9
    await source.stop()
