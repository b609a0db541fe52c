"""The encoding limits (redis.conf ``*-max-listpack-*``, ``set-max-intset-entries``,
``list-max-listpack-size``, ``list-compress-depth``, ``stream-node-max-*``).

They decide which encoding OBJECT ENCODING reports (memvec's values are Python objects
whatever the encoding; the encodings are modelled so that clients and tests see Redis's
conversions) and where a stream starts a new node (XINFO STREAM FULL's ``radix-tree-*``).

:data:`LIMITS` is process-wide: the running server sets it from its config at start and
on CONFIG SET (:func:`configure`); the data types read it at each mutation, as Redis
reads ``server.*``. One ``memvec server`` runs per process in production; test processes
that start several servers with different limits would share the last one set.
Conversions follow Redis: a value converts when a mutation crosses a limit, never back
because a limit was raised later.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = [
    "LIMITS",
    "LIMIT_FIELDS",
    "EncodingLimits",
    "configure",
    "list_exceeds",
    "list_fits_half",
]


@dataclass(slots=True)
class EncodingLimits:
    """Redis 7.2's defaults."""

    list_max_listpack_size: int = -2  # < 0: bytes per node (-1 4 KB ... -5 64 KB); > 0: entries
    list_compress_depth: int = 0  # kept for CONFIG GET; memvec compresses nothing
    set_max_intset_entries: int = 512
    set_max_listpack_entries: int = 128
    set_max_listpack_value: int = 64
    zset_max_listpack_entries: int = 128
    zset_max_listpack_value: int = 64
    hash_max_listpack_entries: int = 128
    hash_max_listpack_value: int = 64
    stream_node_max_bytes: int = 4096
    stream_node_max_entries: int = 100


LIMITS = EncodingLimits()
LIMIT_FIELDS = frozenset(f.name for f in fields(EncodingLimits))


def configure(values: object) -> None:
    """Copy every limit field of ``values`` (a ServerConfig or an EncodingLimits)."""
    for name in LIMIT_FIELDS:
        setattr(LIMITS, name, getattr(values, name))


_LEVELS = (4096, 8192, 16384, 32768, 65536)
SIZE_SAFETY_LIMIT = 8192


def _node_limit() -> tuple[int | None, int | None]:
    """Redis's ``quicklistNodeLimit``: (bytes, None) or (None, entries)."""
    fill = LIMITS.list_max_listpack_size
    if fill >= 0:
        return None, fill or 1
    return _LEVELS[min(-fill, len(_LEVELS)) - 1], None


def list_exceeds(lp_bytes: int, count: int) -> bool:
    """``quicklistNodeExceedsLimit``: a listpack of ``lp_bytes`` and ``count`` entries
    is too big for one node (the list becomes a quicklist)."""
    size, entries = _node_limit()
    if size is not None:
        return lp_bytes > size
    assert entries is not None
    return lp_bytes > SIZE_SAFETY_LIMIT or count > entries


def list_fits_half(lp_bytes: int, count: int) -> bool:
    """``listTypeTryConvertQuicklist(shrinking)``: back to a listpack when within half
    the node limit."""
    size, entries = _node_limit()
    if size is not None:
        return lp_bytes <= size // 2
    assert entries is not None
    return count <= entries // 2
