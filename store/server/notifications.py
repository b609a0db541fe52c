"""Keyspace notifications (``notify-keyspace-events``), as Redis 7.4 publishes them.

The engine reports every state change (:class:`store.engine.CommandEffects`: the command,
what it logged, which of its keys existed before) to ``Engine.effect_listeners``;
:class:`Notifier` (registered only while the configured flags can publish anything, so
writes pay nothing otherwise) turns each into Redis's events and publishes them through
:class:`store.server.pubsub.PubSub`: for every event ``(class, name, key)`` enabled by the
flags, ``__keyspace@0__:<key>`` gets ``<name>`` (flag ``K``) and then
``__keyevent@0__:<name>`` gets ``<key>`` (flag ``E``).

:data:`EVENTS` is the one table command -> events, taken from the ``notifyKeyspaceEvent``
calls of Redis's ``src/t_*.c``, ``db.c``, ``expire.c``, ``bitops.c``, ``hyperloglog.c``,
``geo.c``, ``sort.c`` and RedisJSON (class ``d``, ``json.<command>``). It covers the
commands memvec has and those being added (lists, sets, sorted sets, streams, geo, bitmaps,
HyperLogLog, JSON, RENAME/COPY/...): a command missing from it publishes nothing but the
generic ``new`` and ``del`` inferred below. Rules that hold for every command:

* ``new`` (class ``n``) for each key of the command that did not exist before and does
  now, before the command's own events (Redis emits it from ``dbAdd``);
* ``del`` (class ``g``) for each key that existed and is gone afterwards (a list, set,
  hash or sorted set emptied by a pop or a removal), after the command's own events;
* an expiry (the engine's lazy expiry or its sweeper) is ``expired`` (class ``x``) for a
  key and ``hexpired`` (class ``h``) for hash fields; a key the maxmemory policy deletes
  is ``evicted`` (class ``e``), before the events of the write that needed the room.

Events are published on the event loop: a change made on another thread (the expiry
sweeper) is handed over with ``call_soon_threadsafe``, in order.

A read command's declared keys that do not exist publish ``keymiss`` (class ``m``), as
Redis's read lookups do (not OBJECT's); the engine reports misses only while the flags
can publish them. Keys a write command reads (the sources of SUNIONSTORE, ...) are not
looked up as reads here, so they publish no ``keymiss`` (Redis does).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..engine import CommandEffects, Engine
    from .pubsub import PubSub

__all__ = [
    "EVENTS",
    "Notifier",
    "events_of",
    "format_flags",
    "parse_flags",
]

# Redis's NOTIFY_* bits (server.h)
KEYSPACE = 1 << 0  # K
KEYEVENT = 1 << 1  # E
GENERIC = 1 << 2  # g
STRING = 1 << 3  # $
LIST = 1 << 4  # l
SET = 1 << 5  # s
HASH = 1 << 6  # h
ZSET = 1 << 7  # z
EXPIRED = 1 << 8  # x
EVICTED = 1 << 9  # e
STREAM = 1 << 10  # t
KEY_MISS = 1 << 11  # m
MODULE = 1 << 13  # d
NEW = 1 << 14  # n
ALL = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE

_CHARS = {
    "A": ALL,
    "g": GENERIC,
    "$": STRING,
    "l": LIST,
    "s": SET,
    "h": HASH,
    "z": ZSET,
    "x": EXPIRED,
    "e": EVICTED,
    "K": KEYSPACE,
    "E": KEYEVENT,
    "t": STREAM,
    "m": KEY_MISS,
    "d": MODULE,
    "n": NEW,
}
# keyspaceEventsFlagsToString's order (n is hidden under A, as in Redis)
_SHOWN = (
    ("g", GENERIC),
    ("$", STRING),
    ("l", LIST),
    ("s", SET),
    ("h", HASH),
    ("z", ZSET),
    ("x", EXPIRED),
    ("e", EVICTED),
    ("t", STREAM),
    ("d", MODULE),
    ("n", NEW),
)

INVALID_FLAGS = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."


def parse_flags(text: str) -> int:
    """``notify-keyspace-events`` as Redis parses it; ``ValueError`` (Redis's text) else."""
    flags = 0
    for c in text:
        bit = _CHARS.get(c)
        if bit is None:
            raise ValueError(INVALID_FLAGS)
        flags |= bit
    return flags


def format_flags(flags: int) -> str:
    """CONFIG GET's form of the flags (Redis's keyspaceEventsFlagsToString)."""
    if flags & ALL == ALL:
        out = "A"
    else:
        out = "".join(c for c, bit in _SHOWN if flags & bit)
    if flags & KEYSPACE:
        out += "K"
    if flags & KEYEVENT:
        out += "E"
    if flags & KEY_MISS:
        out += "m"
    return out


def publishes(flags: int) -> bool:
    """Can these flags publish anything (a channel kind and an event class)?"""
    return bool(flags & (KEYSPACE | KEYEVENT)) and bool(flags & ~(KEYSPACE | KEYEVENT))


# -- the table ---------------------------------------------------------------------------------
Event = tuple[int, bytes, bytes]  # (class bit, event name, key)
Rule = Callable[[list[bytes], list[list[bytes]]], list[Event]]


def _first(cls: int, name: str) -> Rule:
    """One event on the first key."""
    event = name.encode()
    return lambda args, logged: [(cls, event, args[1])]


def _each(cls: int, name: str, start: int = 1, step: int = 1, stop: int = 0) -> Rule:
    """One event on each key from ``args[start]`` every ``step`` (``stop`` from the end)."""
    event = name.encode()

    def rule(args: list[bytes], logged: list[list[bytes]]) -> list[Event]:
        end = len(args) - stop
        return [(cls, event, key) for key in args[start:end:step]]

    return rule


def _logged(args: list[bytes], logged: list[list[bytes]]) -> list[Event]:
    """Events named by the logged rewrite (a blocking pop logs its LPOP/RPOP/ZPOPMIN...)."""
    out: list[Event] = []
    for cmd in logged:
        rule_of = EVENTS.get(cmd[0].upper().decode("latin-1"))
        if rule_of is not None and rule_of is not _logged:
            out += rule_of(cmd, [cmd])
    return out


def _set(args: list[bytes], logged: list[list[bytes]]) -> list[Event]:
    out: list[Event] = [(STRING, b"set", args[1])]
    opts = {a.upper() for a in args[3:]}
    if opts & {b"EX", b"PX", b"EXAT", b"PXAT"}:
        out.append((GENERIC, b"expire", args[1]))
    return out


def _setex(args: list[bytes], logged: list[list[bytes]]) -> list[Event]:
    return [(STRING, b"set", args[1]), (GENERIC, b"expire", args[1])]


def _getex(args: list[bytes], logged: list[list[bytes]]) -> list[Event]:
    opts = {a.upper() for a in args[2:]}
    if b"PERSIST" in opts:
        return [(GENERIC, b"persist", args[1])]
    if any(cmd[0].upper() == b"DEL" for cmd in logged):
        return [(EXPIRED, b"expired", args[1])]
    return [(GENERIC, b"expire", args[1])] if opts else []


def _expire(args: list[bytes], logged: list[list[bytes]]) -> list[Event]:
    # a deadline already past deletes the key (logged as a DEL): "expired", as in Redis 7.2+
    if any(cmd[0].upper() in (b"DEL", b"UNLINK") for cmd in logged):
        return [(EXPIRED, b"expired", args[1])]
    return [(GENERIC, b"expire", args[1])]


def _rename(args: list[bytes], logged: list[list[bytes]]) -> list[Event]:
    return [(GENERIC, b"rename_from", args[1]), (GENERIC, b"rename_to", args[2])]


def _smove(args: list[bytes], logged: list[list[bytes]]) -> list[Event]:
    return [(SET, b"srem", args[1]), (SET, b"sadd", args[2])]


def _rpoplpush(args: list[bytes], logged: list[list[bytes]]) -> list[Event]:
    # Redis pushes (and notifies) on the destination before it notifies the pop
    return [(LIST, b"lpush", args[2]), (LIST, b"rpop", args[1])]


def _lmove(args: list[bytes], logged: list[list[bytes]]) -> list[Event]:
    # LMOVE src dst LEFT|RIGHT LEFT|RIGHT; BLMOVE adds a timeout
    where_from, where_to = args[3].upper(), args[4].upper()
    return [
        (LIST, b"lpush" if where_to == b"LEFT" else b"rpush", args[2]),
        (LIST, b"lpop" if where_from == b"LEFT" else b"rpop", args[1]),
    ]


def _mpop(cls: int, names: dict[bytes, bytes], numkeys_at: int) -> Rule:
    """LMPOP/ZMPOP (and blocking forms): the event on the key popped: the one the logged
    rewrite names, else the first of the keys (the first that exists is the one popped,
    and :func:`events_of` keeps only events on keys that existed for these commands)."""

    def rule(args: list[bytes], logged: list[list[bytes]]) -> list[Event]:
        n = int(args[numkeys_at])
        keys = args[numkeys_at + 1 : numkeys_at + 1 + n]
        direction = args[numkeys_at + 1 + n].upper()
        for cmd in logged:
            if len(cmd) > 1 and cmd[1] in keys:
                return [(cls, names[direction], cmd[1])]
        return [(cls, names[direction], key) for key in keys]

    return rule


def _zadd(args: list[bytes], logged: list[list[bytes]]) -> list[Event]:
    incr = any(a.upper() == b"INCR" for a in args[2:])
    return [(ZSET, b"zincr" if incr else b"zadd", args[1])]


def _xadd(args: list[bytes], logged: list[list[bytes]]) -> list[Event]:
    out: list[Event] = [(STREAM, b"xadd", args[1])]
    if any(a.upper() in (b"MAXLEN", b"MINID") for a in args[2:]):
        out.append((STREAM, b"xtrim", args[1]))
    return out


def _xgroup(args: list[bytes], logged: list[list[bytes]]) -> list[Event]:
    sub = args[1].lower()
    if sub in (b"create", b"setid", b"destroy", b"createconsumer", b"delconsumer"):
        return [(STREAM, b"xgroup-" + sub, args[2])]
    return []


def _store(cls: int, name: str) -> Rule:
    """A *STORE command: its event on the destination, or ``del`` if the result was empty
    (then the destination is gone: :func:`events_of` adds the ``del``)."""
    event = name.encode()

    def rule(args: list[bytes], logged: list[list[bytes]]) -> list[Event]:
        if all(cmd[0].upper() in (b"DEL", b"UNLINK") for cmd in logged):
            return []
        return [(cls, event, args[1])]

    return rule


def _bitop(args: list[bytes], logged: list[list[bytes]]) -> list[Event]:
    if all(cmd[0].upper() in (b"DEL", b"UNLINK") for cmd in logged):
        return []
    return [(STRING, b"set", args[2])]


def _json(args: list[bytes], logged: list[list[bytes]]) -> list[Event]:
    name = args[0].lower()
    if name == b"json.forget":
        name = b"json.del"
    if name == b"json.mset":
        return [(MODULE, name, key) for key in args[1::3]]
    return [(MODULE, name, args[1])]


def _pfmerge(args: list[bytes], logged: list[list[bytes]]) -> list[Event]:
    return [(STRING, b"pfadd", args[1])]


def _hexpire(args: list[bytes], logged: list[list[bytes]]) -> list[Event]:
    # fields whose deadline was already past are deleted: logged as HDEL
    if any(cmd[0].upper() == b"HDEL" for cmd in logged):
        return [(HASH, b"hdel", args[1])]
    return [(HASH, b"hexpire", args[1])]


EVENTS: dict[str, Rule] = {
    # generic (db.c, expire.c)
    "DEL": _each(GENERIC, "del"),
    "UNLINK": _each(GENERIC, "del"),
    "EXPIRE": _expire,
    "PEXPIRE": _expire,
    "EXPIREAT": _expire,
    "PEXPIREAT": _expire,
    "PERSIST": _first(GENERIC, "persist"),
    "RENAME": _rename,
    "RENAMENX": _rename,
    "COPY": lambda args, logged: [(GENERIC, b"copy_to", args[2])],
    "RESTORE": _first(GENERIC, "restore"),
    "RESTORE-ASKING": _first(GENERIC, "restore"),  # what MIGRATE sends (cluster.c)
    "MOVE": lambda args, logged: [(GENERIC, b"move_from", args[1])],
    # strings (t_string.c, bitops.c, hyperloglog.c)
    "SET": _set,
    "SETNX": _first(STRING, "set"),
    "SETEX": _setex,
    "PSETEX": _setex,
    "GETSET": _first(STRING, "set"),
    "MSET": _each(STRING, "set", 1, 2),
    "MSETNX": _each(STRING, "set", 1, 2),
    "GETDEL": _first(GENERIC, "del"),
    "GETEX": _getex,
    "APPEND": _first(STRING, "append"),
    "SETRANGE": _first(STRING, "setrange"),
    "INCR": _first(STRING, "incrby"),
    "DECR": _first(STRING, "incrby"),  # incrDecrCommand: one name
    "INCRBY": _first(STRING, "incrby"),
    "DECRBY": _first(STRING, "incrby"),
    "INCRBYFLOAT": _first(STRING, "incrbyfloat"),
    "SETBIT": _first(STRING, "setbit"),
    "BITFIELD": _first(STRING, "setbit"),
    "BITOP": _bitop,
    "PFADD": _first(STRING, "pfadd"),
    "PFMERGE": _pfmerge,
    # hashes (t_hash.c)
    "HSET": _first(HASH, "hset"),
    "HMSET": _first(HASH, "hset"),
    "HSETNX": _first(HASH, "hset"),
    "HDEL": _first(HASH, "hdel"),
    "HINCRBY": _first(HASH, "hincrby"),
    "HINCRBYFLOAT": _first(HASH, "hincrbyfloat"),
    "HEXPIRE": _hexpire,
    "HPEXPIRE": _hexpire,
    "HEXPIREAT": _hexpire,
    "HPEXPIREAT": _hexpire,
    "HPERSIST": _first(HASH, "hpersist"),
    # lists (t_list.c)
    "LPUSH": _first(LIST, "lpush"),
    "LPUSHX": _first(LIST, "lpush"),
    "RPUSH": _first(LIST, "rpush"),
    "RPUSHX": _first(LIST, "rpush"),
    "LPOP": _first(LIST, "lpop"),
    "RPOP": _first(LIST, "rpop"),
    "LINSERT": _first(LIST, "linsert"),
    "LSET": _first(LIST, "lset"),
    "LTRIM": _first(LIST, "ltrim"),
    "LREM": _first(LIST, "lrem"),
    "RPOPLPUSH": _rpoplpush,
    "LMOVE": _lmove,
    "BLMOVE": _lmove,
    "BRPOPLPUSH": _rpoplpush,
    "LMPOP": _mpop(LIST, {b"LEFT": b"lpop", b"RIGHT": b"rpop"}, 1),
    "BLMPOP": _mpop(LIST, {b"LEFT": b"lpop", b"RIGHT": b"rpop"}, 2),
    "BLPOP": _logged,
    "BRPOP": _logged,
    # sets (t_set.c)
    "SADD": _first(SET, "sadd"),
    "SREM": _first(SET, "srem"),
    "SPOP": _first(SET, "spop"),
    "SMOVE": _smove,
    "SINTERSTORE": _store(SET, "sinterstore"),
    "SUNIONSTORE": _store(SET, "sunionstore"),
    "SDIFFSTORE": _store(SET, "sdiffstore"),
    # sorted sets (t_zset.c, geo.c)
    "ZADD": _zadd,
    "ZINCRBY": _first(ZSET, "zincr"),
    "ZREM": _first(ZSET, "zrem"),
    "ZREMRANGEBYSCORE": _first(ZSET, "zremrangebyscore"),
    "ZREMRANGEBYRANK": _first(ZSET, "zremrangebyrank"),
    "ZREMRANGEBYLEX": _first(ZSET, "zremrangebylex"),
    "ZPOPMIN": _first(ZSET, "zpopmin"),
    "ZPOPMAX": _first(ZSET, "zpopmax"),
    "BZPOPMIN": _logged,
    "BZPOPMAX": _logged,
    "ZMPOP": _mpop(ZSET, {b"MIN": b"zpopmin", b"MAX": b"zpopmax"}, 1),
    "BZMPOP": _mpop(ZSET, {b"MIN": b"zpopmin", b"MAX": b"zpopmax"}, 2),
    "ZUNIONSTORE": _store(ZSET, "zunionstore"),
    "ZINTERSTORE": _store(ZSET, "zinterstore"),
    "ZDIFFSTORE": _store(ZSET, "zdiffstore"),
    "ZRANGESTORE": _store(ZSET, "zrangestore"),
    "GEOADD": _first(ZSET, "zadd"),
    "GEOSEARCHSTORE": _store(ZSET, "geosearchstore"),
    "GEORADIUS": _store(ZSET, "georadiusstore"),
    # streams (t_stream.c)
    "XADD": _xadd,
    "XTRIM": _first(STREAM, "xtrim"),
    "XDEL": _first(STREAM, "xdel"),
    "XSETID": _first(STREAM, "xsetid"),
    "XGROUP": _xgroup,
    # RedisJSON (class d: module events)
    **{
        name: _json
        for name in (
            "JSON.SET",
            "JSON.DEL",
            "JSON.FORGET",
            "JSON.MSET",
            "JSON.MERGE",
            "JSON.NUMINCRBY",
            "JSON.NUMMULTBY",
            "JSON.STRAPPEND",
            "JSON.ARRAPPEND",
            "JSON.ARRINSERT",
            "JSON.ARRPOP",
            "JSON.ARRTRIM",
            "JSON.TOGGLE",
            "JSON.CLEAR",
        )
    },
}

_MPOPS = frozenset({b"LMPOP", b"BLMPOP", b"ZMPOP", b"BZMPOP"})
_STORES = frozenset(
    {
        b"SINTERSTORE",
        b"SUNIONSTORE",
        b"SDIFFSTORE",
        b"ZUNIONSTORE",
        b"ZINTERSTORE",
        b"ZDIFFSTORE",
        b"ZRANGESTORE",
        b"GEOSEARCHSTORE",
        b"GEORADIUS",
        b"BITOP",
    }
)
_NO_DEL_INFERRED = frozenset(
    {
        b"RENAME",
        b"RENAMENX",
        b"MOVE",
        b"GETDEL",
        b"DEL",
        b"UNLINK",
        b"EXPIRE",
        b"PEXPIRE",
        b"EXPIREAT",
        b"PEXPIREAT",
        b"GETEX",
        b"SET",
    }
)


def events_of(effects: CommandEffects, exists: Callable[[bytes], bool]) -> list[Event]:
    """Redis's events for one state change; ``exists`` tells whether a key exists now."""
    if effects.args is None and effects.evicted:  # the maxmemory policy's deletions
        return [(EVICTED, b"evicted", cmd[1]) for cmd in effects.logged]
    if effects.args is None:  # an expiry
        expired: list[Event] = []
        for cmd in effects.logged:
            if cmd[0] == b"DEL":
                expired.append((EXPIRED, b"expired", cmd[1]))
            elif cmd[0] == b"HDEL":
                expired.append((HASH, b"hexpired", cmd[1]))
                if not exists(cmd[1]):
                    expired.append((GENERIC, b"del", cmd[1]))
        return expired
    args = effects.args
    name = args[0].upper()
    rule = EVENTS.get(name.decode("latin-1"))
    try:
        own = rule(args, effects.logged) if rule is not None else []
    except (IndexError, ValueError):  # an argument form the table does not know
        own = []
    existed = effects.existed
    if name in (b"DEL", b"UNLINK"):
        own = [event for event in own if event[2] in existed]
    elif name in _MPOPS:  # the first key that existed is the one popped
        own = [event for event in own if event[2] in existed][:1]
    elif name in _STORES:  # an empty result deletes the destination: only "del"
        own = [event for event in own if exists(event[2])]
    elif name in (b"SET", b"GETEX") and own and not exists(args[1]):
        # a deadline already past: the key is deleted at once, "expired" if it existed
        own = [(EXPIRED, b"expired", args[1])] if args[1] in existed else []
    gone = set() if name in _NO_DEL_INFERRED else {k for k in existed if not exists(k)}
    last = {event[2]: i for i, event in enumerate(own)}
    out: list[Event] = []
    announced: set[bytes] = set()
    for i, event in enumerate(own):  # "new" just before the first event of a created key
        key = event[2]
        if key not in existed and key not in announced and exists(key):
            announced.add(key)
            out.append((NEW, b"new", key))
        out.append(event)
        if key in gone and last[key] == i:  # emptied: "del" right after its last event
            out.append((GENERIC, b"del", key))
            gone.discard(key)
    out += [(GENERIC, b"del", key) for key in sorted(gone)]
    if name in (b"RENAME", b"RENAMENX"):  # the destination is (re)added first: always "new"
        out = [(NEW, b"new", args[2])] + [event for event in out if event[0] != NEW]
    return out


class Notifier:
    """Publishes the events of :attr:`flags` for every change the engine reports."""

    def __init__(self, engine: Engine, pubsub: PubSub, loop: asyncio.AbstractEventLoop) -> None:
        self.engine = engine
        self.pubsub = pubsub
        self.loop = loop
        self.flags = 0
        self._loop_thread = threading.get_ident()
        self._listening = False
        self._misses = False

    def configure(self, flags: int) -> None:
        """Apply ``notify-keyspace-events``; the engine reports changes only while needed."""
        self.flags = flags
        want = publishes(flags & ~KEY_MISS)
        if want and not self._listening:
            self.engine.effect_listeners.append(self.on_effects)
            self._listening = True
        elif not want and self._listening:
            self.engine.effect_listeners.remove(self.on_effects)
            self._listening = False
        want_misses = publishes(flags & (KEYSPACE | KEYEVENT | KEY_MISS))
        if want_misses and not self._misses:
            self.engine.miss_listeners.append(self.on_misses)
            self._misses = True
        elif not want_misses and self._misses:
            self.engine.miss_listeners.remove(self.on_misses)
            self._misses = False

    def stop(self) -> None:
        self.configure(0)

    def on_effects(self, effects: CommandEffects) -> None:
        """Engine listener (under the engine lock, any thread)."""
        if not self.pubsub:
            return  # nobody subscribed to anything: nothing can be delivered
        data = self.engine.keyspace.data
        events = events_of(effects, data.__contains__)
        if not events:
            return
        if threading.get_ident() == self._loop_thread:
            self.publish(events)
        else:
            self.loop.call_soon_threadsafe(self.publish, events)

    def on_misses(self, keys: list[bytes]) -> None:
        """Engine miss listener: ``keymiss`` (class ``m``) for each key a read missed."""
        if not self.pubsub:
            return
        events = [(KEY_MISS, b"keymiss", key) for key in keys]
        if threading.get_ident() == self._loop_thread:
            self.publish(events)
        else:
            self.loop.call_soon_threadsafe(self.publish, events)

    def publish(self, events: list[Event]) -> None:
        flags = self.flags
        for cls, name, key in events:
            if not flags & cls:
                continue
            if flags & KEYSPACE:
                self.pubsub.publish(b"__keyspace@0__:" + key, name)
            if flags & KEYEVENT:
                self.pubsub.publish(b"__keyevent@0__:" + name, key)
