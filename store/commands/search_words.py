"""The words of RediSearch's RESP3 replies that it sends as simple strings.

RediSearch 2.10 spells the map keys of FT.SEARCH, FT.AGGREGATE and FT.PROFILE replies,
and their ``format``, as RESP3 simple strings (``+results``, ``+id``,
``+extra_attributes``, ``+STRING``); documents' ids and fields stay bulk strings. Clients
parse both kinds alike, but the bytes are the peer's only with these
(``tests/server/test_resp3_words.py`` compares them).

They are :class:`store.replies.SimpleString`, a ``str``: a reply built here is read with
str keys (``reply["total_results"]``), as a RESP3 reply parsed from a shard
(``store.cluster.fanout``) is.

:func:`simple` turns a reply whose every text RediSearch spells so (FT.INFO, a profile)
into simple strings.
"""

from __future__ import annotations

from typing import Any

from ..replies import SimpleString

ATTRIBUTES = SimpleString("attributes")
TOTAL_RESULTS = SimpleString("total_results")
FORMAT = SimpleString("format")
STRING = SimpleString("STRING")
"""``format``'s value (RediSearch's default; EXPAND is not supported)."""
RESULTS = SimpleString("results")
WARNING = SimpleString("warning")
ID = SimpleString("id")
SCORE = SimpleString("score")
PAYLOAD = SimpleString("payload")
SORTKEY = SimpleString("sortkey")
EXTRA_ATTRIBUTES = SimpleString("extra_attributes")
VALUES = SimpleString("values")
PROFILE = SimpleString("profile")


def simple(value: Any, keep: frozenset[bytes] = frozenset()) -> Any:
    """``value`` with every bytes in it (map keys, values, array items, at any depth) a
    :class:`SimpleString` (decoded as UTF-8, undecodable bytes escaped as the writer
    spells them back); a map's values under a key in ``keep`` stay as they are."""
    if isinstance(value, bytes):
        return SimpleString(value.decode("utf-8", "surrogateescape"))
    if isinstance(value, dict):
        return {simple(k): v if k in keep else simple(v, keep) for k, v in value.items()}
    if isinstance(value, list):
        return [simple(v, keep) for v in value]
    return value
