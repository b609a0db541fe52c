"""Client libraries that keep JSON documents, unchanged, against memvec and the peer.

Each scenario runs twice, on a real memvec server and on the peer (RediSearch 2.10 +
RedisJSON), and the two runs must give the same answers: RedisVL with JSON storage
(create, load, vector/filter/count queries with filters, nested ``$.paths`` returned) and
RedisVL's ``SemanticRouter`` (its config is a JSON document; routing is FT.AGGREGATE over
a vector index). The embeddings are a deterministic bag-of-words hash, so no model is
needed. langchain-redis and redis-om run in their own virtualenv:
tests/server/test_json_client_venv.py.
"""

from __future__ import annotations

import uuid
import zlib
from typing import Any

import numpy as np
import pytest
import redis

from tests.harness.components import RedisStack
from tests.server.test_process import ServerProcess


@pytest.fixture(scope="module")
def memvec(memvec_process: ServerProcess) -> ServerProcess:
    """The client flows run against a real ``memvec server`` process."""
    return memvec_process


DIM = 16


def embed(text: str) -> list[float]:
    """A unit vector from the words of ``text`` (each word a fixed random direction)."""
    total = np.zeros(DIM, dtype=np.float64)
    for word in text.lower().split():
        total += np.random.default_rng(zlib.crc32(word.encode())).standard_normal(DIM)
    norm = float(np.linalg.norm(total)) or 1.0
    return [float(x) for x in (total / norm).astype(np.float32)]


@pytest.fixture(scope="module")
def urls(memvec: ServerProcess, redis_stack: RedisStack) -> dict[str, str]:
    return {"memvec": f"redis://127.0.0.1:{memvec.port}", "peer": redis_stack.url}


USERS: list[dict[str, Any]] = [
    {"user": "john", "job": "engineer", "credit_score": "high", "skills": ["python", "go"],
     "metadata": {"age": 18, "city": "Paris"}, "user_embedding": [0.1, 0.1, 0.5]},
    {"user": "mary", "job": "doctor", "credit_score": "low", "skills": ["surgery"],
     "metadata": {"age": 44, "city": "Lyon"}, "user_embedding": [0.1, 0.1, 0.5]},
    {"user": "joe", "job": "dentist", "credit_score": "medium", "skills": ["python"],
     "metadata": {"age": 35, "city": "Nice"}, "user_embedding": [0.9, 0.9, 0.1]},
    {"user": "tyler", "job": "high school teacher", "credit_score": "high",
     "skills": ["math", "python"], "metadata": {"age": 100, "city": "Oslo"},
     "user_embedding": [0.1, 0.3, 0.5]},
]  # fmt: skip


def _redisvl_json(url: str, tag: str, datatype: str) -> dict[str, Any]:
    from redisvl.index import SearchIndex
    from redisvl.query import CountQuery, FilterQuery, VectorQuery
    from redisvl.query.filter import Num, Tag, Text
    from redisvl.schema import IndexSchema

    schema = IndexSchema.from_dict(
        {
            "index": {"name": f"{tag}users", "prefix": f"{tag}user", "storage_type": "json"},
            "fields": [
                {"name": "user", "type": "tag", "path": "$.user"},
                {"name": "credit_score", "type": "tag", "path": "$.credit_score"},
                {"name": "job", "type": "text", "path": "$.job"},
                {"name": "age", "type": "numeric", "path": "$.metadata.age"},
                {"name": "skills", "type": "tag", "path": "$.skills[*]"},
                {
                    "name": "user_embedding",
                    "type": "vector",
                    "path": "$.user_embedding",
                    "attrs": {
                        "dims": 3,
                        "distance_metric": "cosine",
                        "algorithm": "flat",
                        "datatype": datatype,
                    },
                },
            ],
        }
    )
    index = SearchIndex(schema, redis_url=url)
    index.create(overwrite=True, drop=True)
    try:
        keys = index.load(USERS, id_field="user")
        out: dict[str, Any] = {"keys": [k.removeprefix(f"{tag}user") for k in keys]}
        vq = VectorQuery(
            vector=[0.1, 0.1, 0.5],
            vector_field_name="user_embedding",
            dtype=datatype,
            return_fields=["user", "age", "job", "credit_score", "$.metadata.city"],
            num_results=3,
            filter_expression=(Tag("credit_score") == "high") & (Num("age") > 15),
        )
        out["vector"] = [
            {k: v for k, v in r.items() if k != "id"} | {"id": r["id"].removeprefix(tag)}
            for r in index.query(vq)
        ]
        fq = FilterQuery(
            return_fields=["user", "skills", "$.metadata"],
            filter_expression=(Tag("skills") == "python") & (Text("job") % "engineer|teacher"),
        )
        out["filter"] = sorted(
            ({k: v for k, v in r.items() if k != "id"} for r in index.query(fq)),
            key=lambda r: r["user"],
        )
        out["count"] = index.query(CountQuery(Num("age") >= 35))
        out["fetch"] = index.fetch("mary")
        out["num_docs"] = int(index.info()["num_docs"])
        return out
    finally:
        index.delete(drop=True)


@pytest.mark.parametrize("datatype", ["float32", "float64"])
def test_redisvl_json_storage(urls: dict[str, str], datatype: str) -> None:
    tag = f"jc{uuid.uuid4().hex[:6]}:"
    mine = _redisvl_json(urls["memvec"], tag, datatype)
    theirs = _redisvl_json(urls["peer"], tag, datatype)
    for out in (mine, theirs):  # FLOAT64: memvec computes in FLOAT32 (docs/compatibility.md)
        for row in out["vector"]:
            row["vector_distance"] = round(float(row["vector_distance"]), 6)
    assert mine == theirs
    assert [r["user"] for r in mine["vector"]] == ["john", "tyler"]
    assert mine["vector"][0]["$.metadata.city"] == "Paris"
    assert mine["count"] == 3 and mine["num_docs"] == 4
    assert mine["fetch"]["metadata"] == {"age": 44, "city": "Lyon"}


def _router(url: str, name: str) -> dict[str, Any]:
    from redisvl.extensions.router import Route, SemanticRouter
    from redisvl.utils.vectorize import CustomVectorizer

    vectorizer = CustomVectorizer(embed=embed, embed_many=lambda ts: [embed(t) for t in ts])
    routes = [
        Route(name="greeting", references=["hello there", "hi friend", "good morning"],
              metadata={"kind": "smalltalk"}, distance_threshold=0.6),
        Route(name="billing", references=["pay my invoice", "refund my card", "invoice due"],
              metadata={"kind": "money"}, distance_threshold=0.6),
    ]  # fmt: skip
    router = SemanticRouter(
        name=name, routes=routes, vectorizer=vectorizer, redis_url=url, overwrite=True
    )
    try:
        out: dict[str, Any] = {}
        for text in ("hello friend", "my invoice please", "quantum chromodynamics"):
            match = router(text)
            out[text] = (match.name, None if match.distance is None else round(match.distance, 4))
        out["many"] = [(m.name, round(m.distance or 0, 4)) for m in router.route_many("hi there")]
        # the router's own config document (SemanticRouter.from_existing reads it back)
        with redis.Redis.from_url(url) as r:
            config = r.json().get(f"{name}:route_config")
        out["config"] = sorted(route["name"] for route in config["routes"])
        out["refs"] = sorted(r["reference"] for r in router.get_route_references("billing"))
        return out
    finally:
        router.delete()


def test_redisvl_semantic_router(urls: dict[str, str]) -> None:
    name = f"router{uuid.uuid4().hex[:6]}"
    mine, theirs = _router(urls["memvec"], name), _router(urls["peer"], name)
    assert mine == theirs
    assert mine["hello friend"][0] == "greeting"
    assert mine["my invoice please"][0] == "billing"
    assert mine["quantum chromodynamics"][0] is None
    assert mine["config"] == ["billing", "greeting"]
