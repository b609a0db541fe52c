"""``memvec demo``: the embedded main job, end to end in one process.

Ingests the standard library's module documentation (:mod:`pipeline.corpus`) into the
embedded durable store under ``--data-dir``: chunk by the model's tokenizer, embed with
all-MiniLM-L6-v2 (offline), ``HSET`` each chunk with its vector and metadata, then answer
example queries with ``FT.SEARCH`` KNN. Chunks whose content hash is already in the store
are not re-embedded, so a second run ingests nothing new.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

from tqdm import tqdm

from store import Engine, EngineConfig, IndexError_

from .chunking import chunk_text
from .corpus import stdlib_documents
from .embedding import EMBEDDING_DIM, LocalEmbedder

INDEX = "demo"
PREFIX = "chunk:"
EXAMPLE_QUERIES = [
    "how do I parse command line arguments",
    "compress data with gzip",
    "send an email message over SMTP",
]


def ensure_index(engine: Engine) -> None:
    try:
        engine.execute(
            "FT.CREATE", INDEX, "ON", "HASH", "PREFIX", "1", PREFIX, "SCHEMA",
            "source", "TAG", "chunk", "NUMERIC", "text", "TEXT",
            "vec", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", str(EMBEDDING_DIM),
            "DISTANCE_METRIC", "COSINE",
        )  # fmt: skip
    except IndexError_:
        pass  # created by an earlier run


def ingest(engine: Engine, embedder: LocalEmbedder, limit: int) -> tuple[int, int]:
    """Returns (chunks written, chunks skipped because unchanged)."""
    written = skipped = 0
    docs = list(stdlib_documents(limit))
    for doc in tqdm(docs, desc="ingesting", unit="doc"):
        chunks = chunk_text(doc.text, embedder.count_tokens, max_tokens=200)
        todo: list[tuple[str, str, str]] = []
        for i, text in enumerate(chunks):
            key = f"{PREFIX}{doc.doc_id}#{i}"
            digest = hashlib.sha256(text.encode()).hexdigest()
            if engine.execute("HGET", key, "sha256") == digest.encode():
                skipped += 1
                continue
            todo.append((key, text, digest))
        if todo:
            vectors = embedder.embed([t for _, t, _ in todo])
            engine.execute_many(
                [
                    ["HSET", key, "vec", vectors[j].tobytes(), "text", text, "sha256", digest,
                     "source", doc.doc_id, "chunk", key.rsplit("#", 1)[1], "title", doc.title]
                    for j, (key, text, digest) in enumerate(todo)
                ]
            )  # fmt: skip
            written += len(todo)
        # stale chunks of a document that shrank
        n = len(chunks)
        while engine.execute("DEL", f"{PREFIX}{doc.doc_id}#{n}"):
            n += 1
    return written, skipped


def search(
    engine: Engine, embedder: LocalEmbedder, query: str, k: int = 3
) -> list[tuple[str, float, str]]:
    q = embedder.embed_one(query)
    reply = engine.execute(
        "FT.SEARCH", INDEX, f"*=>[KNN {k} @vec $B AS distance]", "PARAMS", "2", "B", q.tobytes(),
        "RETURN", "3", "distance", "source", "text", "DIALECT", "2",
    )  # fmt: skip
    hits = []
    for i in range(1, len(reply), 2):
        fields = dict(zip(reply[i + 1][0::2], reply[i + 1][1::2], strict=True))
        hits.append(
            (fields[b"source"].decode(), float(fields[b"distance"]), fields[b"text"].decode()[:100])
        )
    return hits


def run_demo(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir)
    print(f"memvec demo: store in {data_dir.resolve()}")
    t0 = time.perf_counter()
    embedder = LocalEmbedder()
    with Engine(EngineConfig(data_dir=data_dir)) as engine:
        ensure_index(engine)
        written, skipped = ingest(engine, embedder, args.limit)
        took = time.perf_counter() - t0
        print(f"ingested {written} new chunks, {skipped} unchanged, in {took:.1f} s")
        for query in args.query or EXAMPLE_QUERIES:
            print(f"\nquery: {query}")
            for source, distance, text in search(engine, embedder, query):
                print(f"  {distance:.3f}  {source:<28} {text}")
    return 0
