"""RDB encodings of lists, sets, sorted sets and hashes with field TTLs (``rdb.c``).

Written as the peer (Valkey 9.1, default limits) writes them, so DUMP is byte-identical
where the peer's layout follows from the contents:

* list, type 18 (QUICKLIST_2): node count, then per node a container (2 = packed) and a
  string holding a listpack of elements. A list within one listpack (8 KB,
  ``list-max-listpack-size -2``) is one node, byte-identical. A longer list is cut into
  nodes as a single ``RPUSH`` fills them (``_quicklistNodeAllowInsert``: node bytes + the
  element + 8 <= 8192); Redis's nodes depend on the pushes' history, so longer lists are
  equivalent payloads, not always identical. Read: 18 (containers 1 = plain and 2), and
  Redis < 7's 1 (linked list), 10 (ziplist) and 14 (quicklist of ziplists,
  :mod:`.ziplist`).
* set, type 11 (intset: a string holding ``encoding u32, count u32, ints`` little-endian,
  ascending, the narrowest width of 2/4/8 bytes), 20 (listpack of members), 2 (count +
  members; the peer writes its hash order, memvec insertion order: equivalent).
* sorted set, type 17 (listpack of member, score, ... in order, scores spelled as
  ``d2string``) and 5 (ZSET_2: count, then member + 8-byte little-endian double, from the
  highest to the lowest, as ``rdbSaveObject`` walks the skiplist backwards):
  byte-identical. Read: 17, 5 and Redis < 7's 3 (scores as length-prefixed text) and 12
  (ziplist).
* hash with field TTLs, type 22 (Valkey 9): count, then field, value and an 8-byte
  little-endian absolute deadline in ms (-1: none). A field whose deadline has passed is
  restored and expires as any field does.

Loading picks the encoding Redis's ``rdbLoadObject`` picks for the same contents (sets
and sorted sets by their size and member lengths).
"""

from __future__ import annotations

import itertools
import math
import struct

from ..datatypes.limits import LIMITS
from ..datatypes.lists import ListValue, lp_entry_size
from ..datatypes.sets import HASHTABLE, INTSET, LISTPACK, SetValue
from ..datatypes.zsets import ZSet
from ..numbers import format_double
from . import listpack, ziplist
from .primitives import PayloadError, Reader, length_bytes, string_bytes

__all__ = [
    "TYPE_HASH_TTL",
    "TYPE_LIST_QUICKLIST_2",
    "TYPE_SET",
    "TYPE_SET_INTSET",
    "TYPE_SET_LISTPACK",
    "TYPE_ZSET_2",
    "TYPE_ZSET_LISTPACK",
    "dump_hash_ttl",
    "dump_list",
    "dump_set",
    "dump_zset",
    "load_hash_ttl",
    "load_list",
    "load_set",
    "load_zset",
]

TYPE_LIST, TYPE_SET, TYPE_ZSET, TYPE_ZSET_2 = 1, 2, 3, 5
TYPE_LIST_ZIPLIST, TYPE_ZSET_ZIPLIST, TYPE_LIST_QUICKLIST = 10, 12, 14
TYPE_SET_INTSET, TYPE_ZSET_LISTPACK, TYPE_LIST_QUICKLIST_2 = 11, 17, 18
TYPE_SET_LISTPACK, TYPE_HASH_TTL = 20, 22
LIST_TYPES = (TYPE_LIST, TYPE_LIST_ZIPLIST, TYPE_LIST_QUICKLIST, TYPE_LIST_QUICKLIST_2)
SET_TYPES = (TYPE_SET, TYPE_SET_INTSET, TYPE_SET_LISTPACK)
ZSET_TYPES = (TYPE_ZSET, TYPE_ZSET_2, TYPE_ZSET_ZIPLIST, TYPE_ZSET_LISTPACK)

NODE_PLAIN, NODE_PACKED = 1, 2
NODE_MAX_BYTES = 8192
SIZE_ESTIMATE_OVERHEAD = 8


def _listpack(blob: bytes) -> list[bytes]:
    try:
        return listpack.decode(blob)
    except listpack.ListpackError as exc:
        raise PayloadError(str(exc)) from exc


def old_ziplist(blob: bytes) -> list[bytes]:
    """The elements of a ziplist (payloads of Redis < 7); PayloadError if malformed."""
    try:
        return ziplist.decode(blob)
    except ziplist.ZiplistError as exc:
        raise PayloadError(str(exc)) from exc


# -- lists ---------------------------------------------------------------------------------
def dump_list(value: ListValue) -> bytes:
    nodes: list[list[bytes]] = []
    if not value.quick:
        nodes.append(list(value.items))
    else:
        size = NODE_MAX_BYTES + 1
        for item in value.items:
            if size + len(item) + SIZE_ESTIMATE_OVERHEAD > NODE_MAX_BYTES:
                nodes.append([])
                size = 7
            nodes[-1].append(item)
            size += lp_entry_size(item)
    parts = [bytes([TYPE_LIST_QUICKLIST_2]), length_bytes(len(nodes))]
    for node in nodes:
        parts += [length_bytes(NODE_PACKED), string_bytes(listpack.encode(node))]
    return b"".join(parts)


def load_list(kind: int, r: Reader) -> ListValue:
    items: list[bytes] = []
    if kind == TYPE_LIST:
        items = [r.string() for _ in range(r.count())]
    elif kind == TYPE_LIST_ZIPLIST:
        items = old_ziplist(r.string())
    elif kind == TYPE_LIST_QUICKLIST:
        for _ in range(r.count()):
            node = old_ziplist(r.string())
            if not node:
                raise PayloadError("empty quicklist node")
            items += node
    else:
        nodes = r.count()
        for _ in range(nodes):
            container = r.count()
            if container == NODE_PLAIN:
                items.append(r.string())
            elif container == NODE_PACKED:
                node = _listpack(r.string())
                if not node:
                    raise PayloadError("empty quicklist node")
                items += node
            else:
                raise PayloadError("unknown quicklist container")
    if not items:
        raise PayloadError("empty list")
    value = ListValue(items)
    if kind in (TYPE_LIST_ZIPLIST, TYPE_LIST_QUICKLIST):
        value.quick = True  # Redis loads these as a quicklist and leaves them one
    elif kind == TYPE_LIST_QUICKLIST_2 and nodes > 1:
        value.quick = True  # listTypeTryConvertQuicklist converts a single node only
    return value


# -- sets ----------------------------------------------------------------------------------
def _intset(ints: list[int]) -> bytes:
    width = 2
    for n in ints:
        if not -(2**15) <= n < 2**15:
            width = 4 if -(2**31) <= n < 2**31 and width < 8 else 8
    body = b"".join(n.to_bytes(width, "little", signed=True) for n in ints)
    return width.to_bytes(4, "little") + len(ints).to_bytes(4, "little") + body


def dump_set(value: SetValue) -> bytes:
    if value.enc == INTSET:
        ints = sorted(int(m) for m in value.members)
        return bytes([TYPE_SET_INTSET]) + string_bytes(_intset(ints))
    if value.enc == LISTPACK:
        return bytes([TYPE_SET_LISTPACK]) + string_bytes(listpack.encode(list(value.members)))
    parts = [bytes([TYPE_SET]), length_bytes(len(value.members))]
    parts += [string_bytes(m) for m in value.members]
    return b"".join(parts)


def load_set(kind: int, r: Reader) -> SetValue:
    value = SetValue()
    if kind == TYPE_SET_INTSET:
        blob = r.string()
        if len(blob) < 8:
            raise PayloadError("short intset")
        width, n = int.from_bytes(blob[:4], "little"), int.from_bytes(blob[4:8], "little")
        if width not in (2, 4, 8) or len(blob) != 8 + width * n:
            raise PayloadError("bad intset")
        ints = [
            int.from_bytes(blob[i : i + width], "little", signed=True)
            for i in range(8, len(blob), width)
        ]
        if any(a >= b for a, b in itertools.pairwise(ints)):
            raise PayloadError("intset out of order")
        value.members = dict.fromkeys(str(i).encode() for i in ints)
        value.enc = INTSET if n <= LIMITS.set_max_intset_entries else HASHTABLE
    elif kind == TYPE_SET_LISTPACK:
        members = _listpack(r.string())
        value.members = dict.fromkeys(members)
        if len(value.members) != len(members):
            raise PayloadError("duplicate set members")
        value.enc = LISTPACK if len(members) <= LIMITS.set_max_listpack_entries else HASHTABLE
    else:
        n = r.count()
        members = [r.string() for _ in range(n)]
        if n > LIMITS.set_max_intset_entries:
            value.enc, value.members = HASHTABLE, dict.fromkeys(members)
        else:
            for m in members:
                value.add(m)
        if len(value.members) != n:
            raise PayloadError("duplicate set members")
    if not value.members:
        raise PayloadError("empty set")
    return value


# -- sorted sets ---------------------------------------------------------------------------
def dump_zset(value: ZSet) -> bytes:
    if not value.skiplist:
        flat: list[bytes] = []
        for score, member in value.order:
            flat += [member, format_double(score)]
        return bytes([TYPE_ZSET_LISTPACK]) + string_bytes(listpack.encode(flat))
    parts = [bytes([TYPE_ZSET_2]), length_bytes(len(value.order))]
    for score, member in reversed(value.order):
        parts += [string_bytes(member), struct.pack("<d", score)]
    return b"".join(parts)


def _score(text: bytes) -> float:
    try:
        score = float(text)
    except ValueError as exc:
        raise PayloadError("bad score") from exc
    if math.isnan(score):
        raise PayloadError("NaN score")
    return score


def load_zset(kind: int, r: Reader) -> ZSet:
    pairs: list[tuple[float, bytes]] = []
    if kind in (TYPE_ZSET_LISTPACK, TYPE_ZSET_ZIPLIST):
        blob = r.string()
        flat = _listpack(blob) if kind == TYPE_ZSET_LISTPACK else old_ziplist(blob)
        if len(flat) % 2:
            raise PayloadError("odd zset listpack")
        pairs = [(_score(s), m) for m, s in zip(flat[::2], flat[1::2], strict=True)]
    else:
        for _ in range(r.count()):
            member = r.string()
            if kind == TYPE_ZSET_2:
                score = struct.unpack("<d", r.take(8))[0]
            else:
                n = r.byte()
                special = {253: math.nan, 254: math.inf, 255: -math.inf}
                score = special[n] if n in special else _score(r.take(n))
            if math.isnan(score):
                raise PayloadError("NaN score")
            pairs.append((score, member))
    z = ZSet.build(pairs)
    if not z.scores or len(z.scores) != len(pairs):
        raise PayloadError("empty zset or duplicate members")
    return z


# -- hashes with field TTLs ----------------------------------------------------------------
def dump_hash_ttl(value: dict[bytes, bytes], deadlines: dict[bytes, int]) -> bytes:
    parts = [bytes([TYPE_HASH_TTL]), length_bytes(len(value))]
    for f, v in value.items():
        parts += [
            string_bytes(f),
            string_bytes(v),
            deadlines.get(f, -1).to_bytes(8, "little", signed=True),
        ]
    return b"".join(parts)


def load_hash_ttl(r: Reader) -> tuple[dict[bytes, bytes], dict[bytes, int]]:
    """(the fields, their deadlines); a field whose deadline has passed is kept, to expire
    as any field does (the peer restores it too)."""
    n = r.count()
    value: dict[bytes, bytes] = {}
    deadlines: dict[bytes, int] = {}
    seen: set[bytes] = set()
    for _ in range(n):
        f, v, deadline = r.string(), r.string(), r.int_le(8)
        if f in seen or deadline < -1:
            raise PayloadError("duplicate field or bad deadline")
        seen.add(f)
        value[f] = v
        if deadline != -1:
            deadlines[f] = deadline
    if not seen:
        raise PayloadError("empty hash")
    return value, deadlines
