"""langchain-redis vector flows and a redis-om HashModel with a vector field, against
one server; run by tests/server/test_client_langchain_vectors.py.

Runs inside ``.venv-clients`` (tests/harness/client_venv.py). ``python -m
tests.clients.vector_clients_script PREFIX URL...`` prints a JSON list, per server, of what each
client saw (one process for both servers: the imports take seconds)
(distances rounded to 4 decimals: both servers compute them in float32); every key and
index it creates starts with PREFIX and is deleted before it exits. Embeddings come
from :class:`WordEmbeddings`, a fixed word-hash embedder: no model is downloaded.
"""

from __future__ import annotations

from typing import Any

from langchain_core.embeddings import Embeddings

from tests.clients.flows import DIM, embed, main


class WordEmbeddings(Embeddings):
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return embed(text)


TEXTS = [
    ("redis stores vectors in memory", {"topic": "db", "year": 2020}),
    ("vectors live in memory for fast search", {"topic": "db", "year": 2022}),
    ("bananas are yellow fruit", {"topic": "food", "year": 2021}),
    ("apples are red fruit", {"topic": "food", "year": 2019}),
]


def rounded(docs_scores: list[Any]) -> list[Any]:
    return [(d.page_content, round(float(s), 4)) for d, s in docs_scores]


def langchain_vector_store(url: str, prefix: str) -> dict[str, Any]:
    from langchain_redis import RedisConfig, RedisVectorStore
    from redisvl.query.filter import Num, Tag

    config = RedisConfig(
        index_name=f"{prefix}lcvs",
        key_prefix=f"{prefix}lcvs",
        redis_url=url,
        metadata_schema=[
            {"name": "topic", "type": "tag"},
            {"name": "year", "type": "numeric"},
        ],
    )
    store = RedisVectorStore(WordEmbeddings(), config=config)
    ids = store.add_texts([t for t, _ in TEXTS], [m for _, m in TEXTS], ids=["a", "b", "c", "d"])
    query = "vectors in memory"
    out: dict[str, Any] = {
        "ids": sorted(ids),
        "top2": rounded(store.similarity_search_with_score(query, k=2)),
        "threshold": [
            d.page_content for d in store.similarity_search(query, k=4, distance_threshold=0.5)
        ],
        "threshold_scores": rounded(
            store.similarity_search_with_score(query, k=4, distance_threshold=0.5)
        ),
        "tag_filter": [
            d.page_content
            for d in store.similarity_search(query, k=4, filter=Tag("topic") == "food")
        ],
        "num_filter": [
            d.page_content for d in store.similarity_search(query, k=4, filter=Num("year") >= 2021)
        ],
        "metadata": sorted(
            (d.metadata.get("topic"), str(d.metadata.get("year")))
            for d in store.similarity_search(query, k=4)
        ),
        "mmr": [d.page_content for d in store.max_marginal_relevance_search(query, k=2, fetch_k=4)],
        "by_ids": sorted(d.page_content for d in store.get_by_ids(["a", "c"])),
    }
    store.delete(["a"])
    out["after_delete"] = [d.page_content for d in store.similarity_search(query, k=4)]
    store.index.delete(drop=True)
    return out


def langchain_semantic_cache(url: str, prefix: str) -> dict[str, Any]:
    from langchain_core.outputs import Generation
    from langchain_redis import RedisSemanticCache

    cache = RedisSemanticCache(
        embeddings=WordEmbeddings(), redis_url=url, distance_threshold=0.2,
        prefix=f"{prefix}semcache",
    )  # fmt: skip
    cache.update("what is a vector store?", "llm-a", [Generation(text="a database")])
    cache.update("bananas are yellow", "llm-a", [Generation(text="fruit")])
    hit = cache.lookup("what is a vector store", "llm-a")
    out = {
        "hit": [g.text for g in hit or []],
        "near": [g.text for g in cache.lookup("WHAT is a vector store?", "llm-a") or []],
        "other_llm": cache.lookup("what is a vector store?", "llm-b"),
        "miss": cache.lookup("apples grow on trees", "llm-a"),
    }
    cache.clear()
    out["after_clear"] = cache.lookup("what is a vector store?", "llm-a")
    cache.cache.index.delete(drop=True)
    return out


def redis_om_vectors(url: str, prefix: str) -> dict[str, Any]:
    import struct

    from redis_om import (
        Field,
        HashModel,
        KNNExpression,
        Migrator,
        VectorFieldOptions,
        get_redis_connection,
    )

    db = get_redis_connection(url=url)

    class Doc(HashModel, index=True):  # type: ignore[misc,call-arg]
        title: str = Field(index=True)
        topic: str = Field(index=True)
        embedding: list[float] = Field(
            index=True,
            vector_options=VectorFieldOptions.flat(
                type=VectorFieldOptions.TYPE.FLOAT32,
                dimension=DIM,
                distance_metric=VectorFieldOptions.DISTANCE_METRIC.COSINE,
            ),
        )
        score: float = 0.0  # where KNN's distance is returned

        class Meta:
            database = db
            global_key_prefix = prefix

    Migrator().run()
    for title, meta in TEXTS:
        Doc(title=title, topic=str(meta["topic"]),
            embedding=embed(title)).save()  # fmt: skip
    ref = struct.pack(f"{DIM}f", *embed("fruit that is red"))
    knn = KNNExpression(
        k=2, vector_field=Doc.embedding, score_field=Doc.score,
        reference_vector=ref,
    )  # fmt: skip
    nearest = Doc.find(knn=knn).all()
    filtered = Doc.find(Doc.topic == "db", knn=knn).all()
    out = {
        "nearest": [(d.title, round(float(d.score), 4)) for d in nearest],
        "filtered": [d.title for d in filtered],
        "count": Doc.find(Doc.topic == "food").count(),
    }
    for pk in Doc.all_pks():
        Doc.delete(pk)
    db.execute_command("FT.DROPINDEX", Doc.Meta.index_name)
    return out


FLOWS = (
    ("langchain_vector_store", langchain_vector_store),
    ("langchain_semantic_cache", langchain_semantic_cache),
    ("redis_om_vectors", redis_om_vectors),
)


if __name__ == "__main__":
    main(FLOWS)
