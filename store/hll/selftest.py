"""PFSELFTEST: Redis's self-test of the HyperLogLog code, on memvec's implementation.

Two checks, as ``pfselftestCommand`` makes them:

1. **Registers**: every one of the 16384 six-bit dense registers is set to a random
   value and read back, several rounds (Redis: 1000 rounds in C; here 20, each touching
   every register, which exercises every bit offset the same).
2. **Approximation**: elements are added one run at a time to a sparse and a dense HLL;
   at cardinalities 10, 100, 1,000, ... the two must agree and be within six relative
   standard errors (``1.04 / sqrt(16384)``) of the truth, within 1 at 10 (Redis's
   bounds). Redis counts to 10,000,000; Python adds ~1M elements a second, so this stops
   at 100,000 (about 0.2 s of the engine).

The answer is None when both pass, else the ``TESTFAILED ...`` text the reply carries.
"""

from __future__ import annotations

import math
import random

from .sketch import (
    DENSE_SIZE,
    REGISTERS,
    add_many,
    cardinality,
    dense_get,
    dense_set,
    new_sparse,
    to_dense,
)

__all__ = ["selftest"]

REGISTER_ROUNDS = 20
LARGEST_CHECKPOINT = 100_000


def _registers(rng: random.Random) -> str | None:
    s = bytearray(DENSE_SIZE)
    for _ in range(REGISTER_ROUNDS):
        want = [rng.randrange(64) for _ in range(REGISTERS)]
        for i, v in enumerate(want):
            dense_set(s, i, v)
        for i, v in enumerate(want):
            got = dense_get(s, i)
            if got != v:
                return f"Register error at index {i}: {got} instead of {v}"
    return None


def _approximation(rng: random.Random) -> str | None:
    relerr = 1.04 / math.sqrt(REGISTERS)
    sparse = new_sparse()
    dense = to_dense(new_sparse())
    seed = rng.getrandbits(64)
    added = 0
    checkpoint = 10
    while checkpoint <= LARGEST_CHECKPOINT:
        batch = [b"%d:%d" % (seed, j) for j in range(added, checkpoint)]
        sparse, _ = add_many(sparse, batch)
        dense, _ = add_many(dense, batch)
        sparse[15] |= 0x80  # invalidate the cached cardinalities: count afresh
        dense[15] |= 0x80
        added = checkpoint
        got_sparse, _ = cardinality(sparse)
        got_dense, _ = cardinality(dense)
        if got_sparse != got_dense:
            return (f"Sparse and dense cardinality disagree: card:{checkpoint} "
                    f"sparse:{got_sparse} dense:{got_dense}")  # fmt: skip
        maxerr = 1 if checkpoint == 10 else math.ceil(relerr * 6 * checkpoint)
        abserr = abs(checkpoint - got_dense)
        if abserr > maxerr:
            return f"Too big error. card:{checkpoint} abserr:{abserr}"
        checkpoint *= 10
    return None


def selftest(seed: int | None = None) -> str | None:
    """Run both checks; None if they pass, else what failed (without ``TESTFAILED``)."""
    rng = random.Random(seed)
    return _registers(rng) or _approximation(rng)
