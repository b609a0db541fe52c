"""HyperLogLog commands: PFADD, PFCOUNT, PFMERGE on Redis's HLL strings (:mod:`store.hll`).

An HLL is an ordinary string, so GET, DUMP, RENAME and snapshots carry it unchanged.
PFADD and PFMERGE are deterministic and are logged as themselves.

PFCOUNT of one key stores the estimate in the string's cache bytes, as Redis does. Redis
propagates that change although PFCOUNT is read-only; memvec does not log reads, so a
replica or a replayed log may hold the same registers with the cache still marked invalid
until its own PFCOUNT (every count agrees; GET may differ in those 8 bytes:
docs/compatibility.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import CommandError, StoreError, WrongTypeError
from ..hll import (
    CorruptHLL,
    add_many,
    cardinality,
    estimate,
    is_hll,
    merge_into,
    new_sparse,
    registers,
)
from ..hll.selftest import selftest
from ..hll.sketch import DENSE, HDR_SIZE, REGISTERS, to_dense
from ..replies import SimpleString
from .table import command

if TYPE_CHECKING:
    from .context import ExecContext


class CorruptHLLError(StoreError):
    """A string that looks like an HLL but whose registers do not decode."""

    prefix = "INVALIDOBJ"

    def __init__(self, message: str = "Corrupted HLL object detected") -> None:
        super().__init__(message)


def not_hll() -> WrongTypeError:
    return WrongTypeError("Key is not a valid HyperLogLog string value.")


def read_hll(ctx: ExecContext, key: bytes, now: int | None) -> bytes | None:
    """The HLL string at ``key`` (None if missing); Redis's WRONGTYPE otherwise."""
    value = ctx.keyspace.get(key, now)
    if value is None:
        return None
    if not isinstance(value, bytes):
        raise WrongTypeError()
    if not is_hll(value):
        raise not_hll()
    return value


@command("PFADD", -2, "write denyoom fast", "hyperloglog", keys=(1, 1, 1))
def pfadd(ctx: ExecContext, args: list[bytes]) -> int:
    """Add elements; 1 if the key was created or a register changed, else 0."""
    key = args[1]
    old = read_hll(ctx, key, ctx.expire_now)
    updated = 0
    s = new_sparse() if old is None else bytearray(old)
    if old is None:
        updated = 1
    try:
        s, changed = add_many(s, args[2:])
        updated += changed
    except CorruptHLL as exc:
        raise CorruptHLLError() from exc
    if updated:
        s[15] |= 0x80
        ctx.keyspace.set_string(key, bytes(s), keep_ttl=True)
        ctx.dirty = True
    return 1 if updated else 0


@command("PFCOUNT", -2, "readonly", "hyperloglog slow", keys=(1, -1, 1))
def pfcount(ctx: ExecContext, args: list[bytes]) -> int:
    """The estimated cardinality of one HLL, or of the union of several."""
    try:
        if len(args) > 2:
            maxima = np.zeros(REGISTERS, dtype=np.uint8)
            for key in args[1:]:
                value = read_hll(ctx, key, ctx.read_now)
                if value is not None:
                    np.maximum(maxima, registers(value), out=maxima)
            return estimate(maxima)
        value = read_hll(ctx, args[1], ctx.read_now)
        if value is None:
            return 0
        s = bytearray(value)
        card, computed = cardinality(s)
    except CorruptHLL as exc:
        raise CorruptHLLError() from exc
    if computed and not ctx.replaying:
        # the cache lives in the value, as in Redis; not logged (module docstring)
        ctx.keyspace.data[args[1]] = bytes(s)
    return card


@command("PFMERGE", -2, "write denyoom", "hyperloglog slow", keys=(1, -1, 1))
def pfmerge(ctx: ExecContext, args: list[bytes]) -> SimpleString:
    """PFMERGE dest [source ...]: dest becomes the union of itself and the sources."""
    maxima = np.zeros(REGISTERS, dtype=np.uint8)
    use_dense = False
    try:
        for key in args[1:]:
            value = read_hll(ctx, key, ctx.expire_now)
            if value is None:
                continue
            use_dense = use_dense or value[4] == DENSE
            np.maximum(maxima, registers(value), out=maxima)
        old = ctx.keyspace.get(args[1], ctx.expire_now)
        s = bytearray(old) if isinstance(old, bytes) else new_sparse()
        s = merge_into(s, maxima, use_dense)
    except CorruptHLL as exc:
        raise CorruptHLLError() from exc
    ctx.keyspace.set_string(args[1], bytes(s), keep_ttl=True)
    ctx.dirty = True
    return SimpleString("OK")


@command("PFDEBUG", 3, "write denyoom admin", "hyperloglog admin slow dangerous", keys=(2, 2, 1))
def pfdebug(ctx: ExecContext, args: list[bytes]) -> object:
    """PFDEBUG GETREG|DECODE|ENCODING|TODENSE key: Redis's HLL introspection. GETREG and
    TODENSE convert a sparse HLL to dense (logged as themselves: deterministic)."""
    sub = args[1].decode("utf-8", "replace")
    key = args[2]
    old = read_hll(ctx, key, ctx.expire_now)
    if old is None:
        raise CommandError("The specified key does not exist")
    name = sub.lower()
    if name in ("getreg", "todense"):
        sparse = old[4] != DENSE
        try:
            s = to_dense(bytearray(old))
        except CorruptHLL as exc:
            raise CorruptHLLError() from exc
        if sparse:
            ctx.keyspace.set_string(key, bytes(s), keep_ttl=True)
            ctx.dirty = True
        if name == "todense":
            return int(sparse)
        return registers(bytes(s)).tolist()
    if name == "encoding":
        return SimpleString("dense" if old[4] == DENSE else "sparse")
    if name == "decode":
        if old[4] == DENSE:
            raise CommandError("HLL encoding is not sparse")
        return decode_sparse(old)
    raise CommandError(f"Unknown PFDEBUG subcommand '{sub}'")


def decode_sparse(value: bytes) -> bytes:
    """PFDEBUG DECODE's text: ``z:n`` (ZERO), ``Z:n`` (XZERO), ``v:value,n`` (VAL)."""
    out, p = [], HDR_SIZE
    while p < len(value):
        b = value[p]
        if b & 0xC0 == 0:
            out.append(f"z:{(b & 0x3F) + 1}")
            p += 1
        elif b & 0x80 == 0:
            run = ((b & 0x3F) << 8 | (value[p + 1] if p + 1 < len(value) else 0)) + 1
            out.append(f"Z:{run}")
            p += 2
        else:
            out.append(f"v:{((b >> 2) & 0x1F) + 1},{(b & 3) + 1}")
            p += 1
    return " ".join(out).encode()


class SelfTestFailed(StoreError):
    """PFSELFTEST found the HLL code wrong."""

    prefix = "TESTFAILED"


@command("PFSELFTEST", 1, "admin", "hyperloglog admin slow dangerous")
def pfselftest(ctx: ExecContext, args: list[bytes]) -> object:
    """PFSELFTEST: registers and approximation checks (:mod:`store.hll.selftest`)."""
    failure = selftest()
    if failure is not None:
        raise SelfTestFailed(failure)
    return SimpleString("OK")
