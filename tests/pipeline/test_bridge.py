"""pipeline.bridge on moto server (S3 -> SQS notifications) and the tansu Kafka broker.

Notifications of three PUTs (one object twice) are forwarded to a two-partition topic:
each keyed ``bucket/key``, so both events of one object land on one partition in PUT
order; moto's ``s3:TestEvent`` goes unkeyed; the queue is empty afterwards (messages are
deleted only after Kafka acknowledged them).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from connectors.kafka_sink import KafkaSink
from connectors.sqs import SqsSource
from pipeline.bridge import forward, object_key
from tests.harness import unique_name


def _notifying_bucket(moto_server: Any) -> tuple[str, str]:
    s3, sqs = moto_server.client("s3"), moto_server.client("sqs")
    bucket, queue = unique_name("bridge"), unique_name("bridge-q")
    s3.create_bucket(Bucket=bucket)
    queue_url: str = sqs.create_queue(QueueName=queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": arn["Attributes"]["QueueArn"], "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    for key, body in (("a.txt", b"one"), ("b.txt", b"two"), ("a.txt", b"three")):
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    return bucket, queue_url


async def test_bridge_forwards_keyed_by_object_and_then_deletes(
    moto_server: Any, kafka_broker: Any
) -> None:
    bucket, queue_url = _notifying_bucket(moto_server)
    topic = unique_name("bridge-topic")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    finally:
        await admin.close()

    source = SqsSource(queue_url, client=moto_server.client("sqs"))
    forwarded = 0
    async with KafkaSink(kafka_broker.bootstrap) as sink:
        await source.start()
        try:
            deadline = time.monotonic() + 20
            while forwarded < 4 and time.monotonic() < deadline:  # 3 PUTs + s3:TestEvent
                batch = await source.get_batch(10, 1.0)
                if batch is not None:
                    forwarded += await forward(source, sink, topic, batch)
            assert forwarded == 4
            assert await source.get_batch(10, 0) is None, "forwarded messages were not deleted"
        finally:
            await source.stop()

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_broker.bootstrap, auto_offset_reset="earliest",
        enable_auto_commit=False, group_id=None,
    )  # fmt: skip
    await consumer.start()
    try:
        got: list[Any] = []
        deadline = time.monotonic() + 20
        while len(got) < 4 and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                got.extend(records)
    finally:
        await consumer.stop()
    keys = sorted((r.key or b"").decode() for r in got)
    assert keys == ["", f"{bucket}/a.txt", f"{bucket}/a.txt", f"{bucket}/b.txt"]
    a_records = sorted(
        (r for r in got if r.key == f"{bucket}/a.txt".encode()), key=lambda r: r.offset
    )
    assert a_records[0].partition == a_records[1].partition
    assert [object_key(r.value) for r in a_records] == [f"{bucket}/a.txt".encode()] * 2
    etags = [hashlib.md5(body).hexdigest().encode() for body in (b"one", b"three")]
    assert [etag in r.value for r in a_records for etag in etags] == [True, False, False, True]
    assert object_key(b"not json") is None
