"""DUMP/RESTORE payloads: one RDB-serialised value, the RDB version and a CRC64.

Layout (``dumpCommand``/``verifyDumpPayload``)::

    1 byte     RDB object type (below)
    ...        the value, RDB-encoded (:mod:`.primitives` for lengths and strings)
    2 bytes    RDB version, little-endian: 80, the peer's (Valkey 9); any version up to
               80 is accepted (Redis 7.x writes 11)
    8 bytes    CRC-64/Jones (:mod:`.crc64`) of everything before it, little-endian

Types: 0 string; 4 hash (hashtable), 16 hash (listpack) and 13 (ziplist, Redis < 7: read
only); 22 hash with field TTLs, lists, sets and sorted sets (:mod:`.aggregates`); 21 (and
15, 19) streams (:mod:`.streams`); 7 module value, JSON documents (:mod:`.module_json`).

A hash within ``hash-max-listpack-entries`` fields (128) and ``hash-max-listpack-value``
bytes per field and value (64) is type 16: one string holding a listpack
(:mod:`.listpack`) of field, value, field, value ... in insertion order, as Redis keeps
it, so it is byte-identical with the peer's. A larger hash is type 4 (count, then
field/value strings) in insertion order; the peer writes its hashtable's order, so those
payloads are equivalent, not identical.
"""

from __future__ import annotations

from ..datatypes.json_doc import JsonDoc
from ..datatypes.limits import LIMITS
from ..datatypes.lists import ListValue
from ..datatypes.sets import SetValue
from ..datatypes.streams import Stream
from ..datatypes.zsets import ZSet
from . import aggregates, listpack, module_json, streams
from .crc64 import crc64
from .primitives import PayloadError, Reader, length_bytes, string_bytes

__all__ = ["RDB_VERSION", "PayloadError", "Restored", "dump_value", "load_value", "verify"]

RDB_VERSION = 80
TYPE_STRING, TYPE_HASH, TYPE_HASH_ZIPLIST, TYPE_HASH_LISTPACK = 0, 4, 13, 16

Value = bytes | dict[bytes, bytes] | ListValue | SetValue | ZSet | Stream | JsonDoc


class Restored:
    """A decoded payload: the ``value`` and, for a hash, its fields' ``deadlines`` (ms)."""

    __slots__ = ("deadlines", "value")

    def __init__(self, value: Value, deadlines: dict[bytes, int] | None = None) -> None:
        self.value = value
        self.deadlines = deadlines or {}


def is_listpack_hash(value: dict[bytes, bytes]) -> bool:
    entries, size = LIMITS.hash_max_listpack_entries, LIMITS.hash_max_listpack_value
    return len(value) <= entries and all(
        len(f) <= size and len(v) <= size for f, v in value.items()
    )


def _body(value: object, deadlines: dict[bytes, int] | None) -> bytes:
    if isinstance(value, bytes):
        return bytes([TYPE_STRING]) + string_bytes(value)
    if isinstance(value, dict):
        if deadlines:
            return aggregates.dump_hash_ttl(value, deadlines)
        if is_listpack_hash(value):
            flat = [x for pair in value.items() for x in pair]
            return bytes([TYPE_HASH_LISTPACK]) + string_bytes(listpack.encode(flat))
        parts = [bytes([TYPE_HASH]), length_bytes(len(value))]
        for f, v in value.items():
            parts += [string_bytes(f), string_bytes(v)]
        return b"".join(parts)
    if isinstance(value, ListValue):
        return aggregates.dump_list(value)
    if isinstance(value, SetValue):
        return aggregates.dump_set(value)
    if isinstance(value, ZSet):
        return aggregates.dump_zset(value)
    if isinstance(value, Stream):
        return streams.dump_stream(value)
    if isinstance(value, JsonDoc):
        return module_json.dump_json(value)
    raise TypeError(f"no RDB encoding for {type(value).__name__}")


def dump_value(value: object, deadlines: dict[bytes, int] | None = None) -> bytes:
    """The DUMP payload of a value (a hash's field ``deadlines`` in ms, if any);
    TypeError for a type without an RDB encoding here."""
    body = _body(value, deadlines) + RDB_VERSION.to_bytes(2, "little")
    return body + crc64(body).to_bytes(8, "little")


def verify(payload: bytes) -> bool:
    """Redis's ``verifyDumpPayload``: a known RDB version and a matching CRC."""
    if len(payload) < 10:
        return False
    if int.from_bytes(payload[-10:-8], "little") > RDB_VERSION:
        return False
    return crc64(payload[:-8]) == int.from_bytes(payload[-8:], "little")


def _hash(kind: int, r: Reader) -> dict[bytes, bytes]:
    if kind == TYPE_HASH:
        n = r.count()
        value: dict[bytes, bytes] = {}
        for _ in range(n):
            f = r.string()
            value[f] = r.string()
        if len(value) != n or not value:
            raise PayloadError("duplicate or missing hash fields")
        return value
    if kind == TYPE_HASH_ZIPLIST:
        flat = aggregates.old_ziplist(r.string())
    else:
        try:
            flat = listpack.decode(r.string())
        except listpack.ListpackError as exc:
            raise PayloadError(str(exc)) from exc
    if not flat or len(flat) % 2:
        raise PayloadError("odd listpack hash")
    value = dict(zip(flat[::2], flat[1::2], strict=True))
    if len(value) * 2 != len(flat):
        raise PayloadError("duplicate hash fields")
    return value


def load_value(payload: bytes) -> Restored:
    """The value of a verified payload; PayloadError for malformed data and types memvec
    does not hold."""
    r = Reader(payload[:-10])
    kind = r.byte()
    out: Restored
    if kind == TYPE_STRING:
        out = Restored(r.string())
    elif kind in (TYPE_HASH, TYPE_HASH_ZIPLIST, TYPE_HASH_LISTPACK):
        out = Restored(_hash(kind, r))
    elif kind == aggregates.TYPE_HASH_TTL:
        value, deadlines = aggregates.load_hash_ttl(r)
        out = Restored(value, deadlines)
    elif kind in aggregates.LIST_TYPES:
        out = Restored(aggregates.load_list(kind, r))
    elif kind in aggregates.SET_TYPES:
        out = Restored(aggregates.load_set(kind, r))
    elif kind in aggregates.ZSET_TYPES:
        out = Restored(aggregates.load_zset(kind, r))
    elif kind in streams.STREAM_TYPES:
        out = Restored(streams.load_stream(kind, r))
    elif kind == module_json.TYPE_MODULE_2:
        out = Restored(module_json.load_json(r))
    else:
        raise PayloadError(f"RDB type {kind} is not supported")
    r.done()
    return out
