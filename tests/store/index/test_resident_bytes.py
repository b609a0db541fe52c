"""Vector indexes estimate the memory they hold resident (``memory_bytes``, which INFO's
``used_memory`` and ``maxmemory`` count), not the capacity they reserved.

Both indexes grow their capacity by doubling. The capacity's vectors are address space
that no page backs until a vector is written there (``malloc``/``np.empty`` of a large
block), so an estimate that counted them read ~2x the index's memory right after a
doubling and made ``maxmemory`` evict or refuse early. The contract test measures the
real resident memory of an index in a fresh process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from store.index.flat import FlatIndex
from store.index.hnsw import HnswIndex
from store.index.vector import Metric

DIM = 384


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


@pytest.mark.parametrize("kind", ["HNSW", "FLAT"])
def test_a_doubling_adds_no_vectors_to_the_estimate(kind: str) -> None:
    make = {
        "HNSW": lambda: HnswIndex(DIM, Metric.COSINE, m=8, ef_construction=16, initial_cap=64),
        "FLAT": lambda: FlatIndex(DIM, Metric.COSINE, initial_cap=64),
    }[kind]
    index = make()
    index.add_batch(np.arange(64), _vectors(64))
    full = index.memory_bytes()
    index.add(64, _vectors(1, seed=1)[0])  # the 65th vector doubles the capacity to 128
    past = index.memory_bytes()
    one_vector = 4 * DIM
    # the new vector and its bookkeeping, plus (HNSW) a mutex and a level for each new slot
    assert past - full < 2 * one_vector + 64 * 64, (full, past)
    index.add_batch(np.arange(65, 128), _vectors(63, seed=2))
    assert index.memory_bytes() - past > 60 * one_vector  # and it grows as vectors arrive


_RESIDENT = """
import json, sys
import numpy as np
from store.index.flat import FlatIndex
from store.index.hnsw import HnswIndex
from store.index.vector import Metric

def resident():
    return int(open("/proc/self/statm").read().split()[1]) * 4096

kind, n = sys.argv[1], int(sys.argv[2])
vectors = np.random.default_rng(0).standard_normal((n, 384)).astype(np.float32)
before = resident()
if kind == "HNSW":
    index = HnswIndex(384, Metric.COSINE, m=16, ef_construction=16, build_threads=2)
else:
    index = FlatIndex(384, Metric.COSINE)
for start in range(0, n, 1000):
    index.add_batch(np.arange(start, min(n, start + 1000)), vectors[start : start + 1000])
print(json.dumps({"resident": resident() - before, "estimate": index.memory_bytes()}))
"""


@pytest.mark.parametrize("kind", ["HNSW", "FLAT"])
def test_the_estimate_is_the_resident_memory_after_a_doubling(kind: str) -> None:
    """8,292 vectors: just past the doubling from 8,192 to 16,384 slots. The allocator is
    told to map every block of 128 KiB or more on its own and numpy not to ask for huge
    pages, so the resident delta is the index's pages, not freed blocks glibc keeps for
    reuse (with its default, ~15 MB of the smaller capacities' copies stay resident here)."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072", NUMPY_MADVISE_HUGEPAGE="0")
    out = subprocess.run(
        [sys.executable, "-c", _RESIDENT, kind, "8292"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    measured = json.loads(out.stdout)
    ratio = measured["estimate"] / measured["resident"]
    assert 0.8 < ratio < 1.25, measured
