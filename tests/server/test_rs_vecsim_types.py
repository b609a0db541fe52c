"""Differential tests for the vector side of RediSearch's own test files (issue #20 item 9):
VECTOR fields of every ``TYPE`` (FLOAT32, FLOAT64, FLOAT16, BFLOAT16) on FLAT and HNSW with
each metric, their blob-size errors, the INITIAL_CAP / BLOCK_SIZE limits, and the KNN and
VECTOR_RANGE errors RediSearch's ``test_vecsim.py`` checks. The same commands go to memvec
and to the peer; replies are compared (distances of FLOAT64 fields within FLOAT32 rounding,
as docs/compatibility.md says). One memvec server for the module; each test uses its own
index name and key prefix and drops them on the peer.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pytest
import redis

from store.server import ServerThread
from tests.harness.components import RedisStack, wait_index_scanned
from tests.server.test_differential import Pair, connected_pair

TYPES = {"FLOAT32": "<f4", "FLOAT64": "<f8", "FLOAT16": "<f2", "BFLOAT16": None}


def blob(values: list[float], vtype: str) -> bytes:
    """``values`` as a little-endian blob of ``vtype`` (BFLOAT16: the upper half of each
    FLOAT32, as RediSearch's tests build them)."""
    dtype = TYPES[vtype]
    if dtype is None:
        bits = np.asarray(values, dtype="<f4").view("<u4") >> 16
        return bits.astype("<u2").tobytes()
    return np.asarray(values, dtype=dtype).tobytes()


@pytest.fixture
def pair(memvec: ServerThread, redis_stack: RedisStack) -> Iterator[Pair]:
    with connected_pair(memvec.port, redis_stack, 2) as pair:
        yield pair


@pytest.fixture
def name(pair: Pair) -> Iterator[str]:
    """A fresh index name (also its key prefix); the index and its keys dropped after."""
    index = f"rsv{uuid.uuid4().hex[:8]}"
    yield index
    for r in (pair.memvec, pair.peer):
        try:
            r.execute_command("FT.DROPINDEX", index, "DD")
        except redis.ResponseError:
            pass


def create(pair: Pair, name: str, algo: str, vtype: str, metric: str, dim: int = 2) -> None:
    attrs = ["TYPE", vtype, "DIM", dim, "DISTANCE_METRIC", metric]
    pair.same(
        "FT.CREATE", name, "PREFIX", "1", f"{name}:", "SCHEMA",
        "v", "VECTOR", algo, len(attrs), *attrs, "t", "TAG",
    )  # fmt: skip
    wait_index_scanned(pair.peer, name)  # the peer's background scan could index twice


def ids_and_distances(reply: object) -> list[tuple[bytes, float]]:
    assert isinstance(reply, list), reply
    out = []
    for key, fields in zip(reply[1::2], reply[2::2], strict=True):
        values = dict(zip(fields[::2], fields[1::2], strict=True))
        out.append((key, float(values[b"dist"])))
    return out


@pytest.mark.parametrize("vtype", list(TYPES))
@pytest.mark.parametrize("algo", ["FLAT", "HNSW"])
def test_every_type_knn_and_range_as_the_peer(pair: Pair, name: str, algo: str, vtype: str) -> None:
    points = {"a": [0.1, 0.1], "b": [0.1, 0.2], "c": [0.1, 0.3], "d": [-0.5, 0.4]}
    query = blob([0.1, 0.19], vtype)
    # 1e-6 (RediSearch's own tests' FLOAT32 tolerance; theirs for 16-bit types is 1e-2):
    # a last-bit difference of 1 - dot near 1.0 is 6e-8. 1e-9 for FLOAT64: memvec
    # recomputes those distances in double precision
    tolerance = 1e-9 if vtype == "FLOAT64" else 1e-6
    for metric in ("L2", "IP", "COSINE"):
        create(pair, name, algo, vtype, metric)
        for key, values in points.items():
            pair.same("HSET", f"{name}:{key}", "v", blob(values, vtype), "t", key)
        knn = ["FT.SEARCH", name, "*=>[KNN 4 @v $q AS dist]", "PARAMS", "2", "q", query,
               "SORTBY", "dist", "RETURN", "1", "dist", "DIALECT", "2"]  # fmt: skip
        mine, theirs = (ids_and_distances(r) for r in pair.both(*knn))
        assert [k for k, _ in mine] == [k for k, _ in theirs], (metric, mine, theirs)
        for (_, got), (_, want) in zip(mine, theirs, strict=True):
            assert got == pytest.approx(want, abs=tolerance), (metric, mine, theirs)
        # just past the third distance: FLOAT32 rounding would decide this boundary
        radius = theirs[2][1] + (1e-9 if vtype == "FLOAT64" else 1e-3)
        ranged = ["FT.SEARCH", name, f"@v:[VECTOR_RANGE {radius} $q]=>{{$YIELD_DISTANCE_AS: dist}}",
                  "PARAMS", "2", "q", query, "SORTBY", "dist", "RETURN", "1", "dist",
                  "DIALECT", "2"]  # fmt: skip
        mine, theirs = (ids_and_distances(r) for r in pair.both(*ranged))
        assert [k for k, _ in mine] == [k for k, _ in theirs], (metric, mine, theirs)
        # a wrong-sized blob of this type, at hash write (an index error) and in a query
        pair.same("HSET", f"{name}:bad", "v", blob([1.0], vtype))
        pair.same("FT.SEARCH", name, "*=>[KNN 2 @v $q]", "PARAMS", "2", "q", query[:-1],
                  "DIALECT", "2")  # fmt: skip
        pair.same("FT.DROPINDEX", name, "DD")


def test_capacity_limits_and_type_names(pair: Pair, name: str) -> None:
    """INITIAL_CAP / BLOCK_SIZE beyond a tenth of the machine's memory, per element size."""
    huge = 10**11
    for vtype in ("FLOAT32", "FLOAT64", "FLOAT16", "BFLOAT16", "INT8", "float64"):
        for algo, extra in (
            ("FLAT", ["INITIAL_CAP", huge]),
            ("FLAT", ["BLOCK_SIZE", huge]),
            ("FLAT", ["INITIAL_CAP", 100, "BLOCK_SIZE", huge]),
            ("FLAT", ["BLOCK_SIZE", 0]),
            ("HNSW", ["INITIAL_CAP", huge]),
        ):
            attrs = ["TYPE", vtype, "DIM", 16, "DISTANCE_METRIC", "L2", *extra]
            reply = pair.same(
                "FT.CREATE", name, "PREFIX", "1", f"{name}:", "SCHEMA",
                "v", "VECTOR", algo, len(attrs), *attrs,
            )  # fmt: skip
            if reply == b"OK":
                pair.same("FT.DROPINDEX", name)


def test_knn_and_range_errors(pair: Pair, name: str) -> None:
    create(pair, name, "HNSW", "FLOAT32", "L2")
    pair.same("HSET", f"{name}:a", "v", blob([0.1, 0.1], "FLOAT32"), "t", "x")
    q = blob([0.1, 0.2], "FLOAT32")
    for query, params in (
        ("*=>[KNN 2 @t $q]", []),  # not a VECTOR field: nothing
        ("*=>[KNN 2 @nope $q]", []),
        ("*=>[KNN 2 @v $q AS v]", []),  # a distance name that is a schema field
        ("*=>[KNN 2 @v $q AS $s]", ["s", "t"]),
        ("*=>[KNN 2 @v $q]=>{$yield_distance_as: t;}", []),
        ("@t:{x}=>[KNN 2 @v $q HYBRID_POLICY ADHOC_BF BATCH_SIZE 10]", []),
        ("@t:{x}=>[KNN 2 @v $q HYBRID_POLICY ADHOC_BF EF_RUNTIME 10]", []),
        (
            "@v:[VECTOR_RANGE 0.1 $q]=>{$yield_distance_as: d} "
            "@v:[VECTOR_RANGE 0.2 $q]=>{$yield_distance_as: d}",
            [],
        ),
    ):
        pair.same(
            "FT.SEARCH", name, query, "PARAMS", 2 + len(params), "q", q, *params,
            "RETURN", "0", "DIALECT", "2",
        )  # fmt: skip


def test_ft_info_counts_each_vector_of_a_json_document(pair: Pair, name: str) -> None:
    """``num_records`` counts every vector a multi-vector JSON field holds (nulls skipped)."""
    pair.same(
        "FT.CREATE", name, "ON", "JSON", "PREFIX", "1", f"{name}:", "SCHEMA",
        "$.vecs[*]", "AS", "vecs", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", "2",
        "DISTANCE_METRIC", "L2",
    )  # fmt: skip
    wait_index_scanned(pair.peer, name)  # else the peer may index the document twice
    pair.same("JSON.SET", f"{name}:1", "$", '{"vecs": [[1, 1], null, [2, 2]]}')
    mine, theirs = pair.both("FT.INFO", name)
    assert isinstance(mine, list) and isinstance(theirs, list)
    for key in (b"num_docs", b"num_records", b"hash_indexing_failures"):
        assert mine[mine.index(key) + 1] == theirs[theirs.index(key) + 1], key


@pytest.mark.parametrize("vtype", ["FLOAT16", "BFLOAT16"])
def test_json_numbers_rounded_to_a_16_bit_type(pair: Pair, name: str, vtype: str) -> None:
    """ON JSON, a 16-bit field holds the document's numbers rounded to its type (a COSINE
    field: their unit vector rounded): distances are the peer's to the printed digit."""
    for metric in ("L2", "IP", "COSINE"):
        pair.same(
            "FT.CREATE", name, "ON", "JSON", "PREFIX", "1", f"{name}:", "SCHEMA",
            "$.v", "AS", "v", "VECTOR", "FLAT", "6", "TYPE", vtype, "DIM", "2",
            "DISTANCE_METRIC", metric,
        )  # fmt: skip
        wait_index_scanned(pair.peer, name)
        for i, values in enumerate(([0.1, 0.1], [0.1, 0.2], [0.3, 0.5])):
            pair.same("JSON.SET", f"{name}:{i}", "$", f'{{"v": {values}}}')
        pair.same(
            "FT.SEARCH", name, "*=>[KNN 3 @v $q AS d]", "PARAMS", "2", "q",
            blob([0.1, 0.19], vtype), "SORTBY", "d", "RETURN", "1", "d", "DIALECT", "2",
        )  # fmt: skip
        pair.same("FT.DROPINDEX", name, "DD")


def test_json_vector_paths_are_checked(pair: Pair, name: str) -> None:
    """A VECTOR field ON JSON needs a ``$`` JSONPath that compiles; a TAG takes anything."""
    for path in ("not a valid path", "$.[", "name", ".a", "$ .a", '$["x"]', "$.a[?(@.x>1)]"):
        for kind in (["VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", "2",
                      "DISTANCE_METRIC", "L2"], ["TAG"]):  # fmt: skip
            reply = pair.same(
                "FT.CREATE", name, "ON", "JSON", "PREFIX", "1", f"{name}:", "SCHEMA",
                path, "AS", "vec", *kind,
            )  # fmt: skip
            if reply == b"OK":
                pair.same("FT.DROPINDEX", name)
