"""SqsSource/SqsSink specifics on moto server: visibility extension, redelivery after the
visibility timeout, partial delete failures, pages of 10, attributes, errors."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from connectors.errors import CommitRejected, NotFound
from connectors.s3_events import S3Event, parse_s3_events
from connectors.sqs import SqsSink, SqsSource, SqsState
from tests.harness import unique_name, wait_for_async


@pytest.fixture
def sqs(moto_server: Any) -> Any:
    return moto_server.client("sqs")


@pytest.fixture
def queue_url(sqs: Any) -> str:
    return str(sqs.create_queue(QueueName=unique_name("sqs"))["QueueUrl"])


@pytest.fixture
async def source(sqs: Any, queue_url: str) -> AsyncIterator[SqsSource]:
    # Renewal 0.7 s before expiry: slack for a slow moto call on a loaded 2-core machine.
    src = SqsSource(
        queue_url, client=sqs, visibility_timeout_s=1, extend_margin_s=0.7, max_wait_s=1
    )
    await src.start()
    yield src
    await src.stop()


async def visible_count(sqs: Any, queue_url: str) -> int:
    attrs = await asyncio.to_thread(
        sqs.get_queue_attributes,
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages"],
    )
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


async def test_in_flight_messages_stay_invisible_past_the_timeout(
    sqs: Any, queue_url: str, source: SqsSource
) -> None:
    await SqsSink(queue_url, client=sqs).send([b"a", b"b", b"c"])
    batch = await source.get_batch(10, timeout_s=1)
    assert batch is not None and len(batch.records) == 3
    # Three visibility timeouts pass while the "sink works"; the extender keeps renewing.
    until = time.monotonic() + 3.2
    while time.monotonic() < until:
        assert await visible_count(sqs, queue_url) == 0
        await asyncio.sleep(0.2)
    await source.ack(batch)
    assert source.in_flight == 0
    assert await source.get_batch(10, timeout_s=1.5) is None


async def test_unacked_messages_reappear_after_the_visibility_timeout(
    sqs: Any, queue_url: str
) -> None:
    await SqsSink(queue_url, client=sqs).send(["once", "twice"])
    crashed = SqsSource(queue_url, client=sqs, visibility_timeout_s=1, release_on_stop=False)
    await crashed.start()
    first = await crashed.get_batch(10, timeout_s=1)
    assert first is not None
    await crashed.stop()  # no extension any more, no release: like a crash
    assert crashed.state is SqsState.STOPPED

    survivor = SqsSource(queue_url, client=sqs, visibility_timeout_s=5, max_wait_s=1)
    await survivor.start()
    try:
        got: list[bytes] = []

        async def redelivered() -> bool:
            batch = await survivor.get_batch(10, timeout_s=1)
            if batch is not None:
                got.extend(r.value for r in batch.records)
                await survivor.ack(batch)
            return len(got) >= 2

        await wait_for_async(redelivered, timeout_s=10, message="redelivery")
        assert sorted(got) == [b"once", b"twice"]
    finally:
        await survivor.stop()


async def test_ack_reports_messages_it_could_not_delete(
    sqs: Any, queue_url: str, source: SqsSource
) -> None:
    await SqsSink(queue_url, client=sqs).send(["good", "bad"])
    batch = await source.get_batch(10, timeout_s=1)
    assert batch is not None and len(batch.records) == 2
    bad = dataclasses.replace(batch.records[1], receipt="not-a-receipt-handle")
    broken = dataclasses.replace(batch, records=(batch.records[0], bad))
    with pytest.raises(CommitRejected, match=r"1 of 2 messages.*ReceiptHandleIsInvalid") as info:
        await source.ack(broken)
    assert info.value.retriable
    # The good one is deleted; the bad one's real receipt is still in flight (and extended),
    # and acknowledging it with that receipt works.
    assert source.in_flight == 1
    await source.ack(dataclasses.replace(batch, records=(batch.records[1],)))
    assert source.in_flight == 0
    assert await source.get_batch(10, timeout_s=1.5) is None


async def test_a_batch_gathers_several_pages_of_ten(
    sqs: Any, queue_url: str, source: SqsSource
) -> None:
    await SqsSink(queue_url, client=sqs).send([f"m{i}" for i in range(25)])
    calls: list[int] = []
    sqs.meta.events.register("before-call.sqs.ReceiveMessage", lambda **kw: calls.append(1))
    batch = await source.get_batch(25, timeout_s=1)
    assert batch is not None
    assert sorted(r.value for r in batch.records) == sorted(f"m{i}".encode() for i in range(25))
    assert len(calls) == 3
    await source.ack(batch)


async def test_a_sub_second_window_on_an_empty_queue_polls_once(
    sqs: Any, source: SqsSource
) -> None:
    """SQS waits in whole seconds; a 0.3 s window must not become a busy loop of receives."""
    calls: list[int] = []
    sqs.meta.events.register("before-call.sqs.ReceiveMessage", lambda **kw: calls.append(1))
    started = time.monotonic()
    assert await source.get_batch(10, timeout_s=0.3) is None
    assert time.monotonic() - started >= 0.25
    assert len(calls) == 1


async def test_attributes_headers_and_fifo_group(sqs: Any) -> None:
    url = sqs.create_queue(
        QueueName=unique_name("attrs") + ".fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    sink = SqsSink(url, client=sqs)
    ids = await sink.send(
        [b"x", "y"], attributes={"origin": "dlq"}, group_id="doc-1", dedup_ids=["d1", "d2"]
    )
    assert len(ids) == 2
    source = SqsSource(url, client=sqs, visibility_timeout_s=5, max_wait_s=1)
    await source.start()
    try:
        batch = await source.get_batch(10, timeout_s=1)
        assert batch is not None
        assert [r.value for r in batch.records] == [b"x", b"y"]
        assert [r.position for r in batch.records] == ids
        record = batch.records[0]
        assert record.headers == (("origin", b"dlq"),)
        assert record.key == b"doc-1"
        assert record.source == "sqs" and record.partition == "" and record.receipt
        assert record.timestamp_ms > 0
        await source.ack(batch)
    finally:
        await source.stop()


async def test_missing_queue_is_not_found(sqs: Any, moto_server: Any) -> None:
    missing = f"{moto_server.endpoint_url}/123456789012/{unique_name('missing')}"
    source = SqsSource(missing, client=sqs, max_wait_s=0)
    await source.start()
    try:
        with pytest.raises(NotFound):
            await source.get_batch(1, timeout_s=0)
    finally:
        await source.stop()


def test_sink_refuses_non_utf8_unless_asked(sqs: Any, queue_url: str) -> None:
    with pytest.raises(ValueError, match="binary_as_base64"):
        asyncio.run(SqsSink(queue_url, client=sqs).send([b"\xff"]))
    ids = asyncio.run(SqsSink(queue_url, client=sqs, binary_as_base64=True).send([b"\xff"]))
    assert len(ids) == 1


async def test_s3_notifications_read_through_the_source(sqs: Any, moto_server: Any) -> None:
    s3 = moto_server.client("s3")
    queue = unique_name("s3events")
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    bucket = unique_name("s3events")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    keys = ["a b.txt", "c+d.txt", "ü/東京.md"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    source = SqsSource(url, client=sqs, visibility_timeout_s=5, max_wait_s=1)
    await source.start()
    try:
        events: list[S3Event] = []

        async def all_events() -> bool:
            batch = await source.get_batch(10, timeout_s=1)
            if batch is not None:
                events.extend(e for r in batch.records for e in parse_s3_events(r.value))
                await source.ack(batch)
            return len(events) >= len(keys)

        await wait_for_async(all_events, timeout_s=10, message="S3 events via SqsSource")
    finally:
        await source.stop()
    assert sorted(e.key for e in events) == sorted(keys)
    assert all(e.kind == "put" and e.bucket == bucket for e in events)
