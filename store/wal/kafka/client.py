"""The Kafka side of the Kafka transaction log: its URL, the event-loop thread its aiokafka
clients live on, and how those clients are made.

* :func:`parse_kafka_url`: ``kafka://host:port[,host:port]/topic``.
* :class:`LoopThread`: one asyncio loop on a daemon thread. Other threads hand it
  coroutines (:meth:`LoopThread.run` waits for the result, :meth:`LoopThread.spawn` does
  not) or callbacks (:meth:`LoopThread.call_soon`). :meth:`LoopThread.stop` runs a last
  coroutine, cancels and awaits every task still on the loop, then stops and joins the
  thread, so nothing outlives it; it is idempotent.
* :func:`create_topic`, :func:`new_consumer`, :func:`new_producer`: the clients' settings.
  The producer is ``acks=all`` without idempotence (tansu has none; the reading rules of
  :mod:`store.wal.kafka.reading` make retries harmless). Consumers are assigned partition
  0 without a group and never reset on their own (``auto_offset_reset="none"``): a fetch
  position the topic no longer has (records deleted, the topic recreated, a broker that
  lost its data) raises instead of silently jumping, so the log fails rather than read
  other records as if they followed the ones it read.

Errors from aiokafka that mean "cannot reach or use the broker" become
:class:`store.errors.DurabilityError` here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar
from urllib.parse import urlsplit

from store.aio import within

from ...errors import DurabilityError

logger = logging.getLogger(__name__)

T = TypeVar("T")
PARTITION = 0
TOPIC_EXISTS = 36  # Kafka error code TOPIC_ALREADY_EXISTS
STOP_TIMEOUT_S = 15.0


def parse_kafka_url(url: str) -> tuple[str, str]:
    """``kafka://host:port[,host:port]/topic`` -> ``(bootstrap, topic)``; ``ValueError``."""
    parts = urlsplit(url)
    topic = parts.path.strip("/")
    if parts.scheme != "kafka" or not parts.netloc or not topic or "/" in topic:
        raise ValueError(f"{url!r} is not kafka://HOST:PORT[,HOST:PORT]/TOPIC")
    return parts.netloc, topic


class LoopThread:
    """An asyncio event loop running on its own daemon thread; see the module docstring."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._loop is not None:
            return
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=self.name, daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._loop is not None

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float | None) -> T:
        """Run ``coro`` on the loop and wait for its result (never call from the loop)."""
        return self.spawn(coro).result(timeout_s)

    def spawn(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        if self._loop is None:
            coro.close()
            raise RuntimeError(f"the event loop {self.name} is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def call_soon(self, callback: Callable[..., object], *args: object) -> None:
        if self._loop is None:
            raise RuntimeError(f"the event loop {self.name} is not running")
        self._loop.call_soon_threadsafe(callback, *args)

    def stop(
        self,
        last: Callable[[], Coroutine[Any, Any, None]] | None = None,
        last_timeout_s: float = STOP_TIMEOUT_S,
    ) -> None:
        """Run ``last()`` (errors logged; cut after ``last_timeout_s``), cancel every
        remaining task, stop the loop and join its thread."""
        loop, self._loop = self._loop, None
        if loop is None:
            return

        async def finish() -> None:
            if last is not None:
                try:
                    await within(last(), last_timeout_s)
                except Exception:
                    logger.exception("stopping the Kafka clients of %s failed", self.name)
            current = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not current]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(finish(), loop).result(last_timeout_s + 5)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
            if self._thread.is_alive():
                logger.error("the event loop thread %s did not stop; leaving it", self.name)
                return
        loop.close()


def topic_partition(topic: str) -> Any:
    from aiokafka import TopicPartition

    return TopicPartition(topic, PARTITION)


async def create_topic(options: dict[str, Any], topic: str, replication_factor: int) -> None:
    """Create ``topic`` with one partition unless it exists; DurabilityError if impossible."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(**options)
    try:
        await admin.start()
        resp = await admin.create_topics([NewTopic(topic, 1, replication_factor)])
        for _, code, message in resp.topic_errors:
            if code not in (0, TOPIC_EXISTS):
                raise DurabilityError(
                    f"cannot create the Kafka log topic {topic!r}: {message} (error "
                    f"{code}); create it with one partition and start again"
                )
    except DurabilityError:
        raise
    except Exception as exc:  # aiokafka raises many kinds; all mean the same here
        raise DurabilityError(
            f"cannot reach the Kafka log at {options.get('bootstrap_servers')} ({exc}); check "
            "the broker address in --log"
        ) from exc
    finally:
        await admin.close()


async def new_producer(options: dict[str, Any]) -> Any:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(acks="all", enable_idempotence=False, linger_ms=0, **options)
    await producer.start()
    return producer


async def new_consumer(
    options: dict[str, Any], topic: str, offset: int | None, fetch_max_wait_ms: int
) -> Any:
    """A started consumer of partition 0 at ``offset`` (None: no position; for offset
    look-ups only)."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        enable_auto_commit=False,
        auto_offset_reset="none" if offset is not None else "earliest",
        fetch_max_wait_ms=fetch_max_wait_ms,
        **options,
    )
    await consumer.start()
    tp = topic_partition(topic)
    consumer.assign([tp])
    if offset is not None:
        consumer.seek(tp, offset)
    return consumer


async def first_offset(options: dict[str, Any], topic: str) -> int:
    """The oldest offset the topic still holds."""
    consumer = await new_consumer(options, topic, None, 100)
    try:
        tp = topic_partition(topic)
        return int((await consumer.beginning_offsets([tp]))[tp])
    finally:
        await consumer.stop()
