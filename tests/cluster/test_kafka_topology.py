"""The topology on the real Kafka-protocol broker (tansu): the source's compare-and-set
contract, and a cluster node that reads its topology from the topic."""

from __future__ import annotations

import asyncio
import secrets
import threading
from pathlib import Path

import pytest
import redis

from store.cluster import Node, Shard, Topology, TopologyConflict
from store.cluster.admin import create_cluster
from store.cluster.kafka_source import KafkaTopologySource
from store.server import ServerConfig, ServerThread
from tests.harness.components import KafkaBroker
from tests.harness.ports import unique_name
from tests.harness.wait import wait_for


def _topology(epoch: int) -> Topology:
    node = Node(secrets.token_hex(20), "127.0.0.1", 7000 + epoch, "primary")
    return Topology(epoch, (Shard(secrets.token_hex(20), (node,), ((0, 16383),), epoch=epoch),))


def test_kafka_source_is_a_compare_and_set_on_the_epoch(kafka_broker: KafkaBroker) -> None:
    url = f"kafka://{kafka_broker.bootstrap}/{unique_name('topology')}"
    a, b = KafkaTopologySource(url), KafkaTopologySource(url)
    a.start()
    b.start()
    try:
        assert b.refresh() is None
        first = _topology(1)
        a.publish(first)
        assert b.refresh() == first
        with pytest.raises(TopologyConflict, match="holds epoch 1"):
            b.publish(_topology(1))  # built from a stale view: fenced
        results: list[object] = []
        candidates = [_topology(2), _topology(2)]

        def publish(source: KafkaTopologySource, topology: Topology) -> None:
            try:
                source.publish(topology)
                results.append(topology)
            except TopologyConflict as exc:
                results.append(exc)

        racers = [
            threading.Thread(target=publish, args=(s, t))
            for s, t in zip((a, b), candidates, strict=True)
        ]
        for t in racers:
            t.start()
        for t in racers:
            t.join(30)
        winners = [r for r in results if isinstance(r, Topology)]
        assert len(results) == 2 and len(winners) == 1, results  # never both
        assert a.refresh() == b.refresh() == winners[0]
        asyncio.run(_zombie_write(kafka_broker.bootstrap, url, _topology(1)))
        fresh = KafkaTopologySource(url)  # a new reader replays the topic to the same value
        fresh.start()
        try:
            assert fresh.refresh() == winners[0]
        finally:
            fresh.stop()
    finally:
        a.stop()
        b.stop()


async def _zombie_write(bootstrap: str, url: str, topology: Topology) -> None:
    """A late record from a writer that never saw the newer epochs (raw, not fenced)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            url.rsplit("/", 1)[1], topology.to_json(), key=b"zombie", partition=0
        )
    finally:
        await producer.stop()


def test_a_shard_on_its_kafka_log_with_the_topology_in_kafka(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    """A shard whose log is its own topic (a writer and a follower of it) in a cluster whose
    topology is a topic too: create records the shard's log, the follower serves READONLY
    reads of what the writer acknowledged."""
    url = f"kafka://{kafka_broker.bootstrap}/{unique_name('topology')}"
    log = f"kafka://{kafka_broker.bootstrap}/{unique_name('shard')}"

    def node(name: str, **extra: object) -> ServerThread:
        config = ServerConfig(
            port=0,
            data_dir=tmp_path / name,
            cluster_enabled=True,
            cluster_topology=url,
            log=log,
            **extra,  # type: ignore[arg-type]
        )
        return ServerThread(config).start()

    writer = node("writer")
    follower = node("follower", replicaof=f"127.0.0.1:{writer.port}")
    try:
        topology = create_cluster(
            url, [f"127.0.0.1:{s.port}" for s in (writer, follower)], replicas=1
        )
        (shard,) = topology.shards
        assert shard.log == log and [n.port for n in shard.nodes] == [writer.port, follower.port]
        with redis.Redis(port=writer.port) as w, redis.Redis(port=follower.port) as f:
            assert w.set("k", "v") and w.get("k") == b"v"
            assert w.config_get("cluster-topology") == {"cluster-topology": url}
            with pytest.raises(redis.exceptions.MovedError):
                f.get("k")
            assert f.execute_command("READONLY") is True
            wait_for(lambda: f.get("k") == b"v", 10, message="the follower never read the write")
    finally:
        follower.stop()
        writer.stop()
