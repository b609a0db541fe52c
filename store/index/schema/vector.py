"""VECTOR fields: :class:`VectorSpec` and the ``VECTOR FLAT|HNSW nargs attr value ...`` parser.

``parse_vector(cur)`` reads the algorithm and its named attributes, in any order and any
case: ``TYPE`` (``FLOAT32``, ``FLOAT64``, ``FLOAT16``, ``BFLOAT16``: see
:mod:`store.index.vector_types`),
``DIM``, ``DISTANCE_METRIC`` (``COSINE``, ``L2``, ``IP``) are mandatory; ``INITIAL_CAP``
for both, ``BLOCK_SIZE`` for FLAT, ``M``, ``EF_CONSTRUCTION``, ``EF_RUNTIME``, ``EPSILON``
for HNSW. Limits are MemoryDB's: ``DIM`` 1..:data:`MAX_DIM`, ``M`` 2..:data:`MAX_M` (RediSearch
takes ``M 1``, which hnswlib cannot build: its level factor is ``1/ln M``),
``EF_CONSTRUCTION`` and ``EF_RUNTIME`` 1..:data:`MAX_EF`. Errors are
:class:`~store.errors.QuerySyntaxError` with RediSearch 2.10's texts.
:meth:`VectorSpec.to_args` rebuilds the arguments so parsing them again gives an equal spec.
"""

from __future__ import annotations

import enum
import math
import os
from dataclasses import dataclass

from ...errors import QuerySyntaxError
from ..vector_types import ELEMENT_BYTES
from .args import (
    AC_ENOENT,
    AC_LIMIT,
    AC_NOARG,
    AC_PARSE,
    Cursor,
    as_text,
    bad,
    take_int,
    take_string,
)

__all__ = [
    "MAX_DIM",
    "MAX_EF",
    "MAX_M",
    "DistanceMetric",
    "VectorSpec",
    "capacity_budget_bytes",
    "check_capacity",
]

MAX_DIM = 32768
MAX_M = 512
MAX_EF = 4096


class DistanceMetric(enum.Enum):
    COSINE = "COSINE"
    L2 = "L2"
    IP = "IP"


@dataclass(frozen=True)
class VectorSpec:
    """A VECTOR field's attributes. ``algorithm``/``type``/``distance_metric`` are upper case."""

    algorithm: str
    dim: int
    distance_metric: str
    type: str = "FLOAT32"
    m: int = 16
    ef_construction: int = 200
    ef_runtime: int | None = None  # None: not given; the index picks a breadth per search
    epsilon: float = 0.01
    initial_cap: int | None = None
    block_size: int | None = None

    @property
    def blob_size(self) -> int:
        """Bytes in one query vector blob, and in a hash field's vector: ``dim``
        little-endian values of ``type``."""
        return self.dim * ELEMENT_BYTES[self.type]

    def check_query_blob(self, blob: bytes) -> None:
        """Raise RediSearch's error if a KNN query vector has the wrong size."""
        if len(blob) != self.blob_size:
            raise QuerySyntaxError(
                f"Error parsing vector similarity query: query vector blob size ({len(blob)}) "
                f"does not match index's expected size ({self.blob_size})."
            )

    def to_args(self) -> list[bytes]:
        attrs: list[bytes] = [
            b"TYPE", self.type.encode(), b"DIM", b"%d" % self.dim,
            b"DISTANCE_METRIC", self.distance_metric.encode(),
        ]  # fmt: skip
        if self.algorithm == "HNSW":
            attrs += [b"M", b"%d" % self.m, b"EF_CONSTRUCTION", b"%d" % self.ef_construction]
            if self.ef_runtime is not None:
                attrs += [b"EF_RUNTIME", b"%d" % self.ef_runtime]
            attrs += [b"EPSILON", repr(self.epsilon).encode()]
        if self.initial_cap is not None:
            attrs += [b"INITIAL_CAP", b"%d" % self.initial_cap]
        if self.block_size is not None:
            attrs += [b"BLOCK_SIZE", b"%d" % self.block_size]
        return [self.algorithm.encode(), b"%d" % len(attrs), *attrs]


def element_bytes(spec: VectorSpec) -> int:
    """RediSearch 2.10's estimate of one vector's memory (``VecSimIndex_EstimateElementSize``).

    Measured against the peer (FLOAT32): FLAT ``4*dim + 16``, HNSW ``4*dim + 8*M + 91``;
    ``4`` is the element size of the field's ``TYPE``.
    """
    data = ELEMENT_BYTES[spec.type] * spec.dim
    if spec.algorithm == "FLAT":
        return data + 16
    return data + 8 * spec.m + 91


def capacity_budget_bytes(maxmemory_bytes: int = 0, vss_max_resize_bytes: int = 0) -> int:
    """What one index's INITIAL_CAP or BLOCK_SIZE may ask for: RediSearch 2.10's
    ``BLOCK_MEMORY_LIMIT``, ``VSS_MAX_RESIZE`` when set (``FT.CONFIG SET``), else a tenth
    of the memory limit (``maxmemory``, or physical memory when there is none or it is
    smaller: its ``MIN_NOT_0(maxmemory, total_system_memory)``)."""
    if vss_max_resize_bytes:
        return vss_max_resize_bytes
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError):
        physical = 0
    limits = [m for m in (maxmemory_bytes, physical) if m > 0]
    return min(limits) // 10 if limits else 1 << 30


def check_capacity(spec: VectorSpec, budget_bytes: int) -> None:
    """Refuse an INITIAL_CAP or BLOCK_SIZE beyond ``budget_bytes`` with RediSearch's text.

    memvec never allocates INITIAL_CAP up front (indexes grow as vectors arrive), so this
    refusal is what RediSearch answers, not a guard against allocation. It depends on the
    machine, so it runs when a client creates an index, never when the log is replayed.
    """
    limit = budget_bytes // element_bytes(spec)
    # RediSearch checks INITIAL_CAP first (when not given: BLOCK_SIZE, or its default
    # min(1024, limit)), then a FLAT index's BLOCK_SIZE (HNSW takes none in 2.10)
    block_size = spec.block_size if spec.block_size is not None else min(1024, limit)
    initial_cap = spec.initial_cap if spec.initial_cap is not None else block_size
    for what, asked in (("initial capacity", initial_cap), ("block size", block_size)):
        if asked > limit:
            raise QuerySyntaxError(
                f"Vector index {what} {asked} exceeded server limit "
                f"({limit} with the given parameters)"
            )


def parse_vector(cur: Cursor, *, json: bool = False) -> VectorSpec:
    """A VECTOR field's algorithm and attributes; ``json``: the index is ON JSON (the
    document holds numbers, indexed as FLOAT32 whatever ``TYPE`` says; query blobs are of
    ``TYPE``)."""
    algo_raw = cur.take()
    if algo_raw is None:
        raise bad("vector similarity algorithm", AC_NOARG)
    algo = algo_raw.upper()
    if algo not in (b"FLAT", b"HNSW"):
        raise bad("vector similarity algorithm", AC_ENOENT)
    algorithm = as_text(algo)
    nargs = take_int(cur, "vector similarity number of parameters", 0)
    if nargs % 2:
        shape = (
            "expected even number as algorithm parameters (should be submitted as named arguments)"
            if algorithm == "FLAT"
            else "expected even number (as algorithm parameters should be submitted as named "
            "arguments)"
        )
        raise QuerySyntaxError(
            f"Bad number of arguments for vector similarity index: got {nargs} but {shape}"
        )
    allowed = {b"TYPE", b"DIM", b"DISTANCE_METRIC", b"INITIAL_CAP"}
    allowed |= {b"BLOCK_SIZE"} if algorithm == "FLAT" else {b"M", b"EF_CONSTRUCTION",
                                                           b"EF_RUNTIME", b"EPSILON"}  # fmt: skip
    values: dict[str, object] = {}
    seen = 0
    while seen < nargs // 2 and not cur.at_end():
        attr_raw = cur.take()
        assert attr_raw is not None
        attr = attr_raw.upper()
        if attr not in allowed:
            raise QuerySyntaxError(f"Bad arguments for algorithm {algorithm}: {as_text(attr_raw)}")
        what = f"vector similarity {algorithm} index"
        if attr == b"TYPE":
            vtype = take_string(cur, f"{what} type").upper()
            if as_text(vtype) not in ELEMENT_BYTES:
                raise bad(f"{what} type", AC_ENOENT)
            values["type"] = as_text(vtype)
        elif attr == b"DIM":
            values["dim"] = take_int(cur, f"{what} dim", 1, MAX_DIM)
        elif attr == b"DISTANCE_METRIC":
            metric = take_string(cur, f"{what} metric").upper()
            if metric not in (b"COSINE", b"L2", b"IP"):
                raise bad(f"{what} metric", AC_ENOENT)
            values["distance_metric"] = as_text(metric)
        elif attr == b"INITIAL_CAP":
            values["initial_cap"] = take_int(cur, f"{what} initial cap", 0)
        elif attr == b"BLOCK_SIZE":
            values["block_size"] = take_int(cur, f"{what} blocksize", 1)
        elif attr == b"M":
            values["m"] = take_int(cur, f"{what} m", 2, MAX_M)
        elif attr == b"EF_CONSTRUCTION":
            values["ef_construction"] = take_int(cur, f"{what} efConstruction", 1, MAX_EF)
        elif attr == b"EF_RUNTIME":
            values["ef_runtime"] = take_int(cur, f"{what} efRuntime", 1, MAX_EF)
        else:
            raw = take_string(cur, f"{what} epsilon")
            try:
                eps = float(raw)
            except ValueError:
                raise bad(f"{what} epsilon", AC_PARSE) from None
            if not eps >= 0 or math.isinf(eps):
                raise bad(f"{what} epsilon", AC_LIMIT)
            values["epsilon"] = eps
        seen += 1
    if seen < nargs // 2:
        raise QuerySyntaxError(f"Expected {nargs} parameters but got {seen * 2}")
    for required, key in (("TYPE", "type"), ("DIM", "dim"), ("DISTANCE_METRIC", "distance_metric")):
        if key not in values:
            raise QuerySyntaxError(
                f"Missing mandatory parameter: cannot create {algorithm} index without "
                f"specifying {required} argument"
            )
    return VectorSpec(algorithm=algorithm, **values)  # type: ignore[arg-type]
