"""llama-index's Redis vector store and the legacy langchain-community ``Redis`` vector
store against one server; run by tests/server/test_client_llama.py.

Runs inside ``.venv-llama`` (tests/harness/client_venv.py: their pins conflict with
``.venv-clients``). ``python -m tests.clients.llama_clients_script PREFIX URL...`` prints a JSON list, per server, of
what each client saw (one process for both servers: the imports take seconds) (scores rounded to 4 decimals); every key and index it creates
starts with PREFIX and is deleted before it exits. Embeddings are fixed word-hash
vectors: no model is downloaded.
"""

from __future__ import annotations

from typing import Any

from tests.clients.flows import DIM, embed, main

TEXTS = [
    ("a", "redis stores vectors in memory", {"topic": "db", "year": 2020}),
    ("b", "vectors live in memory for fast search", {"topic": "db", "year": 2022}),
    ("c", "bananas are yellow fruit", {"topic": "food", "year": 2021}),
    ("d", "apples are red fruit", {"topic": "food", "year": 2019}),
]
QUERY = "vectors in memory"


def llama_index(url: str, prefix: str) -> dict[str, Any]:
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores.types import (
        FilterOperator,
        MetadataFilter,
        MetadataFilters,
        VectorStoreQuery,
    )
    from llama_index.vector_stores.redis import RedisVectorStore
    from redisvl.schema import IndexSchema

    schema = IndexSchema.from_dict(
        {
            "index": {"name": f"{prefix}llama", "prefix": f"{prefix}llama"},
            "fields": [
                {"type": "tag", "name": "id"},
                {"type": "tag", "name": "doc_id"},
                {"type": "text", "name": "text"},
                {"type": "tag", "name": "topic"},
                {"type": "numeric", "name": "year"},
                {"type": "vector", "name": "vector",
                 "attrs": {"dims": DIM, "algorithm": "flat", "distance_metric": "cosine"}},
            ],
        }
    )  # fmt: skip
    store = RedisVectorStore(schema=schema, redis_url=url, overwrite=True)
    nodes = [TextNode(id_=i, text=t, metadata=m, embedding=embed(t)) for i, t, m in TEXTS]
    added = store.add(nodes)

    def ask(**kwargs: Any) -> list[Any]:
        result = store.query(VectorStoreQuery(query_embedding=embed(QUERY), **kwargs))
        sims = result.similarities or []
        return [(i, round(float(s), 4)) for i, s in zip(result.ids or [], sims, strict=False)]

    food = MetadataFilters(filters=[MetadataFilter(key="topic", value="food")])
    recent = MetadataFilters(
        filters=[MetadataFilter(key="year", value=2021, operator=FilterOperator.GTE)]
    )
    out = {
        "added": sorted(added),
        "top2": ask(similarity_top_k=2),
        "food": ask(similarity_top_k=4, filters=food),
        "recent": ask(similarity_top_k=4, filters=recent),
        "texts": sorted(
            n.get_content()
            for n in store.query(
                VectorStoreQuery(query_embedding=embed(QUERY), similarity_top_k=4)
            ).nodes
            or []
        ),
    }
    store.delete("a")  # a ref_doc_id: none set, so nothing goes
    out["after_delete"] = ask(similarity_top_k=4)
    store.delete_index()
    import redis

    client = redis.Redis.from_url(url)
    client.delete(*client.keys(f"{prefix}llama*") or [f"{prefix}none"])
    return out


def langchain_community(url: str, prefix: str) -> dict[str, Any]:
    from langchain_community.vectorstores.redis import Redis, RedisNum, RedisTag
    from langchain_core.embeddings import Embeddings

    class WordEmbeddings(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [embed(t) for t in texts]

        def embed_query(self, text: str) -> list[float]:
            return embed(text)

    name = f"{prefix}lcc"
    store, keys = Redis.from_texts_return_keys(
        [t for _, t, _ in TEXTS], WordEmbeddings(), metadatas=[m for _, _, m in TEXTS],
        redis_url=url, index_name=name, keys=[f"{name}:{i}" for i, _, _ in TEXTS],
    )  # fmt: skip

    def scored(pairs: list[Any]) -> list[Any]:
        return [(d.page_content, round(float(s), 4)) for d, s in pairs]

    out = {
        "keys": sorted(keys),
        "top2": scored(store.similarity_search_with_score(QUERY, k=2)),
        "threshold": [
            d.page_content for d in store.similarity_search(QUERY, k=4, distance_threshold=0.5)
        ],
        "relevance": scored(store.similarity_search_with_relevance_scores(QUERY, k=2)),
        "tag": [
            d.page_content
            for d in store.similarity_search(QUERY, k=4, filter=RedisTag("topic") == "food")
        ],
        "num": [
            d.page_content
            for d in store.similarity_search(QUERY, k=4, filter=RedisNum("year") >= 2021)
        ],
        "limit_score": [
            d.page_content
            for d in store.similarity_search_limit_score(QUERY, k=4, score_threshold=0.5)
        ],
    }
    store.delete(keys[:1])
    out["after_delete"] = [d.page_content for d in store.similarity_search(QUERY, k=4)]
    Redis.drop_index(name, delete_documents=True, redis_url=url)
    return out


FLOWS = (("llama_index", llama_index), ("langchain_community", langchain_community))


if __name__ == "__main__":
    main(FLOWS)
