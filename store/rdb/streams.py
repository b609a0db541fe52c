"""RDB encoding of streams: type 21 (STREAM_LISTPACKS_3, ``rdbSaveObject``).

Layout::

    count                       listpack nodes, then per node:
      string (16 bytes)         the node's master id: ms, seq as big-endian uint64
      string                    a listpack (below)
    length                      live entries
    last_id ms, seq             lengths (as every number below unless said otherwise)
    first_id ms, seq            the first live entry's (0-0 when empty)
    max_deleted ms, seq
    entries_added
    count                       consumer groups, in name order (Redis's radix tree), each:
      string, last_id ms, seq, entries_read (-1 written as a 64-bit length)
      count, then per pending entry (ascending): 16-byte id, delivery time (8 bytes LE ms),
        delivery count
      count, then per consumer (name order): string, seen time and active time (8 bytes
        LE ms each), count + 16-byte ids of its pending entries

A node's listpack (``streamAppendItem``): the master entry ``count, deleted, nfields,
field..., 0``, then per entry ``flags, ms-diff, seq-diff, [nfields, field,] value...,
lp-count``, the field names left out (flag 2, SAMEFIELDS) when they equal the master's;
flag 1 marks a deleted entry. memvec keeps no deleted entries' contents, so its nodes
hold live entries only (``deleted`` 0): byte-identical with the peer's DUMP for a stream
without XDEL'd or trimmed-within-a-node entries, equivalent otherwise. Loading keeps the
payload's nodes (deleted ids included, as the node layout behind ``MAXLEN ~`` and XINFO's
``radix-tree-keys``) and the live entries.
"""

from __future__ import annotations

import itertools

from ..datatypes.stream_groups import Consumer, Group, Nack
from ..datatypes.stream_ids import SortedIDs, StreamID
from ..datatypes.streams import Node, Stream, entry_bytes, shared_name
from . import listpack
from .primitives import PayloadError, Reader, length_bytes, string_bytes

__all__ = ["TYPE_STREAM_LISTPACKS_3", "dump_stream", "load_stream"]

TYPE_STREAM_LISTPACKS, TYPE_STREAM_LISTPACKS_2, TYPE_STREAM_LISTPACKS_3 = 15, 19, 21
STREAM_TYPES = (TYPE_STREAM_LISTPACKS, TYPE_STREAM_LISTPACKS_2, TYPE_STREAM_LISTPACKS_3)
FLAG_DELETED, FLAG_SAMEFIELDS = 1, 2
_U64 = 1 << 64

Entries = list[tuple[StreamID, list[bytes]]]


def _raw_id(sid: StreamID) -> bytes:
    return sid[0].to_bytes(8, "big") + sid[1].to_bytes(8, "big")


def _signed(n: int) -> int:
    """A uint64 difference as the int64 ``lpAppendInteger`` stores."""
    n %= _U64
    return n - _U64 if n >= 1 << 63 else n


def _node(
    master_id: StreamID, master: list[bytes], entries: list[tuple[StreamID, list[bytes]]]
) -> bytes:
    out = [b"%d" % len(entries), b"0", b"%d" % len(master), *master, b"0"]
    for sid, fields in entries:
        names = fields[0::2]
        same = names == master
        out += [
            b"%d" % (FLAG_SAMEFIELDS if same else 0),
            b"%d" % _signed(sid[0] - master_id[0]),
            b"%d" % _signed(sid[1] - master_id[1]),
        ]
        if same:
            out += fields[1::2]
            out.append(b"%d" % (len(names) + 3))
        else:
            out += [b"%d" % len(names), *fields]
            out.append(b"%d" % (2 * len(names) + 4))
    return listpack.encode(out)


def dump_stream(s: Stream) -> bytes:
    nodes: list[bytes] = []
    for node in s.nodes:
        live = [(sid, s.entries[sid]) for sid in node.ids if sid in s.entries]
        if live:
            master_id = node.ids[0]
            nodes.append(string_bytes(_raw_id(master_id)))
            nodes.append(string_bytes(_node(master_id, list(node.master), live)))
    parts = [bytes([TYPE_STREAM_LISTPACKS_3]), length_bytes(len(nodes) // 2), *nodes]
    first = s.first_id
    for n in (len(s.entries), *s.last_id, *first, *s.max_deleted, s.entries_added):
        parts.append(length_bytes(n))
    parts.append(length_bytes(len(s.groups)))
    for name in sorted(s.groups):
        g = s.groups[name]
        parts += [string_bytes(name), length_bytes(g.last_id[0]), length_bytes(g.last_id[1])]
        parts.append(length_bytes(g.entries_read % _U64))
        parts.append(length_bytes(len(g.pel)))
        for sid in sorted(g.pel):
            nack = g.pel[sid]
            parts += [_raw_id(sid), nack.delivery_time.to_bytes(8, "little", signed=True)]
            parts.append(length_bytes(nack.delivery_count))
        parts.append(length_bytes(len(g.consumers)))
        for cname in sorted(g.consumers):
            c = g.consumers[cname]
            parts += [
                string_bytes(cname),
                c.seen_time.to_bytes(8, "little", signed=True),
                c.active_time.to_bytes(8, "little", signed=True),
                length_bytes(len(c.pel)),
            ]
            parts += [_raw_id(sid) for sid in c.pel]
    return b"".join(parts)


def _int(element: bytes) -> int:
    try:
        return int(element)
    except ValueError as exc:
        raise PayloadError("expected an integer in a stream listpack") from exc


def _entries(master_id: StreamID, blob: bytes) -> tuple[Entries, Node]:
    """The live entries of a node's listpack, and the node (every id, deleted ones too)."""
    ids: list[StreamID] = []
    try:
        items = listpack.decode(blob)
    except listpack.ListpackError as exc:
        raise PayloadError(str(exc)) from exc
    try:
        nmaster = _int(items[2])
        master = items[3 : 3 + nmaster]
        pos = 3 + nmaster
        if len(master) != nmaster or items[pos] != b"0":
            raise PayloadError("bad master entry")
        pos += 1
        out = []
        while pos < len(items):
            flags, ms_diff, seq_diff = (_int(x) for x in items[pos : pos + 3])
            pos += 3
            if flags & FLAG_SAMEFIELDS:
                values = items[pos : pos + nmaster]
                pos += nmaster
                fields = [x for pair in zip(master, values, strict=True) for x in pair]
            else:
                n = _int(items[pos])
                fields = items[pos + 1 : pos + 1 + 2 * n]
                pos += 1 + 2 * n
                if len(fields) != 2 * n:
                    raise PayloadError("short stream entry")
            pos += 1  # lp-count
            if pos > len(items):
                raise PayloadError("short stream entry")
            sid = ((master_id[0] + ms_diff) % _U64, (master_id[1] + seq_diff) % _U64)
            ids.append(sid)
            if not flags & FLAG_DELETED:
                fields[0::2] = [shared_name(f) for f in fields[0::2]]
                out.append((sid, fields))
    except (IndexError, ValueError) as exc:
        raise PayloadError("bad stream listpack") from exc
    if not ids:
        raise PayloadError("an empty stream node")
    return out, Node(ids, len(out), len(blob), [shared_name(f) for f in master])


def _id(r: Reader) -> StreamID:
    return r.number(), r.number()


def _raw(r: Reader) -> StreamID:
    raw = r.take(16)
    return int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:], "big")


def load_stream(kind: int, r: Reader) -> Stream:
    s = Stream()
    entries: Entries = []
    for _ in range(r.count()):
        key = r.string()
        if len(key) != 16:
            raise PayloadError("bad stream node key")
        master_id = (int.from_bytes(key[:8], "big"), int.from_bytes(key[8:], "big"))
        live, node = _entries(master_id, r.string())
        if s.nodes and s.nodes[-1].ids[-1] >= master_id:
            raise PayloadError("stream nodes out of order")
        entries += live
        if live:  # a node of deleted entries only holds nothing a client can see
            s.nodes.append(node)
    all_ids = [sid for node in s.nodes for sid in node.ids]
    if any(a >= b for a, b in itertools.pairwise(all_ids)):
        raise PayloadError("stream entries out of order")
    for sid, fields in entries:
        s.entries[sid] = fields
        s.entry_bytes += entry_bytes(fields)
    s.order = SortedIDs([sid for sid, _ in entries])
    s.entries_added = len(entries)
    if r.number() != len(entries):
        raise PayloadError("stream length mismatch")
    s.last_id = _id(r)
    if entries and entries[-1][0] > s.last_id:
        raise PayloadError("an entry past the last id")
    if kind >= TYPE_STREAM_LISTPACKS_2:
        _id(r)  # first id: recomputed from the entries
        s.max_deleted = _id(r)
        s.entries_added = r.number()
    for _ in range(r.count()):
        name = r.string()
        g = Group(_id(r), -1)
        if kind >= TYPE_STREAM_LISTPACKS_2:
            n = r.number()
            g.entries_read = n - _U64 if n >= 1 << 63 else n
        for _ in range(r.count()):
            sid = _raw(r)
            g.pel[sid] = Nack(b"", r.int_le(8), r.number())
            g.pel_ids.add(sid)
        for _ in range(r.count()):
            cname = r.string()
            seen = r.int_le(8)
            active = r.int_le(8) if kind >= TYPE_STREAM_LISTPACKS_3 else seen
            c = g.consumers[cname] = Consumer(cname, seen, active)
            for _ in range(r.count()):
                sid = _raw(r)
                nack = g.pel.get(sid)
                if nack is None or nack.consumer:
                    raise PayloadError("a consumer's pending entry is not the group's")
                nack.consumer = cname
                c.pel.add(sid)
        if any(not nack.consumer for nack in g.pel.values()) or name in s.groups:
            raise PayloadError("a pending entry without a consumer, or a duplicate group")
        s.groups[name] = g
    return s
