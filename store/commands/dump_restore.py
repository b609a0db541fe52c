"""DUMP and RESTORE with Redis's payload format (:mod:`store.rdb`).

Strings, hashes (field TTLs included), lists, sets, sorted sets, streams and JSON; the
payload layouts and where they are byte-identical with the peer's are in
:mod:`store.rdb.payload` and the modules it names. A payload of a type memvec does not
hold (another module's) or that does not decode is refused with ``Bad data format`` and
leaves the key as it was.

RESTORE is logged with an absolute deadline (``RESTORE key <unix ms> payload [REPLACE]
ABSTTL``) as Redis propagates it, or as DEL when REPLACE removed a key and the TTL had
already passed. IDLETIME and FREQ are checked as Redis checks them; the access time they
set lives in the server's access clock, which the engine cannot reach, so memvec accepts
them without effect (docs/compatibility.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import CommandError, StoreError, SyntaxErr
from ..rdb import PayloadError, dump_value, load_value, verify
from ..replies import SimpleString
from .table import command
from .util import parse_int

if TYPE_CHECKING:
    from .context import ExecContext


class BusyKeyError(StoreError):
    prefix = "BUSYKEY"

    def __init__(self, message: str = "Target key name already exists.") -> None:
        super().__init__(message)


@command("DUMP", 2, "readonly", "keyspace slow", keys=(1, 1, 1))
def dump(ctx: ExecContext, args: list[bytes]) -> bytes | None:
    """The serialized value at key (Redis's DUMP payload), nil if missing."""
    value = ctx.keyspace.get(args[1], ctx.read_now)
    if value is None:
        return None
    deadlines = None
    if isinstance(value, dict):
        stored = ctx.keyspace.field_expires.get(args[1]) or {}
        deadlines = {f: d for f, d in stored.items() if f in value}
    try:
        return dump_value(value, deadlines)
    except TypeError as exc:
        name = getattr(value, "type_name", type(value).__name__)
        raise CommandError(f"DUMP of {name} values is not supported by memvec") from exc


@command("RESTORE", -4, "write denyoom", "keyspace slow dangerous", keys=(1, 1, 1))
def restore(ctx: ExecContext, args: list[bytes]) -> SimpleString:
    """RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ n]."""
    replace = absttl = False
    idle = freq = -1
    j = 4
    while j < len(args):
        opt = args[j].upper()
        more = j + 1 < len(args)
        if opt == b"REPLACE":
            replace = True
        elif opt == b"ABSTTL":
            absttl = True
        elif opt == b"IDLETIME" and more and freq == -1:
            idle = parse_int(args[j + 1])
            if idle < 0:
                raise CommandError("Invalid IDLETIME value, must be >= 0")
            j += 1
        elif opt == b"FREQ" and more and idle == -1:
            freq = parse_int(args[j + 1])
            if not 0 <= freq <= 255:
                raise CommandError("Invalid FREQ value, must be >= 0 and <= 255")
            j += 1
        else:
            raise SyntaxErr()
        j += 1
    key = args[1]
    if not replace and ctx.keyspace.exists(key, ctx.expire_now):
        raise BusyKeyError()
    ttl = parse_int(args[2])
    if ttl < 0:
        raise CommandError("Invalid TTL value, must be >= 0")
    if not verify(args[3]):
        raise CommandError("DUMP payload version or checksum are wrong")
    try:
        restored = load_value(args[3])
    except PayloadError as exc:
        raise CommandError("Bad data format") from exc
    deleted = replace and ctx.keyspace.delete(key)
    if ttl and not absttl:
        ttl += ctx.now_ms
    if ttl and not ctx.replaying and ttl <= ctx.now_ms:
        if deleted:
            ctx.dirty = True
            ctx.log_args = [b"DEL", key]
        return SimpleString("OK")
    ctx.keyspace.set_value(key, restored.value)
    for field, deadline in restored.deadlines.items():
        ctx.keyspace.set_field_deadline(key, field, deadline)
    if ttl:
        ctx.keyspace.set_deadline(key, ttl)
    ctx.dirty = True
    log = [b"RESTORE", key, str(ttl).encode(), args[3]]
    ctx.log_args = [*log, b"REPLACE", b"ABSTTL"] if replace else [*log, b"ABSTTL"]
    return SimpleString("OK")
