"""redis-py (sync and asyncio, RESP2 and RESP3) against `memvec server`: data commands,
pipelines, vector search, and the connection/introspection commands clients rely on."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import redis
import redis.asyncio as aioredis
from redis.commands.search.field import NumericField, TagField, VectorField
from redis.commands.search.index_definition import IndexDefinition, IndexType
from redis.commands.search.query import Query

from store.server import ServerThread
from tests.harness.wait import wait_for

Client = Callable[..., Any]


def call(r: redis.Redis, *args: object) -> Any:
    """Send a command and return the reply unparsed by redis-py's response callbacks."""
    conn = r.connection_pool.get_connection()
    try:
        conn.send_command(*args)
        return conn.read_response()
    finally:
        r.connection_pool.release(conn)


@pytest.mark.parametrize("protocol", [2, 3])
def test_strings_hashes_expiry(client: Client, protocol: int) -> None:
    r = client(protocol=protocol)
    assert r.ping() is True
    assert r.set("s", "v") is True
    assert r.get("s") == b"v"
    assert r.get("missing") is None
    assert r.hset("h", mapping={"a": "1", "b": "2"}) == 2
    assert r.hgetall("h") == {b"a": b"1", b"b": b"2"}
    assert r.hget("h", "a") == b"1"
    assert r.exists("s", "h", "nope") == 2
    assert r.expire("s", 100) is True
    assert 0 < r.ttl("s") <= 100
    assert r.pexpire("h", 30) is True
    wait_for(lambda: r.exists("h") == 0, 5, message="h should expire")
    assert r.delete("s") == 1
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.set("str", "x")
        r.hget("str", "f")
    assert r.keys("*") == [b"str"]
    assert r.flushall() is True
    assert r.dbsize() == 0


def test_errors_match_redis(client: Client) -> None:
    r = client()
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("NOSUCH", "a", "b")
    assert str(e.value) == "unknown command 'NOSUCH', with args beginning with: 'a' 'b' "
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("GET")
    assert str(e.value) == "wrong number of arguments for 'get' command"
    with pytest.raises(redis.ResponseError, match="DB index is out of range"):
        r.execute_command("SELECT", "1")
    assert r.execute_command("SELECT", "0") in (b"OK", "OK", True)


@pytest.mark.parametrize("protocol", [2, 3])
def test_pipeline_of_5000(client: Client, protocol: int) -> None:
    r = client(protocol=protocol)
    with r.pipeline(transaction=False) as p:
        for i in range(5000):
            p.hset(f"p:{i}", mapping={"n": i, "s": "x" * (i % 50)})
        assert p.execute() == [2] * 5000
    with r.pipeline(transaction=False) as p:
        for i in range(5000):
            p.hget(f"p:{i}", "n")
        assert p.execute() == [str(i).encode() for i in range(5000)]


async def test_asyncio_client_concurrent(server: ServerThread) -> None:
    clients: list[Any] = [aioredis.Redis(port=server.port, protocol=3) for _ in range(8)]
    try:

        async def work(n: int, r: aioredis.Redis) -> None:
            for i in range(50):
                await r.set(f"a:{n}:{i}", i)
                assert await r.get(f"a:{n}:{i}") == str(i).encode()

        await asyncio.gather(*(work(n, r) for n, r in enumerate(clients)))
        assert await clients[0].dbsize() == 400
        async with clients[1].pipeline(transaction=True) as p:
            p.set("t1", 1).incr("t1")
            assert await p.execute() == [True, 2]
    finally:
        for r in clients:
            await r.aclose()


def test_hello_and_protocol_switch(client: Client) -> None:
    r = client(protocol=3)
    hello = r.execute_command("HELLO", "3")
    assert hello[b"proto"] == 3
    assert hello[b"version"] == b"7.4.0"
    assert {m[b"name"] for m in hello[b"modules"]} == {b"search", b"ReJSON"}
    with pytest.raises(redis.ResponseError, match="unsupported protocol version"):
        r.execute_command("HELLO", "4")
    assert r.execute_command("MODULE", "LIST")[0][b"name"] == b"search"
    assert r.module_list()[0][b"ver"] == 21005


def test_client_commands(client: Client) -> None:
    r = client(client_name="worker-1")
    other = client()
    assert r.client_getname() == "worker-1" or r.client_getname() == b"worker-1"
    my_id = r.client_id()
    listing = r.client_list()
    assert any(c["name"] == "worker-1" for c in listing)
    assert all("password" not in str(c) for c in listing)
    assert int(r.client_info()["id"]) == my_id
    assert r.execute_command("CLIENT", "SETINFO", "LIB-NAME", "x") in (b"OK", True)
    with pytest.raises(redis.ResponseError, match="Client names cannot contain spaces"):
        r.client_setname("a b")
    other_id = other.client_id()
    assert r.client_kill_filter(_id=other_id) == 1
    wait_for(
        lambda: all(int(c["id"]) != other_id for c in r.client_list()),
        5,
        message="killed client still listed",
    )
    assert other.ping() is True  # redis-py reconnects


def test_command_info_and_docs(client: Client) -> None:
    r = client(protocol=2)
    count = r.command_count()
    assert count > 40
    info = call(r, "COMMAND", "INFO", "get", "hset", "nosuchcmd")
    assert info[0][0] == b"get" and info[0][1] == 2 and info[0][3:6] == [1, 1, 1]
    assert b"@read" in info[0][6]
    assert info[2] is None
    docs = call(r, "COMMAND", "DOCS", "get")
    assert docs[0] == b"get"
    assert call(r, "COMMAND", "GETKEYS", "HSET", "k", "f", "v") == [b"k"]
    assert b"ft.search" in [n.lower() for n in call(r, "COMMAND", "LIST")]


def test_info_and_config(client: Client) -> None:
    r = client()
    info = r.info()
    assert info["redis_version"] == "7.4.0"
    assert info["role"] == "master" and info["connected_slaves"] == 0
    assert info["aof_enabled"] == 1
    r.hset("doc:1", "a", "1")
    assert r.info("keyspace")["db0"]["keys"] == 1
    assert "search_number_of_indexes" in r.info("search")
    assert [m["name"] for m in r.info("modules")["modules"]] == ["search"]
    cfg = r.config_get("max*")
    assert cfg["maxclients"] == "10000" and cfg["maxmemory"] == "0"
    assert r.config_set("timeout", 123) is True
    assert r.config_get("timeout") == {"timeout": "123"}
    with pytest.raises(redis.ResponseError, match="can't set immutable config"):
        r.config_set("port", 1)
    with pytest.raises(redis.ResponseError, match="argument must be a memory value"):
        r.config_set("maxmemory", "lots")
    with pytest.raises(redis.ResponseError, match="Unknown option"):
        r.config_set("nosuch", 1)
    assert r.config_set("maxmemory", "100mb") is True
    assert r.config_get("maxmemory")["maxmemory"] == str(100 * 1024 * 1024)


def test_quit_and_reset(client: Client, raw: Callable, server: ServerThread) -> None:
    c = raw(server.port)
    c.send(b"HELLO 3\r\nCLIENT SETNAME n1\r\nRESET\r\nCLIENT GETNAME\r\nQUIT\r\nPING\r\n")
    hello = c.read_reply()
    assert hello.startswith(b"%7\r\n")
    assert c.read_reply() == b"+OK\r\n"
    assert c.read_reply() == b"+RESET\r\n"
    assert c.read_reply() == b"$-1\r\n"  # back to RESP2 after RESET
    assert c.read_reply() == b"+OK\r\n"
    assert c.read_until_closed() == b""  # PING after QUIT is never answered


def test_inline_commands(raw: Callable, server: ServerThread) -> None:
    c = raw(server.port)
    c.send(b"SET greeting \"hello world\"\r\nGET greeting\nPING\r\n   \r\nHSET h f 'a b'\r\n")
    assert c.read_reply() == b"+OK\r\n"
    assert c.read_reply() == b"$11\r\nhello world\r\n"
    assert c.read_reply() == b"+PONG\r\n"
    assert c.read_reply() == b":1\r\n"


def _vec(rng: np.random.Generator, dim: int = 8) -> bytes:
    return rng.standard_normal(dim).astype(np.float32).tobytes()


@pytest.mark.parametrize("protocol", [2, 3])
def test_vector_search_with_redis_py(client: Client, protocol: int) -> None:
    r = client(protocol=protocol)
    ft = r.ft("idx")
    ft.create_index(
        [
            TagField("tag"),
            NumericField("n"),
            VectorField("vec", "FLAT", {"TYPE": "FLOAT32", "DIM": 8, "DISTANCE_METRIC": "L2"}),
        ],
        definition=IndexDefinition(prefix=["doc:"], index_type=IndexType.HASH),
    )
    rng = np.random.default_rng(7)
    vectors = {i: _vec(rng) for i in range(40)}
    with r.pipeline(transaction=False) as p:
        for i, v in vectors.items():
            p.hset(f"doc:{i}", mapping={"vec": v, "tag": "even" if i % 2 == 0 else "odd", "n": i})
        p.execute()
    target = np.frombuffer(vectors[10], dtype=np.float32)
    q = (
        Query("(@tag:{even})=>[KNN 5 @vec $B AS score]")
        .sort_by("score")
        .return_fields("score", "n")
        .dialect(2)
    )
    res = ft.search(q, query_params={"B": vectors[10]})
    if protocol == 2:
        ids = [d.id for d in res.docs]
        total, first_score = res.total, float(res.docs[0].score)
    else:  # redis-py hands RESP3 search replies back as the server's map
        ids = [d["id"] for d in res["results"]]
        total = res["total_results"]
        first_score = float(res["results"][0]["extra_attributes"]["score"])
    expected = sorted(
        (i for i in vectors if i % 2 == 0),
        key=lambda i: float(np.sum((np.frombuffer(vectors[i], np.float32) - target) ** 2)),
    )[:5]
    assert ids == [f"doc:{i}" for i in expected]
    assert total == 5
    assert first_score == pytest.approx(0.0, abs=1e-6)
    info = ft.info()
    assert int(info["num_docs"] if protocol == 2 else info[b"num_docs"]) == 40
    assert r.execute_command("FT._LIST") in ([b"idx"], {b"idx"}, ["idx"])


def test_search_runs_concurrently_with_writes(client: Client) -> None:
    r = client()
    r.execute_command(
        "FT.CREATE", "v", "ON", "HASH", "PREFIX", "1", "v:", "SCHEMA",
        "vec", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", "8", "DISTANCE_METRIC", "L2",
    )  # fmt: skip
    rng = np.random.default_rng(3)
    pipe = r.pipeline(transaction=False)
    query = ["FT.SEARCH", "v", "*=>[KNN 3 @vec $B]", "PARAMS", "2", "B", _vec(rng), "DIALECT", "2"]
    for i in range(300):
        pipe.hset(f"v:{i}", "vec", _vec(rng))
        if i % 50 == 49:
            pipe.execute_command(*query)
    out = pipe.execute()
    searches = [o for o in out if not isinstance(o, int)]
    assert len(searches) == 6
    assert all(s[b"total_results"] == 3 for s in searches)  # RESP3 map


def test_server_thread_reports_bound_port(server: ServerThread) -> None:
    assert server.port > 0
    assert server.server.state.value == "running"


@pytest.mark.parametrize("inline_max", [0, 1])
def test_concurrent_searches_and_writes(
    start_server: Callable[..., ServerThread], inline_max: int
) -> None:
    """Searches from several clients (on the pool with inline_max=0) while others write."""
    srv = start_server(inline_search_max_active_clients=inline_max)
    setup = redis.Redis(port=srv.port, protocol=3)
    setup.execute_command(
        "FT.CREATE", "c", "ON", "HASH", "PREFIX", "1", "c:", "SCHEMA", "tag", "TAG",
        "vec", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", "8", "DISTANCE_METRIC", "L2",
    )  # fmt: skip
    rng = np.random.default_rng(11)
    for i in range(50):
        setup.hset(f"c:{i}", mapping={"vec": _vec(rng), "tag": "seed"})
    errors: list[BaseException] = []

    def searcher(seed: int) -> None:
        r = redis.Redis(port=srv.port, protocol=2 + seed % 2)
        q = np.random.default_rng(seed)
        try:
            for _ in range(40):
                out = r.execute_command(
                    "FT.SEARCH", "c", "@tag:{seed}=>[KNN 5 @vec $B]", "PARAMS", "2", "B",
                    _vec(q), "NOCONTENT", "DIALECT", "2",
                )  # fmt: skip
                total = out[0] if isinstance(out, list) else out[b"total_results"]
                assert total == 5
        except BaseException as exc:
            errors.append(exc)
        finally:
            r.close()

    def writer(seed: int) -> None:
        r = redis.Redis(port=srv.port, protocol=3)
        q = np.random.default_rng(seed)
        try:
            for i in range(40):
                r.hset(f"c:w{seed}:{i}", mapping={"vec": _vec(q), "tag": "new"})
        except BaseException as exc:
            errors.append(exc)
        finally:
            r.close()

    threads = [threading.Thread(target=searcher, args=(s,)) for s in range(3)]
    threads += [threading.Thread(target=writer, args=(s,)) for s in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    offloaded = setup.info("stats")["memvec_searches_offloaded"]
    if inline_max == 0:
        assert offloaded == 120
    assert int(setup.ft("c").info()[b"num_docs"]) == 130
    setup.close()


def test_wait_role_and_runtime_password(
    client: Client, raw: Callable, server: ServerThread
) -> None:
    r = client()
    assert r.execute_command("WAIT", "0", "0") == 0
    assert r.execute_command("WAIT", "1", "50") == 0  # no replicas yet: times out with 0
    role = r.execute_command("ROLE")
    assert role[0] == b"master"
    assert r.config_set("requirepass", "later") is True
    assert r.ping() is True  # already authenticated connections keep working
    c = raw(server.port)
    c.send(b"GET x\r\nAUTH later\r\nGET x\r\nRESET\r\nGET x\r\n")
    assert c.read_reply() == b"-NOAUTH Authentication required.\r\n"
    assert c.read_reply() == b"+OK\r\n"
    assert c.read_reply() == b"$-1\r\n"
    assert c.read_reply() == b"+RESET\r\n"
    assert c.read_reply() == b"-NOAUTH Authentication required.\r\n"
    assert r.config_set("requirepass", "") is True
