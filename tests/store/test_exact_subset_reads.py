"""A KNN over a small filtered subset (the exact scan of ``SearchIndex._knn``) reads each
document's vector as the hash holds it now.

The scan reads the blobs through the values the index last read from each hash
(``SearchIndex._indexed``), falling back to the hash itself (``store.index.hash_blobs``).
Held here against a brute force over the hashes' current bytes, after every kind of write
that changes what a document holds: a new vector, the vector deleted, a field the index
does not read, a key deleted and re-created (its label revived), FT.ALTER (values of the
new field unknown), and HSET of the same bytes (the index keeps its earlier tuple).
"""

from __future__ import annotations

import random
import struct

import pytest

from store import Engine, EngineConfig
from store.index.vecsim_arith import blob_distances
from store.index.vector import Metric

DIM = 8
DOCS = 200


def _blob(rng: random.Random) -> bytes:
    return struct.pack(f"<{DIM}f", *(rng.uniform(-1, 1) for _ in range(DIM)))


def _expected(eng: Engine, query: bytes, tag: bytes, metric: Metric, k: int) -> list[bytes]:
    """The ``k`` nearest keys among the hashes tagged ``tag``, from their bytes now."""
    scored: list[tuple[float, bytes]] = []
    for key in eng.execute("KEYS", "d:*"):
        doc = eng.execute("HGETALL", key)  # the engine answers a dict
        blob = doc.get(b"v")
        if doc.get(b"t") == tag and isinstance(blob, bytes) and len(blob) == 4 * DIM:
            scored.append((blob_distances([blob], query, DIM, metric)[0], key))
    return [key for _, key in sorted(scored)[:k]]


def _knn(eng: Engine, query: bytes, tag: str, k: int) -> list[bytes]:
    reply = eng.execute("FT.SEARCH", "idx", f"@t:{{{tag}}}=>[KNN {k} @v $B AS d]",
                        "PARAMS", "2", "B", query, "SORTBY", "d", "NOCONTENT",
                        "LIMIT", "0", str(k), "DIALECT", "2")  # fmt: skip
    return list(reply[1:])


@pytest.mark.parametrize("metric", ["COSINE", "L2", "IP"])
def test_the_exact_subset_reads_the_hashes_bytes_after_every_write(metric: str) -> None:
    rng = random.Random(metric)
    eng = Engine(EngineConfig(data_dir=None)).start()
    eng.execute("FT.CREATE", "idx", "PREFIX", "1", "d:", "SCHEMA", "t", "TAG", "v", "VECTOR",
                "HNSW", "6", "TYPE", "FLOAT32", "DIM", str(DIM), "DISTANCE_METRIC", metric)  # fmt: skip
    for i in range(DOCS):
        eng.execute("HSET", f"d:{i}", "t", f"g{i % 4}", "v", _blob(rng))

    def check() -> None:
        for _ in range(5):
            query, tag, k = _blob(rng), f"g{rng.randrange(4)}", rng.choice([1, 5, 20])
            assert _knn(eng, query, tag, k) == _expected(
                eng, query, tag.encode(), Metric[metric], k
            )

    check()
    for i in rng.sample(range(DOCS), 30):  # new vectors
        eng.execute("HSET", f"d:{i}", "v", _blob(rng))
    check()
    for i in rng.sample(range(DOCS), 20):  # the vector deleted: out of the KNN
        eng.execute("HDEL", f"d:{i}", "v")
    check()
    for i in rng.sample(range(DOCS), 20):  # a field no index reads
        eng.execute("HSET", f"d:{i}", "other", "x")
    for i in rng.sample(range(DOCS), 20):  # the same bytes again
        eng.execute("HSET", f"d:{i}", "v", eng.execute("HGET", f"d:{i}", "v") or _blob(rng))
    check()
    for i in rng.sample(range(DOCS), 20):  # deleted and re-created: the label revived
        held = eng.execute("HGET", f"d:{i}", "v")
        eng.execute("DEL", f"d:{i}")
        eng.execute("HSET", f"d:{i}", "t", "g0", "v", held if held and rng.random() < 0.5
                    else _blob(rng))  # fmt: skip
    check()
    eng.execute("FT.ALTER", "idx", "SCHEMA", "ADD", "n", "NUMERIC")  # values: unknown
    check()
    for i in rng.sample(range(DOCS), 30):
        eng.execute("HSET", f"d:{i}", "v", _blob(rng), "n", "1")
    check()
