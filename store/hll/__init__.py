"""HyperLogLog in Redis's exact string representation (:mod:`store.hll.sketch`)."""

from .sketch import (
    CorruptHLL,
    add,
    add_many,
    cardinality,
    estimate,
    is_hll,
    merge_into,
    new_sparse,
    registers,
)

__all__ = [
    "CorruptHLL",
    "add",
    "add_many",
    "cardinality",
    "estimate",
    "is_hll",
    "merge_into",
    "new_sparse",
    "registers",
]
