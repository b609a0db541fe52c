"""Search across shards: a 3-shard cluster of memvec processes answers FT.SEARCH and
FT.AGGREGATE byte for byte as one standalone memvec holding the same documents.

The same 300 hashes go to the cluster (redis-py RedisCluster, spread over the shards by
slot) and to the standalone node, both in key order: one node breaks ranking ties by
document id (insertion order), the cluster by key, the same order here. The index is
created on the cluster after the data exists (every shard indexes its documents). Every
query is sent raw to each of the cluster's nodes and compared with the standalone
node's raw reply. Text ranking uses DISMAX/DOCSCORE there; TFIDF and BM25, which read
the corpus statistics (summed over the shards in a first round), are tested on a second
index whose terms are spread unevenly over the shards (``uneven``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import re
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster
from redis.commands.search import reducers
from redis.commands.search.aggregation import AggregateRequest
from redis.commands.search.query import Query

from store.cluster import FileTopologySource, Node, Shard, Topology, key_slot
from store.cluster.admin import create_cluster
from store.cluster.fanout import PeerError, PeerPool
from store.cluster.search import combine_definitions
from store.cluster.search_catalog import Catalog, record
from store.cluster.search_merge import owned_once
from store.config import FsyncPolicy
from store.replies import ErrorReply, SimpleString, Verbatim
from store.resp import encode_command
from store.server import ServerConfig, ServerThread
from tests.cluster.conftest import NodeProcess
from tests.harness.wait import wait_for
from tests.server.conftest import RawClient

INDEX = "xs-idx"
PREFIX = "xs:doc:"
N_DOCS = 300
WORDS = ["alpha", "beta", "gamma", "delta", "omega"]
TAGS = ["red", "blue", "green"]
CREATE = [
    "FT.CREATE", INDEX, "ON", "HASH", "PREFIX", "1", PREFIX, "SCHEMA",
    "title", "TEXT", "SORTABLE", "tag", "TAG", "n", "NUMERIC", "SORTABLE",
    "v", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", "4", "DISTANCE_METRIC", "L2",
]  # fmt: skip


def _vec(rng: random.Random) -> bytes:
    return struct.pack("<4f", *(rng.uniform(-1, 1) for _ in range(4)))


def _docs() -> list[tuple[str, dict[str, bytes | str | int]]]:
    rng = random.Random(19)
    out = []
    for i in range(N_DOCS):
        words = rng.sample(WORDS, rng.randint(1, 3))
        out.append(
            (
                f"{PREFIX}{i:03d}",
                {
                    "title": " ".join(words),
                    "tag": rng.choice(TAGS),
                    "n": rng.randint(0, 40),  # ties on purpose
                    "v": _vec(rng),
                },
            )
        )
    return out


QUERY_VEC = _vec(random.Random(7))


class ThreadNode:
    """A cluster node in this process (the shard added later, the replica): as
    :class:`NodeProcess` for these tests, without another interpreter's start-up."""

    def __init__(self, data_dir: Path, topology_url: str, **config: Any) -> None:
        self.server = ServerThread(
            ServerConfig(
                port=0,
                data_dir=data_dir,
                appendfsync=FsyncPolicy.EVERYSEC,
                cluster_enabled=True,
                cluster_topology=topology_url,
                **config,
            )
        ).start()

    @property
    def port(self) -> int:
        return self.server.port

    def client(self, **kwargs: Any) -> redis.Redis:
        kwargs.setdefault("socket_timeout", 20)
        return redis.Redis(host="127.0.0.1", port=self.port, **kwargs)


AnyNode = NodeProcess | ThreadNode


class Setup:
    def __init__(self, nodes: list[AnyNode], url: str, single: ServerThread) -> None:
        self.nodes = nodes
        self.url = url
        self.single = single


@pytest.fixture(scope="module")
def setup(
    memvec_nodes: Callable[[int, str], list[NodeProcess]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Setup]:
    url = f"file:{tmp_path_factory.mktemp('xs-topology') / 'topology.json'}"
    shards = memvec_nodes(3, url)
    create_cluster(url, [n.address for n in shards])
    extra = [ThreadNode(tmp_path_factory.mktemp(f"xs-node{i}"), url) for i in (3, 4)]
    nodes: list[AnyNode] = [*shards, *extra]  # the 4th joins later as a new shard
    single = ServerThread(
        ServerConfig(
            port=0, data_dir=tmp_path_factory.mktemp("xs-single"), appendfsync=FsyncPolicy.EVERYSEC
        )
    ).start()
    try:
        _add_replica(url, nodes[4], nodes[0], nodes)
        docs = _docs()
        rc = RedisCluster(host="127.0.0.1", port=nodes[0].port or 0, socket_timeout=20)
        try:
            pipe = rc.pipeline()
            for key, fields in docs:
                pipe.hset(key, mapping=fields)
            pipe.execute()
            assert rc.execute_command(*CREATE) == b"OK"  # after the data: shards backfill
        finally:
            rc.close()
        with redis.Redis(port=single.port) as r:
            pipe = r.pipeline(transaction=False)
            for key, fields in docs:
                pipe.hset(key, mapping=fields)
            pipe.execute()
            assert r.execute_command(*CREATE) == b"OK"
        yield Setup(nodes, url, single)
    finally:
        single.stop()
        for node in extra:
            node.server.stop()


def _add_replica(url: str, replica: AnyNode, primary: AnyNode, everyone: list[AnyNode]) -> None:
    """Publish ``replica`` as a replica of ``primary``'s shard and attach it (REPLICAOF)."""
    source = FileTopologySource(url[len("file:") :])
    current = source.refresh()
    assert current is not None
    with replica.client() as r:
        node = Node(r.execute_command("CLUSTER", "MYID").decode(), "127.0.0.1",
                    replica.port or 0, "replica")  # fmt: skip
        shards = tuple(
            dataclasses.replace(s, nodes=(*s.nodes, node)) if s.primary.port == primary.port else s
            for s in current.shards
        )
        source.publish(dataclasses.replace(current, epoch=current.epoch + 1, shards=shards))
        assert r.execute_command("REPLICAOF", "127.0.0.1", primary.port) == b"OK"
    epoch = f"cluster_current_epoch:{current.epoch + 1}\r".encode()
    for n in everyone:  # every coordinator must know the replica (READONLY test)
        with n.client() as r:
            wait_for(
                lambda r=r: epoch in r.execute_command("CLUSTER", "INFO"),
                10,
                message="a node did not read the topology with the replica",
            )


def _raw_call(
    port: int, args: list[str | bytes], protocol: int, *, readonly: bool = False
) -> bytes:
    c = RawClient(port, timeout_s=20)
    try:
        if protocol == 3:
            c.send(encode_command("HELLO", "3"))
            c.read_reply()
        if readonly:
            c.send(encode_command("READONLY"))
            assert c.read_reply() == b"+OK\r\n"
        c.send(encode_command(*args))
        return c.read_reply()
    finally:
        c.close()


def _shard_local(node: AnyNode) -> redis.Redis:
    """A client whose FT.* run on the node's own shard, as the coordinator's connections."""
    r = node.client(protocol=2, single_connection_client=True)
    r.execute_command("CLIENT", "SETINFO", "LIB-NAME", "memvec-coordinator")
    return r


def _keys(reply: bytes) -> list[bytes]:
    """The document keys of a raw reply, in order (for a readable failure)."""
    return re.findall(rb"xs:doc:\d+", reply)


def _assert_as_one_node(
    setup: Setup, commands: list[list[str | bytes]], protocol: int, keys: Any = None
) -> None:
    """Each command's raw reply from every shard's node equals the standalone node's."""
    keys = keys or _keys
    mismatches = []
    for args in commands:
        expected = _raw_call(setup.single.port, args, protocol)
        assert not expected.startswith(b"-"), (args, expected)
        for node in setup.nodes[:3]:
            got = _raw_call(node.port or 0, args, protocol)
            if got != expected:
                mismatches.append((node.port, args, keys(expected), keys(got), expected, got))
    if mismatches:
        port, args, want, have, expected, got = mismatches[0]
        pytest.fail(
            f"{len(mismatches)} replies differ; node {port}, {args[2:]}:\n"
            f"one node: {want}\ncluster:  {have}\n{expected!r}\n{got!r}"
        )


KNN = "*=>[KNN 10 @v $vec AS dist]"
PARAMS: list[str | bytes] = ["PARAMS", "2", "vec", QUERY_VEC, "DIALECT", "2"]
SEARCHES: list[list[str | bytes]] = [
    [KNN, *PARAMS],
    [KNN, "RETURN", "1", "n", *PARAMS],
    [KNN, "NOCONTENT", "LIMIT", "2", "5", *PARAMS],
    [KNN, "SORTBY", "n", "DESC", "LIMIT", "1", "6", "WITHSORTKEYS", *PARAMS],
    [KNN, "SORTBY", "dist", "DESC", "LIMIT", "0", "4", *PARAMS],
    ["(@tag:{red})=>[KNN 7 @v $vec AS dist]", "RETURN", "2", "tag", "dist", *PARAMS],
    ["@title:(alpha)=>[KNN 300 @v $vec AS dist]", "NOCONTENT", "LIMIT", "0", "50", *PARAMS],
    ["@v:[VECTOR_RANGE 0.9 $vec]=>{$YIELD_DISTANCE_AS: d}", "SORTBY", "d", "LIMIT", "0", "20",
     *PARAMS],
    ["@v:[VECTOR_RANGE 0.9 $vec]=>{$YIELD_DISTANCE_AS: d}", "SORTBY", "d", "DESC", "NOCONTENT",
     "LIMIT", "3", "9", *PARAMS],
    ["@title:(alpha|beta)", "SCORER", "DISMAX", "WITHSCORES", "LIMIT", "5", "12",
     "RETURN", "1", "title"],
    ["@tag:{blue}", "SCORER", "DOCSCORE", "NOCONTENT", "LIMIT", "0", "100"],
    ["gamma", "SCORER", "DISMAX", "WITHSCORES", "NOCONTENT"],
    ["*", "SORTBY", "n", "LIMIT", "10", "15", "RETURN", "2", "n", "tag"],
    ["*", "SORTBY", "n", "DESC", "LIMIT", "0", "25", "NOCONTENT", "WITHSORTKEYS"],
    ["@n:[10 20]", "SORTBY", "n", "ASC", "WITHSCORES", "SCORER", "DISMAX"],
    ["@tag:{green}", "LIMIT", "0", "0"],
    ["*", "SORTBY", "title", "DESC", "LIMIT", "0", "20", "RETURN", "1", "title"],
    ["@tag:{blue}", "SORTBY", "title", "LIMIT", "30", "10", "WITHSORTKEYS", "NOCONTENT"],
    ["gamma", "SCORER", "DISMAX", "WITHSCORES", "EXPLAINSCORE", "LIMIT", "2", "3", "NOCONTENT"],
    ["@tag:{red}", "SCORER", "DOCSCORE", "WITHPAYLOADS", "LIMIT", "0", "3", "RETURN", "1", "n"],
    [KNN, "WITHSCORES", "WITHSORTKEYS", "SORTBY", "n", "RETURN", "1", "tag", *PARAMS],
    ["@title:(nothing)", "SCORER", "DISMAX"],
]  # fmt: skip
AGGREGATES: list[list[str | bytes]] = [
    ["*", "GROUPBY", "1", "@tag", "REDUCE", "COUNT", "0", "AS", "c",
     "REDUCE", "AVG", "1", "@n", "AS", "avg", "SORTBY", "2", "@c", "DESC"],
    ["*", "GROUPBY", "1", "@n", "REDUCE", "COUNT_DISTINCT", "1", "@tag", "AS", "tags",
     "REDUCE", "QUANTILE", "2", "@n", "0.5", "AS", "q", "SORTBY", "2", "@n", "ASC",
     "LIMIT", "0", "8"],
    ["@tag:{red}", "LOAD", "2", "@n", "@title", "APPLY", "@n * 2", "AS", "n2",
     "FILTER", "@n2 > 30", "SORTBY", "4", "@n2", "DESC", "@title", "ASC", "LIMIT", "0", "10"],
    [KNN, "LOAD", "1", "@n", "SORTBY", "2", "@dist", "ASC", *PARAMS],
    ["*", "GROUPBY", "1", "@tag", "REDUCE", "TOLIST", "1", "@n", "AS", "ns",
     "SORTBY", "2", "@tag", "ASC"],
]  # fmt: skip


@pytest.mark.parametrize("protocol", [2, 3])
def test_search_answers_as_one_node(setup: Setup, protocol: int) -> None:
    _assert_as_one_node(setup, [["FT.SEARCH", INDEX, *q] for q in SEARCHES], protocol)


@pytest.mark.parametrize("protocol", [2, 3])
def test_aggregate_answers_as_one_node(setup: Setup, protocol: int) -> None:
    _assert_as_one_node(setup, [["FT.AGGREGATE", INDEX, *q] for q in AGGREGATES], protocol)


def test_info_list_tagvals_and_errors(setup: Setup) -> None:
    for node in setup.nodes[:3]:
        with node.client(protocol=2) as r:
            info = r.execute_command("FT.INFO", INDEX)
            fields = dict(zip(info[::2], info[1::2], strict=True))
            assert fields[b"num_docs"] == N_DOCS
            assert r.execute_command("FT._LIST") == [INDEX.encode()]
        with node.client(protocol=3) as r:
            info3 = r.execute_command("FT.INFO", INDEX)
            assert info3[b"num_docs"] == N_DOCS and info3[b"hash_indexing_failures"] == 0
        listed = _raw_call(setup.single.port, ["FT._LIST"], 3)
        assert listed.startswith(b"~1") and _raw_call(node.port, ["FT._LIST"], 3) == listed
    for args in (
        ["FT.TAGVALS", INDEX, "tag"],
        ["FT.SEARCH", "xs-missing", "*"],
        ["FT.SEARCH", INDEX, "@nofield:{x}", "LIMIT", "0"],
        ["FT.AGGREGATE", INDEX, "*", "GROUPBY", "1", "@nofield"],
        ["FT.CREATE", INDEX, "SCHEMA", "t", "TEXT"],
        ["FT.DROPINDEX", "xs-missing"],
    ):
        expected = _raw_call(setup.single.port, list(args), 2)
        assert _raw_call(setup.nodes[1].port or 0, list(args), 2) == expected, args


@pytest.mark.parametrize("protocol", [2, 3])
def test_aggregate_cursor_reads_as_one_node(setup: Setup, protocol: int) -> None:
    """WITHCURSOR across shards: the rows stay on the node that answered; FT.CURSOR READ
    sent to it pages them as one node's cursor does (ids differ: compared without them)."""
    query = ["FT.AGGREGATE", INDEX, "@tag:{blue}", "LOAD", "1", "@n", "SORTBY", "2", "@n",
             "DESC", "MAX", "20", "WITHCURSOR", "COUNT", "6"]  # fmt: skip

    def pages(port: int) -> list[bytes]:
        c = RawClient(port, timeout_s=20)
        try:
            if protocol == 3:
                c.send(encode_command("HELLO", "3"))
                c.read_reply()
            c.send(encode_command(*query))
            out = []
            while True:
                reply = c.read_reply()
                body, cid = reply.rsplit(b":", 1)  # [body, id]: the id is the last integer
                out.append(body)
                if cid == b"0\r\n":
                    return out
                c.send(encode_command("FT.CURSOR", "READ", INDEX, cid[:-2]))
        finally:
            c.close()

    expected = pages(setup.single.port)
    assert len(expected) == 4  # 20 rows: 6 + 6 + 6 + 2, the last read says 0
    assert pages(setup.nodes[2].port or 0) == expected


def test_definitions_reach_every_shard_and_a_later_one(setup: Setup) -> None:
    """FT.ALIASADD and FT.CREATE fan out and are recorded in the topology; a shard published
    later creates them; FT.DROPINDEX removes them everywhere."""
    nodes = setup.nodes
    with nodes[1].client(protocol=2) as r:
        assert r.execute_command("FT.ALIASADD", "xs-alias", INDEX) == b"OK"
        assert r.execute_command("FT.CREATE", "xs-other", "PREFIX", "1", "xs:o:",
                                 "SCHEMA", "t", "TEXT") == b"OK"  # fmt: skip
        assert r.execute_command("FT.SEARCH", "xs-alias", "*", "LIMIT", "0", "0") == [N_DOCS]
    path = Path(setup.url[len("file:") :])
    catalog = json.loads(path.read_bytes())["search"]
    assert set(catalog["indexes"]) == {INDEX, "xs-other"}
    assert catalog["aliases"] == {"xs-alias": INDEX}
    # each shard holds the definitions itself (a coordinator's connection sees one shard)
    for node in nodes[:3]:
        with _shard_local(node) as r:
            assert sorted(r.execute_command("FT._LIST")) == [b"xs-idx", b"xs-other"]
    # a fourth node joins as a new shard (no slots yet): it gets the catalog
    source = FileTopologySource(path)
    current = source.refresh()
    assert current is not None
    with nodes[3].client() as r:
        node_id = r.execute_command("CLUSTER", "MYID").decode()
        shard_id = r.execute_command("CLUSTER", "MYSHARDID").decode()
    new = Shard(id=shard_id, nodes=(Node(node_id, "127.0.0.1", nodes[3].port or 0, "primary"),))
    source.publish(
        Topology(epoch=current.epoch + 1, shards=(*current.shards, new), search=current.search)
    )
    with _shard_local(nodes[3]) as r:
        wait_for(
            lambda: sorted(r.execute_command("FT._LIST")) == [b"xs-idx", b"xs-other"],
            15,
            message="the new shard never created the catalog's indexes",
        )
        wait_for(
            lambda: r.execute_command("FT.SEARCH", "xs-alias", "*", "LIMIT", "0", "0") == [0],
            15,
            message="the new shard never added the catalog's alias",
        )
    # the cluster still answers as one node with an empty shard among them
    args: list[str | bytes] = ["FT.SEARCH", INDEX, *SEARCHES[3]]
    assert _raw_call(nodes[0].port or 0, args, 2) == _raw_call(setup.single.port, args, 2)
    with nodes[3].client(protocol=2) as r:
        assert r.execute_command("FT.DROPINDEX", "xs-other") == b"OK"
        assert r.execute_command("FT._LIST") == [INDEX.encode()]
    assert set(json.loads(path.read_bytes())["search"]["indexes"]) == {INDEX}


def test_readonly_reads_go_to_replicas(setup: Setup) -> None:
    """A READONLY client's search asks the replica of the shard that has one, and the
    answer is still one node's."""
    replica, primary = setup.nodes[4], setup.nodes[0]
    count = ["FT.SEARCH", INDEX, "*", "LIMIT", "0", "0"]
    with _shard_local(primary) as p, _shard_local(replica) as r:
        held = p.execute_command(*count)
        assert held[0] > 0
        wait_for(lambda: r.execute_command(*count) == held, 15, message="replica never synced")
    with replica.client(protocol=2) as r:
        before = r.info("commandstats").get("cmdstat_FT.SEARCH", {}).get("calls", 0)
    for query in (SEARCHES[0], SEARCHES[3], SEARCHES[12]):
        args: list[str | bytes] = ["FT.SEARCH", INDEX, *query]
        expected = _raw_call(setup.single.port, args, 2)
        for node in setup.nodes[:3]:
            assert _raw_call(node.port or 0, args, 2, readonly=True) == expected, query
    with replica.client(protocol=2) as r:
        after = r.info("commandstats")["cmdstat_FT.SEARCH"]["calls"]
    assert after - before == 9  # 3 queries x 3 coordinators, one call each


def test_peer_pool_authenticates_and_names_itself(tmp_path: Path) -> None:
    node = ServerThread(
        ServerConfig(
            port=0, data_dir=tmp_path, appendfsync=FsyncPolicy.EVERYSEC, requirepass="s3cret"
        )
    ).start()

    async def run() -> None:
        pool = PeerPool(password="s3cret", timeout_s=5)
        try:
            info = await pool.call("127.0.0.1", node.port, 3, [b"CLIENT", b"INFO"])
            assert isinstance(info, Verbatim)  # RESP3 (HELLO 3 was sent)
            assert "lib-name=memvec-coordinator" in info.text and "resp=3" in info.text
            again = await pool.call("127.0.0.1", node.port, 3, [b"CLIENT", b"ID"])
            assert f"id={again} " in info.text  # the idle connection was reused
            with redis.Redis(port=node.port, password="s3cret") as r:
                assert r.client_kill_filter(_id=again) == 1
            # the pooled connection is closed now: a new one is made, the call succeeds
            third = await pool.call("127.0.0.1", node.port, 3, [b"CLIENT", b"ID"])
            assert isinstance(third, int) and third != again
        finally:
            await pool.close()
        wrong = PeerPool(password="nope", timeout_s=5)
        with pytest.raises(PeerError, match="refused 'AUTH'"):
            await wrong.call("127.0.0.1", node.port, 2, [b"PING"])
        await wrong.close()
        node.stop()
        with pytest.raises(PeerError, match="could not be asked"):
            await PeerPool(timeout_s=5).call("127.0.0.1", node.port, 2, [b"PING"])

    try:
        asyncio.run(run())
    finally:
        node.stop()


def test_definition_answers_and_catalog_records() -> None:
    ok, exists = SimpleString("OK"), ErrorReply("Index already exists")
    assert combine_definitions([ok, exists, ok]) == "OK"  # a repeated, partial FT.CREATE
    assert combine_definitions([exists, exists]) is exists
    bad = ErrorReply("Unknown argument `X`")
    assert combine_definitions([ok, bad, exists]) is bad
    catalog = Catalog()
    for args in (
        [b"ft.create", b"i", b"SCHEMA", b"t", b"TEXT"],
        [b"FT.ALIASADD", b"a", b"i"],
        [b"FT.ALTER", b"a", b"SCHEMA", b"ADD", b"u", b"TAG"],
        [b"FT.CREATE", b"j", b"SCHEMA", b"\xff", b"TEXT"],
    ):
        catalog = record(catalog, args)
    assert catalog.indexes["i"] == [
        ["FT.CREATE", "i", "SCHEMA", "t", "TEXT"],
        ["FT.ALTER", "i", "SCHEMA", "ADD", "u", "TAG"],
    ]
    assert list(catalog.missing({"i"}, {})) == [
        [[b"FT.CREATE", b"j", b"SCHEMA", b"\xff", b"TEXT"]],  # any byte round-trips
        [[b"FT.ALIASADD", b"a", b"i"]],
    ]
    catalog = record(catalog, [b"FT.DROPINDEX", b"a", b"DD"])  # by its alias
    assert set(catalog.indexes) == {"j"} and catalog.aliases == {}
    assert record(catalog, [b"FT.DROPINDEX", b"j"]).to_plain() is None


def test_a_key_two_shards_hold_is_answered_once_from_its_owner() -> None:
    """During a slot migration a key is on both shards for a while (copied, not yet
    deleted): the merge keeps the owner's copy."""
    found = [[(b"a", 0), (b"k", 0)], [(b"k", 1), (b"b", 1)], [(b"c", 2)]]
    kept, dropped = owned_once(found, lambda d: d[0], lambda key: 1 if key == b"k" else 0)
    assert kept == [(b"a", 0), (b"k", 1), (b"b", 1), (b"c", 2)] and dropped == 1
    kept, dropped = owned_once(found, lambda d: d[0], lambda key: -1)  # no owner: the first
    assert (b"k", 0) in kept and (b"k", 1) not in kept and dropped == 1


def test_shards_are_asked_with_the_cluster_password(tmp_path: Path) -> None:
    """Nodes with a password: the coordinator authenticates with it (requirepass here)."""
    url = f"file:{tmp_path / 'topology.json'}"
    nodes = [ThreadNode(tmp_path / f"p{i}", url, requirepass="pw") for i in range(2)]
    try:
        create_cluster(url, [f"127.0.0.1:{n.port}" for n in nodes], password="pw")
        rc = RedisCluster(host="127.0.0.1", port=nodes[0].port, password="pw")
        try:
            keys = [f"pw:{i}" for i in range(20)]
            for i, key in enumerate(keys):
                rc.hset(key, mapping={"n": i})
            assert rc.execute_command("FT.CREATE", "pw-idx", "PREFIX", "1", "pw:",
                                      "SCHEMA", "n", "NUMERIC", "SORTABLE") == b"OK"  # fmt: skip
        finally:
            rc.close()
        for node in nodes:
            with node.client(password="pw", protocol=2) as r:
                reply = r.execute_command("FT.SEARCH", "pw-idx", "*", "SORTBY", "n", "DESC",
                                          "LIMIT", "0", "3", "NOCONTENT")  # fmt: skip
                assert reply == [20, b"pw:19", b"pw:18", b"pw:17"]
    finally:
        for node in nodes:
            node.server.stop()


def test_redis_py_cluster_search_api(setup: Setup) -> None:
    """redis-py's RedisCluster search API (FT.* on its default node, FT.CURSOR on the node
    that ran the FT.AGGREGATE) gets one node's answers."""
    rc = RedisCluster(host="127.0.0.1", port=setup.nodes[1].port or 0, socket_timeout=20)
    try:
        with redis.Redis(port=setup.single.port) as single:
            query = Query("@tag:{red}").sort_by("n").paging(3, 7).return_fields("n", "tag")
            got, want = rc.ft(INDEX).search(query), single.ft(INDEX).search(query)
            assert got.total == want.total
            assert [(d.id, d.n) for d in got.docs] == [(d.id, d.n) for d in want.docs]
            request = (
                AggregateRequest("*")
                .group_by("@tag", reducers.count().alias("c"))
                .sort_by("@tag")
                .cursor(count=1)
            )
            rows = []
            result = rc.ft(INDEX).aggregate(request)
            while True:
                rows += result.rows
                if not result.cursor or not result.cursor.cid:
                    break
                result = rc.ft(INDEX).aggregate(result.cursor)
            expected = single.ft(INDEX).aggregate(
                AggregateRequest("*").group_by("@tag", reducers.count().alias("c")).sort_by("@tag")
            )
            assert rows == expected.rows and len(rows) == len(TAGS)
    finally:
        rc.close()


def test_json_index_search_answers_as_one_node(setup: Setup) -> None:
    rng = random.Random(3)
    create = ["FT.CREATE", "xs-json", "ON", "JSON", "PREFIX", "1", "xs:j:", "SCHEMA",
              "$.n", "AS", "n", "NUMERIC", "SORTABLE", "$.t", "AS", "t", "TAG",
              "$.v", "AS", "v", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", "2",
              "DISTANCE_METRIC", "L2"]  # fmt: skip
    rc = RedisCluster(host="127.0.0.1", port=setup.nodes[0].port or 0, socket_timeout=20)
    single = redis.Redis(port=setup.single.port)
    try:
        for i in range(60):
            doc = json.dumps({"n": rng.randint(0, 9), "t": rng.choice("ab"),
                              "v": [rng.random(), rng.random()]})  # fmt: skip
            for c in (rc, single):
                c.execute_command("JSON.SET", f"xs:j:{i:02d}", "$", doc)
        assert rc.execute_command(*create) == b"OK" and single.execute_command(*create) == b"OK"
        vec = struct.pack("<2f", 0.5, 0.5)
        knn: list[str | bytes] = ["*=>[KNN 5 @v $vec AS d]", "PARAMS", "2", "vec", vec,
                                  "DIALECT", "2"]  # fmt: skip
        for query in (
            knn,
            [*knn, "RETURN", "1", "n"],
            ["@t:{a}", "SORTBY", "n", "DESC", "LIMIT", "2", "6"],
            ["*", "SORTBY", "n", "RETURN", "2", "$.n", "t", "LIMIT", "0", "8", "DIALECT", "3"],
        ):
            for protocol in (2, 3):
                args: list[str | bytes] = ["FT.SEARCH", "xs-json", *query]
                expected = _raw_call(setup.single.port, args, protocol)
                assert _raw_call(setup.nodes[2].port or 0, args, protocol) == expected, query
        assert rc.execute_command("FT.DROPINDEX", "xs-json") == b"OK"
    finally:
        rc.close()
        single.close()


def test_corpus_statistics_commands_refuse_bad_headers(uneven: Setup) -> None:
    counts = []
    for node in uneven.nodes[:3]:  # each shard's own counts; a shard without the term: none
        with node.client() as r:
            stats = r.execute_command("_FT.STATS", SC_INDEX, "apple @kind:{fruit}")
            counts.append((stats[0], dict(zip(stats[2][::2], stats[2][1::2], strict=True))))
    assert sum(n for n, _ in counts) == sum(len(group) for group in SC_SHARD_DOCS)
    assert sum(terms.get(b"apple", 0) for _, terms in counts) == 9
    with uneven.nodes[0].client() as r:
        for bad in (
            ["x"],
            ["1", "2", "5", "t"],
            ["1", "2", "0", "1", "a", "b"],
            ["-1", "2", "0", "0"],
        ):
            with pytest.raises(redis.ResponseError):
                r.execute_command("_FT.SEARCH", SC_INDEX, *bad, "apple")
        assert r.ping()


# -- exact TFIDF / BM25 across shards (the statistics round) ------------------------------

SC_INDEX = "xs-sc"
SC_PREFIX = "xs:sc:"
SC_CREATE = [
    "FT.CREATE", SC_INDEX, "ON", "HASH", "PREFIX", "1", SC_PREFIX, "SCHEMA",
    "body", "TEXT", "kind", "TAG", "n", "NUMERIC",
]  # fmt: skip
# "apple" is frequent on the first shard and rare on the second, "cherry" the reverse;
# lengths vary (BM25's average length), "runs"/"running" stem alike, "app*" expands
SC_SHARD_DOCS = [
    [("apple banana", "fruit"), ("apple apple pear", "fruit"), ("apple running fast", "sport"),
     ("apple", "fruit"), ("apple kiwi banana plum", "fruit"), ("apple cherry", "fruit"),
     ("banana runs", "sport"), ("application form apple", "office")],
    [("apple cherry cherry", "fruit"), ("cherry banana", "fruit"), ("cherry", "fruit"),
     ("cherry runs daily", "sport"), ("cherry pie with cream and sugar", "food")],
    [("banana split", "food"), ("plum cherry", "fruit"), ("appetite for apple pie", "food"),
     ("running shoes", "sport"), ("durian plum", "fruit")],
]  # fmt: skip
SC_SCORERS = ["TFIDF", "TFIDF.DOCNORM", "BM25", "BM25STD"]
SC_SEARCHES: list[list[str]] = [
    ["apple", "WITHSCORES", "NOCONTENT", "LIMIT", "0", "20"],
    ["apple|cherry", "LIMIT", "0", "7", "RETURN", "1", "body"],  # ranking only, LIMIT
    ["apple banana", "WITHSCORES", "NOCONTENT"],
    ["@kind:{fruit}", "WITHSCORES", "NOCONTENT", "LIMIT", "0", "20"],
    ["app*", "WITHSCORES", "NOCONTENT"],
    ["running", "WITHSCORES", "NOCONTENT"],
    ["cherry @kind:{fruit|food}", "WITHSCORES", "LIMIT", "1", "4"],
    ["apple cherry", "WITHSCORES", "EXPLAINSCORE", "NOCONTENT"],
    ["*", "WITHSCORES", "NOCONTENT", "LIMIT", "0", "5"],
    # "durian" is on one shard only: the others must keep the union as one node does
    ["apple|durian", "WITHSCORES", "EXPLAINSCORE", "NOCONTENT", "LIMIT", "0", "4"],
    ["(durian|apple) => { $weight: 2.0 }", "WITHSCORES", "NOCONTENT", "DIALECT", "2"],
]  # fmt: skip


def _write_both(setup: Setup, docs: list[tuple[str, dict[str, str]]], create: list[str]) -> None:
    """``docs`` in key order to the cluster and to the standalone node, then ``create``
    (the index made after the data: each side indexes what it holds)."""
    rc = RedisCluster(host="127.0.0.1", port=setup.nodes[0].port or 0, socket_timeout=20)
    try:
        for key, fields in docs:
            rc.hset(key, mapping=fields)
        assert rc.execute_command(*create) == b"OK"
    finally:
        rc.close()
    with redis.Redis(port=setup.single.port) as r:
        for key, fields in docs:
            r.hset(key, mapping=fields)
        assert r.execute_command(*create) == b"OK"


def _tag_on(node: AnyNode, n: int) -> list[str]:
    """``n`` hash tags whose slots ``node`` (a primary) serves, in key order."""
    with node.client() as r:
        ranges = [
            (int(e[0]), int(e[1]))
            for e in r.execute_command("CLUSTER", "SLOTS")
            if int(e[2][1]) == node.port
        ]
    out, i = [], 0
    while len(out) < n:
        tag = f"t{i:04d}"
        slot = key_slot(tag.encode())
        if any(lo <= slot <= hi for lo, hi in ranges):
            out.append(tag)
        i += 1
    return out


@pytest.fixture(scope="module")
def uneven(setup: Setup) -> Iterator[Setup]:
    """A second small index whose terms are spread unevenly over the shards (the keys carry
    hash tags that put each group on its shard), written in key order to both sides."""
    docs: list[tuple[str, dict[str, str]]] = []
    for s, group in enumerate(SC_SHARD_DOCS):
        tags = _tag_on(setup.nodes[s], len(group))
        for j, ((body, kind), tag) in enumerate(zip(group, tags, strict=True)):
            docs.append(
                (f"{SC_PREFIX}{s}{j:02d}{{{tag}}}", {"body": body, "kind": kind, "n": str(j)})
            )
    docs.sort()
    _write_both(setup, docs, SC_CREATE)
    try:
        yield setup
    finally:
        with redis.Redis(port=setup.single.port) as r:
            r.execute_command("FT.DROPINDEX", SC_INDEX, "DD")
        with setup.nodes[0].client() as r:
            r.execute_command("FT.DROPINDEX", SC_INDEX, "DD")


def _sc_keys(reply: bytes) -> list[bytes]:
    return re.findall(rb"xs:sc:\d+\{t\d+\}", reply)


@pytest.mark.parametrize("protocol", [2, 3])
def test_tfidf_and_bm25_scores_are_one_nodes(uneven: Setup, protocol: int) -> None:
    """Every statistics-reading scorer: scores, order, LIMIT pages and EXPLAINSCORE are
    byte for byte one node's, from every node of the cluster."""
    commands: list[list[str | bytes]] = [
        ["FT.SEARCH", SC_INDEX, *query, "SCORER", scorer]
        for scorer in SC_SCORERS
        for query in SC_SEARCHES
    ]
    _assert_as_one_node(uneven, commands, protocol, _sc_keys)


def test_default_scorer_and_aggregate_addscores_are_one_nodes(uneven: Setup) -> None:
    """The default scorer (TFIDF, no SCORER) and FT.AGGREGATE ADDSCORES."""
    cases: list[list[str | bytes]] = [
        ["FT.SEARCH", SC_INDEX, "apple|cherry", "WITHSCORES", "NOCONTENT", "LIMIT", "0", "6"],
        ["FT.AGGREGATE", SC_INDEX, "apple|cherry", "ADDSCORES", "SORTBY", "2", "@__score",
         "DESC"],
        ["FT.AGGREGATE", SC_INDEX, "apple", "ADDSCORES", "SCORER", "BM25STD", "LOAD", "1",
         "@body", "SORTBY", "4", "@__score", "DESC", "@body", "ASC"],
        ["FT.AGGREGATE", SC_INDEX, "@kind:{fruit}", "ADDSCORES", "SCORER", "BM25",
         "GROUPBY", "1", "@__score", "REDUCE", "COUNT", "0", "AS", "c",
         "SORTBY", "2", "@__score", "DESC"],
    ]  # fmt: skip
    for args in cases:
        for protocol in (2, 3):
            expected = _raw_call(uneven.single.port, args, protocol)
            assert not expected.startswith(b"-"), (args, expected)
            for node in uneven.nodes[:3]:
                assert _raw_call(node.port or 0, args, protocol) == expected, (args, protocol)


def test_shard_statistics_differ_so_the_round_matters(uneven: Setup) -> None:
    """Each shard's own scores (its statistics) differ from one node's for the same
    documents: without the statistics round the merged scores would too."""
    query = ["FT.SEARCH", SC_INDEX, "apple", "WITHSCORES", "NOCONTENT", "LIMIT", "0", "50"]
    pair = re.compile(rb"(xs:sc:\d+\{t\d+\})\r\n\$\d+\r\n([^\r]+)\r\n")
    one_node = dict(pair.findall(_raw_call(uneven.single.port, query, 2)))
    assert len(one_node) == 9
    differ = 0
    for s, node in enumerate(uneven.nodes[:3]):
        c = RawClient(node.port or 0, timeout_s=20)
        try:
            c.send(encode_command("CLIENT", "SETINFO", "LIB-NAME", "memvec-coordinator"))
            assert c.read_reply() == b"+OK\r\n"
            c.send(encode_command(*query))
            local = dict(pair.findall(c.read_reply()))
        finally:
            c.close()
        differ += sum(score != one_node[key] for key, score in local.items())
        with _shard_local(node) as r:
            stats = r.execute_command("_FT.STATS", SC_INDEX, "apple")
        assert stats[0] == len(SC_SHARD_DOCS[s]) and stats[2][0] == b"apple", stats
    assert differ > 0


def test_statistics_round_only_when_scores_need_it(uneven: Setup) -> None:
    """_FT.STATS goes to every shard for a TFIDF/BM25 search whose scores are seen or rank,
    and not for DISMAX, SORTBY without scores, LIMIT 0 0, KNN-free aggregates without
    ADDSCORES: those keep one round."""

    def calls() -> int:
        total = 0
        for node in uneven.nodes[:3]:
            with node.client() as r:
                found = r.info("commandstats").get("cmdstat__ft.stats")
                total += found["calls"] if found else 0
        return total

    one_round: list[list[str | bytes]] = [
        ["FT.SEARCH", SC_INDEX, "apple", "SCORER", "DISMAX", "WITHSCORES"],
        ["FT.SEARCH", SC_INDEX, "apple", "SORTBY", "n"],
        ["FT.SEARCH", SC_INDEX, "apple", "LIMIT", "0", "0"],
        ["FT.AGGREGATE", SC_INDEX, "apple", "LOAD", "1", "@n"],
    ]
    before = calls()
    for args in one_round:
        assert not _raw_call(uneven.nodes[1].port or 0, args, 2).startswith(b"-")
    assert calls() == before
    _raw_call(uneven.nodes[1].port or 0, ["FT.SEARCH", SC_INDEX, "apple"], 2)
    assert calls() == before + 3
