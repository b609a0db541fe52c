"""The words of RediSearch's RESP3 replies that it sends as simple strings.

RediSearch 2.10 spells the map keys of FT.SEARCH, FT.AGGREGATE and FT.PROFILE replies,
and their ``format``, as RESP3 simple strings (``+results``, ``+id``,
``+extra_attributes``, ``+STRING``); documents' ids and fields stay bulk strings. Clients
parse both kinds alike, but the bytes are the peer's only with these
(``tests/server/test_resp3_words.py`` compares them).

They are :class:`store.replies.SimpleString`, a ``str``: a reply built here is read with
str keys (``reply["total_results"]``), as a RESP3 reply parsed from a shard
(``store.cluster.fanout``) is.
"""

from __future__ import annotations

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
