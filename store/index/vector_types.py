"""Element types of a VECTOR field: how a blob of ``TYPE`` values becomes FLOAT32.

RediSearch 2.10 takes ``FLOAT32``, ``FLOAT64``, ``FLOAT16`` (IEEE half) and ``BFLOAT16``
(the upper half of a FLOAT32) vectors. memvec's vector indexes hold FLOAT32 rows
(:mod:`store.index.flat`, :mod:`store.index.hnsw`): a hash field's blob and a query blob
are little-endian values of the field's type, decoded here into FLOAT32. Every FLOAT16 and
BFLOAT16 value is exact in FLOAT32; a FLOAT64 value is rounded to the nearest FLOAT32, so
distances of FLOAT64 fields carry FLOAT32 rounding (RediSearch computes them in double):
listed in docs/compatibility.md. A JSON document's numbers are projected straight to
FLOAT32 (:mod:`store.index.json_fields`), rounded first to a 16-bit field's type as the
peer stores them (:func:`round_to_type`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: bytes of one element of each type RediSearch accepts after ``TYPE``
ELEMENT_BYTES: dict[str, int] = {"FLOAT32": 4, "FLOAT64": 8, "FLOAT16": 2, "BFLOAT16": 2}


def element_bytes(vtype: str) -> int:
    """Bytes of one ``vtype`` element (``KeyError`` for a type RediSearch refuses)."""
    return ELEMENT_BYTES[vtype]


def decode(blob: bytes, vtype: str) -> npt.NDArray[np.float32]:
    """``blob`` (little-endian ``vtype`` values, a whole number of them) as FLOAT32."""
    if vtype == "FLOAT32":
        return np.frombuffer(blob, dtype="<f4")
    if vtype == "FLOAT64":
        return np.frombuffer(blob, dtype="<f8").astype(np.float32)
    if vtype == "FLOAT16":
        return np.frombuffer(blob, dtype="<f2").astype(np.float32)
    if vtype == "BFLOAT16":
        # a bfloat16 is the upper 16 bits of the float32 of the same value
        halves = np.frombuffer(blob, dtype="<u2").astype(np.uint32)
        return (halves << np.uint32(16)).view(np.float32)
    raise ValueError(f"unknown vector type {vtype}")


def float64_distances(
    stored: npt.NDArray[np.float64], query: npt.NDArray[np.float64], metric: str
) -> npt.NDArray[np.float64]:
    """Distances of ``stored`` rows (n, d) to ``query`` in double precision, as RediSearch
    computes them for a FLOAT64 field: squared L2, ``1 - dot`` (IP), ``1 - dot`` of the
    unit vectors (COSINE)."""
    if metric == "L2":
        diff = stored - query
        return np.einsum("ij,ij->i", diff, diff)
    if metric == "COSINE":
        stored = stored / np.maximum(np.linalg.norm(stored, axis=1, keepdims=True), 1e-300)
        query = query / max(float(np.linalg.norm(query)), 1e-300)
    return 1.0 - stored @ query


def round_to_type(vector: npt.NDArray[np.float32], vtype: str) -> npt.NDArray[np.float32]:
    """FLOAT32 ``vector`` rounded to ``vtype``'s precision (FLOAT16: IEEE half; BFLOAT16:
    round to nearest even on the upper 16 bits, as RediSearch converts a JSON document's
    numbers) and back to FLOAT32; FLOAT32 and FLOAT64 unchanged."""
    if vtype == "FLOAT16":
        with np.errstate(over="ignore"):  # out of range: inf, refused by the caller
            return vector.astype("<f2").astype(np.float32)
    if vtype == "BFLOAT16":
        bits = np.asarray(vector, dtype="<f4").view(np.uint32).astype(np.uint64)
        rounded = (
            bits + np.uint64(0x7FFF) + ((bits >> np.uint64(16)) & np.uint64(1))
        ) >> np.uint64(16)
        return (rounded << np.uint64(16)).astype(np.uint32).view(np.float32)
    return vector


#: types whose COSINE fields RediSearch stores as unit vectors in the type itself
HALF_TYPES = frozenset({"FLOAT16", "BFLOAT16"})


def unit_in_type(vector: npt.NDArray[np.float32], vtype: str) -> npt.NDArray[np.float32]:
    """``vector`` scaled to unit length (in FLOAT32) and rounded to ``vtype``: how
    RediSearch keeps a 16-bit COSINE field's vectors and queries, so that its distance is
    ``1 - dot`` of those rounded vectors. A zero vector stays zero."""
    norm = float(np.linalg.norm(vector))
    if norm == 0.0:
        return vector
    return round_to_type((vector / np.float32(norm)).astype(np.float32), vtype)
