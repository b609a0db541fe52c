"""On-failure destinations hold what they accepted, and close() releases their clients."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from connectors.base import Record
from connectors.kafka_config import KafkaClientState
from connectors.kafka_source import KafkaSource
from pipeline.destinations import KafkaDestination, open_destination
from tests.harness import FAST_GROUP_TIMEOUTS, KafkaBroker, unique_name, wait_for_async

GROUP_TIMEOUTS: dict[str, Any] = dict(FAST_GROUP_TIMEOUTS)
RECORD = Record(source="kafka", stream="s", partition="0", position="7", value=b"v", key=b"k")


async def test_kafka_destination_delivers_and_close_stops_its_producer(
    kafka_broker: KafkaBroker,
) -> None:
    topic = unique_name("dlq")
    destination = await open_destination(f"kafka://{kafka_broker.bootstrap}/{topic}")
    assert isinstance(destination, KafkaDestination)
    await destination.send(b'{"reason": "test"}', RECORD)
    await destination.close()
    assert destination.sink.state is KafkaClientState.STOPPED
    source = KafkaSource(kafka_broker.bootstrap, [topic], unique_name("g"), **GROUP_TIMEOUTS)
    await source.start()
    try:
        batch = await wait_for_async(
            lambda: source.get_batch(10, 1.0), 30, interval_s=0, message="the dead letter"
        )
        assert [json.loads(r.value) for r in batch.records] == [{"reason": "test"}]
    finally:
        await source.stop()


async def test_file_destination_appends_lines_and_close_is_harmless(tmp_path: Path) -> None:
    path = tmp_path / "dlq" / "failed.jsonl"
    destination = await open_destination(str(path))
    await destination.send(b'{"a": 1}', RECORD)
    await destination.send(b'{"a": 2}', RECORD)
    await destination.close()
    assert path.read_bytes() == b'{"a": 1}\n{"a": 2}\n'
