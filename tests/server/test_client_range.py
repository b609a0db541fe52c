"""Client flows built on VECTOR_RANGE, run unchanged against `memvec server` and the peer in
the same test: RedisVL ``RangeQuery`` (alone, with a filter, with EPSILON on HNSW),
``SemanticCache`` (store, check with the index's threshold and a per-call one, filters),
``SemanticMessageHistory.get_relevant``.

The vectorizer is a small deterministic bag-of-words hasher (RedisVL's
``CustomVectorizer``): sentences sharing words are close in COSINE distance, nothing is
downloaded, and both servers see identical vectors, so their answers must be identical.
One memvec server per module; every index and key made on the shared peer is deleted.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

import numpy as np
import pytest

from tests.harness.components import RedisStack, wait_index_scanned
from tests.server.test_process import ServerProcess

DIMS = 64


def embed(text: str) -> list[float]:
    """Each lower-cased word adds a fixed random direction; the sum is unit length."""
    out = np.zeros(DIMS, dtype=np.float64)
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
        out += np.random.default_rng(seed).standard_normal(DIMS)
    norm = float(np.linalg.norm(out))
    return [float(x) for x in (out / norm if norm else out)]


def embed_many(texts: list[str], **_: Any) -> list[list[float]]:
    return [embed(t) for t in texts]


def vectorizer() -> Any:
    from redisvl.utils.vectorize import CustomVectorizer

    return CustomVectorizer(embed=embed, embed_many=embed_many)


@pytest.fixture(scope="module")
def memvec_url(memvec_process: ServerProcess) -> str:
    return f"redis://127.0.0.1:{memvec_process.port}"


@pytest.fixture
def urls(memvec_url: str, redis_stack: RedisStack) -> dict[str, str]:
    return {"memvec": memvec_url, "peer": redis_stack.url}


def unique(stem: str) -> str:
    return f"{stem}{uuid.uuid4().hex[:8]}"


MOVIES = [
    ("m1", "a space opera about rebels and an empire", "scifi", 1977),
    ("m2", "rebels fight the empire in space again", "scifi", 1980),
    ("m3", "a romantic comedy in paris", "romance", 2001),
    ("m4", "a comedy about a wedding in paris", "comedy", 2003),
    ("m5", "robots and space travel to mars", "scifi", 2015),
    ("m6", "a quiet drama about a family farm", "drama", 1995),
]


def movie_index(url: str, name: str, algorithm: str) -> Any:
    from redisvl.index import SearchIndex

    attrs: dict[str, Any] = {"dims": DIMS, "distance_metric": "cosine", "algorithm": algorithm,
                             "datatype": "float32"}  # fmt: skip
    index = SearchIndex.from_dict(
        {
            "index": {"name": name, "prefix": name, "storage_type": "hash"},
            "fields": [
                {"name": "title", "type": "tag"},
                {"name": "genre", "type": "tag"},
                {"name": "year", "type": "numeric"},
                {"name": "embedding", "type": "vector", "attrs": attrs},
            ],
        },
        redis_url=url,
    )
    index.create(overwrite=True, drop=True)
    wait_index_scanned(index.client, index.name)
    index.load(
        [
            {
                "title": t,
                "genre": g,
                "year": y,
                "embedding": np.asarray(embed(text), dtype=np.float32).tobytes(),
            }
            for t, text, g, y in MOVIES
        ],
        id_field="title",
    )
    return index


def rows(results: list[dict[str, Any]]) -> list[tuple[str, str, float]]:
    return [(r["title"], r["genre"], round(float(r["vector_distance"]), 5)) for r in results]


@pytest.mark.parametrize("algorithm", ["flat", "hnsw"])
def test_redisvl_range_query(urls: dict[str, str], algorithm: str) -> None:
    from redisvl.query import RangeQuery
    from redisvl.query.filter import Num, Tag

    name = unique("rq")
    space = embed("rebels in space")
    answers: dict[str, list[list[tuple[str, str, float]]]] = {}
    for server, url in urls.items():
        index = movie_index(url, name, algorithm)
        try:
            got = []
            for kwargs in [
                {},
                {"filter_expression": Tag("genre") == "scifi"},
                {"filter_expression": (Tag("genre") == "scifi") & (Num("year") < 2000)},
                {"distance_threshold": 2.0, "num_results": 3},
                {"distance_threshold": 0.0},
            ] + ([{"epsilon": 0.5}] if algorithm == "hnsw" else []):
                kwargs.setdefault("distance_threshold", 0.8)
                query = RangeQuery(
                    vector=space,
                    vector_field_name="embedding",
                    return_fields=["title", "genre", "vector_distance"],
                    **kwargs,
                )
                query.sort_by("vector_distance")
                got.append(rows(index.query(query)))
            answers[server] = got
        finally:
            index.delete(drop=True)
    assert answers["memvec"] == answers["peer"]
    unfiltered, scifi, old_scifi, top3, exact = answers["memvec"][:5]
    assert [t for t, _, _ in unfiltered][:2] == ["m2", "m1"]
    assert {g for _, g, _ in scifi} == {"scifi"} and len(old_scifi) == 2
    assert len(top3) == 3 and exact == []
    assert all(d <= 0.8 for _, _, d in unfiltered)


def test_redisvl_semantic_cache(urls: dict[str, str]) -> None:
    from redisvl.extensions.cache.llm import SemanticCache
    from redisvl.query.filter import Tag

    name = unique("sc")
    outcomes: dict[str, list[Any]] = {}
    for server, url in urls.items():
        cache = SemanticCache(
            name=name,
            redis_url=url,
            vectorizer=vectorizer(),
            distance_threshold=0.2,
            filterable_fields=[{"name": "user", "type": "tag"}],
            overwrite=True,
        )
        try:
            cache.store("What is the capital of France?", "Paris", filters={"user": "ann"})
            cache.store("How do I bake sourdough bread?", "Slowly", filters={"user": "bob"})
            seen: list[Any] = []
            for prompt, kwargs in [
                ("what is the capital of france", {}),
                ("the capital of France is what?", {}),
                ("How do I bake bread at home?", {}),
                ("How do I bake bread at home?", {"distance_threshold": 0.9}),
                ("tell me about quantum physics", {}),
                ("what is the capital of france", {"filter_expression": Tag("user") == "bob"}),
                ("what is the capital of france", {"filter_expression": Tag("user") == "ann"}),
            ]:
                hits = cache.check(prompt=prompt, num_results=2, **kwargs)
                seen.append(
                    [
                        (h["prompt"], h["response"], round(float(h["vector_distance"]), 5))
                        for h in hits
                    ]
                )
            outcomes[server] = seen
        finally:
            cache.delete()
    assert outcomes["memvec"] == outcomes["peer"]
    same, reordered, near, near_loose, far, wrong_user, right_user = outcomes["memvec"]
    assert [r for _, r, _ in same] == ["Paris"] and same[0][2] < 1e-5
    assert [r for _, r, _ in reordered] == ["Paris"]
    assert near == [] and [r for _, r, _ in near_loose] == ["Slowly"]
    assert far == [] and wrong_user == [] and [r for _, r, _ in right_user] == ["Paris"]


def test_redisvl_semantic_message_history(urls: dict[str, str]) -> None:
    from redisvl.extensions.message_history import SemanticMessageHistory

    name = unique("mh")
    outcomes: dict[str, list[Any]] = {}
    for server, url in urls.items():
        history = SemanticMessageHistory(
            name=name, redis_url=url, vectorizer=vectorizer(), distance_threshold=0.5,
            overwrite=True,
        )  # fmt: skip
        try:
            history.store("what is the weather in paris today", "sunny and warm in paris")
            history.store("recommend a space movie", "try a space opera about rebels")
            history.store("how tall is the eiffel tower", "the eiffel tower is 330 m tall")
            seen = [
                sorted(history.get_relevant("weather in paris", as_text=True)),
                sorted(history.get_relevant("space movie", as_text=True, top_k=1)),
                history.get_relevant("quantum chromodynamics lecture", as_text=True),
                sorted(
                    history.get_relevant("quantum eiffel", as_text=True, distance_threshold=0.95)
                ),
                sorted(m["content"] for m in history.get_relevant("eiffel tower", role="llm")),
            ]
            outcomes[server] = seen
        finally:
            history.delete()
    assert outcomes["memvec"] == outcomes["peer"]
    weather, space, nothing, loose, llm_only = outcomes["memvec"]
    assert "what is the weather in paris today" in weather and len(space) == 1
    assert nothing == []
    assert llm_only == ["the eiffel tower is 330 m tall"]
    assert len(loose) >= 1
