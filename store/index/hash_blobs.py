"""The vector blobs of many indexed hashes, gathered for an exact scan.

A KNN over a filtered subset small enough to brute-force (``SearchIndex._knn``) and the
distances RediSearch reports for a page of hits (``SearchIndex.exact``) read each label's
vector from its hash: label -> key -> hash -> field. :func:`hash_blobs` does that for all
the labels at once: in the C module built from ``hash_blobs_c.c`` when it built (one loop of
dict lookups, run in stages of 16 labels so their cache misses overlap: ~160 us for 2,000
labels of a 20k-key keyspace, against ~460 for the Python loop), else in the Python loop here,
which it equals (``tests/store/index/test_hash_blobs_c.py``).

An index passes the values it last read from each hash (``SearchIndex._indexed``: label ->
tuple of references to the hash's own objects) and the vector field's place in them: a
label's blob is then one lookup away instead of three. Those are the cache misses that
count: between two queries a filtered subset's documents leave the cache, and 2,000 of
them cost ~1.1 ms through the hashes against ~0.5 through the index's values (a 20k-key
keyspace, cache evicted between gathers; docs/decisions/0036).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

try:
    from . import hash_blobs_c
except ImportError:  # no compiler where memvec was installed: the Python loop answers
    hash_blobs_c = None  # type: ignore[assignment]

__all__ = ["hash_blobs", "python_hash_blobs"]


def hash_blobs(
    labels: Iterable[int],
    label_to_key: Mapping[int, bytes],
    data: Mapping[bytes, Any],
    field: bytes,
    size: int,
    indexed: Mapping[int, tuple[Any, ...]] | None = None,
    at: int = -1,
) -> tuple[list[int], list[bytes]]:
    """The labels, in the order of ``labels``, whose key holds a hash whose ``field`` is
    bytes of exactly ``size`` bytes, and those blobs. A label without a key, a key without
    a value or holding another type, and a missing or wrong-sized field are skipped. The
    caller holds the lock under which ``data`` changes.

    ``indexed`` (label -> tuple of the values an index last read from the label's hash, the
    same objects) and ``at`` (``field``'s place in those tuples): a label whose
    ``indexed[label][at]`` is bytes of ``size`` bytes takes that blob without reading its
    hash; any other label reads its hash as above. The caller keeps ``indexed`` in step
    with the hashes (SearchIndex re-reads a hash on every write to it)."""
    if (
        hash_blobs_c is not None
        and type(label_to_key) is dict
        and type(data) is dict
        and (indexed is None or type(indexed) is dict)
    ):
        return hash_blobs_c.hash_blobs(labels, label_to_key, data, field, size, indexed, at)
    return python_hash_blobs(labels, label_to_key, data, field, size, indexed, at)


def python_hash_blobs(
    labels: Iterable[int],
    label_to_key: Mapping[int, bytes],
    data: Mapping[bytes, Any],
    field: bytes,
    size: int,
    indexed: Mapping[int, tuple[Any, ...]] | None = None,
    at: int = -1,
) -> tuple[list[int], list[bytes]]:
    """:func:`hash_blobs` in Python (the reference, and the path without the C module)."""
    found: list[int] = []
    blobs: list[bytes] = []
    key_of, value_of = label_to_key.get, data.get
    kept_of = indexed.get if indexed is not None and at >= 0 else None
    for label in labels:
        if kept_of is not None:
            values = kept_of(label)
            if isinstance(values, tuple) and at < len(values):
                blob = values[at]
                if isinstance(blob, bytes) and len(blob) == size:
                    found.append(label)
                    blobs.append(blob)
                    continue
        key = key_of(label)
        value = None if key is None else value_of(key)
        blob = value.get(field) if isinstance(value, dict) else None
        if isinstance(blob, bytes) and len(blob) == size:
            found.append(label)
            blobs.append(blob)
    return found, blobs
