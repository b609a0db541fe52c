"""Clients of a 3-shard memvec cluster (real processes, one file topology, made with
``memvec cluster create``): the pipeline's :class:`ClusterStore` (``redis+cluster://``),
``memvec ingest``'s backfill writing through it and the query API answering from it, and
node-redis's ``createCluster`` following ``MOVED`` after a topology change.

Cross-shard search is the server's job (a node fans FT.SEARCH out to every shard,
docs/cluster.md). Where the servers under test do not fan out yet, FT.SEARCH and FT.INFO
answer for the receiving shard only; the API test then checks what that shard holds (it
detects which case it is in from FT.INFO's ``num_docs``, and says so in its assertions).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
from fastapi.testclient import TestClient

from connectors.memory import MemoryObjectStore
from pipeline.api import ApiSettings, create_app
from pipeline.backfill import Backfill
from pipeline.errors import StoreRejected, StoreUnavailable
from pipeline.processor import IngestConfig, Processor
from pipeline.stores import ClusterStore, open_store, parse_cluster_url
from store.cluster import FileTopologySource, Topology, key_slot
from store.cluster.admin import create_cluster, split_slots
from store.cluster.slots import ranges_of
from tests.cluster.conftest import NodeProcess
from tests.harness.node_clients import start_node
from tests.harness.wait import wait_for

SCRIPT = Path(__file__).resolve().parents[1] / "clients" / "node_redis_cluster.cjs"
RANGES = split_slots(3)
BUCKET = "clops-docs"
INDEX = "clops"
TOPICS = [
    "Volcanoes erupt when magma rises through the crust and pours out as lava and ash.",
    "The lighthouse keeper climbed the tower each evening to light the great lamp.",
    "Sourdough bread needs a starter, flour, water and a long overnight rise.",
    "Penguins huddle together against the Antarctic wind and dive for fish.",
    "A chess opening develops the knights and bishops before castling the king.",
    "Rivers carve valleys over millions of years, carrying sediment to the sea.",
]


def shard_of(key: bytes) -> int:
    slot = key_slot(key)
    return next(i for i, (a, b) in enumerate(RANGES) if a <= slot <= b)


@pytest.fixture(scope="module")
def cluster(
    memvec_nodes: Callable[[int, str], list[NodeProcess]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[NodeProcess], str]:
    url = f"file:{tmp_path_factory.mktemp('clops') / 'topology.json'}"
    nodes = memvec_nodes(3, url)
    create_cluster(url, [n.address for n in nodes])
    return nodes, url


@pytest.fixture(scope="module")
def cluster_url(cluster: tuple[list[NodeProcess], str]) -> str:
    nodes, _ = cluster
    return "redis+cluster://" + ",".join(n.address for n in nodes[1:])  # any node will do


@pytest.fixture
def store(cluster_url: str) -> Iterator[ClusterStore]:
    opened, close = open_store(cluster_url)
    assert isinstance(opened, ClusterStore)
    try:
        yield opened
    finally:
        close()


def test_cluster_urls_parse_or_say_what_is_wrong() -> None:
    parsed = parse_cluster_url("rediss+cluster://u:p%40ss@a:1,rediss+cluster://b:2, c:3")
    assert parsed == {
        "nodes": [("a", 1), ("b", 2), ("c", 3)],
        "ssl": True,
        "username": "u",
        "password": "p@ss",
    }
    for bad, why in [
        ("redis+cluster://a:1/0", "no path, query or fragment"),
        ("redis+cluster://a:1?x=1", "no path, query or fragment"),
        ("redis+cluster://a", "is not HOST:PORT"),
        ("redis+cluster://", "names no node"),
        ("redis+cluster://a:1,redis://b:2", "every node must use redis\\+cluster://"),
    ]:
        with pytest.raises(ValueError, match=why):
            open_store(bad)


def test_unreachable_cluster_is_retriable_not_a_crash() -> None:
    gone, close = open_store("redis+cluster://127.0.0.1:1")  # no connection until used
    try:
        with pytest.raises(StoreUnavailable, match=r"127\.0\.0\.1:1"):
            gone.ping()
        with pytest.raises(StoreUnavailable):
            gone.run([["SET", "k", "v"]])
    finally:
        close()


def test_writes_route_by_slot_and_transactions_stay_in_one(
    store: ClusterStore, cluster: tuple[list[NodeProcess], str]
) -> None:
    nodes, _ = cluster
    keys = [f"clops:k{i}" for i in range(24)]
    assert store.run([["SET", k, str(i)] for i, k in enumerate(keys)]) == [True] * 24
    assert {shard_of(k.encode()) for k in keys} == {0, 1, 2}
    assert store.run([["GET", k] for k in keys]) == [str(i).encode() for i in range(24)]
    for i, node in enumerate(nodes):  # each key is on its slot's owner, and only there
        with node.client() as r:
            mine = [k for k in keys if shard_of(k.encode()) == i]
            assert r.execute_command("DBSIZE") >= len(mine)
            assert all(r.execute_command("EXISTS", k) == 1 for k in mine)
    tagged = [["HSET", "clops:{obj}a", "f", "1"], ["HINCRBY", "clops:{obj}a", "f", "1"]]
    tagged.append(["DEL", "clops:{obj}a", "clops:{obj}b"])
    assert store.run(tagged, atomic=True) == [1, 2, 1]
    with pytest.raises(StoreRejected, match="different hash slots"):
        store.run([["SET", "clops:{x}", "1"], ["SET", "clops:{y}", "1"]], atomic=True)
    assert sorted(store.scan("clops:k*")) == sorted(k.encode() for k in keys)
    assert store.run([["DEL", k] for k in keys]) == [1] * 24


def test_ft_create_reaches_every_primary(
    store: ClusterStore, cluster: tuple[list[NodeProcess], str]
) -> None:
    nodes, _ = cluster
    create = ["FT.CREATE", "clops-ix", "ON", "HASH", "PREFIX", "1", "clops-ix:", "SCHEMA",
              "t", "TEXT"]  # fmt: skip
    assert store.run([create]) == [b"OK"]
    (again,) = store.run([create])
    assert isinstance(again, StoreRejected) and "Index already exists" in str(again)
    for node in nodes:
        with node.client() as r:
            assert b"clops-ix" in r.execute_command("FT._LIST")
    store.call("FT.DROPINDEX", "clops-ix")


def _object_names() -> list[str]:
    """Two object keys per shard (by their hash tag ``{bucket/key}``)."""
    picked: dict[int, list[str]] = {0: [], 1: [], 2: []}
    n = 0
    while any(len(v) < 2 for v in picked.values()):
        key = f"notes/doc{n}.md"
        shard = shard_of(f"{{{BUCKET}/{key}}}".encode())
        if len(picked[shard]) < 2:
            picked[shard].append(key)
        n += 1
    return [k for i in range(3) for k in picked[i]]


def test_ingest_writes_every_shard_and_the_api_answers(
    store: ClusterStore, cluster: tuple[list[NodeProcess], str], embedder: Any
) -> None:
    nodes, _ = cluster
    objects = MemoryObjectStore()
    objects.create_bucket(BUCKET)
    names = _object_names()
    for key, text in zip(names, TOPICS, strict=True):
        objects.put(BUCKET, key, text.encode(), content_type="text/markdown")
    processor = Processor(store, objects, embedder, IngestConfig(index=INDEX))
    summary = Backfill(processor, objects, BUCKET, progress=False).run()
    assert (summary.ingested, summary.failed) == (6, {}), summary

    chunks = {f"chunk:{{{BUCKET}/{k}}}#0" for k in names}
    for i, node in enumerate(nodes):  # the chunks and state records of 2 objects per shard
        with node.client() as r:
            held = {k.decode() for k in r.execute_command("KEYS", "chunk:*")}
            assert held == {c for c in chunks if shard_of(c.encode()) == i}
            assert len(r.execute_command("KEYS", "objstate:*")) == 2
    again = Backfill(processor, objects, BUCKET, progress=False).run()
    assert (again.ingested, again.unchanged) == (0, 6), again

    objects.delete(BUCKET, names[0])  # prune finds its state key by SCAN on every primary
    pruned = Backfill(processor, objects, BUCKET, prune=True, progress=False).run()
    assert pruned.pruned == 1, pruned
    live = chunks - {f"chunk:{{{BUCKET}/{names[0]}}}#0"}
    assert store.run([["EXISTS", c] for c in sorted(chunks)]).count(1) == 5

    lighthouse = f"chunk:{{{BUCKET}/{names[1]}}}#0"  # names[i] holds TOPICS[i]
    with TestClient(create_app(ApiSettings(index=INDEX), store, embedder)) as api:
        reply = api.post("/v1/search", json={"query": "who lights the lamp in the tower?"})
        assert reply.status_code == 200, reply.text
        hits = [h["id"] for h in reply.json()["hits"]]
        indexed = store.index_info(INDEX).num_docs
        if indexed == 5:  # the receiving node answered for every shard (server fan-out)
            assert sorted(hits) == sorted(live) and hits[0] == lighthouse
        else:  # one shard's view (redis-py picks a node per keyless command): 1 or 2 of
            # the 5 live chunks, all from one shard
            assert indexed in (1, 2) and len(hits) in (1, 2) and set(hits) <= live
            assert len({shard_of(h.encode()) for h in hits}) == 1, hits
        for chunk in sorted(live):  # keyed reads go to each chunk's own shard
            doc = api.get(f"/v1/documents/{quote(chunk, safe='')}")
            assert doc.status_code == 200, doc.text
            assert doc.json()["text"] in TOPICS
    store.call("FT.DROPINDEX", INDEX)


def _move_slot(url: str, nodes: list[NodeProcess], slot: int, to: NodeProcess) -> None:
    """Publish the next epoch with ``slot`` (empty) owned by ``to``; wait until every node
    has read it."""
    source = FileTopologySource(url[len("file:") :])
    current = source.refresh()
    assert current is not None
    with to.client() as r:
        new_id = r.execute_command("CLUSTER", "MYID").decode()
    shards = []
    for shard in current.shards:
        owned = {s for a, b in shard.slots for s in range(a, b + 1)} - {slot}
        if shard.primary.id == new_id:
            owned.add(slot)
        shards.append(
            dataclasses.replace(shard, slots=tuple(ranges_of(owned)), epoch=current.epoch + 1)
        )
    source.publish(Topology(epoch=current.epoch + 1, shards=tuple(shards)))
    epoch = f"cluster_current_epoch:{current.epoch + 1}\r".encode()
    for node in nodes:
        with node.client() as r:
            wait_for(
                lambda r=r: epoch in r.execute_command("CLUSTER", "INFO"),
                10,
                message="a node did not read the new topology",
            )


def test_node_redis_cluster_client(cluster: tuple[list[NodeProcess], str]) -> None:
    nodes, url = cluster
    moving = "clops-node:moving{nr}"
    old = shard_of(moving.encode())
    proc = start_node(SCRIPT, nodes[2].address, "clops-node:", moving)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        ready = json.loads(proc.stdout.readline() or "{}")
        assert ready.get("phase") == "ready", proc.stderr.read() if proc.stderr else ""
        assert ready["got"] == [str(i) for i in range(30)] and ready["masters"] == 3
        assert ready["mget"] == ["v0", "v1", "v2"]
        assert "CROSSSLOT" in ready["crossslot"], ready["crossslot"]
        _move_slot(url, nodes, key_slot(moving.encode()), nodes[(old + 1) % 3])
        proc.stdin.write("go\n")
        proc.stdin.flush()
        moved = json.loads(proc.stdout.readline() or "{}")
        assert moved == {"phase": "moved", "set": "OK", "get": "after", "deleted": 34}, (
            moved,
            proc.stderr.read() if proc.stderr else "",
        )
        # the old owner now redirects the slot
        with nodes[old].client() as r, pytest.raises(redis.exceptions.MovedError):
            r.execute_command("EXISTS", moving)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
