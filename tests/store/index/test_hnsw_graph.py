"""``store.index.hnsw_graph``: hnswlib's graph over float32 values held in the caller's
``bytes`` objects (decision 0042, part 2). The graph references the objects it is given
(no copy), answers as an exact search does at full breadth, and releases an object when
its slot takes another."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import numpy as np
import pytest

from store.index import hnsw_graph

DIM = 32


def _blobs(n: int, seed: int = 0) -> list[bytes]:
    rows = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return [row.tobytes() for row in rows]


def _exact(blobs: list[bytes], query: bytes, metric: str, k: int) -> list[int]:
    m = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), DIM)
    q = np.frombuffer(query, dtype=np.float32)
    if metric == "L2":
        d = ((m - q) ** 2).sum(axis=1)
    elif metric == "IP":
        d = 1 - m @ q
    else:
        d = 1 - (m @ q) / (np.linalg.norm(m, axis=1) * np.linalg.norm(q))
    return np.argsort(d, kind="stable")[:k].tolist()


def _distances(blobs: list[bytes], query: bytes, metric: str) -> np.ndarray:
    """Every blob's distance from ``query`` (the graph's definitions), in float64."""
    m = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), DIM)
    m = m.astype(np.float64)
    q = np.frombuffer(query, dtype=np.float32).astype(np.float64)
    if metric == "L2":
        return ((m - q) ** 2).sum(axis=1)
    if metric == "IP":
        return 1 - m @ q
    return 1 - (m @ q) / (np.linalg.norm(m, axis=1) * np.linalg.norm(q))


def _codes_follow(g: hnsw_graph.Graph, labels: dict[int, bytes], metric: str) -> None:
    """Each label's walk distance (its codes block) is its values' distance up to the
    codes' rounding: the codes were written from the values the slot holds now. (A dot
    product's rounding error is well under 1% of |q| |x|; a stale block's is of its order.)"""
    m = np.frombuffer(b"".join(labels.values()), dtype=np.float32).reshape(len(labels), DIM)
    norms = np.linalg.norm(m.astype(np.float64), axis=1)
    for query in _blobs(3, seed=11):
        exact = _distances(list(labels.values()), query, metric)
        walked = np.array([g.code_distance(label, query) for label in labels])
        q = np.linalg.norm(np.frombuffer(query, dtype=np.float32).astype(np.float64))
        tolerance = {"COSINE": 0.01, "IP": 0.01 * q * norms, "L2": 0.02 * q * norms}[metric]
        assert np.all(np.abs(walked - exact) <= tolerance)


def _refs(obj: object) -> int:
    """References to ``obj`` besides this call's (read outside ``assert``: pytest's
    rewriting keeps the subexpressions of an assert alive)."""
    return sys.getrefcount(obj) - 1


def _graph(n: int, metric: str = "COSINE", capacity: int | None = None) -> hnsw_graph.Graph:
    return hnsw_graph.Graph(DIM, metric, capacity or n, 16, 100, 100)


@pytest.mark.parametrize("metric", ["COSINE", "IP", "L2"])
def test_a_full_breadth_walk_is_the_exact_answer(metric: str) -> None:
    blobs = _blobs(300)
    g = _graph(300, metric)
    g.add(list(range(300)), blobs)
    for query in _blobs(20, seed=1):
        found = g.search(query, 10, 300)
        assert [label for label, _ in found] == _exact(blobs, query, metric, 10)
        assert [d for _, d in found] == sorted(d for _, d in found)


@pytest.mark.parametrize("metric", ["COSINE", "IP", "L2"])
def test_the_walk_steers_by_codes_and_answers_the_values_distances(metric: str) -> None:
    # decision 0046: the walk compares int8 codes, the hits it returns are measured on the
    # values (a codes distance is off by up to ~1e-2: these match to float32 rounding)
    blobs = _blobs(400)
    g = _graph(400, metric)
    g.add(list(range(400)), blobs, threads=2)
    _codes_follow(g, dict(enumerate(blobs)), metric)
    for query in _blobs(10, seed=4):
        exact = _distances(blobs, query, metric)
        found = g.search(query, 10, 40)
        for label, distance in found:
            assert distance == pytest.approx(exact[label], rel=1e-5, abs=1e-5)
        coded = [g.code_distance(label, query) for label, _ in found]
        assert coded != [distance for _, distance in found]  # the codes are not the values


def test_codes_follow_updates_reused_slots_and_a_load(tmp_path: Path) -> None:
    blobs = _blobs(60)
    g = _graph(60, "L2", capacity=80)
    g.add(list(range(60)), blobs)
    labels = dict(enumerate(blobs))
    labels[3] = _blobs(1, seed=21)[0]
    g.add([3], [labels[3]])  # in place
    g.mark_deleted(4)
    del labels[4]
    labels[100] = _blobs(1, seed=22)[0]
    g.add([100], [labels[100]], replace_deleted=True)  # label 4's slot
    twin = _blobs(1, seed=23)[0]
    g.add([7, 7], [_blobs(1, seed=24)[0], twin])  # the later duplicate wins
    labels[7] = twin
    g.resize(200)  # the codes move with the slots
    labels.update(zip(range(200, 260), _blobs(60, seed=25), strict=True))
    g.add(list(range(200, 260)), [labels[label] for label in range(200, 260)], threads=2)
    _codes_follow(g, labels, "L2")
    assert g.search(labels[100], 1, 20)[0] == (100, pytest.approx(0.0, abs=1e-6))
    path = str(tmp_path / "graph.bin")
    g.save(path)
    h = _graph(1, "L2")
    h.load(path, [bytes(bytearray(v)) for v in g.slot_values()], 300)
    _codes_follow(h, labels, "L2")
    for query in _blobs(5, seed=26):
        assert h.search(query, 10, 64) == g.search(query, 10, 64)


def test_recall_at_a_moderate_breadth_on_two_threads() -> None:
    blobs = _blobs(3000)
    g = _graph(3000)
    g.add(list(range(3000)), blobs, threads=2)
    queries = _blobs(50, seed=2)
    hits = sum(
        len({label for label, _ in g.search(q, 10, 64)} & set(_exact(blobs, q, "COSINE", 10)))
        for q in queries
    )
    assert hits / 500 >= 0.95


def test_the_graph_references_the_callers_objects_and_releases_them() -> None:
    blobs = _blobs(50)
    before = _refs(blobs[7])
    g = _graph(50)
    g.add(list(range(50)), blobs)
    assert g.vector(7) is blobs[7]
    held = _refs(blobs[7])
    assert held == before + 1
    del g
    gc.collect()
    after = _refs(blobs[7])
    assert after == before


def test_an_update_and_a_reused_slot_release_the_old_object() -> None:
    blobs = _blobs(20)
    g = _graph(20)
    g.add(list(range(20)), blobs)
    old, new = blobs[3], _blobs(1, seed=5)[0]
    held = _refs(old)
    g.add([3], [new])  # in place
    released = _refs(old)
    assert g.vector(3) is new and released == held - 1
    g.mark_deleted(4)
    gone, fresh = blobs[4], _blobs(1, seed=6)[0]
    held = _refs(gone)
    g.add([100], [fresh], replace_deleted=True)  # a new label takes label 4's slot
    released = _refs(gone)
    assert g.element_count == 20
    assert g.vector(100) is fresh and released == held - 1
    assert 4 not in g.ids()


def test_deleted_labels_are_not_answered_until_unmarked() -> None:
    blobs = _blobs(200)
    g = _graph(200)
    g.add(list(range(200)), blobs)
    query = blobs[17]
    assert g.search(query, 1, 50)[0][0] == 17
    g.mark_deleted(17)
    assert g.is_deleted(17)
    assert 17 not in [label for label, _ in g.search(query, 10, 200)]
    g.unmark_deleted(17)
    assert g.search(query, 1, 50)[0][0] == 17


def test_a_filter_admits_labels_and_its_exception_is_raised() -> None:
    blobs = _blobs(400)
    g = _graph(400)
    g.add(list(range(400)), blobs)
    allowed = set(range(0, 400, 7))
    found = g.search(blobs[0], 10, 400, allowed.__contains__)
    assert len(found) == 10 and {label for label, _ in found} <= allowed
    assert [label for label, _ in found] == [
        label for label in _exact(blobs, blobs[0], "COSINE", 400) if label in allowed
    ][:10]

    def broken(label: int) -> bool:
        raise KeyError(f"no {label}")

    with pytest.raises(KeyError):
        g.search(blobs[0], 10, 50, broken)


def test_save_and_load_give_the_same_answers(tmp_path: Path) -> None:
    blobs = _blobs(500)
    g = _graph(500, capacity=600)
    g.add(list(range(500)), blobs)
    g.mark_deleted(9)
    path = str(tmp_path / "graph.bin")
    g.save(path)
    values = g.slot_values()
    assert values[9] is blobs[9]  # a deleted slot keeps its values: the walk passes it
    h = _graph(1)
    h.load(path, [bytes(bytearray(v)) for v in values], 600)
    assert h.element_count == 500 and h.max_elements == 600 and h.is_deleted(9)
    for query in _blobs(10, seed=3):
        assert h.search(query, 10, 64) == g.search(query, 10, 64)
    assert h.relink(5, blobs[5]) and h.vector(5) is blobs[5]
    assert not h.relink(6, blobs[5])  # other bytes: nothing changes
    assert h.vector(6) == blobs[6] and h.vector(6) is not blobs[6]
    with pytest.raises(ValueError):
        h.load(path, values[:-1], 600)


def test_bad_values_are_refused_before_anything_changes() -> None:
    g = _graph(10)
    with pytest.raises(TypeError):
        g.add([1], [bytearray(4 * DIM)])
    with pytest.raises(ValueError):
        g.add([1], [b"\0" * (4 * DIM - 4)])
    with pytest.raises(ValueError):
        g.add([1, 2], [b"\0" * (4 * DIM)])
    assert g.element_count == 0
    with pytest.raises(ValueError):
        hnsw_graph.Graph(DIM, "HAMMING", 10, 16, 100, 100)


def test_a_full_graph_says_so() -> None:
    g = _graph(4)
    with pytest.raises(RuntimeError):
        g.add(list(range(5)), _blobs(5))
    g.resize(8)
    g.add(list(range(8)), _blobs(8, seed=9))
    assert g.element_count == 8
