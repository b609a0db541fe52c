"""Real clients, unchanged, against a `memvec server` process and against the peer in the same test:
redis-py (sync and asyncio, RESP2 and RESP3) with its search helpers, redis-cli (Debian
`redis-tools`) in a scripted session and as one-shots, and RedisVL (`SearchIndex`
create/load, `VectorQuery` with filters, `aggregate`). Each flow runs on both servers and
what the client saw is compared (then a few facts are asserted of memvec's answer, so a
flow both servers got wrong the same way still fails).

The peer is shared by the whole session: every flow uses its own index name and key
prefix and removes them after.

redis-cli must be installed (`apt-get install redis-tools`; `./run test` does it on CI):
a missing binary fails the test with that instruction, it is never skipped.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import redis
import redis.asyncio as aioredis
from redis.commands.search.field import Field, NumericField, TagField, VectorField
from redis.commands.search.index_definition import IndexDefinition, IndexType
from redis.commands.search.query import Query

from tests.harness.components import RedisStack, wait_index_scanned
from tests.server.test_process import ServerProcess

DIM = 8


def _vectors(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def _schema() -> list[Field]:
    return [
        TagField("genre"),
        NumericField("year"),
        VectorField("v", "FLAT", {"TYPE": "FLOAT32", "DIM": DIM, "DISTANCE_METRIC": "L2"}),
    ]


def _definition(prefix: str) -> IndexDefinition:
    return IndexDefinition(prefix=[f"{prefix}:"], index_type=IndexType.HASH)


def _query() -> Query:
    return (
        Query("*=>[KNN 3 @v $B AS dist]")
        .sort_by("dist")
        .return_fields("genre", "year", "dist")
        .dialect(2)
    )


def _both(memvec: ServerProcess, peer: RedisStack, flow: Callable[[int, str], Any]) -> Any:
    """``flow(port, prefix)`` on memvec and on the peer (each with its own fresh prefix);
    asserts they saw the same and returns memvec's result."""
    mine = flow(memvec.port, f"m{uuid.uuid4().hex[:8]}")
    theirs = flow(peer.port, f"m{uuid.uuid4().hex[:8]}")
    assert mine == theirs, f"memvec {mine!r} != peer {theirs!r}"
    return mine


def _rounded(value: Any) -> Any:
    """Distances printed by the two servers agree to float32 precision, not every digit."""
    return round(float(value), 4)


# -- redis-py ---------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_sync_search(
    memvec_process: ServerProcess, redis_stack: RedisStack, protocol: int
) -> None:
    vectors = _vectors(20)

    def flow(port: int, prefix: str) -> Any:
        r = redis.Redis(host="127.0.0.1", port=port, protocol=protocol)
        try:
            ft = r.ft(prefix)
            created = ft.create_index(_schema(), definition=_definition(prefix))
            wait_index_scanned(r, prefix)
            with r.pipeline(transaction=False) as pipe:
                for i, vec in enumerate(vectors):
                    pipe.hset(f"{prefix}:{i}", mapping={"v": vec.tobytes(), "genre": "g",
                                                        "year": 2000 + i})  # fmt: skip
                pipe.execute()
            res = ft.search(_query(), query_params={"B": vectors[7].tobytes()})
            if protocol == 2:
                rows = [(d.id.split(":")[1], d.genre, d.year, _rounded(d.dist)) for d in res.docs]
                total = res.total
            else:
                rows = [
                    (row["id"].split(":")[1], row["extra_attributes"]["genre"],
                     row["extra_attributes"]["year"], _rounded(row["extra_attributes"]["dist"]))
                    for row in res["results"]
                ]  # fmt: skip
                total = res["total_results"]
            info = ft.info()
            num_docs = int(info["num_docs"] if "num_docs" in info else info[b"num_docs"])
            dropped = ft.dropindex(delete_documents=True)
            left = len(r.keys(f"{prefix}:*"))
            return created, rows, total, num_docs, dropped, left
        finally:
            r.close()

    created, rows, total, num_docs, _, left = _both(memvec_process, redis_stack, flow)
    assert created in (True, b"OK", "OK") and total == 3 and num_docs == 20 and left == 0
    assert rows[0][0] == "7" and rows[0][3] == 0.0 and len(rows) == 3


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_asyncio_search(
    memvec_process: ServerProcess, redis_stack: RedisStack, protocol: int
) -> None:
    vectors = _vectors(12, seed=2)

    async def run(port: int, prefix: str) -> list[str]:
        r = aioredis.Redis(host="127.0.0.1", port=port, protocol=protocol)
        try:
            ft = r.ft(prefix)
            await ft.create_index(_schema(), definition=_definition(prefix))
            wait_index_scanned(redis.Redis(host="127.0.0.1", port=port), prefix)
            async with r.pipeline(transaction=False) as pipe:
                for i, vec in enumerate(vectors):
                    pipe.hset(f"{prefix}:{i}", mapping={"v": vec.tobytes(), "genre": "g",
                                                        "year": i})  # fmt: skip
                await pipe.execute()
            res = await ft.search(_query(), query_params={"B": vectors[4].tobytes()})
            if protocol == 2:
                ids = [doc.id for doc in res.docs]
            else:
                ids = [row["id"] for row in res["results"]]
            await ft.dropindex(delete_documents=True)
            return [i.split(":")[1] for i in ids]
        finally:
            await r.aclose()

    ids = _both(memvec_process, redis_stack, lambda port, prefix: asyncio.run(run(port, prefix)))
    assert ids[0] == "4" and len(ids) == 3


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


def test_redis_cli_scripted_session(memvec_process: ServerProcess, redis_stack: RedisStack) -> None:
    def flow(port: int, p: str) -> list[str]:
        script = "\n".join(
            [
                "PING",
                f"SET {p}:greeting hello",
                f"GET {p}:greeting",
                # the index first: a hash written before FT.CREATE is indexed by the peer's
                # background scan, which a search right after may not see yet
                f"FT.CREATE {p} ON HASH PREFIX 1 {p}:doc: SCHEMA year NUMERIC",
                f"HSET {p}:doc:1 title memvec year 2024",
                f"HGETALL {p}:doc:1",
                f'FT.SEARCH {p} "@year:[2000 2030]" NOCONTENT',
                "NOSUCHCOMMAND x",
                "GET",
                f"FT.DROPINDEX {p} DD",
                f"DEL {p}:greeting",
                "PING",
            ]
        )
        # the prefix differs per server: the output is compared with it replaced
        out = _cli(port, stdin=script + "\n").replace(p, "P")
        return out.splitlines()

    out = _both(memvec_process, redis_stack, flow)
    assert out == [
        "PONG",
        "OK",
        "hello",
        "OK",
        "2",
        "title",
        "memvec",
        "year",
        "2024",
        "1",
        "P:doc:1",
        "ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'x' ",
        "",  # redis-cli (not on a tty) prints a blank line after an error, as with Redis
        "ERR wrong number of arguments for 'get' command",
        "",
        "OK",
        "1",
        "PONG",
    ]


def test_redis_cli_one_shots(memvec_process: ServerProcess, redis_stack: RedisStack) -> None:
    def flow(port: int, p: str) -> list[str]:
        out = [
            _cli(port, "--no-raw", "PING"),
            _cli(port, "SET", f"{p}:k", "v"),
            _cli(port, "--no-raw", "GET", f"{p}:k"),
            _cli(port, "--no-raw", "GET", f"{p}:missing"),
            _cli(port, "--no-raw", "INCR", f"{p}:n"),
            _cli(port, "--no-raw", "HSET", f"{p}:h", "a", "1"),
            _cli(port, "--no-raw", "HGETALL", f"{p}:h"),
            _cli(port, "--no-raw", "GET", f"{p}:h"),
            _cli(port, "-3", "--no-raw", "HGETALL", f"{p}:h"),
            _cli(port, "EXISTS", f"{p}:k", f"{p}:n", f"{p}:h"),
            _cli(port, "DEL", f"{p}:k", f"{p}:n", f"{p}:h"),
        ]
        return out

    out = _both(memvec_process, redis_stack, flow)
    assert out[:7] == ["PONG\n", "OK\n", '"v"\n', "(nil)\n", "(integer) 1\n", "(integer) 1\n",
                       '1) "a"\n2) "1"\n']  # fmt: skip
    assert out[7].startswith("(error) WRONGTYPE")
    assert out[8:] == ['1# "a" => "1"\n', "3\n", "3\n"]


# -- RedisVL ----------------------------------------------------------------------------


def _redisvl_index(port: int, prefix: str) -> Any:
    from redisvl.index import SearchIndex

    return SearchIndex.from_dict(
        {
            "index": {"name": prefix, "prefix": prefix, "storage_type": "hash"},
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


def test_redisvl_search_index(memvec_process: ServerProcess, redis_stack: RedisStack) -> None:
    from redisvl.query import VectorQuery
    from redisvl.query.filter import Num, Tag

    vectors = _vectors(6, seed=4)
    movies = [
        ("Airplane", "comedy", 1980),
        ("Heat", "drama", 1995),
        ("Superbad", "comedy", 2007),
        ("Alien", "horror", 1979),
        ("Bridesmaids", "comedy", 2011),
        ("Her", "drama", 2013),
    ]

    def flow(port: int, prefix: str) -> Any:
        index = _redisvl_index(port, prefix)
        index.create(overwrite=True)
        exists = index.exists()
        wait_index_scanned(redis.Redis(host="127.0.0.1", port=port), prefix)
        records = [
            {"title": t, "genre": g, "year": y, "embedding": vectors[i].tobytes()}
            for i, (t, g, y) in enumerate(movies)
        ]
        keys = index.load(records)
        comedies = index.query(
            VectorQuery(
                vector=vectors[2].tolist(),
                vector_field_name="embedding",
                return_fields=["title", "genre", "year"],
                filter_expression=Tag("genre") == "comedy",
                num_results=3,
            )
        )
        recent = index.query(
            VectorQuery(
                vector=vectors[1].tolist(),
                vector_field_name="embedding",
                return_fields=["title", "year"],
                filter_expression=Num("year") > 2000,
                num_results=3,
            )
        )
        docs = int(index.info()["num_docs"])
        fetched = index.fetch(keys[0].split(":", 1)[1])["title"]
        cleared = index.clear()
        after = int(index.info()["num_docs"])
        index.delete(drop=True)
        return (
            exists,
            [k.startswith(f"{prefix}:") for k in keys],
            [(d["title"], d["genre"], d["year"], _rounded(d["vector_distance"])) for d in comedies],
            [(d["title"], d["year"], _rounded(d["vector_distance"])) for d in recent],
            docs,
            fetched,
            cleared,
            after,
            index.exists(),
        )

    exists, prefixed, comedies, recent, docs, fetched, cleared, after, left = _both(
        memvec_process, redis_stack, flow
    )
    assert exists and all(prefixed) and len(prefixed) == 6
    assert comedies[0][0] == "Superbad" and comedies[0][3] == 0.0 and len(comedies) == 3
    assert {c[1] for c in comedies} == {"comedy"}
    assert sorted(r[0] for r in recent) == ["Bridesmaids", "Her", "Superbad"]
    assert (docs, fetched, cleared, after, left) == (6, "Airplane", 6, 0, False)


def test_redisvl_aggregate(memvec_process: ServerProcess, redis_stack: RedisStack) -> None:
    """RedisVL's aggregate(), update_by_filter() and hybrid queries send FT.AGGREGATE."""
    from redis.commands.search.aggregation import AggregateRequest

    def flow(port: int, prefix: str) -> Any:
        index = _redisvl_index(port, prefix)
        index.create(overwrite=True)
        wait_index_scanned(redis.Redis(host="127.0.0.1", port=port), prefix)
        index.load([{"title": "Heat", "genre": "drama", "year": 1995,
                     "embedding": bytes(4 * DIM)}])  # fmt: skip
        rows = index.aggregate(AggregateRequest("*").load("@title")).rows
        index.delete(drop=True)
        return rows

    rows = _both(memvec_process, redis_stack, flow)
    assert rows == [[b"title", b"Heat"]]
