"""A hypothesis state machine over documents and FT.* queries, memvec against the peer,
raw RESP replies compared (issue #20 item 10).

Random sequences of HSET (whole documents, partial updates, vectors of the wrong size,
numbers that do not parse), HDEL, DEL, EXPIRE/PERSIST (whole seconds) and EXPIRE 0, MULTI/
EXEC, FT.ALTER-free index life (the index is created once, then documents come and go
under it) interleaved with FT.SEARCH (KNN with and without pre-filters, tag, numeric,
text and negated queries, LIMIT, RETURN, NOCONTENT), FT.AGGREGATE (GROUPBY + REDUCE
COUNT/SUM, APPLY + FILTER), scored text queries (WITHSCORES under four scorers) and
FT.INFO's document and failure counts. Scores are compared while no document has been
written twice or deleted: RediSearch re-indexes a rewritten document under a new id and
its term statistics keep the superseded or deleted postings (docs/compatibility.md). Every reply is read raw from both
servers and compared exactly, but for two things the peer itself does not fix:

* vector distances are compared to 1e-5 (the peer's float32 SIMD kernels and memvec's
  numpy round the last bits differently; the texts agree to ~6 digits);
* queries whose order the peer leaves undefined sort on a unique field (``SORTBY u``), and
  KNN sorts by the distance (documented: without SORTBY the peer's KNN order is its doc
  ids', memvec's nearest first). Vectors are drawn per (document, version), so two
  documents never tie.

One memvec server per module, RESP2 (RESP3's FT.SEARCH maps are compared through the same
fields by the other differential tests).
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import numpy as np
import redis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from store.server import ServerThread
from tests.harness.components import RedisStack, wait_index_scanned
from tests.server.conftest import RawClient

DIM = 4
DOCS = 8
TAGS = st.sampled_from(["red", "green", "blue", "red,blue", ""])
WORDS = ["alpha", "beta", "gamma", "delta", "omega"]


def encode(*args: object) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        data = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(out)


def parse(raw: bytes) -> Any:
    """A RESP2 reply as nested lists of bytes / ints / ('err', text)."""

    def at(i: int) -> tuple[Any, int]:
        end = raw.index(b"\r\n", i)
        kind, line = raw[i : i + 1], raw[i + 1 : end]
        if kind == b"+":
            return line, end + 2
        if kind == b"-":
            return ("err", line), end + 2
        if kind == b":":
            return int(line), end + 2
        if kind == b"$":
            n = int(line)
            if n < 0:
                return None, end + 2
            return raw[end + 2 : end + 2 + n], end + 4 + n
        if kind == b"*":
            n = int(line)
            if n < 0:
                return None, end + 2
            items, j = [], end + 2
            for _ in range(n):
                item, j = at(j)
                items.append(item)
            return items, j
        raise AssertionError(f"not RESP2: {raw[i : i + 20]!r}")

    value, _ = at(0)
    return value


def same(mine: Any, theirs: Any, distances: bool) -> bool:
    """Equal, but (with ``distances``) numbers that parse as floats equal to 1e-5."""
    if isinstance(mine, list) and isinstance(theirs, list):
        return len(mine) == len(theirs) and all(
            same(a, b, distances) for a, b in zip(mine, theirs, strict=True)
        )
    if distances and isinstance(mine, bytes) and isinstance(theirs, bytes) and mine != theirs:
        try:
            return math.isclose(float(mine), float(theirs), abs_tol=1e-5)
        except ValueError:
            return False
    return bool(mine == theirs)


def vector(doc: int, version: int, dim: int = DIM) -> bytes:
    rng = np.random.default_rng(doc * 1000 + version)
    return rng.standard_normal(dim).astype(np.float32).tobytes()


def test_documents_and_queries_answer_as_the_peer(
    memvec: ServerThread, redis_stack: RedisStack
) -> None:
    prefix = f"sm{uuid.uuid4().hex[:8]}:"
    index = f"idx-{prefix[:-1]}"
    names = [f"{prefix}{i}".encode() for i in range(DOCS)]
    docs = st.integers(0, DOCS - 1)
    clients = [RawClient(memvec.port, timeout_s=20), RawClient(redis_stack.port, timeout_s=20)]

    def both(*args: object) -> list[bytes]:
        for c in clients:
            c.send(encode(*args))
        return [c.read_reply() for c in clients]

    schema = [
        "FT.CREATE", index, "ON", "HASH", "PREFIX", "1", prefix, "SCHEMA",
        "tag", "TAG", "n", "NUMERIC", "u", "NUMERIC", "SORTABLE", "t", "TEXT",
        "v", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", str(DIM), "DISTANCE_METRIC", "L2",
    ]  # fmt: skip
    peer = redis.Redis(port=redis_stack.port)

    class Machine(RuleBasedStateMachine):
        @initialize()
        def clean(self) -> None:
            """A new index for every example: FT.INFO's failure counts are cumulative."""
            both("FT.DROPINDEX", index)
            self.check("DEL", *names)
            mine, theirs = both(*schema)
            assert mine == theirs == b"+OK\r\n", (mine, theirs)
            wait_index_scanned(peer, index)
            # a document written again is re-indexed; RediSearch's term statistics keep
            # the superseded postings (until its GC runs), so text scores then differ
            self.writes = [0] * DOCS

        def wrote(self, d: int, deleted: bool = False) -> None:
            self.writes[d] += 2 if deleted else 1  # a deletion leaves postings behind too

        def check(self, *args: object, distances: bool = False) -> Any:
            mine, theirs = both(*args)
            shown = b" ".join(a if isinstance(a, bytes) else str(a).encode() for a in args)
            if mine != theirs:
                a, b = parse(mine), parse(theirs)
                assert same(a, b, distances), f"{shown!r}:\n memvec {mine!r}\n peer   {theirs!r}"
            return parse(mine)

        # -- documents ------------------------------------------------------------------
        @rule(d=docs, version=st.integers(0, 50), tag=TAGS, n=st.integers(-5, 5),
              words=st.lists(st.sampled_from(WORDS), max_size=3))  # fmt: skip
        def put(self, d: int, version: int, tag: str, n: int, words: list[str]) -> None:
            self.wrote(d)
            self.check(
                "HSET", names[d], "tag", tag, "n", n, "u", d, "t", " ".join(words),
                "v", vector(d, version),
            )  # fmt: skip

        @rule(d=docs, field=st.sampled_from(["tag", "n", "t"]), value=st.sampled_from(
            ["blue", "7", "beta gamma", "not-a-number", ""]))  # fmt: skip
        def update(self, d: int, field: str, value: str) -> None:
            self.wrote(d)
            self.check("HSET", names[d], field, value)

        @rule(d=docs, dim=st.sampled_from([2, 8]))
        def bad_vector(self, d: int, dim: int) -> None:
            self.wrote(d)
            self.check("HSET", names[d], "u", d, "v", vector(d, 0, dim))

        @rule(d=docs, field=st.sampled_from(["tag", "n", "t", "v"]))
        def remove_field(self, d: int, field: str) -> None:
            self.wrote(d)
            self.check("HDEL", names[d], field)

        @rule(d=docs)
        def delete(self, d: int) -> None:
            self.wrote(d, deleted=True)
            self.check("DEL", names[d])

        @rule(d=docs, seconds=st.sampled_from([0, 500]))
        def expire(self, d: int, seconds: int) -> None:
            if seconds == 0:
                self.wrote(d, deleted=True)
            self.check("EXPIRE", names[d], seconds)
            self.check("PERSIST", names[d])

        @rule(a=docs, b=docs, version=st.integers(0, 50))
        def transaction(self, a: int, b: int, version: int) -> None:
            self.wrote(a)
            self.wrote(b, deleted=True)
            self.check("MULTI")
            self.check("HSET", names[a], "u", a, "tag", "green", "v", vector(a, version))
            self.check("DEL", names[b])
            self.check("EXEC")

        # -- queries --------------------------------------------------------------------
        @rule(
            k=st.integers(1, 5),
            probe=st.integers(0, 10_000),
            pre=st.sampled_from(["*", "@tag:{red}", "@n:[-2 3]", "-@tag:{blue}", "@t:beta"]),
        )
        def knn(self, k: int, probe: int, pre: str) -> None:  # fmt: skip
            q = np.random.default_rng(probe).standard_normal(DIM).astype(np.float32).tobytes()
            self.check(
                "FT.SEARCH", index, f"({pre})=>[KNN {k} @v $q AS d]", "PARAMS", "2", "q", q,
                "SORTBY", "d", "RETURN", "2", "u", "d", "DIALECT", "2", distances=True,
            )  # fmt: skip

        @rule(
            query=st.sampled_from(
                [
                    "*",
                    "@tag:{red}",
                    "@tag:{red|green}",
                    "-@tag:{red}",
                    "@n:[-1 2]",
                    "@n:[(0 +inf]",
                    "@t:alpha",
                    "@t:(beta|omega)",
                    "@tag:{blue} @n:[-5 0]",
                    "@t:gamma -@tag:{green}",
                ]
            ),
            offset=st.integers(0, 3),
            num=st.integers(0, 5),
            nocontent=st.booleans(),
        )
        def search(self, query: str, offset: int, num: int, nocontent: bool) -> None:  # fmt: skip
            shape = ["NOCONTENT"] if nocontent else ["RETURN", "3", "u", "tag", "n"]
            self.check("FT.SEARCH", index, query, *shape, "SORTBY", "u", "LIMIT", offset, num,
                       "DIALECT", "2")  # fmt: skip

        @rule(query=st.sampled_from(["@t:alpha", "@t:(beta|gamma)", "alpha -omega", "delta"]),
              scorer=st.sampled_from(["TFIDF", "BM25STD", "TFIDF.DOCNORM", "DISMAX"]),
              desc=st.booleans())  # fmt: skip
        def scored(self, query: str, scorer: str, desc: bool) -> None:
            scores = ["WITHSCORES"] if max(self.writes) <= 1 else []
            self.check(
                "FT.SEARCH", index, query, *scores, "SCORER", scorer, "NOCONTENT",
                "SORTBY", "u", "DESC" if desc else "ASC", "DIALECT", "2", distances=True,
            )  # fmt: skip

        @rule(factor=st.integers(-2, 3), floor=st.integers(-3, 8))
        def apply_filter(self, factor: int, floor: int) -> None:
            self.check(
                "FT.AGGREGATE", index, "*", "LOAD", "2", "@u", "@n", "APPLY", f"@u*{factor}",
                "AS", "x", "FILTER", f"@x>={floor}", "SORTBY", "2", "@u", "ASC", "DIALECT", "2",
            )  # fmt: skip

        @rule(query=st.sampled_from(["*", "@n:[-5 5]", "-@tag:{green}"]))
        def aggregate(self, query: str) -> None:
            self.check(
                "FT.AGGREGATE", index, query, "LOAD", "1", "@u", "GROUPBY", "1", "@tag",
                "REDUCE", "COUNT", "0", "AS", "c", "REDUCE", "SUM", "1", "@u", "AS", "s",
                "SORTBY", "2", "@tag", "ASC", "DIALECT", "2",
            )  # fmt: skip

        @rule()
        def counts(self) -> None:
            mine, theirs = both("FT.INFO", index)
            a, b = parse(mine), parse(theirs)
            wanted = (b"num_docs", b"hash_indexing_failures")
            pick = [{x[i]: x[i + 1] for i in range(0, len(x), 2) if x[i] in wanted} for x in (a, b)]
            assert pick[0] == pick[1], pick

    machine_settings = settings(
        max_examples=50,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    try:
        run_state_machine_as_test(Machine, settings=machine_settings)
    finally:
        peer.close()
        both("FT.DROPINDEX", index, "DD")
        both("DEL", *names)
        for c in clients:
            c.close()
