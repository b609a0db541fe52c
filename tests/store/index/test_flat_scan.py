"""A FLAT scan's one pass for several queries (``store/index/flat_scan_c.c``) gives the
numpy reference's bits, whatever the batch, the thread split or the CPU's kernels, and a
FLAT index's distances are those bits on every path (store.index.flat_scan)."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from store.cpus import available_cpus
from store.index import flat_scan, flat_scan_c
from store.index.flat import FlatIndex
from store.index.flat_scan import (
    MAX_THREADS,
    PARALLEL_MIN_FLOATS,
    dot_distances,
    l2_distances,
    reference_dot_distances,
    reference_l2_distances,
    scan_threads,
)
from store.index.vector import Metric, prepare

DIMS = (1, 3, 15, 16, 17, 31, 33, 384, 385)
ISAS = {"base": 0, "avx2": 1, "avx512": 2}
# each distance's pass and its numpy reference
PASSES = {
    "dot": (dot_distances, reference_dot_distances),
    "l2": (l2_distances, reference_l2_distances),
}


def _cpu_flags() -> set[str]:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def _runs(isa: str) -> bool:
    return isa == "base" or {"avx2": "avx2", "avx512": "avx512f"}[isa] in _cpu_flags()


def test_the_c_module_built() -> None:
    assert flat_scan.flat_scan_c is not None, (
        "store/index/flat_scan_c.c did not build: install gcc and the Python headers "
        "(python3-dev), then reinstall memvec (pip install -e .)"
    )


def _values(rng: np.random.Generator, kind: str, shape: tuple[int, int]) -> npt.NDArray[np.float32]:
    if kind == "wide":  # magnitudes across many binades: sums round order-dependently
        mag = np.float32(2.0) ** rng.integers(-20, 20, shape).astype(np.float32)
        return (rng.standard_normal(shape).astype(np.float32) * mag).astype(np.float32)
    if kind == "integers":  # exact products, ties, cancellations, signed zeros
        values = rng.integers(-2, 3, shape).astype(np.float32)
        return np.where(rng.random(shape) < 0.5, np.copysign(values, -1), values).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("isa", list(ISAS))
@pytest.mark.parametrize("kind", ["normal", "wide", "integers"])
@pytest.mark.parametrize("distance", list(PASSES))
def test_every_kernel_gives_the_references_bits(isa: str, kind: str, distance: str) -> None:
    one_pass, reference = PASSES[distance]
    if not _runs(isa):
        with pytest.raises(ValueError, match="not one this CPU runs"):
            one_pass(np.ones((2, 16), np.float32), np.ones((1, 16), np.float32), isa=ISAS[isa])
        return
    rng = np.random.default_rng(len(kind) * 31 + ISAS[isa])
    for dim in DIMS:
        for rows in (0, 1, 7, 100):
            matrix = _values(rng, kind, (rows, dim))
            queries = _values(rng, kind, (13, dim))
            want = reference(matrix, queries)
            assert want.shape == (13, rows)
            for threads in (1, 2, 3):
                got = one_pass(matrix, queries, threads=threads, isa=ISAS[isa])
                assert got.tobytes() == want.tobytes(), (dim, rows, threads)
            # any number of queries in the pass: each query's bits stay its own
            for count in range(1, 13):
                got = one_pass(matrix, queries[:count], isa=ISAS[isa])
                assert got.tobytes() == want[:count].tobytes(), (dim, rows, count)


@pytest.mark.parametrize("isa", list(ISAS))
@pytest.mark.parametrize("distance", list(PASSES))
def test_selected_rows_give_the_bits_of_the_rows_copied_out(isa: str, distance: str) -> None:
    """``select`` scans rows where they lie, in its order (repeats, any order, the last
    row, none): the bits of the same rows copied out and scanned."""
    one_pass, reference = PASSES[distance]
    if not _runs(isa):
        return
    rng = np.random.default_rng(ISAS[isa] + 7)
    for dim in DIMS:
        matrix = _values(rng, "wide", (300, dim))
        queries = _values(rng, "normal", (9, dim))
        for select in (
            np.array([], np.int64),
            np.array([299], np.int64),
            np.sort(rng.choice(300, 40, replace=False)).astype(np.int64),
            rng.integers(0, 300, 500).astype(np.int64),  # repeats, unsorted, longer than it
        ):
            want = reference(matrix[select], queries)
            for threads in (1, 2):
                for count in (1, 9):
                    got = one_pass(
                        matrix, queries[:count], threads=threads, isa=ISAS[isa], select=select
                    )
                    assert got.tobytes() == want[:count].tobytes(), (dim, len(select), count)


def test_a_selection_outside_the_matrix_is_refused() -> None:
    matrix = np.ones((4, 8), np.float32)
    queries = np.ones((1, 8), np.float32)
    for one_pass in (dot_distances, l2_distances):
        for bad in ([4], [-1], [0, 1, 9]):
            with pytest.raises(ValueError, match="select holds a row the matrix does not have"):
                one_pass(matrix, queries, select=np.array(bad, np.int64))
    out = np.empty((1, 2), np.float32)
    with pytest.raises(ValueError, match="select must be a C-contiguous int64 buffer"):
        flat_scan_c.dot_distances(matrix, 2, 8, queries, 1, out, 1, -1, np.zeros(2, np.int32))
    with pytest.raises(ValueError, match="select must be a C-contiguous int64 buffer"):
        flat_scan_c.dot_distances(matrix, 2, 8, queries, 1, out, 1, -1, np.zeros(3, np.int64))
    # the numpy twin refuses the same selections
    for reference_pass in (reference_dot_distances, reference_l2_distances):
        assert reference_pass(matrix[[1, 3]], queries).shape == (1, 2)
    with pytest.raises(ValueError, match="select holds a row"):
        flat_scan._selected(matrix, queries, np.array([4], np.int64))


def test_the_reference_is_one_minus_the_dot_product() -> None:
    rng = np.random.default_rng(3)
    matrix = rng.standard_normal((50, 40)).astype(np.float32)
    queries = rng.standard_normal((3, 40)).astype(np.float32)
    exact = 1.0 - queries.astype(np.float64) @ matrix.T.astype(np.float64)
    np.testing.assert_allclose(reference_dot_distances(matrix, queries), exact, atol=2e-5)
    # integers are exact in any order: the lanes and their sum are checked by value
    ints = rng.integers(-3, 4, (20, 37)).astype(np.float32)
    want = 1.0 - ints[:4].astype(np.int64) @ ints.T.astype(np.int64)
    assert np.array_equal(reference_dot_distances(ints, ints[:4]), want.astype(np.float32))


def test_the_l2_reference_is_the_squared_euclidean_distance() -> None:
    rng = np.random.default_rng(4)
    matrix = rng.standard_normal((50, 40)).astype(np.float32)
    queries = rng.standard_normal((3, 40)).astype(np.float32)
    diff = matrix[None].astype(np.float64) - queries[:, None].astype(np.float64)
    np.testing.assert_allclose(
        reference_l2_distances(matrix, queries), (diff**2).sum(-1), rtol=2e-6
    )
    ints = rng.integers(-3, 4, (20, 37)).astype(np.float32)
    want = ((ints[None].astype(np.int64) - ints[:4, None].astype(np.int64)) ** 2).sum(-1)
    assert np.array_equal(reference_l2_distances(ints, ints[:4]), want.astype(np.float32))
    assert not reference_l2_distances(ints, ints).diagonal().any()  # a row's own distance is 0


def test_bad_buffers_are_refused_with_what_to_pass() -> None:
    matrix = np.ones((4, 8), np.float32)
    queries = np.ones((2, 8), np.float32)
    out = np.empty((2, 4), np.float32)
    with pytest.raises(ValueError, match="buffer sizes do not match"):
        flat_scan_c.dot_distances(matrix, 5, 8, queries, 2, out, 1)
    with pytest.raises(ValueError, match="buffer sizes do not match"):
        flat_scan_c.dot_distances(matrix, 4, 8, queries, 2, np.empty((2, 3), np.float32), 1)
    with pytest.raises(TypeError, match="float32"):
        flat_scan_c.dot_distances(matrix.astype(np.float64), 4, 8, queries, 2, out, 1)
    with pytest.raises(ValueError, match="dim and threads >= 1"):
        flat_scan_c.dot_distances(matrix, 4, 8, queries, 2, out, 0)
    with pytest.raises(ValueError, match="buffer sizes do not match"):
        flat_scan_c.l2_distances(matrix, 5, 8, queries, 2, out, 1)
    with pytest.raises(TypeError, match="float32"):
        flat_scan_c.l2_distances(matrix, 4, 8, queries.astype(np.float16), 2, out, 1)
    with pytest.raises(ValueError, match="queries have 7 dimensions, the matrix 8"):
        l2_distances(matrix, np.ones((1, 7), np.float32))
    with pytest.raises(ValueError, match="queries have 7 dimensions, the matrix 8"):
        dot_distances(matrix, np.ones((1, 7), np.float32))
    # a column-major or float64 matrix is copied, not misread
    fortran = np.asfortranarray(np.arange(32, dtype=np.float32).reshape(4, 8))
    assert dot_distances(fortran, queries).tobytes() == (
        reference_dot_distances(np.ascontiguousarray(fortran), queries).tobytes()
    )


def test_a_large_pass_gets_every_core_and_one_pass_at_a_time() -> None:
    cores = available_cpus()
    with scan_threads(PARALLEL_MIN_FLOATS) as threads:
        assert threads == max(1, min(MAX_THREADS, cores))
    with scan_threads(PARALLEL_MIN_FLOATS - 1) as threads:
        assert threads == 1  # too small to pay for a second thread
    if cores < 2:
        return
    inside, release, second_in = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with scan_threads(PARALLEL_MIN_FLOATS):
            inside.set()
            release.wait(5)

    def second() -> None:
        with scan_threads(PARALLEL_MIN_FLOATS):
            second_in.set()

    a = threading.Thread(target=first)
    a.start()
    assert inside.wait(5)
    b = threading.Thread(target=second)
    b.start()
    assert not second_in.wait(0.2)  # waits for the first pass
    release.set()
    a.join(5)
    b.join(5)
    assert second_in.is_set()


def test_concurrent_threaded_passes_and_a_forked_child_get_their_bits() -> None:
    """The C module's helper threads serve one pass at a time (another runs on its
    caller's thread alone), and a fork's child, which has none, starts its own."""
    rng = np.random.default_rng(21)
    matrix = rng.standard_normal((3000, 40)).astype(np.float32)
    queries = rng.standard_normal((32, 40)).astype(np.float32)
    want = reference_dot_distances(matrix, queries)
    got: list[bytes] = [b""] * len(queries)

    def one(i: int) -> None:
        for _ in range(20):
            got[i] = dot_distances(matrix, queries[i : i + 1], threads=2).tobytes()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(queries))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert got == [want[i : i + 1].tobytes() for i in range(len(queries))]

    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if a threaded pass finishes with the right bits
        ok = dot_distances(matrix, queries, threads=2).tobytes() == want.tobytes()
        os._exit(0 if ok else 1)
    deadline = time.monotonic() + 30
    while (done := os.waitpid(pid, os.WNOHANG)) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            pytest.fail("a threaded pass in a forked child hung")
        time.sleep(0.01)
    assert os.waitstatus_to_exitcode(done[1]) == 0


@pytest.mark.parametrize("metric", [Metric.COSINE, Metric.IP, Metric.L2])
def test_a_flat_index_gives_the_same_distance_on_every_path(metric: Metric) -> None:
    """KNN, filtered KNN, range and labels: one document, one distance, the pass's bits."""
    rng = np.random.default_rng(11)
    dim = 24
    base = rng.standard_normal((500, dim)).astype(np.float32)
    index = FlatIndex(dim, metric)
    index.add_batch(np.arange(len(base)), base)
    query = rng.standard_normal(dim).astype(np.float32)
    reference = reference_l2_distances if metric is Metric.L2 else reference_dot_distances
    want = reference(prepare(base, metric), prepare(query, metric)[None])[0]
    knn = index.search(query, 20)
    assert [d for _, d in knn] == [float(want[label]) for label, _ in knn]
    assert {label for label, _ in knn} == set(np.lexsort((np.arange(500), want))[:20].tolist())
    filtered = index.search(query, 20, allowed=lambda label: label % 2 == 0)
    assert all(label % 2 == 0 and d == float(want[label]) for label, d in filtered)
    radius = float(np.sort(want)[30])
    ranged = index.range(query, radius)
    assert sorted(label for label, _ in ranged) == sorted(np.flatnonzero(want <= radius).tolist())
    assert all(d == float(want[label]) for label, d in ranged)
    labelled = index.search_labels(query, [3, 5, 8, 400], 4)
    assert all(d == float(want[label]) for label, d in labelled)


def test_a_large_index_scans_on_several_threads_with_the_same_bits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(5)
    dim = 64
    n = PARALLEL_MIN_FLOATS // dim + 10
    base = rng.standard_normal((n, dim)).astype(np.float32)
    index = FlatIndex(dim, Metric.COSINE)
    index.add_batch(np.arange(n), base)
    seen: list[int] = []
    real = flat_scan.dot_distances

    def spy(matrix: npt.NDArray[np.float32], queries: npt.NDArray[np.float32], **kw: Any) -> object:
        seen.append(kw["threads"])
        return real(matrix, queries, **kw)

    monkeypatch.setattr("store.index.flat.dot_distances", spy)
    query = rng.standard_normal(dim).astype(np.float32)
    hits = index.search(query, 5)
    assert seen == [max(1, min(MAX_THREADS, available_cpus()))]
    want = reference_dot_distances(
        prepare(base, Metric.COSINE), prepare(query, Metric.COSINE)[None]
    )
    assert [d for _, d in hits] == sorted(want[0])[:5]
