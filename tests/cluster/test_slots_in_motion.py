"""ASK/ASKING/TRYAGAIN for a migrating slot and READONLY reads on a replica: two shards of
a primary and a replica each (in-process servers, the replicas on REPLICAOF links)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
import redis
from redis.cluster import LoadBalancingStrategy, RedisCluster

from store.cluster import FileTopologySource, Topology, key_slot
from store.cluster.admin import create_cluster
from store.server import ServerThread
from tests.harness.wait import wait_for

Cluster = tuple[list[ServerThread], str]


@pytest.fixture
def shards(cluster_threads: Callable[[int], Cluster]) -> Cluster:
    servers, url = cluster_threads(4)
    create_cluster(url, [f"127.0.0.1:{s.port}" for s in servers], replicas=1)
    return servers, url


def key_on(shard_first: int, shard_last: int, prefix: str) -> str:
    return next(
        f"{prefix}{i}"
        for i in range(10_000)
        if shard_first <= key_slot(f"{prefix}{i}".encode()) <= shard_last
    )


def test_readonly_replica_serves_reads_of_its_shard(shards: Cluster) -> None:
    (p1, p2, r1, r2), _ = shards
    key = key_on(0, 8191, "ro")
    with redis.Redis(port=p1.port) as primary, redis.Redis(port=r1.port) as replica:
        primary.set(key, "v")
        with pytest.raises(redis.exceptions.MovedError) as err:
            replica.get(key)
        assert err.value.node_addr == ("127.0.0.1", p1.port)
        assert replica.execute_command("READONLY") is True
        wait_for(lambda: replica.get(key) == b"v", 10, message="the replica never got the write")
        with pytest.raises(redis.exceptions.MovedError):
            replica.set(key, "w")  # writes still go to the primary
        other = key_on(8192, 16383, "ro")
        with pytest.raises(redis.exceptions.MovedError) as err:
            replica.get(other)  # another shard's slot: its primary
        assert err.value.node_addr == ("127.0.0.1", p2.port)
        assert replica.execute_command("READWRITE") is True
        with pytest.raises(redis.exceptions.MovedError):
            replica.get(key)
        assert replica.execute_command("READONLY") is True
        assert replica.execute_command("RESET") == "RESET"  # RESET clears READONLY too
        with pytest.raises(redis.exceptions.MovedError):
            replica.get(key)
    rc = RedisCluster(
        host="127.0.0.1",
        port=r2.port,
        load_balancing_strategy=LoadBalancingStrategy.RANDOM_REPLICA,
    )
    try:
        assert rc.get(key) == b"v"  # READONLY then GET on r1
        with redis.Redis(port=r1.port) as replica:
            assert "cmdstat_readonly" in replica.info("commandstats")

    finally:
        rc.close()


def test_migrating_slot_asks_and_importing_slot_serves_asking(shards: Cluster) -> None:
    (p1, p2, _, _), url = shards
    here, missing = "{b}here", "{b}missing"
    slot = key_slot(b"b")
    source = FileTopologySource(url[len("file:") :])
    current = source.refresh()
    assert current is not None
    first, second = current.shards
    assert first.primary.port == p1.port and slot <= 8191, "the test expects {b} in shard 1"
    with redis.Redis(port=p1.port) as a, redis.Redis(port=p2.port) as b:
        a.set(here, "1")
        moving = Topology(
            epoch=current.epoch + 1,
            shards=(
                dataclasses.replace(first, migrating={slot: second.id}),
                dataclasses.replace(second, importing={slot: first.id}),
            ),
        )
        source.publish(moving)
        wait_for(
            lambda: f"[{slot}->-".encode() in a.execute_command("CLUSTER", "NODES"),
            10,
            message="the source shard did not read the migrating slot",
        )
        wait_for(
            lambda: f"[{slot}-<-".encode() in b.execute_command("CLUSTER", "NODES"),
            10,
            message="the target shard did not read the importing slot",
        )
        assert a.get(here) == b"1"  # still here: served
        with pytest.raises(redis.exceptions.AskError) as err:
            a.get(missing)
        assert (err.value.slot_id, err.value.node_addr) == (slot, ("127.0.0.1", p2.port))
        with pytest.raises(redis.exceptions.TryAgainError):
            a.mget(here, missing)
        with pytest.raises(redis.exceptions.MovedError):
            b.get(missing)  # not asked: the slot is still the source's
        pipe = b.pipeline(transaction=False)
        pipe.execute_command("ASKING").set(missing, "2").get(missing)
        asked, stored, after = pipe.execute(raise_on_error=False)
        assert asked is True and stored is True
        assert isinstance(after, redis.exceptions.MovedError)  # ASKING covers one command
        pipe = b.pipeline(transaction=False)  # ASKING before MULTI covers the transaction
        pipe.execute_command("ASKING").execute_command("MULTI").get(missing).append(missing, "3")
        pipe.execute_command("EXEC")
        assert pipe.execute()[-1] == [b"2", 2]
        rc = RedisCluster(host="127.0.0.1", port=p1.port)
        try:
            assert rc.get(missing) == b"23"  # ASK followed: ASKING + GET on the target
        finally:
            rc.close()
