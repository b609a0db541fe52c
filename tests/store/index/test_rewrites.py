"""Rewrites of a document (:class:`store.index.search_index.SearchIndex`): byte-identical
values skip the work (no graph re-insert, no re-tokenizing) and leave the index exactly as
re-indexing from scratch would, document ids and text statistics included."""

from __future__ import annotations

import random
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from store.index import blob_graph
from store.index.hnsw import HnswIndex
from store.index.schema import parse_ft_create
from store.index.search_index import SearchIndex
from store.index.vector import Metric

SCHEMA = (
    "idx ON HASH PREFIX 1 d: SCHEMA v VECTOR HNSW 6 TYPE FLOAT32 DIM 4 DISTANCE_METRIC COSINE "
    "tag TAG text TEXT n NUMERIC"
).split()
VECTORS = [
    struct.pack("<4f", 1.0, 0.0, 0.0, 0.0),
    struct.pack("<4f", -0.0, 1.0, 0.5, 0.0),
    struct.pack("<4f", 0.0, 1.0, 0.5, 0.0),  # equal to the one above, other bytes
    struct.pack("<4f", 0.3, 0.3, -0.9, 0.1),
    struct.pack("<4f", 0.2, -0.7, 0.1, 0.4),
]
TEXTS = [b"Hello world", b"hello again, world", b"the quick brown fox", b"running runners"]


class CountingHnsw(HnswIndex):
    """A real HNSW index that counts the vectors inserted into it."""

    inserted = 0

    def add(self, label: int, vector: npt.NDArray[np.float32]) -> None:
        self.inserted += 1
        super().add(label, vector)

    def add_batch(self, labels: Any, vectors: npt.NDArray[np.float32], **kwargs: Any) -> None:
        self.inserted += len(labels)
        super().add_batch(labels, vectors, **kwargs)


class FromScratch(SearchIndex):
    """The reference: every write re-indexes the whole document (no record kept), and a
    re-created document takes a fresh label."""

    def _seen(self, document: Mapping[bytes, Any]) -> None:
        return None

    def _label_for(self, key: bytes, document: Mapping[bytes, Any]) -> tuple[int, frozenset]:
        self.next_label += 1
        return self.next_label - 1, frozenset()


def counting(index: SearchIndex) -> CountingHnsw:
    counted = CountingHnsw(4, Metric.COSINE, seed=7)
    index.vectors[b"v"] = counted
    return counted


def copy(doc: Mapping[bytes, bytes]) -> dict[bytes, bytes]:
    """The document as a new client write delivers it: equal bytes, new objects."""
    return {bytes(bytearray(k)): bytes(bytearray(v)) for k, v in doc.items()}


def test_identical_rewrite_skips_the_graph_and_the_text() -> None:
    index = SearchIndex(parse_ft_create(SCHEMA))
    counted = counting(index)
    doc = {b"v": VECTORS[0], b"tag": b"a,b", b"text": TEXTS[0], b"n": b"5"}
    index.update(b"d:1", copy(doc))
    stats = index.fields.doc_stats(0)
    records, length = index.fields.num_records, index.fields.total_length
    index.update(b"d:1", copy(doc))
    assert counted.inserted == 1
    assert index.fields.doc_stats(0) == stats._replace(doc_id=stats.doc_id + 1)
    assert index.fields.num_records == records
    assert index.fields.total_length == length + stats.length
    # only the text changes: the vector still stays in place
    index.update(b"d:1", {**copy(doc), b"text": TEXTS[1]})
    assert counted.inserted == 1
    assert index.fields.tokens(b"text", 0) == (b"hello", b"again", b"world")
    # same value, other bytes (-0.0 vs 0.0): byte equality is the rule, so it re-inserts
    index.update(b"d:1", {**copy(doc), b"v": VECTORS[1]})
    index.update(b"d:1", {**copy(doc), b"v": VECTORS[2]})
    assert counted.inserted == 3


def test_deferred_inserts_keep_the_last_vector_of_a_rewrite() -> None:
    index = SearchIndex(parse_ft_create(SCHEMA))
    counted = counting(index)
    doc = {b"v": VECTORS[0], b"text": TEXTS[0]}
    index.update(b"d:1", copy(doc))
    index.defer_vectors()
    index.update(b"d:1", {**copy(doc), b"v": VECTORS[3]})  # pending, graph holds VECTORS[0]
    index.update(b"d:1", {**copy(doc), b"v": VECTORS[3]})  # unchanged: stays pending
    index.flush_vectors()
    assert counted.inserted == 2
    held = index.vectors[b"v"].get(0)
    assert held is not None
    want = np.frombuffer(VECTORS[3], dtype="<f4")
    np.testing.assert_allclose(held, want / np.linalg.norm(want), rtol=1e-6)


def _state(index: SearchIndex) -> dict[str, Any]:
    """The index's content by key (labels may differ: a revived document keeps its own)."""
    fields = index.fields
    vindex = index.vectors[b"v"]
    query = np.asarray([0.5, 0.5, -0.2, 0.1], dtype=np.float32)
    keys = index.key_to_label
    key_of = index.label_to_key
    held_vectors = {}
    for key, label in keys.items():
        held = vindex.get(label)
        held_vectors[key] = None if held is None else held.tobytes()
    return {
        "keys": sorted(keys),
        "stats": {key: fields.doc_stats(label) for key, label in keys.items()},
        "total_length": fields.total_length,
        "records": fields.num_records,
        "terms": fields.num_terms,
        "max_doc_id": fields.max_doc_id,
        "tokens": {key: fields.tokens(b"text", label) for key, label in keys.items()},
        "tags": {key: fields.tag_values(b"tag", label) for key, label in keys.items()},
        "vectors": held_vectors,
        # ties are ordered by label: compare as (distance, key)
        "knn": sorted(
            (round(d, 5), key_of[label])
            for label, d in (vindex.search(query, len(vindex)) if len(vindex) else [])
        ),
        "failures": index.stats.hash_indexing_failures,
    }


def test_rewrites_leave_the_index_as_re_indexing_from_scratch_does() -> None:
    rng = random.Random(16)
    for _ in range(30):
        fast = SearchIndex(parse_ft_create(SCHEMA))
        slow = FromScratch(parse_ft_create(SCHEMA))
        hashes: dict[bytes, dict[bytes, bytes]] = {}
        deferring = False
        for _ in range(40):
            key = b"d:%d" % rng.randrange(4)
            op = rng.random()
            if op < 0.1:
                hashes.pop(key, None)
            elif op < 0.2 and key in hashes:
                hashes[key].pop(rng.choice([b"v", b"tag", b"text", b"n"]), None)
            else:
                write = {
                    b"v": rng.choice(VECTORS),
                    b"tag": rng.choice([b"a", b"a,b", b"B"]),
                    b"text": rng.choice(TEXTS),
                    b"n": rng.choice([b"1", b"2.5", b"bad"]),
                    b"other": rng.choice([b"x", b"y"]),
                }
                chosen = rng.sample(sorted(write), rng.randrange(1, len(write) + 1))
                hashes.setdefault(key, {}).update(copy({k: write[k] for k in chosen}))
            if rng.random() < 0.15:
                for index in (fast, slow):
                    index.flush_vectors() if deferring else index.defer_vectors()
                deferring = not deferring
            for index in (fast, slow):
                # each index sees its own copy, as a fresh read of the hash would
                value = hashes.get(key)
                index.update(key, None if value is None else dict(value))
            if not deferring:
                assert _state(fast) == _state(slow)
        for index in (fast, slow):
            index.flush_vectors()
        assert _state(fast) == _state(slow)


def test_a_re_created_document_takes_its_label_and_slot_back() -> None:
    index = SearchIndex(parse_ft_create(SCHEMA))
    counted = counting(index)
    doc = {b"v": VECTORS[3], b"tag": b"a", b"text": TEXTS[2]}
    index.update(b"d:1", copy(doc))
    index.update(b"d:2", {**copy(doc), b"v": VECTORS[4]})
    index.update(b"d:1", None)  # DEL
    assert 0 not in index.vectors[b"v"]
    index.update(b"d:1", copy(doc))  # the same vector again: its slot comes back
    assert index.key_to_label[b"d:1"] == 0 and counted.inserted == 2
    query = np.frombuffer(VECTORS[3], dtype="<f4").copy()
    assert index.vectors[b"v"].search(query, 1)[0][0] == 0
    assert index.fields.tag_values(b"tag", 0) == (b"a",)
    index.update(b"d:1", None)
    index.update(b"d:1", {**copy(doc), b"v": VECTORS[0]})  # another vector: a fresh label
    assert index.key_to_label[b"d:1"] == 2 and counted.inserted == 3
    assert 0 not in index.vectors[b"v"]
    assert index.vectors[b"v"].search(query, 3)[0][0] != 0
    index.update(b"d:1", None)
    nan = struct.pack("<4f", float("nan"), 0.0, 1.0, 0.0)
    index.update(b"d:1", {**copy(doc), b"v": nan})  # refused and counted, as a new key
    assert b"d:1" not in index.key_to_label and index.stats.hash_indexing_failures == 1


def test_revive_checks_the_slot_s_bytes() -> None:
    hnsw = HnswIndex(4, Metric.COSINE, initial_cap=2)
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((3, 4)).astype(np.float32) * 7
    hnsw.add(0, vectors[0])
    hnsw.add(1, vectors[1])
    assert not hnsw.revive(0, vectors[0])  # live
    hnsw.remove(0)
    assert not hnsw.revive(0, vectors[1])  # other bytes: stays removed
    assert 0 not in hnsw and len(hnsw) == 1
    if blob_graph.AVAILABLE:  # the graph holds the values as given: a scaled vector differs
        assert not hnsw.revive(0, vectors[0] * 2)
        assert hnsw.revive(0, vectors[0])
    else:  # hnswlib's own graph holds the unit vector: the same bytes
        assert hnsw.revive(0, vectors[0] * 2)
    assert 0 in hnsw and hnsw.search(vectors[0], 1)[0][0] == 0
    hnsw.remove(0)
    hnsw.add(2, vectors[2])  # a new label takes the deleted slot
    assert not hnsw.revive(0, vectors[0])
    assert sorted(hnsw.labels().tolist()) == [1, 2]
