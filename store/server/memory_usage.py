"""MEMORY and OBJECT: what a key costs and how Redis would encode it.

Sizes are estimates, not allocator measurements (Python does not say what one dict
entry costs). They use the same model as :meth:`store.keyspace.Keyspace.memory_bytes`,
so the sum of ``MEMORY USAGE`` over every key is the dataset part of ``used_memory``:

* every key: its length + 64 bytes (dict entry, key object);
* a string: its length + 33 bytes (bytes object header);
* a hash: 232 bytes (dict) + for each field, field and value lengths + 100 bytes;
* any other type: its own :meth:`store.datatypes.base.TypedValue.memory_usage` (and
  ``OBJECT ENCODING`` its :meth:`~store.datatypes.base.TypedValue.encoding`).

``MEMORY USAGE key SAMPLES n`` walks at most ``n`` fields of a hash (default 5, 0: all)
and extrapolates their average to the whole hash, as Redis samples nested values.
Numbers are therefore within tens of percent of the process's real growth, and not
Redis's (a 1-byte string costs 56 bytes in Redis, 99 here). ``MEMORY DOCTOR`` and
``MALLOC-STATS`` answer as Redis does without jemalloc.

``OBJECT ENCODING`` reports the encoding Redis 7.4 would choose for the same value:
strings ``int`` (a canonical 64-bit integer), ``embstr`` (<= 44 bytes) or ``raw``;
hashes ``listpack`` (<= 128 fields, every field and value <= 64 bytes) or ``hashtable``.
Redis never converts a hash back to listpack once it grew past those limits; memvec
reports from the current value (docs/compatibility.md). ``OBJECT FREQ`` errors as Redis
does without an LFU policy (with one: the engine's counter, :mod:`store.eviction`);
``OBJECT IDLETIME`` errors under an LFU policy, as Redis does, and otherwise is the
time since the key was last touched by a client command through this server (or since
server start), tracked by :class:`store.server.access_clock.AccessClock`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..commands.table import command
from ..datatypes.base import TypedValue
from ..datatypes.limits import LIMITS
from ..engine import STARTUP_MEMORY_BYTES
from ..errors import CommandError, SyntaxErr
from ..keyspace import Value
from ..numbers import parse_int64
from ..replies import SimpleString, Verbatim
from .handlers import sub_check

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["KEY_OVERHEAD", "encoding", "memory_handlers", "value_usage"]

KEY_OVERHEAD = 64
STRING_OVERHEAD = 33
HASH_OVERHEAD = 232
FIELD_OVERHEAD = 100
EMBSTR_MAX = 44
SHARED_INTEGERS = 10000
SHARED_REFCOUNT = 2147483647

command(
    "MEMORY",
    -2,
    "",
    "slow",
    keys=(2, 2, 1),
    scope="connection",
    summary="A container for memory diagnostics commands.",
)(lambda ctx, args: None)
command(
    "OBJECT",
    -2,
    "readonly",
    "keyspace slow",
    keys=(2, 2, 1),
    scope="connection",
    summary="A container for object introspection commands.",
)(lambda ctx, args: None)


def value_usage(key: bytes, value: Value, samples: int) -> int:
    total = len(key) + KEY_OVERHEAD
    if isinstance(value, bytes):
        return total + len(value) + STRING_OVERHEAD
    if isinstance(value, TypedValue):
        return total + value.memory_usage()
    total += HASH_OVERHEAD
    if not value:
        return total
    if samples <= 0 or samples >= len(value):
        return total + sum(len(f) + len(v) + FIELD_OVERHEAD for f, v in value.items())
    seen = 0
    for i, (f, v) in enumerate(value.items()):
        if i == samples:
            break
        seen += len(f) + len(v) + FIELD_OVERHEAD
    return total + seen * len(value) // samples


def _is_int(value: bytes) -> bool:
    if not value or len(value) > 20:
        return False
    n = parse_int64(value)
    return n is not None and str(n).encode() == value


def encoding(value: Value) -> str:
    if isinstance(value, bytes):
        if _is_int(value):
            return "int"
        return "embstr" if len(value) <= EMBSTR_MAX else "raw"
    if isinstance(value, TypedValue):
        return value.encoding()
    if len(value) > LIMITS.hash_max_listpack_entries:
        return "hashtable"
    limit = LIMITS.hash_max_listpack_value
    for f, v in value.items():
        if len(f) > limit or len(v) > limit:
            return "hashtable"
    return "listpack"


# -- MEMORY ----------------------------------------------------------------------------------
_MEMORY_ARITY = {
    b"USAGE": -3,
    b"STATS": 2,
    b"DOCTOR": 2,
    b"MALLOC-STATS": 2,
    b"PURGE": 2,
    b"HELP": 2,
}


def cmd_memory(conn: Connection, args: list[bytes]) -> Any:
    sub = sub_check("MEMORY", args, _MEMORY_ARITY)
    if sub == b"USAGE":
        samples = 5
        i = 3
        while i < len(args):
            if args[i].upper() == b"SAMPLES" and i + 1 < len(args):
                n = parse_int64(args[i + 1])
                if n is None:
                    raise CommandError("value is not an integer or out of range")
                samples = n
                i += 2
            else:
                raise SyntaxErr()
        engine = conn.engine
        with engine.lock:
            value = engine.keyspace.get(args[2], int(time.time() * 1000))
            if value is None:
                return None
            return value_usage(args[2], value, samples)
    if sub == b"STATS":
        return _stats(conn)
    if sub == b"DOCTOR":
        return Verbatim("txt", _doctor(conn))
    if sub == b"MALLOC-STATS":
        return Verbatim("txt", "Stats not supported for the current allocator")
    if sub == b"PURGE":
        return SimpleString("OK")
    return [
        SimpleString(line)
        for line in (
            "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
            "HELP",
            "    Print this help.",
        )
    ]


def _stats(conn: Connection) -> dict[bytes, Any]:
    from .info import rss_bytes

    server = conn.server
    engine = server.engine
    with engine.lock:
        keys = len(engine.keyspace)
        expires = len(engine.keyspace.expires)
        dataset = engine.keyspace.memory_bytes()
        indexes = engine.indexes.memory_bytes()
    used = STARTUP_MEMORY_BYTES + dataset + indexes
    server.stats.peak_memory = max(server.stats.peak_memory, used)
    peak = server.stats.peak_memory
    rss = rss_bytes()
    clients = sum(
        (c.transport.get_write_buffer_size() if c.transport is not None else 0) + c.parser.buffered
        for c in server.clients.values()
    )
    overhead = STARTUP_MEMORY_BYTES + indexes + clients
    out: dict[bytes, Any] = {
        b"peak.allocated": peak,
        b"total.allocated": used,
        b"startup.allocated": STARTUP_MEMORY_BYTES,
        b"replication.backlog": 0,
        b"clients.slaves": 0,
        b"clients.normal": clients,
        b"cluster.links": 0,
        b"aof.buffer": 0,
        b"lua.caches": 0,
        b"functions.caches": 0,
    }
    if keys:
        out[b"db.0"] = {
            b"overhead.hashtable.main": keys * KEY_OVERHEAD,
            b"overhead.hashtable.expires": expires * KEY_OVERHEAD,
        }
    out |= {
        b"overhead.total": overhead,
        b"keys.count": keys,
        b"keys.bytes-per-key": used // keys if keys else 0,
        b"dataset.bytes": dataset,
        b"dataset.percentage": f"{100 * dataset / used if used else 0:.17g}".encode(),
        b"peak.percentage": f"{100 * used / peak if peak else 0:.17g}".encode(),
        b"allocator.allocated": used,
        b"allocator.active": used,
        b"allocator.resident": rss,
        b"allocator-fragmentation.ratio": b"1",
        b"allocator-fragmentation.bytes": 0,
        b"allocator-rss.ratio": f"{rss / used if used else 0:.17g}".encode(),
        b"allocator-rss.bytes": rss - used,
        b"rss-overhead.ratio": b"1",
        b"rss-overhead.bytes": 0,
        b"fragmentation": f"{rss / used if used else 0:.17g}".encode(),
        b"fragmentation.bytes": rss - used,
    }
    return out


_EMPTY_DOCTOR = (
    "Hi Sam, this instance is empty or is using very little memory, my issues detector "
    "can't be used in these conditions. Please, leave for your mission on Earth and fill it "
    "with some data. The new Sam and I will be back to our programming as soon as I "
    "finished rebooting.\n"
)


def _doctor(conn: Connection) -> str:
    used = conn.engine.reported_memory()
    if used < 5 * 1024 * 1024:
        return _EMPTY_DOCTOR
    peak = max(conn.server.stats.peak_memory, used)
    issues: list[str] = []
    if peak > used * 3 // 2:
        issues.append(
            " * Peak memory: In the past this instance used more than 150% the memory that "
            "is currently using. The allocator is normally not able to release memory after "
            "a peak, so you can expect to see a big fragmentation ratio, however this is "
            "actually harmless and is only due to the memory peak."
        )
    if not issues:
        return (
            "Hi Sam, I can't find any memory issue in your instance. I can only account for "
            "what occurs on this base.\n"
        )
    return (
        "Sam, I detected a few issues in this Redis instance memory implants:\n\n"
        + "\n\n".join(issues)
        + "\n\nI'm here to keep you safe, Sam. I want to help you.\n"
    )


# -- OBJECT ----------------------------------------------------------------------------------
_OBJECT_ARITY = {b"ENCODING": 3, b"FREQ": 3, b"IDLETIME": 3, b"REFCOUNT": 3, b"HELP": 2}

_NO_LFU = (
    "An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
    "that when switching between policies at runtime LRU and LFU data will take some time "
    "to adjust."
)


_LFU_SELECTED = (
    "An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
    "switching between policies at runtime LRU and LFU data will take some time to adjust."
)


def cmd_object(conn: Connection, args: list[bytes]) -> Any:
    sub = sub_check("OBJECT", args, _OBJECT_ARITY)
    if sub == b"HELP":
        return [
            SimpleString(line)
            for line in (
                "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "ENCODING <key>",
                "    Return the kind of internal representation used in order to store the value",
                "    associated with a <key>.",
                "FREQ <key>",
                "    Return the access frequency index of the <key>. The returned integer is",
                "    proportional to the logarithm of the recent access frequency of the key.",
                "IDLETIME <key>",
                "    Return the idle time of the <key>, that is the approximated number of",
                "    seconds elapsed since the last access to the key.",
                "REFCOUNT <key>",
                "    Return the number of references of the value associated with the specified",
                "    <key>.",
                "HELP",
                "    Print this help.",
            )
        ]
    engine = conn.engine
    with engine.lock:
        value = engine.keyspace.get(args[2], int(time.time() * 1000))
        if value is None:
            return None
        if sub == b"ENCODING":
            return encoding(value).encode()
    lfu = engine.evictor.policy.lfu
    if sub == b"FREQ":
        if not lfu:
            raise CommandError(_NO_LFU)
        return engine.evictor.frequency(args[2])  # the engine's LFU record (store/eviction.py)
    if sub == b"IDLETIME":
        if lfu:
            raise CommandError(_LFU_SELECTED)
        return conn.server.observe.access.idle_seconds(args[2])
    if isinstance(value, bytes) and _is_int(value) and 0 <= int(value) < SHARED_INTEGERS:
        return SHARED_REFCOUNT
    return 1


def memory_handlers() -> dict[str, Any]:
    return {"MEMORY": cmd_memory, "OBJECT": cmd_object}
