"""Kafka producer sink: notifications, dead letters and (later) the store's Kafka log.

Contract:

- ``send`` returns once the broker acknowledged the record with ``acks="all"`` (every
  in-sync replica has it) and says where it landed (:class:`Delivery`).
- ``send_batch`` enqueues every record, then waits for all of them; deliveries come back
  in input order. Records of one key go to one partition, in input order. If any record
  fails, the first error is raised after all have settled, and the others may have been
  written: resending the batch can duplicate records (consumers must be idempotent).
- ``enable_idempotence`` (default False: tansu does not support it) makes the broker drop
  a retried duplicate; turn it on against brokers that have it (MSK, Apache Kafka).
  Correctness must not depend on it: our own records carry their identity.
- Errors are :mod:`connectors.errors` types (``from_kafka``), with ``retriable`` set.
- ``start``/``stop`` (idempotent, flushes what was enqueued) or ``async with``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from connectors.errors import from_kafka
from connectors.kafka_config import KafkaClientState, KafkaSecurity, client_kwargs

__all__ = ["Delivery", "KafkaSink", "OutgoingRecord"]

Headers = Sequence[tuple[str, bytes]]


@dataclass(frozen=True)
class OutgoingRecord:
    value: bytes | None
    key: bytes | None = None
    headers: Headers = ()
    partition: int | None = None
    timestamp_ms: int | None = None


@dataclass(frozen=True)
class Delivery:
    """Where the broker stored a record."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int


class KafkaSink:
    """An ``acks="all"`` producer; see the module contract.

    Settings and their trade-offs: ``linger_ms`` waits to fill larger batches (throughput
    against latency); ``compression_type`` (gzip/snappy/lz4/zstd) trades CPU for bytes;
    ``request_timeout_ms`` bounds one produce request; ``security`` holds TLS/SASL for MSK;
    ``client_options`` passes any other ``AIOKafkaProducer`` argument, applied last.
    """

    def __init__(
        self,
        bootstrap_servers: str | list[str],
        *,
        acks: int | str = "all",
        enable_idempotence: bool = False,
        linger_ms: int = 0,
        compression_type: str | None = None,
        request_timeout_ms: int = 40_000,
        client_id: str = "memvec",
        security: KafkaSecurity | None = None,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._kwargs = client_kwargs(
            bootstrap_servers,
            security,
            client_options,
            acks=acks,
            enable_idempotence=enable_idempotence,
            linger_ms=linger_ms,
            compression_type=compression_type,
            request_timeout_ms=request_timeout_ms,
            client_id=client_id,
        )
        self._state = KafkaClientState.NEW
        self._producer: AIOKafkaProducer | None = None

    @property
    def state(self) -> KafkaClientState:
        return self._state

    async def start(self) -> None:
        if self._state is KafkaClientState.RUNNING:
            return
        if self._state is KafkaClientState.STOPPED:
            raise RuntimeError("a stopped KafkaSink cannot start again: create a new one")
        producer = AIOKafkaProducer(**self._kwargs)
        try:
            await producer.start()
        except KafkaError as exc:
            await producer.stop()
            raise from_kafka(exc, "starting the producer") from exc
        self._producer = producer
        self._state = KafkaClientState.RUNNING

    async def stop(self) -> None:
        if self._state is not KafkaClientState.RUNNING:
            self._state = KafkaClientState.STOPPED
            return
        self._state = KafkaClientState.STOPPED
        assert self._producer is not None
        try:
            await self._producer.stop()
        except KafkaError as exc:
            raise from_kafka(exc, "flushing the producer on stop") from exc

    async def __aenter__(self) -> KafkaSink:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def send(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        *,
        headers: Headers = (),
        partition: int | None = None,
        timestamp_ms: int | None = None,
    ) -> Delivery:
        """Write one record and wait for the broker's acknowledgement."""
        record = OutgoingRecord(value, key, headers, partition, timestamp_ms)
        return (await self.send_batch(topic, [record]))[0]

    async def send_batch(
        self, topic: str, records: Iterable[OutgoingRecord | tuple[bytes | None, bytes | None]]
    ) -> list[Delivery]:
        """Write records (``OutgoingRecord`` or ``(key, value)``); deliveries in input order."""
        producer = self._running_producer()
        futures: list[asyncio.Future[Any]] = []
        try:
            for item in records:
                record = item if isinstance(item, OutgoingRecord) else OutgoingRecord(
                    value=item[1], key=item[0]
                )  # fmt: skip
                futures.append(
                    await producer.send(
                        topic,
                        value=record.value,
                        key=record.key,
                        partition=record.partition,
                        timestamp_ms=record.timestamp_ms,
                        headers=list(record.headers) or None,
                    )
                )
        except KafkaError as exc:
            await asyncio.gather(*futures, return_exceptions=True)
            raise from_kafka(exc, f"enqueueing for {topic}") from exc
        results = await asyncio.gather(*futures, return_exceptions=True)
        deliveries: list[Delivery] = []
        for result in results:
            if isinstance(result, BaseException):
                failed = sum(isinstance(r, BaseException) for r in results)
                raise from_kafka(
                    result, f"{failed} of {len(results)} records to {topic} not acknowledged"
                ) from result
            deliveries.append(Delivery(topic, result.partition, result.offset, result.timestamp))
        return deliveries

    def _running_producer(self) -> AIOKafkaProducer:
        if self._state is not KafkaClientState.RUNNING or self._producer is None:
            raise RuntimeError(f"KafkaSink is {self._state.value}: call start() first")
        return self._producer
