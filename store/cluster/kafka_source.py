"""The topology in a Kafka topic (``kafka://host:port[,host:port]/topic``).

Byte format of a record: key ``b"<epoch, 20 decimal digits>/<32 hex nonce>"``, value the
topology JSON of :mod:`store.cluster.topology` (a null value is a tombstone, skipped).

Reading rule (the fencing): records are read in offset order from the start of the
single partition; a record is *accepted* iff its epoch is higher than the last accepted
one. A writer that built its change from a stale topology writes an epoch that is not
higher, so every reader ignores it; two writers racing for the same next epoch are
ordered by the broker and the first one wins. :meth:`KafkaTopologySource.publish` writes
and then reads back up to its own record to learn whether it won
(:class:`store.cluster.source.TopologyConflict` if not). The broker's log order is the
only arbiter: no node decides anything on its own.

The topic is created with ``cleanup.policy=compact``. Every record has its own key (the
nonce), so compaction never removes an accepted record in favour of a later losing one;
what it buys is that old epochs can be deleted with tombstones (not done yet: a topology
change is rare and a record is a few KB). Correctness never depends on compaction, so a
broker that keeps everything (tansu's memory storage) is fine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
import time
from typing import Any

from ..errors import DurabilityError
from ..wal.kafka.client import (
    TOPIC_EXISTS,
    LoopThread,
    first_offset,
    new_consumer,
    new_producer,
    parse_kafka_url,
    topic_partition,
)
from .source import TopologyConflict, TopologySource
from .topology import Topology, TopologyError

__all__ = ["KafkaTopologySource"]

log = logging.getLogger(__name__)


class KafkaTopologySource(TopologySource):
    """See the module docstring. ``timeout_s`` bounds each blocking call."""

    live = True  # the follower task reads every record as it lands

    def __init__(self, url: str, *, timeout_s: float = 15.0) -> None:
        self.url = url
        self.bootstrap, self.topic = parse_kafka_url(url)
        self.timeout_s = timeout_s
        self._options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap,
            "client_id": "memvec-topology",
            "request_timeout_ms": int(timeout_s * 1000),
        }
        self._loop = LoopThread(f"memvec-topology-{self.topic}")
        self._guard = threading.Lock()
        self._latest: Topology | None = None
        self._latest_offset = -1
        self._next_offset = 0  # the next offset the follower will read
        self._producer: Any = None
        self._consumer: Any = None
        # end-offset look-ups on their own idle consumer: on the follower's, a look-up
        # waits behind its long-poll fetch (~100 ms per refresh on tansu, 10 ms alone)
        self._probe: Any = None
        self._follower: asyncio.Task[None] | None = None
        self._started = False

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        if self._started:
            return
        self._loop.start()
        try:
            self._loop.run(self._open(), self.timeout_s * 2)
        except Exception as exc:
            self._loop.stop(self._close)
            if isinstance(exc, DurabilityError):
                raise
            raise DurabilityError(
                f"cannot open the cluster topology topic {self.url}: {exc}"
            ) from exc
        self._started = True

    def stop(self) -> None:
        self._started = False
        self._loop.stop(self._close)

    async def _open(self) -> None:
        await _create_compacted_topic(self._options, self.topic)
        self._producer = await new_producer(self._options)
        start = await first_offset(self._options, self.topic)
        self._next_offset = start
        self._consumer = await new_consumer(self._options, self.topic, start, 100)
        from aiokafka import AIOKafkaConsumer

        self._probe = AIOKafkaConsumer(enable_auto_commit=False, **self._options)
        await self._probe.start()  # never assigned a partition: it fetches nothing
        self._follower = asyncio.get_running_loop().create_task(self._follow())

    async def _close(self) -> None:
        follower, self._follower = self._follower, None
        if follower is not None:  # before its consumer stops under it
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
        for client in (self._probe, self._consumer, self._producer):
            if client is not None:
                await client.stop()
        self._probe = self._consumer = self._producer = None

    async def _follow(self) -> None:
        tp = topic_partition(self.topic)
        while True:
            try:
                batches = await self._consumer.getmany(tp, timeout_ms=200)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reading the cluster topology topic %s failed; retrying", self.url)
                await asyncio.sleep(0.5)
                continue
            for records in batches.values():
                for record in records:
                    self._apply(record.offset, record.value)

    def _apply(self, offset: int, value: bytes | None) -> None:
        with self._guard:
            self._next_offset = offset + 1
            if value is None:
                return
            try:
                topology = Topology.from_json(value)
            except TopologyError as exc:
                log.warning("skipping topology record at offset %d: %s", offset, exc)
                return
            if self._latest is None or topology.epoch > self._latest.epoch:
                self._latest = topology
                self._latest_offset = offset

    # -- reading ----------------------------------------------------------------------------
    def latest(self) -> Topology | None:
        return self._latest

    def refresh(self) -> Topology | None:
        self._require_started()
        end = self._loop.run(self._end_offset(), self.timeout_s)
        self._wait_read(end - 1)
        return self._latest

    async def _end_offset(self) -> int:
        tp = topic_partition(self.topic)
        return int((await self._probe.end_offsets([tp]))[tp])

    def _wait_read(self, offset: int) -> None:
        """Block until the follower read every record up to ``offset``."""
        deadline = time.monotonic() + self.timeout_s
        while self._next_offset <= offset:
            if time.monotonic() > deadline:
                raise DurabilityError(
                    f"the cluster topology topic {self.url} was not read up to offset "
                    f"{offset} within {self.timeout_s:g}s; is the broker up?"
                )
            time.sleep(0.01)

    # -- writing ----------------------------------------------------------------------------
    def publish(self, topology: Topology) -> None:
        topology.validate()
        current = self.refresh()
        if current is not None and topology.epoch <= current.epoch:
            raise TopologyConflict(
                f"{self.url} holds epoch {current.epoch}; publish epoch {current.epoch + 1} "
                "or higher (re-read the topology first)"
            )
        key = f"{topology.epoch:020d}/{secrets.token_hex(16)}".encode()
        offset = self._loop.run(self._send(key, topology.to_json()), self.timeout_s)
        self._wait_read(offset)
        with self._guard:
            won = self._latest_offset == offset
            holder = self._latest
        if not won:
            raise TopologyConflict(
                f"another writer published epoch {holder.epoch if holder else '?'} to "
                f"{self.url} first; re-read the topology and retry"
            )

    async def _send(self, key: bytes, value: bytes) -> int:
        meta = await self._producer.send_and_wait(self.topic, value, key=key, partition=0)
        return int(meta.offset)

    def _require_started(self) -> None:
        if not self._started:
            raise RuntimeError("KafkaTopologySource.start() was not called")


async def _create_compacted_topic(options: dict[str, Any], topic: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(**options)
    try:
        await admin.start()
        resp = await admin.create_topics(
            [NewTopic(topic, 1, 1, topic_configs={"cleanup.policy": "compact"})]
        )
        for _, code, message in resp.topic_errors:
            if code not in (0, TOPIC_EXISTS):
                raise DurabilityError(
                    f"cannot create the cluster topology topic {topic!r}: {message} "
                    f"(error {code}); create it with one partition, cleanup.policy=compact"
                )
    except DurabilityError:
        raise
    except Exception as exc:
        raise DurabilityError(
            f"cannot reach Kafka at {options.get('bootstrap_servers')} for the cluster "
            f"topology ({exc}); check the broker address"
        ) from exc
    finally:
        await admin.close()
