"""Recall of HnswIndex on real embeddings, with FlatIndex as the exact oracle.

Synthetic Gaussian data overstates HNSW recall badly, so these tests use the shared
all-MiniLM-L6-v2 vectors (shared/data/pypi-minilm-100k.npz, laid beside the repo by CI).
The index covers the first N_BASE base vectors, built on two threads (a few seconds); the
ground truth is exact FLAT search over the same subset. The floors are the recall measured
on this data minus a margin for hnswlib's multi-threaded build order. Measured (hnswlib
0.8.0, M 16, EF_CONSTRUCTION 200, 3 builds): recall@10 0.802 at EF_RUNTIME 10, 0.969 at
50, 0.998 at 200; filtered at EF_RUNTIME 200: 1.000 (10% allowed), 0.999 (50% allowed).

The churn test uses a smaller graph (4k, EF_CONSTRUCTION 64): replacing a deleted slot
costs hnswlib ~8 fresh inserts (``updatePoint`` repairs the neighbours' links), so ten
rounds of 50% churn over 20k would take minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from store.index.flat import FlatIndex
from store.index.hnsw import HnswIndex
from store.index.vector import Metric, VectorIndex

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "pypi-minilm-100k.npz"
N_BASE = 20_000
N_QUERIES = 1000
N_FILTERED_QUERIES = 300
K = 10
TUNED_EF = 200
DEFAULT_EF_FLOOR = 0.77
TUNED_FLOOR = 0.97


@dataclass(frozen=True)
class Data:
    base: np.ndarray
    queries: np.ndarray
    gt_cosine_top100: np.ndarray


@pytest.fixture(scope="module")
def data() -> Data:
    if not DATA.exists():
        pytest.fail(
            f"{DATA} is missing: the recall tests need the shared data set laid beside the "
            "repo (<repo>/../shared/data/pypi-minilm-100k.npz); copy shared/ there"
        )
    with np.load(DATA) as npz:
        return Data(
            base=npz["base"].astype(np.float32),
            queries=npz["queries"].astype(np.float32),
            gt_cosine_top100=npz["gt_cosine_top100"],
        )


@pytest.fixture(scope="module")
def subset(data: Data) -> np.ndarray:
    return data.base[:N_BASE]


@pytest.fixture(scope="module")
def hnsw(subset: np.ndarray) -> HnswIndex:
    index = HnswIndex(subset.shape[1], Metric.COSINE, build_threads=2)
    index.add_batch(np.arange(subset.shape[0]), subset)
    return index


@pytest.fixture(scope="module")
def flat(subset: np.ndarray) -> FlatIndex:
    index = FlatIndex(subset.shape[1], Metric.COSINE)
    index.add_batch(np.arange(subset.shape[0]), subset)
    return index


@pytest.fixture(scope="module")
def truth(flat: FlatIndex, data: Data) -> list[list[int]]:
    return [[label for label, _ in flat.search(q, K)] for q in data.queries[:N_QUERIES]]


def recall(
    index: VectorIndex,
    queries: np.ndarray,
    truth: list[list[int]],
    **search_kw: object,
) -> float:
    found = 0
    for query, want in zip(queries, truth, strict=True):
        got = index.search(query, K, **search_kw)  # type: ignore[arg-type]
        found += len({label for label, _ in got} & set(want))
    return found / (K * len(truth))


def test_flat_oracle_agrees_with_the_files_ground_truth(data: Data) -> None:
    """FLAT over all 100k vectors reproduces gt_cosine_top100 (computed elsewhere)."""
    index = FlatIndex(data.base.shape[1], Metric.COSINE, initial_cap=data.base.shape[0])
    index.add_batch(np.arange(data.base.shape[0]), data.base)
    queries = data.queries[:100]
    truth = [row[:K].tolist() for row in data.gt_cosine_top100[:100]]
    assert recall(index, queries, truth) >= 0.999


def test_recall_at_redisearch_ef_runtime(
    hnsw: HnswIndex, data: Data, truth: list[list[int]]
) -> None:
    """RediSearch's default EF_RUNTIME 10, given explicitly (memvec's own default is
    tested in tests/store/test_default_recall.py)."""
    value = recall(hnsw, data.queries[:N_QUERIES], truth, ef_runtime=10)
    assert value >= DEFAULT_EF_FLOOR, f"recall@{K} at EF_RUNTIME 10 is {value:.4f}"


def test_recall_at_tuned_ef_runtime(hnsw: HnswIndex, data: Data, truth: list[list[int]]) -> None:
    value = recall(hnsw, data.queries[:N_QUERIES], truth, ef_runtime=TUNED_EF)
    assert value >= TUNED_FLOOR, f"recall@{K} at EF_RUNTIME {TUNED_EF} is {value:.4f}"


@pytest.mark.parametrize("every", [10, 2], ids=["10pct", "50pct"])
def test_filtered_recall(hnsw: HnswIndex, subset: np.ndarray, data: Data, every: int) -> None:
    """A predicate selecting 1/every of the labels loses no recall against exact filtering."""
    chosen = np.arange(0, subset.shape[0], every)
    exact = FlatIndex(subset.shape[1], Metric.COSINE, initial_cap=chosen.shape[0])
    exact.add_batch(chosen, subset[chosen])
    queries = data.queries[:N_FILTERED_QUERIES]
    truth = [[label for label, _ in exact.search(q, K)] for q in queries]
    allowed: Callable[[int], bool] = set(chosen.tolist()).__contains__
    value = recall(hnsw, queries, truth, ef_runtime=TUNED_EF, allowed=allowed)
    assert value >= TUNED_FLOOR, f"filtered ({100 // every}%) recall@{K} is {value:.4f}"


CHURN_BASE = 4_000
CHURN_ROUNDS = 10
CHURN_EF_CONSTRUCTION = 64


def test_churn_keeps_memory_bounded_and_recall(data: Data) -> None:
    """10 rounds of deleting half the labels and inserting as many again.

    Even rounds re-insert the deleted labels (their slots are revived in place), odd rounds
    insert fresh labels (they take the deleted slots). Neither may grow the graph.
    """
    base = data.base[:CHURN_BASE]
    spare = data.base[CHURN_BASE : 2 * CHURN_BASE]
    rng = np.random.default_rng(0)
    index = HnswIndex(
        base.shape[1], Metric.COSINE, ef_construction=CHURN_EF_CONSTRUCTION, build_threads=2
    )
    index.add_batch(np.arange(CHURN_BASE), base)
    vectors = {label: base[label] for label in range(CHURN_BASE)}
    first = (index.memory_bytes(), index.slot_count, index.capacity)
    next_label = CHURN_BASE
    for round_ in range(CHURN_ROUNDS):
        live = np.array(sorted(vectors))
        gone = rng.choice(live, size=live.shape[0] // 2, replace=False)
        for label in gone.tolist():
            assert index.remove(label)
        if round_ % 2 == 0:
            rows = [vectors[label] for label in gone.tolist()]
            index.add_batch(gone, np.stack(rows))
        else:
            for label in gone.tolist():
                del vectors[label]
            fresh = np.arange(next_label, next_label + gone.shape[0])
            next_label += gone.shape[0]
            rows = [spare[label % CHURN_BASE] for label in fresh.tolist()]
            index.add_batch(fresh, np.stack(rows))
            vectors.update(zip(fresh.tolist(), rows, strict=True))
        now = (index.memory_bytes(), index.slot_count, index.capacity)
        for before, after, what in zip(first, now, ("memory", "slots", "capacity"), strict=True):
            assert after <= before * 1.15, f"round {round_}: {what} grew {before} -> {after}"
    assert len(index) == CHURN_BASE
    assert index.labels().tolist() == sorted(vectors)

    exact = FlatIndex(base.shape[1], Metric.COSINE, initial_cap=CHURN_BASE)
    labels = np.array(sorted(vectors))
    exact.add_batch(labels, np.stack([vectors[label] for label in labels.tolist()]))
    queries = data.queries[:N_FILTERED_QUERIES]
    truth = [[label for label, _ in exact.search(q, K)] for q in queries]
    value = recall(index, queries, truth, ef_runtime=TUNED_EF)
    assert value >= TUNED_FLOOR, f"recall@{K} after churn is {value:.4f}"


@pytest.mark.slow
def test_recall_on_the_full_100k_against_the_files_ground_truth(data: Data) -> None:
    """HNSW (M 16, EF_CONSTRUCTION 200) over all 100k vectors, scored against
    ``gt_cosine_top100``: at RediSearch's default EF_RUNTIME 10 and at a tuned one."""
    index = HnswIndex(data.base.shape[1], Metric.COSINE, m=16, ef_construction=200, build_threads=2)
    index.add_batch(np.arange(data.base.shape[0]), data.base)
    truth = [list(map(int, row[:K])) for row in data.gt_cosine_top100]
    at_default = recall(index, data.queries, truth, ef_runtime=10)
    assert at_default >= 0.74, f"recall@{K} at EF_RUNTIME 10 on 100k is {at_default:.4f}"
    tuned = recall(index, data.queries, truth, ef_runtime=TUNED_EF)
    assert tuned >= 0.98, f"recall@{K} at EF_RUNTIME {TUNED_EF} on 100k is {tuned:.4f}"
