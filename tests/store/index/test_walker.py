"""``hnsw_graph.Walker``: a graph's walks on a thread of their own, and the graph's lock.

Held here: a walk gives back its token with what ``Graph.search`` gives for the query,
tokens come back once each (with one thread, in the order submitted), and the eventfd
says when; the
walker holds its graph, query and token until the walk is taken, and drops them then
(no reference leaks); a query of the wrong size is refused before anything is queued;
after ``stop`` the queued walks are still walked and taken, and nothing more is accepted.
Writes (add, mark and unmark deleted, resize, relink) run while walks are queued and in
progress, from the test's thread and from others: every walk answers with live or deleted
labels of the graph, nothing crashes or waits forever. Then the index level:
``HnswIndex.search_blob_later`` queues what ``search_blob`` answers, and None where that
gives None.
"""

from __future__ import annotations

import gc
import select
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from store.index import blob_graph
from store.index.hnsw import HnswIndex
from store.index.vector import Metric

pytestmark = pytest.mark.skipif(
    not blob_graph.AVAILABLE, reason="needs store.index.hnsw_graph (test_hnsw_graph fails then)"
)

if blob_graph.AVAILABLE:
    from store.index.hnsw_graph import Graph, Walker

DIM = 16
N = 600


def _graph(metric: str = "COSINE", n: int = N) -> tuple[Graph, np.ndarray]:
    vectors = np.random.default_rng(7).standard_normal((n, DIM)).astype(np.float32)
    graph = Graph(DIM, metric, n, 8, 40, 1)
    graph.add(list(range(n)), [row.tobytes() for row in vectors], 1, False)
    return graph, vectors


def _take(walker: Walker, count: int, timeout_s: float = 10) -> list[tuple[object, list]]:
    """``count`` finished walks as (token, hits), waiting on the walker's eventfd for them;
    each walk's time is checked (a positive number of ns, under ``timeout_s``)."""
    got: list[tuple[object, list]] = []
    while len(got) < count:
        ready, _, _ = select.select([walker.fd], [], [], timeout_s)
        assert ready, f"no walk finished in {timeout_s} s ({len(got)} of {count} taken)"
        for token, hits, walk_ns in walker.take():
            assert 0 < walk_ns < timeout_s * 1e9
            got.append((token, hits))
    return got


def test_two_threads_answer_each_walk_once_as_search() -> None:
    graph, vectors = _graph()
    walker = Walker(2)
    try:
        for i in range(300):
            walker.submit(graph, vectors[i].tobytes(), 10, 60, i)
        got = _take(walker, 300)
        assert sorted(token for token, _ in got) == list(range(300))  # type: ignore[type-var]
        for token, hits in got:
            assert hits == graph.search(vectors[token].tobytes(), 10, 60, None)  # type: ignore[index]
    finally:
        walker.stop()
    with pytest.raises(ValueError, match="at least 1 thread"):
        Walker(0)


def test_threads_are_named_and_joined_by_stop() -> None:
    def named() -> int:
        comms = [(task / "comm").read_text().strip() for task in Path("/proc/self/task").iterdir()]
        return comms.count("memvec-walker")

    before = named()
    walker = Walker(2)
    assert named() == before + 2
    walker.stop()
    assert named() == before


@pytest.mark.parametrize("metric", ["COSINE", "IP", "L2"])
def test_walks_answer_as_search_in_the_order_submitted(metric: str) -> None:
    graph, vectors = _graph(metric)
    queries = [row.tobytes() for row in vectors[:40]]
    walker = Walker(1)
    try:
        cases = [(q, k, ef) for q in queries for k, ef in ((10, 10), (1, 50), (N + 3, 10), (0, 10))]
        for i, (query, k, ef) in enumerate(cases):
            walker.submit(graph, query, k, ef, ("token", i))
        got = _take(walker, len(cases))
        assert [token for token, _ in got] == [("token", i) for i in range(len(cases))]
        for (query, k, ef), (_, hits) in zip(cases, got, strict=True):
            assert hits == graph.search(query, k, max(ef, k), None)
            assert len(hits) == min(k, N) or k > N  # (a walk may miss a few of all N)
        assert walker.take() == [] and walker.pending() == 0
        ready, _, _ = select.select([walker.fd], [], [], 0)
        assert not ready  # nothing finished since the last take
    finally:
        walker.stop()


def test_references_are_held_until_taken_and_dropped_then() -> None:
    graph, vectors = _graph()
    query = vectors[1].tobytes() + b""  # an object of its own
    token = object()
    counts = sys.getrefcount(graph), sys.getrefcount(query), sys.getrefcount(token)
    walker = Walker()
    try:
        walker.submit(graph, query, 5, 10, token)
        assert sys.getrefcount(graph) == counts[0] + 1
        assert sys.getrefcount(query) == counts[1] + 1
        got = _take(walker, 1)
        assert got[0][0] is token
        del got
        gc.collect()
        assert (sys.getrefcount(graph), sys.getrefcount(query), sys.getrefcount(token)) == counts
    finally:
        walker.stop()


def test_a_query_of_the_wrong_size_is_refused_and_nothing_queued() -> None:
    graph, vectors = _graph()
    walker = Walker()
    try:
        for wrong in (vectors[0].tobytes()[:-4], b"", vectors[0].tobytes() + b"\0" * 4):
            with pytest.raises(ValueError, match="dim float32 values"):
                walker.submit(graph, wrong, 5, 10, None)
        with pytest.raises(TypeError):
            walker.submit(graph, bytearray(vectors[0].tobytes()), 5, 10, None)  # type: ignore[arg-type]
        assert walker.pending() == 0
    finally:
        walker.stop()


def test_stop_walks_what_was_queued_and_then_refuses() -> None:
    graph, vectors = _graph()
    walker = Walker(2)
    for i in range(200):
        walker.submit(graph, vectors[i].tobytes(), 10, 200, i)
    walker.stop()
    got = walker.take()
    assert sorted(token for token, _, _ in got) == list(range(200))  # type: ignore[type-var]
    assert all(hits and hits[0][0] == token for token, hits, _ in got)  # each its own nearest
    with pytest.raises(RuntimeError, match="closed"):
        walker.submit(graph, vectors[0].tobytes(), 10, 10, None)
    walker.stop()  # again: nothing to do
    assert walker.pending() == 0


def test_writes_while_walks_are_queued_and_in_progress() -> None:
    """Walks at a wide breadth (each long enough that writes land during one) submitted
    from one thread while this thread and another write: every walk answers, with labels
    the graph held, and the writes all took effect."""
    n = 3000
    vectors = np.random.default_rng(9).standard_normal((n + 2000, DIM)).astype(np.float32)
    blobs = [row.tobytes() for row in vectors]
    graph = Graph(DIM, "L2", n, 8, 40, 1)
    graph.add(list(range(n)), blobs[:n], 1, False)
    walker = Walker(2)
    submitted = 400
    failures: list[BaseException] = []

    def submit() -> None:
        try:
            for i in range(submitted):
                walker.submit(graph, blobs[i % n], 10, 400, i)
        except BaseException as exc:
            failures.append(exc)

    def write_more() -> None:  # adds past the capacity (a resize first), on two threads
        try:
            for start in range(n, n + 2000, 100):
                graph.resize(start + 100)
                graph.add(list(range(start, start + 100)), blobs[start : start + 100], 2, False)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=submit), threading.Thread(target=write_more)]
    for t in threads:
        t.start()
    try:
        for label in range(0, n, 7):  # this thread: deletes, undeletes and relinks
            graph.mark_deleted(label)
            if label % 2:
                graph.unmark_deleted(label)
            assert graph.relink(label + 1, blobs[label + 1] + b"")
        for t in threads:
            t.join(60)
        assert not failures, failures
        got = _take(walker, submitted)
    finally:
        walker.stop()
    assert sorted(token for token, _ in got) == list(range(submitted))
    for _, hits in got:
        assert len(hits) == 10
        assert all(0 <= label < n + 2000 for label, _ in hits)
    assert graph.element_count == n + 2000
    deleted = [label for label in range(0, n, 7) if not label % 2]
    assert all(graph.is_deleted(label) for label in deleted)
    walks = [graph.search(blobs[i], 10, 400, None) for i in range(0, n, 97)]
    assert all(not set(deleted) & {label for label, _ in hits} for hits in walks)


# -- HnswIndex --------------------------------------------------------------------------


@pytest.mark.parametrize("metric", [Metric.COSINE, Metric.IP, Metric.L2])
def test_search_blob_later_queues_what_search_blob_answers(
    metric: Metric, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(len(metric.value))
    vectors = rng.standard_normal((N, DIM)).astype(np.float32)
    index = HnswIndex(DIM, metric, m=8, ef_construction=40)
    index.add_batch(list(range(N)), vectors, sources=[row.tobytes() for row in vectors])
    for label in range(0, N, 5):
        index.remove(label)
    live = N - len(range(0, N, 5))
    walker = Walker()
    try:
        queries = [row.tobytes() for row in rng.standard_normal((30, DIM)).astype(np.float32)]
        cases = [(q, k, ef) for q in queries for k, ef in ((10, None), (3, 50), (N, None))]
        wants = [index.search_blob_later(q, k, ef, walker, i) for i, (q, k, ef) in
                 enumerate(cases)]  # fmt: skip
        assert wants == [min(k, live) for _, k, _ in cases]
        got = _take(walker, len(cases))
        for (_, hits), (query, k, ef) in zip(got, cases, strict=True):
            if len(hits) == min(k, live):  # else search_blob answers None: the caller's
                assert hits == index.search_blob(query, k, ef)
        blob = vectors[1].tobytes()
        nan = np.full(DIM, np.nan, dtype=np.float32).tobytes()
        for wrong in (blob[:-4], nan, bytearray(blob)):
            assert index.search_blob_later(wrong, 10, None, walker, None) is None  # type: ignore[arg-type]
        assert index.search_blob_later(blob, 0, None, walker, None) is None
        with pytest.raises(ValueError, match="k must be a non-negative integer"):
            index.search_blob_later(blob, -1, None, walker, None)
        assert walker.pending() == 0
        monkeypatch.setattr(blob_graph, "AVAILABLE", False)  # hnswlib's own graph: a copy
        wheel = HnswIndex(DIM, metric, m=8, ef_construction=40)
        wheel.add_batch(list(range(N)), vectors)
        assert wheel.search_blob_later(blob, 10, None, walker, None) is None
        assert walker.pending() == 0
    finally:
        walker.stop()
