"""A KNN over a filtered subset, raw replies against the peer: the same hits, the same
distances to the last printed digit.

memvec answers a filter that leaves a small subset, or one that says ``HYBRID_POLICY
ADHOC_BF`` (``SearchIndex._knn``, plan ``exact-subset``), by gathering the subset's blobs
(``hash_blobs``) and screening them (``vecsim_arith.nearest_blob_distances``): VecSim's
arithmetic runs only for the blobs that can still be among the k nearest. A larger
filter of a FLAT index is one pass over every vector that the filter picks from
(``FlatIndex``), ranked by that pass's arithmetic and reported with VecSim's. RediSearch
over a FLAT index computes every distance of the subset exactly. (Each page is sorted by
distance: without SORTBY the peer orders hits by document id, memvec nearest first by
default.) Real all-MiniLM-L6-v2 vectors (``tests/data/pypi-minilm-4k.npz``), a TAG that
keeps a third, each metric; scores returned and sorted by, pages past the first.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.harness.components import RedisStack, wait_index_scanned
from tests.server.test_differential import Pair

DATA = Path(__file__).resolve().parents[1] / "data" / "pypi-minilm-4k.npz"
DOCS = 450


@pytest.fixture(params=["COSINE", "L2", "IP"])
def index(request: pytest.FixtureRequest, pair: Pair, redis_stack: RedisStack) -> Iterator[str]:
    name = f"fk{uuid.uuid4().hex[:8]}"
    pair.same("FT.CREATE", name, "PREFIX", "1", f"{name}:", "SCHEMA", "v", "VECTOR", "FLAT",
              "6", "TYPE", "FLOAT32", "DIM", 384, "DISTANCE_METRIC", request.param,
              "g", "TAG")  # fmt: skip
    wait_index_scanned(pair.peer, name)
    with np.load(DATA) as z:
        base = z["base"][:DOCS].astype(np.float32)
    for r in (pair.memvec, pair.peer):
        pipe = r.pipeline(transaction=False)
        for i, vec in enumerate(base):
            pipe.execute_command("HSET", f"{name}:{i}", "v", vec.tobytes(), "g", "abc"[i % 3])
        pipe.execute()
    wait_index_scanned(pair.peer, name)
    yield name
    pair.both("FT.DROPINDEX", name, "DD")


@pytest.mark.parametrize("policy", ["", " HYBRID_POLICY ADHOC_BF"], ids=["pass", "subset"])
def test_filtered_knn_replies_are_the_peers(pair: Pair, index: str, policy: str) -> None:
    """memvec's own plan for a third of a FLAT index (one pass over every vector, the
    filter picking: ``FlatIndex``), and the exact scan of the subset ``ADHOC_BF`` asks for
    (the plan a filter under 5% of the index gets)."""
    with np.load(DATA) as z:
        queries = z["queries"][:12].astype(np.float32)
    for i, q in enumerate(queries):
        blob = (q * np.float32(1 + i)).tobytes()  # L2 and IP see norms other than 1
        for query, extra in (
            ("@g:{a}=>[KNN 10 @v $q%s]", ("SORTBY", "__v_score", "RETURN", 1, "__v_score")),
            ("@g:{b|c}=>[KNN 25 @v $q%s AS d]", ("SORTBY", "d", "RETURN", 1, "d")),
            ("@g:{c}=>[KNN 40 @v $q%s AS d]", ("SORTBY", "d", "LIMIT", 30, 10, "RETURN", 2, "d", "g")),
        ):  # fmt: skip
            pair.same(
                "FT.SEARCH", index, query % policy, "PARAMS", 2, "q", blob, *extra, "DIALECT", 2
            )
