"""Real clients against `memvec server`, unchanged: redis-py (sync and asyncio, RESP2 and
RESP3) with its search helpers, redis-cli (Debian `redis-tools`) in a scripted session and
as one-shots, and RedisVL (`SearchIndex` create/load, `VectorQuery` with filters).

redis-cli must be installed (`apt-get install redis-tools`; `./run test` does it on CI):
a missing binary fails the test with that instruction, it is never skipped.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import redis.asyncio as aioredis
from redis.commands.search.field import Field, NumericField, TagField, VectorField
from redis.commands.search.index_definition import IndexDefinition, IndexType
from redis.commands.search.query import Query

from store.server import ServerThread

Client = Callable[..., Any]
DIM = 8


def _vectors(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def _schema() -> list[Field]:
    return [
        TagField("genre"),
        NumericField("year"),
        VectorField("v", "FLAT", {"TYPE": "FLOAT32", "DIM": DIM, "DISTANCE_METRIC": "L2"}),
    ]


def _definition() -> IndexDefinition:
    return IndexDefinition(prefix=["movie:"], index_type=IndexType.HASH)


def _query() -> Query:
    return (
        Query("*=>[KNN 3 @v $B AS dist]")
        .sort_by("dist")
        .return_fields("genre", "year", "dist")
        .dialect(2)
    )


# -- redis-py ---------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_sync_search(client: Client, protocol: int) -> None:
    r = client(protocol=protocol)
    vectors = _vectors(20)
    ft = r.ft("movies")
    assert ft.create_index(_schema(), definition=_definition()) in (True, b"OK", "OK")
    with r.pipeline(transaction=False) as pipe:
        for i, vec in enumerate(vectors):
            pipe.hset(f"movie:{i}", mapping={"v": vec.tobytes(), "genre": "g", "year": 2000 + i})
        pipe.execute()
    res = ft.search(_query(), query_params={"B": vectors[7].tobytes()})
    if protocol == 2:
        ids = [doc.id for doc in res.docs]
        first = res.docs[0]
        assert (first.genre, first.year, float(first.dist)) == ("g", "2007", 0.0)
        assert res.total == 3
    else:
        ids = [row["id"] for row in res["results"]]
        assert res["total_results"] == 3
    assert ids[0] == "movie:7" and len(ids) == 3
    info = ft.info()
    num_docs = info["num_docs"] if "num_docs" in info else info[b"num_docs"]
    assert int(num_docs) == 20
    ft.dropindex(delete_documents=True)
    assert r.dbsize() == 0


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_asyncio_search(server: ServerThread, protocol: int) -> None:
    vectors = _vectors(12, seed=2)

    async def run() -> list[str]:
        r = aioredis.Redis(host="127.0.0.1", port=server.port, protocol=protocol)
        try:
            ft = r.ft("amovies")
            await ft.create_index(_schema(), definition=_definition())
            async with r.pipeline(transaction=False) as pipe:
                for i, vec in enumerate(vectors):
                    pipe.hset(f"movie:{i}", mapping={"v": vec.tobytes(), "genre": "g", "year": i})
                await pipe.execute()
            res = await ft.search(_query(), query_params={"B": vectors[4].tobytes()})
            if protocol == 2:
                return [doc.id for doc in res.docs]
            return [row["id"] for row in res["results"]]
        finally:
            await r.aclose()

    ids = asyncio.run(run())
    assert ids[0] == "movie:4" and len(ids) == 3


# -- redis-cli --------------------------------------------------------------------------


def _redis_cli() -> str:
    path = shutil.which("redis-cli")
    if path is None:
        pytest.fail(
            "redis-cli is not installed: run `apt-get install -y redis-tools` "
            "(./run test installs it on CI)"
        )
    return path


def _cli(port: int, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [_redis_cli(), "-p", str(port), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert done.returncode == 0, f"redis-cli failed: {done.stderr}"
    return done.stdout


def test_redis_cli_scripted_session(server: ServerThread) -> None:
    script = "\n".join(
        [
            "PING",
            "SET greeting hello",
            "GET greeting",
            "HSET doc:1 title memvec year 2024",
            "HGETALL doc:1",
            "FT.CREATE cli ON HASH PREFIX 1 doc: SCHEMA year NUMERIC",
            "FT._LIST",
            "NOSUCHCOMMAND x",
            "GET",
            "PING",
        ]
    )
    out = _cli(server.port, stdin=script + "\n").splitlines()
    assert out == [
        "PONG",
        "OK",
        "hello",
        "2",
        "title",
        "memvec",
        "year",
        "2024",
        "OK",
        "cli",
        "ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'x' ",
        "",  # redis-cli (not on a tty) prints a blank line after an error, as with Redis
        "ERR wrong number of arguments for 'get' command",
        "",
        "PONG",
    ]


def test_redis_cli_one_shots(server: ServerThread) -> None:
    assert _cli(server.port, "--no-raw", "PING") == "PONG\n"
    assert _cli(server.port, "SET", "k", "v") == "OK\n"
    assert _cli(server.port, "--no-raw", "GET", "k") == '"v"\n'
    assert _cli(server.port, "--no-raw", "GET", "missing") == "(nil)\n"
    assert _cli(server.port, "--no-raw", "INCR", "n") == "(integer) 1\n"
    assert _cli(server.port, "--no-raw", "HSET", "h", "a", "1") == "(integer) 1\n"
    assert _cli(server.port, "--no-raw", "HGETALL", "h") == '1) "a"\n2) "1"\n'
    assert _cli(server.port, "--no-raw", "GET", "h").startswith("(error) WRONGTYPE")
    assert _cli(server.port, "-3", "--no-raw", "HGETALL", "h") == '1# "a" => "1"\n'
    assert _cli(server.port, "DBSIZE") == "3\n"


# -- RedisVL ----------------------------------------------------------------------------


def _redisvl_index(port: int) -> Any:
    from redisvl.index import SearchIndex

    return SearchIndex.from_dict(
        {
            "index": {"name": "rvl", "prefix": "rvl", "storage_type": "hash"},
            "fields": [
                {"name": "genre", "type": "tag"},
                {"name": "year", "type": "numeric"},
                {"name": "title", "type": "text"},
                {
                    "name": "embedding",
                    "type": "vector",
                    "attrs": {
                        "dims": DIM,
                        "algorithm": "hnsw",
                        "distance_metric": "cosine",
                        "datatype": "float32",
                    },
                },
            ],
        },
        redis_url=f"redis://127.0.0.1:{port}",
    )


def test_redisvl_search_index(server: ServerThread) -> None:
    from redisvl.query import VectorQuery
    from redisvl.query.filter import Num, Tag

    index = _redisvl_index(server.port)
    index.create(overwrite=True)
    assert index.exists()
    vectors = _vectors(6, seed=4)
    movies = [
        ("Airplane", "comedy", 1980),
        ("Heat", "drama", 1995),
        ("Superbad", "comedy", 2007),
        ("Alien", "horror", 1979),
        ("Bridesmaids", "comedy", 2011),
        ("Her", "drama", 2013),
    ]
    records = [
        {"title": t, "genre": g, "year": y, "embedding": vectors[i].tobytes()}
        for i, (t, g, y) in enumerate(movies)
    ]
    keys = index.load(records)
    assert len(keys) == 6 and all(k.startswith("rvl:") for k in keys)

    query = VectorQuery(
        vector=vectors[2].tolist(),
        vector_field_name="embedding",
        return_fields=["title", "genre", "year"],
        filter_expression=Tag("genre") == "comedy",
        num_results=3,
    )
    found = index.query(query)
    assert found[0]["title"] == "Superbad"
    assert {doc["genre"] for doc in found} == {"comedy"} and len(found) == 3
    assert float(found[0]["vector_distance"]) == pytest.approx(0.0, abs=1e-5)

    recent = VectorQuery(
        vector=vectors[1].tolist(),
        vector_field_name="embedding",
        return_fields=["title", "year"],
        filter_expression=Num("year") > 2000,
        num_results=3,
    )
    titles = [doc["title"] for doc in index.query(recent)]
    assert sorted(titles) == ["Bridesmaids", "Her", "Superbad"]

    assert int(index.info()["num_docs"]) == 6
    assert index.fetch(keys[0].split(":", 1)[1])["title"] == "Airplane"
    assert index.clear() == 6
    assert int(index.info()["num_docs"]) == 0
    index.delete(drop=True)
    assert not index.exists()


def test_redisvl_aggregate(server: ServerThread) -> None:
    """RedisVL's aggregate(), update_by_filter() and hybrid queries send FT.AGGREGATE."""
    from redis.commands.search.aggregation import AggregateRequest

    index = _redisvl_index(server.port)
    index.create(overwrite=True)
    index.load([{"title": "Heat", "genre": "drama", "year": 1995, "embedding": bytes(4 * DIM)}])
    result = index.aggregate(AggregateRequest("*").load("@title"))
    assert len(result.rows) == 1
