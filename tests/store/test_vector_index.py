"""Contract tests for every VectorIndex implementation, with a numpy reference as the oracle.

Each test runs against FlatIndex and HnswIndex. On these small data sets the HNSW index is
searched with an ef far above the element count, where hnswlib's search is exhaustive, so
its results must equal the exact ones.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import crc32c
import numpy as np
import pytest

from store.index import blob_graph
from store.index.flat import FlatIndex
from store.index.hnsw import HEADER, MAGIC, HnswIndex
from store.index.rwlock import ANY_GROUP, RWLock
from store.index.vector import Metric, VectorIndex, prepare

DIM = 16
WIDE_EF = 1000

Factory = Callable[..., VectorIndex]


@pytest.fixture(params=["FLAT", "HNSW", "HNSW-keep-vectors"])
def make(request: pytest.FixtureRequest) -> Factory:
    def factory(dim: int = DIM, metric: Metric = Metric.L2, **kw: object) -> VectorIndex:
        if request.param == "FLAT":
            kw.pop("ef_runtime", None)
            return FlatIndex(dim, metric, **kw)  # type: ignore[arg-type]
        kw.setdefault("ef_runtime", WIDE_EF)
        kw["keep_vectors"] = request.param == "HNSW-keep-vectors"
        return HnswIndex(dim, metric, **kw)  # type: ignore[arg-type]

    return factory


def reload(index: VectorIndex, path: str) -> VectorIndex:
    if isinstance(index, HnswIndex):
        return HnswIndex.load(path, keep_vectors=index.keep_vectors)
    return type(index).load(path)


@contextlib.contextmanager
def lock_in_thread(lock: RWLock, group: object) -> Iterator[None]:
    """Hold ``lock.read(group)`` in another thread for the ``with`` body; fail if it can't."""
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lock.read(group):
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert entered.wait(10), f"a reader of {group!r} could not join"
        yield
    finally:
        release.set()
        thread.join(10)


def vectors(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def reference(
    stored: dict[int, np.ndarray], query: np.ndarray, metric: Metric, k: int
) -> list[tuple[int, float]]:
    """Exact top-k by an independent float64 computation of RediSearch's distances."""
    labels = sorted(stored)
    x = np.array([stored[label] for label in labels], dtype=np.float64)
    q = query.astype(np.float64)
    if metric is Metric.L2:
        d = ((x - q) ** 2).sum(axis=1)
    elif metric is Metric.IP:
        d = 1.0 - x @ q
    else:
        d = 1.0 - (x @ q) / (np.linalg.norm(x, axis=1) * np.linalg.norm(q))
    order = sorted(range(len(labels)), key=lambda i: (d[i], labels[i]))[:k]
    return [(labels[i], float(d[i])) for i in order]


def assert_close(got: object, want: object, rtol: float = 1e-6) -> None:
    assert got is not None
    np.testing.assert_allclose(cast(Any, got), cast(Any, want), rtol=rtol, atol=1e-7)


def assert_hits_match(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> None:
    assert [label for label, _ in got] == [label for label, _ in want]
    np.testing.assert_allclose([d for _, d in got], [d for _, d in want], rtol=1e-4, atol=1e-4)


def assert_distances_match(
    got: list[tuple[int, float]], model: dict[int, np.ndarray], query: np.ndarray, metric: Metric
) -> None:
    """Like assert_hits_match, but any order among equal distances (duplicate vectors)."""
    want = reference(model, query, metric, len(got))
    np.testing.assert_allclose([d for _, d in got], [d for _, d in want], rtol=1e-4, atol=1e-4)
    for label, dist in got:
        assert dist == pytest.approx(
            reference({label: model[label]}, query, metric, 1)[0][1], abs=1e-4
        )


@pytest.mark.parametrize("metric", list(Metric))
def test_search_matches_reference_per_metric(make: Factory, metric: Metric) -> None:
    index = make(metric=metric)
    data = vectors(300)
    for label, vec in enumerate(data):
        index.add(label * 3, vec)
    stored = {label * 3: vec for label, vec in enumerate(data)}
    for query in vectors(5, seed=1):
        assert_hits_match(index.search(query, 10), reference(stored, query, metric, 10))
    assert len(index) == 300
    assert index.labels().tolist() == sorted(stored)


def test_add_batch_equals_single_adds(make: Factory) -> None:
    data = vectors(200)
    one, batch = make(), make()
    for label, vec in enumerate(data):
        one.add(label, vec)
    labels = np.arange(200)
    batch.add_batch(np.concatenate([labels, [7]]), np.vstack([data, data[9:10]]))
    assert batch.labels().tolist() == one.labels().tolist()
    np.testing.assert_array_equal(batch.get(7), data[9])
    query = vectors(1, seed=2)[0]
    stored = {int(label): data[label] for label in labels} | {7: data[9]}
    assert_hits_match(batch.search(query, 5), reference(stored, query, Metric.L2, 5))


def test_add_replaces_the_vector_of_an_existing_label(make: Factory) -> None:
    index = make()
    data = vectors(50)
    for label, vec in enumerate(data):
        index.add(label, vec)
    new = data[0] + 10.0
    index.add(7, new)
    assert len(index) == 50
    assert_close(index.get(7), new)
    assert index.search(new, 1) == [(7, 0.0)]
    assert 7 not in [label for label, _ in index.search(data[7], 5)]


def test_cosine_stores_unit_vectors_and_zero_vectors_are_at_distance_one(make: Factory) -> None:
    index = make(metric=Metric.COSINE)
    vec = np.array([3.0, 4.0] + [0.0] * (DIM - 2), dtype=np.float32)
    index.add(1, vec)
    index.add(2, np.zeros(DIM, dtype=np.float32))
    assert_close(index.get(1), prepare(vec, Metric.COSINE))
    hits = dict(index.search(vec * 7, 2))
    assert hits[1] == pytest.approx(0.0, abs=1e-6)
    assert hits[2] == pytest.approx(1.0, abs=1e-6)


def test_remove_forgets_the_label(make: Factory) -> None:
    index = make()
    data = vectors(40)
    for label, vec in enumerate(data):
        index.add(label, vec)
    assert index.remove(5) is True
    assert index.remove(5) is False
    assert index.remove(999) is False
    assert 5 not in index and 6 in index
    assert index.get(5) is None
    assert len(index) == 39
    assert 5 not in [label for label, _ in index.search(data[5], 39)]
    assert len(index.search(data[5], 100)) == 39


def test_readd_after_remove_and_slot_reuse_stay_consistent(make: Factory) -> None:
    """Remove, re-add and fresh inserts interleaved, checked against a model after each step.

    This is the sequence that corrupts hnswlib 0.8's label table when a removed label is
    re-added with replace_deleted=True.
    """
    index = make(initial_cap=8)
    pool = vectors(400, seed=3)
    rng = random.Random(4)
    model: dict[int, np.ndarray] = {}
    for step in range(600):
        op = rng.random()
        label = rng.randrange(60)
        vec = pool[rng.randrange(len(pool))]
        if op < 0.55:
            index.add(label, vec)
            model[label] = vec
        else:
            assert index.remove(label) is (model.pop(label, None) is not None)
        if step % 50 == 0 or step == 599:
            assert index.labels().tolist() == sorted(model)
            query = pool[rng.randrange(len(pool))]
            got = index.search(query, 10)
            assert_hits_match(got, reference(model, query, Metric.L2, 10))
            for known, vec_ in model.items():
                np.testing.assert_array_equal(index.get(known), vec_)
    if isinstance(index, HnswIndex):
        assert index.slot_count <= 60


def test_hnsw_readd_of_removed_label_reuses_its_own_slot() -> None:
    """hnswlib 0.8 loses label 1 here if it is re-added with replace_deleted=True."""
    index = HnswIndex(8, Metric.L2, initial_cap=10, ef_runtime=50)
    data = vectors(6, dim=8)
    index.add_batch([0, 1, 2, 3], data[:4])
    index.remove(1)
    index.remove(2)
    index.add(1, data[4])
    index.add(7, data[5])
    assert index.slot_count == 4 and index.labels().tolist() == [0, 1, 3, 7]
    np.testing.assert_array_equal(index.get(1), data[4])
    assert index.remove(1) is True
    hits = index.search(data[4], 10)
    assert sorted(label for label, _ in hits) == [0, 3, 7]
    index.add(1, data[0])
    index.add(2, data[1])
    assert index.slot_count == 5 and len(index) == 5


def test_results_are_ordered_and_flat_breaks_ties_by_label(make: Factory) -> None:
    index = make()
    same = vectors(1, seed=5)[0]
    for label in (9, 3, 5):
        index.add(label, same)
    for label, vec in enumerate(vectors(20, seed=6), start=100):
        index.add(label, vec)
    hits = index.search(same, 10)
    dists = [d for _, d in hits]
    assert dists == sorted(dists)
    assert sorted(label for label, _ in hits[:3]) == [3, 5, 9]
    if isinstance(index, FlatIndex):
        assert [label for label, _ in hits[:3]] == [3, 5, 9]


def test_empty_index_and_k_zero(make: Factory) -> None:
    index = make()
    query = vectors(1)[0]
    assert index.search(query, 10) == []
    assert index.search_labels(query, [1, 2], 10) == []
    index.add(1, query)
    assert index.search(query, 0) == []
    assert index.search(query, 10) == [(1, 0.0)]
    with pytest.raises(ValueError, match="k must be"):
        index.search(query, -1)


@pytest.mark.parametrize("metric", list(Metric))
def test_filtered_search_returns_the_exact_filtered_top_k(make: Factory, metric: Metric) -> None:
    index = make(metric=metric)
    data = vectors(300, seed=7)
    for label, vec in enumerate(data):
        index.add(label, vec)
    for query in vectors(3, seed=8):
        for keep in (lambda label: label % 3 == 0, lambda label: label in (17, 250)):
            stored = {label: data[label] for label in range(300) if keep(label)}
            got = index.search(query, 10, allowed=keep)
            assert_hits_match(got, reference(stored, query, metric, 10))
    assert index.search(data[0], 5, allowed=lambda label: False) == []


def test_filtered_search_with_default_ef_finds_a_rare_match(make: Factory) -> None:
    """With EF_RUNTIME 10 and one allowed label in 2000, the result is still found."""
    index = make(ef_runtime=10)
    data = vectors(2000, seed=9)
    index.add_batch(np.arange(2000), data)
    got = index.search(data[0], 10, allowed=lambda label: label == 1234)
    assert [label for label, _ in got] == [1234]


def test_search_labels_is_exact_over_the_present_subset(make: Factory) -> None:
    index = make(metric=Metric.IP)
    data = vectors(100, seed=10)
    for label, vec in enumerate(data):
        index.add(label, vec)
    index.remove(4)
    subset = [4, 8, 15, 16, 23, 42, 42, 999, *range(50, 60)]
    stored = {label: data[label] for label in set(subset) if label < 100 and label != 4}
    query = vectors(1, seed=11)[0]
    got = index.search_labels(query, subset, 5)
    assert_hits_match(got, reference(stored, query, Metric.IP, 5))
    assert_hits_match(
        index.search_labels(query, np.array(subset), 50),
        reference(stored, query, Metric.IP, 50),
    )


@pytest.mark.parametrize("metric", list(Metric))
def test_save_load_round_trip_keeps_deletions(
    make: Factory, metric: Metric, tmp_path: Path
) -> None:
    index = make(metric=metric, initial_cap=16)
    data = vectors(200, seed=12)
    index.add_batch(np.arange(200), data)
    for label in range(0, 200, 4):
        index.remove(label)
    path = str(tmp_path / "index.bin")
    index.save(path)
    loaded = reload(index, path)
    assert loaded.dim == DIM and loaded.metric is metric
    assert loaded.labels().tolist() == index.labels().tolist()
    for query in vectors(3, seed=13):
        assert_hits_match(loaded.search(query, 10, ef_runtime=WIDE_EF), index.search(query, 10))
    loaded.add(0, data[1])
    loaded.add(4, data[2])
    for label in range(1000, 1300):
        loaded.add(label, data[label % 200])
    model = {label: data[label] for label in range(200) if label % 4}
    model |= {0: data[1], 4: data[2]} | {label: data[label % 200] for label in range(1000, 1300)}
    assert loaded.labels().tolist() == sorted(model)
    assert_close(loaded.get(0), prepare(data[1], metric), rtol=1e-5)
    for query in vectors(3, seed=14):
        got = loaded.search(query, 10, ef_runtime=WIDE_EF)
        assert_distances_match(got, model, query, metric)
    assert 8 not in loaded and loaded.get(8) is None
    if isinstance(loaded, HnswIndex) and isinstance(index, HnswIndex):
        assert loaded.ef_runtime == index.ef_runtime
        assert loaded.slot_count == len(loaded)
        assert loaded.keep_vectors == index.keep_vectors


def test_save_publishes_atomically(make: Factory, tmp_path: Path) -> None:
    index = make()
    index.add(1, vectors(1)[0])
    path = tmp_path / "index.bin"
    index.save(str(path))
    index.save(str(path))
    assert [p.name for p in tmp_path.iterdir()] == ["index.bin"]


def test_load_refuses_a_damaged_file(make: Factory, tmp_path: Path) -> None:
    index = make()
    index.add_batch(np.arange(50), vectors(50))
    path = tmp_path / "index.bin"
    index.save(str(path))
    raw = path.read_bytes()
    cls = type(index)
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError):
        cls.load(str(path))
    path.write_bytes(b"not an index at all")
    with pytest.raises(ValueError):
        cls.load(str(path))
    if cls is HnswIndex:
        flipped = bytearray(raw)
        flipped[len(raw) // 2] ^= 0x40
        path.write_bytes(bytes(flipped))
        with pytest.raises(ValueError, match="checksum"):
            cls.load(str(path))


def test_hnsw_file_header_golden_bytes(tmp_path: Path) -> None:
    index = HnswIndex(4, Metric.IP, m=8, ef_construction=20, ef_runtime=7)
    index.add(5, np.array([1, 0, 0, 0], dtype=np.float32))
    index.add(2, np.array([0, 1, 0, 0], dtype=np.float32))
    index.add(9, np.array([0, 0, 1, 0], dtype=np.float32))
    index.remove(9)
    path = tmp_path / "g.bin"
    index.save(str(path))
    raw = path.read_bytes()
    expected = (
        b"MVHNSW"
        + (b"\x02\x00" if blob_graph.AVAILABLE else b"\x01\x00")  # format 2: a BlobGraph
        + b"\x02\x00\x00\x00"  # IP, padding
        + b"\x04\x00\x00\x00"  # DIM 4
        + b"\x08\x00\x00\x00"  # M 8
        + b"\x14\x00\x00\x00"  # EF_CONSTRUCTION 20
        + b"\x07\x00\x00\x00"  # EF_RUNTIME 7
        + b"\x02\x00\x00\x00\x00\x00\x00\x00"  # two live labels
        + b"\x02\x00\x00\x00\x00\x00\x00\x00"  # label 2
        + b"\x05\x00\x00\x00\x00\x00\x00\x00"  # label 5
    )
    assert HEADER.size == 36 and raw.startswith(MAGIC)
    assert raw[: len(expected)] == expected
    (graph_len,) = struct.unpack_from("<Q", raw, len(expected))
    assert len(raw) == len(expected) + 8 + graph_len + 4
    assert struct.unpack("<I", raw[-4:])[0] == crc32c.crc32c(raw[:-4])
    if blob_graph.AVAILABLE:  # hnswlib's graph file, then 3 slots' values (9's is kept)
        (hnsw_len,) = struct.unpack_from("<Q", raw, len(expected) + 8)
        at = len(expected) + 16 + hnsw_len
        assert struct.unpack_from("<Q", raw, at) == (3,)
        values = raw[at + 8 : at + 8 + 3 * 16]
        assert np.frombuffer(values, dtype="<f4").reshape(3, 4).tolist() == [
            [1, 0, 0, 0],
            [0, 1, 0, 0],
            [0, 0, 1, 0],
        ]


def test_flat_file_holds_documented_arrays(tmp_path: Path) -> None:
    index = FlatIndex(3, Metric.COSINE)
    index.add(7, np.array([0, 3, 4], dtype=np.float32))
    index.add(2, np.array([1, 0, 0], dtype=np.float32))
    index.add(5, np.array([0, 1, 0], dtype=np.float32))
    index.remove(5)
    path = tmp_path / "f.npz"
    index.save(str(path))
    with np.load(path, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["dim", "format", "labels", "metric", "vectors"]
        assert int(archive["format"]) == 1 and int(archive["dim"]) == 3
        assert str(archive["metric"]) == "COSINE"
        assert archive["labels"].tolist() == [2, 7]
        assert_close(archive["vectors"], [[1, 0, 0], [0, 0.6, 0.8]])


@pytest.mark.parametrize("dim", [0, -1, 32769, 2.5, True])
def test_dim_out_of_range_is_refused(make: Factory, dim: object) -> None:
    with pytest.raises(ValueError, match="dimension"):
        make(dim=dim)


def test_largest_dim_is_accepted(make: Factory) -> None:
    index = make(dim=32768, initial_cap=2)
    vec = np.ones(32768, dtype=np.float32)
    index.add(1, vec)
    assert index.search(vec, 1) == [(1, 0.0)]


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.ones(DIM, dtype=np.float64), "float32"),
        (np.ones(DIM + 1, dtype=np.float32), r"shape \(16,\)"),
        (np.ones((1, DIM), dtype=np.float32), r"shape \(16,\)"),
        ([1.0] * DIM, "numpy float32 array"),
        (np.full(DIM, np.nan, dtype=np.float32), "NaN"),
    ],
)
def test_bad_vectors_are_refused_without_change(make: Factory, bad: object, match: str) -> None:
    index = make()
    index.add(1, vectors(1)[0])
    with pytest.raises(ValueError, match=match):
        index.add(2, bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=match):
        index.search(bad, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="label"):
        index.add(-1, vectors(1)[0])
    assert index.labels().tolist() == [1]


def test_capacity_grows_past_initial_cap(make: Factory) -> None:
    index = make(initial_cap=4)
    data = vectors(300, seed=14)
    for label, vec in enumerate(data):
        index.add(label, vec)
    index.add_batch(np.arange(300, 600), vectors(300, seed=15))
    assert len(index) == 600
    assert index.search(data[123], 1)[0][0] == 123
    if isinstance(index, HnswIndex):
        assert index.capacity >= 600


def test_memory_grows_with_content(make: Factory) -> None:
    index = make(initial_cap=16)
    empty = index.memory_bytes()
    index.add_batch(np.arange(2000), vectors(2000))
    assert index.memory_bytes() > empty + 2000 * DIM * 4


def test_keep_vectors_costs_one_float32_copy() -> None:
    data = vectors(2000)
    plain = HnswIndex(DIM, Metric.L2, initial_cap=2048)
    side = HnswIndex(DIM, Metric.L2, initial_cap=2048, keep_vectors=True)
    for index in (plain, side):
        index.add_batch(np.arange(2000), data)
    extra = side.memory_bytes() - plain.memory_bytes()
    assert 2000 * DIM * 4 <= extra <= 2 * 2048 * DIM * 4 + 2000 * 200


def test_concurrent_writes_and_searches(make: Factory) -> None:
    """Writers and searchers (with different ef, so ef groups switch) run without crash."""
    index = make(initial_cap=8)
    data = vectors(500, seed=16)
    index.add_batch(np.arange(100), data[:100])
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(400):
                label = rng.randrange(300)
                if rng.random() < 0.7:
                    index.add(label, data[rng.randrange(500)])
                else:
                    index.remove(label)
        except BaseException as exc:
            errors.append(exc)

    def searcher(ef: int) -> None:
        try:
            while not stop.is_set():
                for hit_label, dist in index.search(data[ef % 500], 10, ef_runtime=ef):
                    assert dist >= -1e-4 and 0 <= hit_label < 300
                index.search(data[1], 5, ef_runtime=ef, allowed=lambda label: label % 2 == 0)
                index.search_labels(data[2], range(0, 300, 7), 5)
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=writer, args=(s,)) for s in (1, 2)]
    searchers = [threading.Thread(target=searcher, args=(ef,)) for ef in (10, 50, 200)]
    for t in writers + searchers:
        t.start()
    for t in writers:
        t.join(timeout=60)
    stop.set()
    for t in searchers:
        t.join(timeout=60)
    assert not errors, errors
    labels = index.labels().tolist()
    assert len(labels) == len(set(labels)) == len(index)
    stored: dict[int, np.ndarray] = {}
    for label in labels:
        vec = index.get(label)
        assert vec is not None
        stored[label] = vec
    got = index.search(data[0], 10, ef_runtime=WIDE_EF)
    assert_distances_match(got, stored, data[0], Metric.L2)


def test_hnsw_validates_its_parameters() -> None:
    for kw in ({"m": 1}, {"ef_construction": 0}, {"ef_runtime": 0}, {"initial_cap": 0}):
        with pytest.raises(ValueError, match=next(iter(kw))):
            HnswIndex(4, Metric.L2, **kw)  # type: ignore[arg-type]
    index = HnswIndex(4, Metric.L2)
    # no EF_RUNTIME given: each search picks default_ef (tests/store/test_default_recall.py)
    assert (index.m, index.ef_construction, index.ef_runtime) == (16, 200, None)
    with pytest.raises(ValueError, match="ef_runtime"):
        index.search(np.ones(4, dtype=np.float32), 1, ef_runtime=0)
    index.ef_runtime = 50
    assert index.ef_runtime == 50
    with pytest.raises(ValueError, match="ef_runtime"):
        index.ef_runtime = 0
    index.ef_runtime = None
    assert index.ef_runtime is None


def test_metric_parse() -> None:
    assert Metric.parse("cosine") is Metric.COSINE
    with pytest.raises(ValueError, match="COSINE, L2, IP"):
        Metric.parse("hamming")


class TestRWLock:
    def test_any_group_joins_the_current_group_without_switching(self) -> None:
        switches: list[object] = []
        lock = RWLock(on_group_change=switches.append)
        with lock.read(10), lock_in_thread(lock, ANY_GROUP):
            pass
        with lock.read(ANY_GROUP):
            pass
        assert switches == [10]

    @pytest.mark.parametrize("waiter", ["writer", "other group"])
    def test_the_last_reader_out_wakes_who_waits(self, waiter: str) -> None:
        """A writer, or a reader of another group, waiting on readers gets in when the
        last of them leaves (release_read notifies only when one of those waits)."""
        lock = RWLock()
        got_in = threading.Event()

        def wait_for_the_lock() -> None:
            if waiter == "writer":
                with lock.write():
                    got_in.set()
            else:
                with lock.read("b"):
                    got_in.set()

        lock.acquire_read("a")
        lock.acquire_read("a")
        thread = threading.Thread(target=wait_for_the_lock, daemon=True)  # a failure must not hang
        thread.start()
        try:
            assert not got_in.wait(0.2), "got in while readers of 'a' held the lock"
            lock.release_read()
            assert not got_in.wait(0.2), "got in while a reader of 'a' held the lock"
        finally:
            lock.release_read()
        assert got_in.wait(10), f"the {waiter} was not woken when the last reader left"
        thread.join(10)

    def test_readers_of_one_group_overlap(self) -> None:
        lock = RWLock()
        inside = threading.Barrier(3, timeout=10)

        def reader() -> None:
            with lock.read("a"):
                inside.wait()

        threads = [threading.Thread(target=reader) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
        assert not inside.broken

    def test_groups_and_writers_exclude_each_other(self) -> None:
        switches: list[object] = []
        lock = RWLock(on_group_change=switches.append)
        active: dict[object, int] = {}
        guard = threading.Lock()
        violations: list[str] = []

        def enter(mode: object) -> None:
            with guard:
                others = {m for m, c in active.items() if c and m != mode}
                if others or (mode == "w" and active.get("w")):
                    violations.append(f"{mode} with {others}")
                active[mode] = active.get(mode, 0) + 1

        def leave(mode: object) -> None:
            with guard:
                active[mode] -= 1

        def worker(seed: int) -> None:
            rng = random.Random(seed)
            for _ in range(300):
                if rng.random() < 0.2:
                    with lock.write():
                        enter("w")
                        leave("w")
                else:
                    group = rng.choice([10, 20])
                    with lock.read(group):
                        enter(group)
                        leave(group)

        threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in threads), "a thread never got the lock"
        assert not violations
        assert switches and set(switches) <= {10, 20}
        assert all(a != b for a, b in itertools.pairwise(switches))
