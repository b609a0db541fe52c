"""RESP3 search replies byte for byte against the peer (store.commands.search_words).

RediSearch 2.10 sends the words of its reply maps (``+results``, ``+id``,
``+extra_attributes``, ``+STRING``, a profile's keys and types) as simple strings and a
document's ids and fields as bulk strings; FT.TAGVALS and FT._LIST answer sets. Clients
parse both string kinds alike, so only the raw bytes show the difference: each reply
here is read off a socket from memvec and from redis-stack-server and compared whole,
after a HELLO 3 on each. The KNN shapes are sent twice, so a kept plan's page
(store.commands.knn_plans) answers the second.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import numpy as np

from store.resp import encode_command
from store.server import ServerThread
from tests.harness.components import RedisStack
from tests.server.conftest import RawClient

_PROFILE_TIME = re.compile(rb"\+Total profile time\r\n,[^\r]*\r\n")


def _hello3(c: RawClient) -> None:
    c.send(encode_command("HELLO", "3"))
    assert c.read_reply().startswith(b"%")


def test_search_replies_spell_their_words_as_the_peer(
    server: ServerThread, raw: Callable[[int], RawClient], redis_stack: RedisStack
) -> None:
    p = f"w{uuid.uuid4().hex[:8]}"
    idx = f"{p}i"
    mine, theirs = raw(server.port), raw(redis_stack.port)
    for c in (mine, theirs):
        _hello3(c)

    def both(*args: object) -> tuple[bytes, bytes]:
        frame = encode_command(*args)  # type: ignore[arg-type]
        mine.send(frame)
        theirs.send(frame)
        return mine.read_reply(), theirs.read_reply()

    def same(*args: object) -> bytes:
        got, want = both(*args)
        assert got == want, f"{args[:3]}: {got!r} != {want!r}"
        return got

    vectors = np.random.default_rng(3).standard_normal((6, 4)).astype(np.float32)
    try:
        same("FT.CREATE", idx, "ON", "HASH", "PREFIX", "1", f"{p}:", "SCHEMA", "t", "TAG",
             "n", "NUMERIC", "SORTABLE", "v", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32",
             "DIM", "4", "DISTANCE_METRIC", "L2")  # fmt: skip
        for i, vec in enumerate(vectors):
            same("HSET", f"{p}:{i}", "t", "ab"[i % 2], "n", str(i), "v", vec.tobytes())
        q = vectors[0].tobytes()
        knn = ("FT.SEARCH", idx, "*=>[KNN 4 @v $q AS dist]", "PARAMS", "2", "q", q)
        for tail in (
            ("SORTBY", "dist", "ASC", "RETURN", "2", "t", "dist"),  # RedisVL's page
            ("SORTBY", "dist", "RETURN", "1", "n"),  # (the peer's order is the
            ("NOCONTENT", "SORTBY", "dist"),  # distance's only when sorted by it)
            ("SORTBY", "dist", "LIMIT", "1", "2"),
        ):
            for _ in range(2):
                same(*knn, *tail, "DIALECT", "2")
        same("FT.SEARCH", idx, "@t:{a}", "WITHSCORES", "RETURN", "1", "n")
        same("FT.SEARCH", idx, "@t:{b}", "WITHSORTKEYS", "SORTBY", "n", "DESC", "RETURN", "1", "t")
        same("FT.SEARCH", idx, "@n:[100 200]")
        same("FT.AGGREGATE", idx, "*", "GROUPBY", "1", "@t", "REDUCE", "COUNT", "0", "AS", "c",
             "SORTBY", "2", "@t", "ASC")  # fmt: skip
        same("FT.AGGREGATE", idx, "@t:{a}", "LOAD", "1", "@n", "SORTBY", "2", "@n", "ASC")
        same("FT.TAGVALS", idx, "t")
        got, want = both("FT.PROFILE", idx, "SEARCH", "QUERY", "@t:{a}", "NOCONTENT")
        assert _PROFILE_TIME.sub(b"", got) == _PROFILE_TIME.sub(b"", want)
        assert b"+profile\r\n" in got  # (the profile's time is each server's own)
        got, want = both("FT._LIST")  # the peer's may hold other tests' indexes too
        assert got[:1] == want[:1] == b"~"
        assert f"+{idx}\r\n".encode() in got and f"+{idx}\r\n".encode() in want
    finally:
        both("FT.DROPINDEX", idx, "DD")
