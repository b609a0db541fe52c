"""The C gather of vector blobs (``store/index/hash_blobs_c.c``) equals the Python loop's.

``hash_blobs.python_hash_blobs`` is the reference. The C module must keep and skip the same
labels, in the same order, for: labels without a key, keys without a value, values that are
not hashes (strings, lists, sets), hashes without the field, fields of the wrong size or
not bytes (a bytearray, a str), and any iterable of labels (a set, a list with repeats, a
generator; more labels than one stage of the C loop). Errors of a lookup or of the iterable
propagate. The module must also have built: the suite runs
the compiled path, not the fallback.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from store.index import hash_blobs
from store.index.hash_blobs import python_hash_blobs

FIELD = b"v"
SIZE = 16


def test_the_c_module_built() -> None:
    assert hash_blobs.hash_blobs_c is not None, (
        "store/index/hash_blobs_c.c did not build: install gcc and the Python headers "
        "(python3-dev), then reinstall memvec (pip install -e .)"
    )


def random_keyspace(rng: random.Random, n: int) -> tuple[dict[int, bytes], dict[bytes, Any]]:
    """Labels 0..n-1 whose hashes hold every kind of value the gather must skip or keep."""
    label_to_key: dict[int, bytes] = {}
    data: dict[bytes, Any] = {}
    for label in range(n):
        kind = rng.randrange(10)
        if kind == 0:
            continue  # a label the index no longer maps
        key = b"d:%d" % label
        label_to_key[label] = key
        blob = bytes(rng.randrange(256) for _ in range(SIZE))
        if kind == 1:
            continue  # the key is gone from the keyspace
        data[key] = [
            {FIELD: blob, b"tag": b"t"},
            {FIELD: blob},
            {b"tag": b"no vector"},
            {FIELD: blob[:-1]},
            {FIELD: blob + b"x"},
            {FIELD: bytearray(blob)},
            {FIELD: blob.decode("latin-1")},
            blob,  # a string key, not a hash
            [blob],
        ][kind - 1 if kind > 1 else 0]
    return label_to_key, data


@pytest.mark.parametrize("seed", range(20))
def test_c_equals_python_on_random_keyspaces(seed: int) -> None:
    rng = random.Random(seed)
    label_to_key, data = random_keyspace(rng, rng.randrange(1, 400))
    labels: list[int] = [rng.randrange(-5, 420) for _ in range(rng.randrange(0, 500))]
    for shaped in (labels, set(labels), tuple(labels), iter(labels)):
        expected = python_hash_blobs(list(labels) if isinstance(shaped, Iterator) else shaped,
                                     label_to_key, data, FIELD, SIZE)  # fmt: skip
        got = hash_blobs.hash_blobs(shaped, label_to_key, data, FIELD, SIZE)
        assert got == expected
        if isinstance(shaped, Iterator):
            break
    found, blobs = got
    assert all(isinstance(b, bytes) and len(b) == SIZE for b in blobs)
    kept = [label for label in labels if label in label_to_key
            and isinstance(data.get(label_to_key[label]), dict)
            and isinstance(data[label_to_key[label]].get(FIELD), bytes)
            and len(data[label_to_key[label]][FIELD]) == SIZE]  # fmt: skip
    assert len(found) == len(kept)


def random_indexed(
    rng: random.Random, label_to_key: dict[int, bytes], data: dict[bytes, Any], at: int
) -> dict[int, Any]:
    """An index's last-read values for some labels: the hash's own blob, a stale one,
    None (no vector), an unknown marker, a wrong size, a tuple too short, not a tuple."""
    indexed: dict[int, Any] = {}
    for label, key in label_to_key.items():
        value = data.get(key)
        blob = value.get(FIELD) if isinstance(value, dict) else None
        pad = (b"tag",) * at
        choice = rng.randrange(8)
        if choice == 0:
            continue  # not indexed: the hash answers
        indexed[label] = [
            (*pad, blob),
            (*pad, bytes([label % 256]) * SIZE),  # what the index read: it is kept
            (*pad, None),
            (*pad, object()),
            (*pad, b"short"),
            pad,
            [blob],
        ][choice - 1]
    return indexed


@pytest.mark.parametrize("seed", range(20))
def test_c_equals_python_through_the_indexed_values(seed: int) -> None:
    rng = random.Random(seed)
    label_to_key, data = random_keyspace(rng, rng.randrange(1, 400))
    at = rng.randrange(3)
    indexed = random_indexed(rng, label_to_key, data, at)
    labels: list[int] = [rng.randrange(-5, 420) for _ in range(rng.randrange(0, 500))]
    for position in (at, -1):
        expected = python_hash_blobs(labels, label_to_key, data, FIELD, SIZE, indexed, position)
        got = hash_blobs.hash_blobs(labels, label_to_key, data, FIELD, SIZE, indexed, position)
        assert got == expected
    assert hash_blobs.hash_blobs(labels, label_to_key, data, FIELD, SIZE, None, at) == (
        python_hash_blobs(labels, label_to_key, data, FIELD, SIZE)
    )


def test_the_indexed_blob_is_read_before_the_hash() -> None:
    kept, stored = b"\x02" * SIZE, b"\x03" * SIZE
    label_to_key = {1: b"a", 2: b"b", 3: b"c"}
    data = {b"a": {FIELD: stored}, b"b": {FIELD: stored}, b"c": {FIELD: stored}}
    indexed = {1: (b"t", kept), 2: (b"t", None)}  # 2: no usable blob; 3: not indexed
    for gather in (hash_blobs.hash_blobs, python_hash_blobs):
        found, blobs = gather([1, 2, 3], label_to_key, data, FIELD, SIZE, indexed, 1)
        assert found == [1, 2, 3]
        assert blobs[0] is kept and blobs[1] is stored and blobs[2] is stored
    assert hash_blobs.hash_blobs_c is not None
    with pytest.raises(TypeError, match="indexed must be a dict"):
        hash_blobs.hash_blobs_c.hash_blobs([1], label_to_key, data, FIELD, SIZE, [(kept,)], 0)  # type: ignore[arg-type]


def test_the_blobs_are_the_stored_objects() -> None:
    blob = b"\x01" * SIZE
    found, blobs = hash_blobs.hash_blobs([7], {7: b"k"}, {b"k": {FIELD: blob}}, FIELD, SIZE)
    assert found == [7] and blobs[0] is blob


def test_a_generator_is_read_once_in_order() -> None:
    label_to_key = {i: b"k%d" % i for i in range(5)}
    data = {b"k%d" % i: {FIELD: bytes([i]) * SIZE} for i in range(5)}
    found, _ = hash_blobs.hash_blobs((i for i in (3, 1, 4, 1)), label_to_key, data, FIELD, SIZE)
    assert found == [3, 1, 4, 1]


def test_a_lookup_error_propagates() -> None:
    for gather in (hash_blobs.hash_blobs, python_hash_blobs):
        with pytest.raises(TypeError):
            unhashable: list[Any] = [[1]]
            gather(unhashable, {1: b"k"}, {b"k": {FIELD: b"x" * SIZE}}, FIELD, SIZE)
        with pytest.raises(ZeroDivisionError):
            gather((1 // 0 for _ in range(1)), {}, {}, FIELD, SIZE)
        with pytest.raises(ZeroDivisionError):  # mid-way through a stage of labels
            gather((1 // (3 - i) for i in range(5)), {0: b"k"}, {b"k": {}}, FIELD, SIZE)
        with pytest.raises(TypeError):  # in a later stage, after whole stages were read
            mixed: list[Any] = [*range(40), [2], 3]
            gather(mixed, {1: b"k"}, {b"k": {FIELD: b"x" * SIZE}}, FIELD, SIZE)


def test_a_key_whose_eq_changes_the_dicts_is_safe() -> None:
    """A lookup that runs Python code mutating the dicts must not crash the C loop."""
    label_to_key: dict[Any, bytes] = {}
    data: dict[bytes, Any] = {b"k": {FIELD: b"y" * SIZE}}

    class Meddler:
        def __hash__(self) -> int:
            return 1

        def __eq__(self, other: object) -> bool:
            label_to_key.clear()
            data.clear()
            return other == 1

    label_to_key[1] = b"k"
    labels: list[Any] = [Meddler()]
    found, blobs = hash_blobs.hash_blobs(labels, label_to_key, data, FIELD, SIZE)
    assert found == [] and blobs == []
