"""Numeric arguments on a real ``memvec server`` process: extreme values never cause an
internal error, and the refusals use the peer's texts (Redis 7.4, RediSearch 2.10).

Issue #14 items 6 and 7. Three layers:

* regression tests for the reported defects (``INITIAL_CAP 10000000`` allocating 420 MB
  past ``--maxmemory``, ``KNN 2^64`` / ``EF_RUNTIME 2^64`` / ``INITIAL_CAP 2^64`` answering
  ``internal error ... TypeError``, deadlines past 64 bits);
* every numeric argument of every command, from :data:`SHAPES` (one entry per command of
  the command table, checked by :func:`test_every_command_is_classified`), fed each of
  :data:`EXTREMES`, then hypothesis combinations of them;
* a bounded fuzz of random commands from the table with random arguments.

After each layer the server still answers PING and its log holds no traceback.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from store.commands.table import COMMANDS
from tests.server.test_process import ServerProcess

N = "{N}"  # where a numeric argument goes in a shape
EXTREMES = ["0", "-1", str(2**31), str(2**63 - 1), str(2**63), str(2**64), str(10**20),
            str(-(2**63) - 1), "1e400", "nan", "inf", "0x10", " 1", ""]  # fmt: skip
VEC = b"\0" * 8  # a DIM 2 FLOAT32 vector
KNN = ["FT.SEARCH", "base", N, "PARAMS", "2", "B", VEC, "DIALECT", "2"]
REDUCE = ["FT.AGGREGATE", "base", "*", "GROUPBY", "1", "@n", "REDUCE"]


def _vector(algo: str, attr: str) -> list[Any]:
    return ["FT.CREATE", "{IDX}", "SCHEMA", "v", "VECTOR", algo, "8", "TYPE", "FLOAT32",
            "DIM", "2", "DISTANCE_METRIC", "L2", attr, N]  # fmt: skip


# Issue #18 (strings, keys, bitmaps, DUMP/RESTORE): every one is compared with the peer.
ISSUE18_SHAPES: dict[str, list[list[Any]]] = {
    # MIGRATE's port, destination-db, timeout (port 1: nothing listens, an IOERR at once)
    "MIGRATE": [
        ["MIGRATE", "127.0.0.1", N, "k", "0", "100"],
        ["MIGRATE", "127.0.0.1", "1", "k", N, "100"],
        ["MIGRATE", "127.0.0.1", "1", "k", "0", N],
    ],
    "SETEX": [["SETEX", "k", N, "v"]],
    "PSETEX": [["PSETEX", "k", N, "v"]],
    "GETEX": [["GETEX", "k", opt, N] for opt in ("EX", "PX", "EXAT", "PXAT")],
    "GETRANGE": [["GETRANGE", "k", N, "1"], ["GETRANGE", "k", "0", N]],
    "SUBSTR": [["SUBSTR", "k", N, "1"]],
    "SETRANGE": [["SETRANGE", "k", N, "v"]],
    "LCS": [["LCS", "k", "n", "IDX", "MINMATCHLEN", N]],
    "COPY": [["COPY", "k", "n", "DB", N]],
    "MOVE": [["MOVE", "k", N]],
    "SWAPDB": [["SWAPDB", N, "0"], ["SWAPDB", "0", N]],
    "SETBIT": [["SETBIT", "k", N, "1"], ["SETBIT", "k", "0", N]],
    "GETBIT": [["GETBIT", "k", N]],
    "BITCOUNT": [["BITCOUNT", "k", N, "1"], ["BITCOUNT", "k", "0", N, "BIT"]],
    "BITPOS": [["BITPOS", "k", N], ["BITPOS", "k", "1", N, "2"], ["BITPOS", "k", "1", "0", N]],
    "BITFIELD": [
        ["BITFIELD", "k", "GET", "i8", N],
        ["BITFIELD", "k", "SET", "u8", "0", N],
        ["BITFIELD", "k", "INCRBY", "i8", "#1", N],
    ],
    "BITFIELD_RO": [["BITFIELD_RO", "k", "GET", "u8", N]],
    "HRANDFIELD": [["HRANDFIELD", "h", N], ["HRANDFIELD", "h", N, "WITHVALUES"]],
    "RESTORE": [
        ["RESTORE", "k", N, "x"],
        ["RESTORE", "k", "0", "x", "IDLETIME", N],
        ["RESTORE", "k", "0", "x", "FREQ", N],
    ],
    "RESTORE-ASKING": [
        ["RESTORE-ASKING", "k", N, "x"],
        ["RESTORE-ASKING", "k", "0", "x", "IDLETIME", N],
    ],
    **{name: [[name, "k", "LIMIT", N, "1"], [name, "k", "LIMIT", "0", N]]
       for name in ("SORT", "SORT_RO")},
}  # fmt: skip


# Every command of the table -> the calls that hold numeric arguments (N marks one). A
# command with none maps to []. {IDX} is replaced by a fresh index name.
SHAPES: dict[str, list[list[Any]]] = {
    "SET": [["SET", "k", "v", opt, N] for opt in ("EX", "PX", "EXAT", "PXAT")],
    "EXPIRE": [["EXPIRE", "k", N], ["EXPIRE", "k", N, "NX"]],
    "PEXPIRE": [["PEXPIRE", "k", N]],
    "EXPIREAT": [["EXPIREAT", "k", N]],
    "PEXPIREAT": [["PEXPIREAT", "k", N]],
    "INCRBY": [["INCRBY", "n", N]],
    "DECRBY": [["DECRBY", "n", N]],
    "INCRBYFLOAT": [["INCRBYFLOAT", "n", N]],
    "HINCRBY": [["HINCRBY", "h", "f", N]],
    "HINCRBYFLOAT": [["HINCRBYFLOAT", "h", "f", N]],
    "SCAN": [["SCAN", N], ["SCAN", "0", "COUNT", N]],
    "HSCAN": [["HSCAN", "h", N], ["HSCAN", "h", "0", "COUNT", N]],
    **ISSUE18_SHAPES,
    **{
        name: [[name, "h", N, "FIELDS", "1", "f"], [name, "h", "100", "FIELDS", N, "f"]]
        for name in ("HEXPIRE", "HPEXPIRE", "HEXPIREAT", "HPEXPIREAT")
    },
    **{
        name: [[name, "h", "FIELDS", N, "f"]]
        for name in ("HTTL", "HPTTL", "HEXPIRETIME", "HPEXPIRETIME", "HPERSIST")
    },
    "SELECT": [["SELECT", N]],
    "HELLO": [["HELLO", N]],
    "WAIT": [["WAIT", N, "1"]],  # a timeout of 0 or 2^63 ms would wait: not fed
    "CLIENT": [
        ["CLIENT", "KILL", "ID", N],
        ["CLIENT", "KILL", "MAXAGE", N],
        ["CLIENT", "LIST", "ID", N],
    ],
    "ACL": [["ACL", "GENPASS", N]],
    "SLOWLOG": [["SLOWLOG", "GET", N]],
    "MEMORY": [["MEMORY", "USAGE", "k", "SAMPLES", N]],
    "FT.CREATE": [
        *(_vector(a, "INITIAL_CAP") for a in ("HNSW", "FLAT")),
        [
            "FT.CREATE",
            "{IDX}",
            "SCHEMA",
            "v",
            "VECTOR",
            "FLAT",
            "6",
            "TYPE",
            "FLOAT32",
            "DIM",
            N,
            "DISTANCE_METRIC",
            "L2",
        ],
        _vector("FLAT", "BLOCK_SIZE"),
        *(_vector("HNSW", attr) for attr in ("M", "EF_CONSTRUCTION", "EF_RUNTIME", "EPSILON")),
        ["FT.CREATE", "{IDX}", "SCHEMA", "v", "VECTOR", "HNSW", N, "TYPE", "FLOAT32"],
        ["FT.CREATE", "{IDX}", "PREFIX", N, "a:", "SCHEMA", "t", "TEXT"],
        ["FT.CREATE", "{IDX}", "STOPWORDS", N, "a", "SCHEMA", "t", "TEXT"],
        ["FT.CREATE", "{IDX}", "SCORE", N, "SCHEMA", "t", "TEXT"],
        ["FT.CREATE", "{IDX}", "SCHEMA", "t", "TEXT", "WEIGHT", N],
    ],
    **{
        explain: [
            [explain, "base", "*=>[KNN " + N + " @v $B]", "PARAMS", "2", "B", VEC, "DIALECT", "2"],
            [explain, "base", "@n:[" + N + " +inf]"],
            [explain, "base", "*", "DIALECT", N],
        ]
        for explain in ("FT.EXPLAIN", "FT.EXPLAINCLI")
    },
    "FT.PROFILE": [
        ["FT.PROFILE", "base", "SEARCH", "QUERY", "*", "LIMIT", "0", N],
        [
            "FT.PROFILE",
            "base",
            "SEARCH",
            "LIMITED",
            "QUERY",
            "*=>[KNN " + N + " @v $B]",
            "PARAMS",
            "2",
            "B",
            VEC,
            "DIALECT",
            "2",
        ],
    ],
    "FT.ALTER": [["FT.ALTER", "base", "SCHEMA", "ADD", "w", "TEXT", "WEIGHT", N]],
    "FT.CONFIG": [["FT.CONFIG", "SET", "TIMEOUT", N], ["FT.CONFIG", "SET", "MINPREFIX", N]],
    "FT.SEARCH": [
        [*KNN[:2], "*=>[KNN " + N + " @v $B]", *KNN[3:]],
        [*KNN[:2], "*=>[KNN $K @v $B]", "PARAMS", "4", "B", VEC, "K", N, "DIALECT", "2"],
        [*KNN[:2], "*=>[KNN 3 @v $B EF_RUNTIME " + N + "]", *KNN[3:]],
        [*KNN[:2], "*=>[KNN 3 @v $B EF_RUNTIME $E]", "PARAMS", "4", "B", VEC, "E", N],
        [*KNN[:2], "@n:[1 2]=>[KNN 3 @v $B BATCH_SIZE $E]", "PARAMS", "4", "B", VEC, "E", N],
        [*KNN[:2], "@n:[1 2]=>[KNN " + N + " @v $B]", *KNN[3:]],
        [*KNN[:2], "@n:[1 2]=>[KNN $K @v $B]", "PARAMS", "4", "B", VEC, "K", N, "DIALECT", "2"],
        ["FT.SEARCH", "base", "@n:[" + N + " +inf]"],
        ["FT.SEARCH", "base", "@n:[$x 5]", "PARAMS", "2", "x", N, "DIALECT", "2"],
        ["FT.SEARCH", "base", "*", "LIMIT", N, "10"],
        ["FT.SEARCH", "base", "*", "LIMIT", "0", N],
        ["FT.SEARCH", "base", "*", "FILTER", "n", N, "+inf"],
        *(["FT.SEARCH", "base", "*", opt, N] for opt in ("TIMEOUT", "DIALECT", "SLOP")),
        *(["FT.SEARCH", "base", "*", opt, N, "n"] for opt in ("RETURN", "INKEYS", "INFIELDS")),
        ["FT.SEARCH", "base", "*", "PARAMS", N, "a", "b"],
    ],
    "FT.AGGREGATE": [
        ["FT.AGGREGATE", "base", "*", "LIMIT", N, "10"],
        ["FT.AGGREGATE", "base", "*", "LIMIT", "0", N],
        *(["FT.AGGREGATE", "base", "*", opt, N] for opt in ("TIMEOUT", "DIALECT")),
        ["FT.AGGREGATE", "base", "*", "LOAD", N, "@n"],
        ["FT.AGGREGATE", "base", "*", "SORTBY", "1", "@n", "MAX", N],
        *(["FT.AGGREGATE", "base", "*", "WITHCURSOR", opt, N] for opt in ("COUNT", "MAXIDLE")),
        [*REDUCE, "QUANTILE", "2", "@n", N],
        [*REDUCE, "RANDOM_SAMPLE", "2", "@n", N],
        ["FT.AGGREGATE", "base", "*", "APPLY", N, "AS", "x"],
    ],
    "FT.CURSOR": [["FT.CURSOR", "READ", "base", N], ["FT.CURSOR", "DEL", "base", N]],
    **{
        name: [["JSON.SET", "j", "$", N], [name, "j", "$.n", N], [name, "j", ".n", N]]
        for name in ("JSON.NUMINCRBY", "JSON.NUMMULTBY")
    },
    "JSON.SET": [["JSON.SET", "j", "$", N], ["JSON.SET", "j", "$.a", N]],
    "JSON.ARRINSERT": [["JSON.ARRINSERT", "j", "$.a", N, "1"]],
    "JSON.ARRINDEX": [
        ["JSON.ARRINDEX", "j", "$.a", "1", N],
        ["JSON.ARRINDEX", "j", "$.a", "1", "0", N],
    ],
    "JSON.ARRPOP": [["JSON.ARRPOP", "j", "$.a", N], ["JSON.ARRPOP", "j", ".a", N]],
    "JSON.ARRTRIM": [["JSON.ARRTRIM", "j", "$.a", N, "1"], ["JSON.ARRTRIM", "j", "$.a", "0", N]],
    **{name: [[name, "return #KEYS", N, "k"]] for name in ("EVAL", "EVAL_RO")},
    **{name: [[name, "a" * 40, N, "k"]] for name in ("EVALSHA", "EVALSHA_RO")},
    **{name: [[name, "nofunction", N, "k"]] for name in ("FCALL", "FCALL_RO")},
}
NO_NUMERIC = {
    "APPEND", "AUTH", "BGSAVE", "COMMAND", "CONFIG", "DBSIZE", "DECR", "DEL", "DISCARD",
    "ECHO", "EXEC", "EXISTS", "EXPIRETIME", "FAILOVER", "FLUSHALL", "FLUSHDB", "FT.DROPINDEX",
    "FT.INFO", "FT._LIST", "FT.ALIASADD", "FT.ALIASUPDATE", "FT.ALIASDEL", "FT.TAGVALS",
    "FT.SYNUPDATE", "FT.SYNDUMP", "GET", "GETDEL", "HDEL", "HEXISTS", "HGET", "HGETALL", "HKEYS",
    "HLEN", "HMGET", "HMSET", "HSET", "HSETNX", "HSTRLEN", "HVALS", "INCR", "INFO", "KEYS",
    "LASTSAVE", "MGET", "MODULE", "MSET", "MULTI", "PERSIST", "PING", "PSYNC", "PTTL", "QUIT",
    "REPLCONF", "REPLICAOF", "RESET", "ROLE", "SAVE", "SHUTDOWN", "SLAVEOF", "STRLEN", "TIME",
    "TTL", "TYPE", "UNLINK", "UNWATCH", "WATCH", "MONITOR", "LATENCY", "OBJECT",
    "SCRIPT", "FUNCTION",
    "SETNX", "GETSET", "MSETNX", "RENAME", "RENAMENX", "TOUCH", "RANDOMKEY", "PEXPIRETIME",
    "BITOP", "PFADD", "PFCOUNT", "PFMERGE", "DUMP", "PFDEBUG", "PFSELFTEST", "DEBUG",
}  # fmt: skip
NO_NUMERIC |= {
    "JSON.GET", "JSON.MGET", "JSON.MSET", "JSON.MERGE", "JSON.DEL", "JSON.FORGET", "JSON.TYPE",
    "JSON.STRAPPEND", "JSON.STRLEN", "JSON.ARRAPPEND", "JSON.ARRLEN", "JSON.OBJKEYS",
    "JSON.OBJLEN", "JSON.CLEAR", "JSON.TOGGLE", "JSON.RESP", "JSON.DEBUG",
}  # fmt: skip
# Cluster mode (off on these servers: "cluster support disabled"); CLUSTER COUNTKEYSINSLOT /
# GETKEYSINSLOT's numbers are compared with a valkey cluster node in tests/cluster.
NO_NUMERIC |= {"CLUSTER", "ASKING", "READONLY", "READWRITE"}
# FT.DEBUG GC_FORCEINVOKE idx [timeout]: the timeout is not read (RediSearch accepts "x")
NO_NUMERIC |= {"FT.DEBUG"}
# The coordinator's internal search commands (store/commands/search_shard.py): the counts
# of their statistics header, and _FT.STATS's query as FT.SEARCH's
SHAPES |= {
    "_FT.STATS": [["_FT.STATS", "base", "*=>[KNN " + N + " @v $B]", *KNN[3:]]],
    "_FT.SEARCH": [
        ["_FT.SEARCH", "base", N, "0", "0", "0", "0", "*"],
        ["_FT.SEARCH", "base", "1", "2", N, "t", "1", "0", "0", "*"],
        ["_FT.SEARCH", "base", "1", "2", "1", "t", N, "0", "0", "*"],
        ["_FT.SEARCH", "base", "1", "2", "0", N, "v", "x", "1", "0", "*"],
        ["_FT.SEARCH", "base", "1", "2", "0", "0", N, "t", "1", "f", "1", "*"],
        ["_FT.SEARCH", "base", "1", "2", "0", "0", "1", "t", N, "f", "1", "*"],
    ],
    "_FT.AGGREGATE": [["_FT.AGGREGATE", "base", "1", N, "0", "0", "0", "*"]],
}
# Lists, sets and streams. Blocking timeouts are not fed (0 waits forever, as WAIT's).
SHAPES |= {
    "LINDEX": [["LINDEX", "l", N]],
    "LRANGE": [["LRANGE", "l", N, "1"], ["LRANGE", "l", "0", N]],
    "LSET": [["LSET", "l", N, "v"]],
    "LTRIM": [["LTRIM", "l", N, "1"], ["LTRIM", "l", "0", N]],
    "LREM": [["LREM", "l", N, "x"]],
    "LPOS": [["LPOS", "l", "x", opt, N] for opt in ("RANK", "COUNT", "MAXLEN")],
    **{name: [[name, "l", N]] for name in ("LPOP", "RPOP")},
    "LMPOP": [["LMPOP", N, "l", "LEFT"], ["LMPOP", "1", "l", "LEFT", "COUNT", N]],
    "BLMPOP": [["BLMPOP", "0.01", N, "l", "LEFT"], ["BLMPOP", "0.01", "1", "l", "LEFT", "COUNT", N]],
    "SPOP": [["SPOP", "s", N]],
    "SRANDMEMBER": [["SRANDMEMBER", "s", N]],
    "SINTERCARD": [["SINTERCARD", N, "s"], ["SINTERCARD", "1", "s", "LIMIT", N]],
    "SSCAN": [["SSCAN", "s", N], ["SSCAN", "s", "0", "COUNT", N]],
    "XADD": [["XADD", "x", "MAXLEN", N, "*", "f", "v"], ["XADD", "x", N, "f", "v"]],
    "XTRIM": [["XTRIM", "x", "MAXLEN", N], ["XTRIM", "x", "MAXLEN", "~", "0", "LIMIT", N]],
    **{name: [[name, "x", "-", "+", "COUNT", N]] for name in ("XRANGE", "XREVRANGE")},
    "XREAD": [["XREAD", "COUNT", N, "STREAMS", "x", "0"]],
    "XREADGROUP": [["XREADGROUP", "GROUP", "g", "c", "COUNT", N, "STREAMS", "x", ">"]],
    "XPENDING": [["XPENDING", "x", "g", "-", "+", N], ["XPENDING", "x", "g", "IDLE", N, "-", "+", "1"]],
    "XCLAIM": [["XCLAIM", "x", "g", "c", N, "0-1"], ["XCLAIM", "x", "g", "c", "0", "0-1", "RETRYCOUNT", N]],
    "XAUTOCLAIM": [["XAUTOCLAIM", "x", "g", "c", N, "0-0"], ["XAUTOCLAIM", "x", "g", "c", "0", "0-0", "COUNT", N]],
    "XSETID": [["XSETID", "x", "1-1", "ENTRIESADDED", N]],
    "XGROUP": [["XGROUP", "CREATE", "x", "g2", "$", "MKSTREAM", "ENTRIESREAD", N]],
    "XINFO": [["XINFO", "STREAM", "x", "FULL", "COUNT", N]],
    **{name: [] for name in ("BLPOP", "BRPOP", "BLMOVE", "BRPOPLPUSH")},
}  # fmt: skip
# Sorted sets and geo.
SHAPES |= {
    "ZADD": [["ZADD", "z", N, "m"]],
    "ZINCRBY": [["ZINCRBY", "z", N, "m"]],
    **{name: [[name, "z", N, "+inf"], [name, "z", "-inf", N]]
       for name in ("ZCOUNT", "ZRANGEBYSCORE", "ZREMRANGEBYSCORE")},
    "ZREVRANGEBYSCORE": [["ZREVRANGEBYSCORE", "z", N, "-inf"]],
    **{name: [[name, "z", N, "1"], [name, "z", "0", N]]
       for name in ("ZRANGE", "ZREVRANGE", "ZREMRANGEBYRANK")},
    "ZRANGESTORE": [["ZRANGESTORE", "d", "z", N, "1"]],
    **{name: [[name, "z", "-", "+", "LIMIT", N, "1"]] for name in ("ZRANGEBYLEX",)},
    "ZREVRANGEBYLEX": [["ZREVRANGEBYLEX", "z", "+", "-", "LIMIT", "0", N]],
    **{name: [[name, "z", N]] for name in ("ZPOPMIN", "ZPOPMAX", "ZRANDMEMBER")},
    **{name: [[name, N, "z"], [name, "1", "z", "WEIGHTS", N]] for name in ("ZUNION", "ZINTER")},
    "ZDIFF": [["ZDIFF", N, "z"]],
    "ZINTERCARD": [["ZINTERCARD", N, "z"], ["ZINTERCARD", "1", "z", "LIMIT", N]],
    **{name: [[name, "d", N, "z"]] for name in ("ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE")},
    "ZMPOP": [["ZMPOP", N, "z", "MIN"], ["ZMPOP", "1", "z", "MIN", "COUNT", N]],
    "BZMPOP": [["BZMPOP", "0.01", N, "z", "MIN"]],
    "ZSCAN": [["ZSCAN", "z", N], ["ZSCAN", "z", "0", "COUNT", N]],
    "GEOADD": [["GEOADD", "g", N, "1", "m"], ["GEOADD", "g", "1", N, "m"]],
    "GEOSEARCH": [["GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYRADIUS", N, "m"],
                  ["GEOSEARCH", "g", "FROMLONLAT", N, "0", "BYBOX", "1", "1", "km", "COUNT", "1"],
                  ["GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "m", "COUNT", N]],
    "GEOSEARCHSTORE": [["GEOSEARCHSTORE", "d", "g", "FROMLONLAT", "0", "0", "BYRADIUS", N, "m"]],
    **{name: [[name, "g", "0", "0", N, "m"]] for name in ("GEORADIUS", "GEORADIUS_RO")},
    **{name: [[name, "g", "m", N, "m"]] for name in ("GEORADIUSBYMEMBER", "GEORADIUSBYMEMBER_RO")},
    **{name: [] for name in ("BZPOPMIN", "BZPOPMAX")},
}  # fmt: skip
NO_NUMERIC |= {
    "ZCARD", "ZLEXCOUNT", "ZMSCORE", "ZRANK", "ZREM", "ZREMRANGEBYLEX", "ZREVRANK", "ZSCORE",
    "GEODIST", "GEOHASH", "GEOPOS",
}  # fmt: skip
NO_NUMERIC |= {
    "PSUBSCRIBE", "PUBLISH", "PUBSUB", "PUNSUBSCRIBE", "SPUBLISH", "SSUBSCRIBE", "SUBSCRIBE",
    "SUNSUBSCRIBE", "UNSUBSCRIBE",
    "LLEN", "LPUSH", "LPUSHX", "RPUSH", "RPUSHX", "LINSERT", "LMOVE", "RPOPLPUSH", "SADD",
    "SCARD", "SDIFF", "SDIFFSTORE", "SINTER", "SINTERSTORE", "SISMEMBER", "SMEMBERS",
    "SMISMEMBER", "SMOVE", "SREM", "SUNION", "SUNIONSTORE", "XACK", "XDEL", "XLEN",
}  # fmt: skip
# Not fuzzed with random arguments: they end the connection or the process, make the
# server a replica, block, or change how the connection's later replies look; MIGRATE
# connects to whatever address it is given.
NOT_FUZZED = {"SHUTDOWN", "QUIT", "RESET", "REPLICAOF", "SLAVEOF", "FAILOVER", "PSYNC",
              "REPLCONF", "WAIT", "MULTI", "HELLO", "CLIENT", "ACL", "CONFIG", "AUTH",
              "FLUSHALL", "FLUSHDB", "SAVE", "BGSAVE", "WATCH", "MONITOR",
              "BLPOP", "BRPOP", "BLMOVE", "BRPOPLPUSH", "BLMPOP", "XREAD", "XREADGROUP",
              "BZPOPMIN", "BZPOPMAX", "BZMPOP",
              "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE",
              "SUNSUBSCRIBE",
              "MIGRATE"}  # fmt: skip

TRACEBACK = re.compile(r"Traceback|internal error|failed unexpectedly", re.I)


class Checked:
    """A server process and a client that fails the test on any internal error."""

    def __init__(self, proc: ServerProcess) -> None:
        self.proc = proc
        self.r = proc.client(socket_timeout=20)
        self.indexes = itertools.count()

    def call(self, *args: Any) -> Any:
        """The reply, or the error text for an error reply; never an internal error."""
        args = tuple(f"idx{next(self.indexes)}" if a == "{IDX}" else a for a in args)
        try:
            reply: Any = self.r.execute_command(*args)
        except redis.ResponseError as exc:
            reply = str(exc)
            assert "internal error" not in reply, f"{args!r} -> {reply}"
        created = args[0] == "FT.CREATE" and len(args) > 1 and str(args[1]).startswith("idx")
        if created and reply in (b"OK", True):
            self.r.execute_command("FT.DROPINDEX", args[1])
        return reply

    def assert_healthy(self) -> None:
        assert self.r.ping()
        log = "".join(self.proc.stderr)
        assert not TRACEBACK.search(log), log[-4000:]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Checked]:
    # No output limit (Redis's default): a random SETBIT or SETRANGE can make a 256 MB value
    # that a later random command returns whole, and memvec's default 256 MB hard limit
    # would then cut this client (the limit doing its job, not what this test checks)
    proc = ServerProcess(tmp_path_factory.mktemp("numeric"), "--appendfsync", "no",
                         "--client-output-buffer-limit", "normal 0 0 0")  # fmt: skip
    try:
        checked = Checked(proc)
        checked.call("FT.CREATE", "base", "SCHEMA", "v", "VECTOR", "HNSW", "6", "TYPE",
                     "FLOAT32", "DIM", "2", "DISTANCE_METRIC", "L2", "n", "NUMERIC")  # fmt: skip
        checked.call("HSET", "d1", "v", VEC, "n", "1")
        yield checked
        checked.assert_healthy()
    finally:
        proc.ensure_dead()


def fill(shape: list[Any], values: Iterator[str]) -> list[Any]:
    out: list[Any] = []
    for arg in shape:
        if isinstance(arg, str) and N in arg:
            arg = arg.replace(N, next(values))
        out.append(arg)
    return out


def test_every_command_is_classified() -> None:
    """A new command must say where its numeric arguments are (or that it has none)."""
    assert set(COMMANDS) <= set(SHAPES) | NO_NUMERIC, set(COMMANDS) - set(SHAPES) - NO_NUMERIC
    assert not set(SHAPES) & NO_NUMERIC


# --- the reported defects ---------------------------------------------------------------


def test_huge_knn_and_ef_runtime_are_answered(server: Checked) -> None:
    for k in (str(2**64), str(10**20)):
        reply = server.call("FT.SEARCH", "base", f"*=>[KNN {k} @v $B]", "PARAMS", "2", "B", VEC,
                            "DIALECT", "2", "RETURN", "0")  # fmt: skip
        assert not isinstance(reply, str), reply  # RediSearch answers too
    reply = server.call("FT.SEARCH", "base", "*=>[KNN $K @v $B]", "PARAMS", "4", "B", VEC, "K",
                        str(2**64), "DIALECT", "2")  # fmt: skip
    assert reply == f"Invalid numeric value ({2**64}) for parameter `K`"
    reply = server.call("FT.SEARCH", "base", f"*=>[KNN 3 @v $B EF_RUNTIME {2**64}]", "PARAMS",
                        "2", "B", VEC, "DIALECT", "2")  # fmt: skip
    assert reply == "Error parsing vector similarity parameters: Invalid value was given"
    server.assert_healthy()


def test_initial_cap_beyond_64_bits_is_refused_with_the_peer_text(server: Checked) -> None:
    for value in (str(2**64), str(10**20)):
        reply = server.call(*fill(_vector("HNSW", "INITIAL_CAP"), iter([value])))
        assert reply == (
            "Bad arguments for vector similarity HNSW index initial cap: "
            "Could not convert argument to expected type"
        )
    reply = server.call(*fill(_vector("FLAT", "BLOCK_SIZE"), iter([str(10**15)])))
    assert re.fullmatch(
        r"Vector index initial capacity 1000000000000000 exceeded server limit "
        r"\(\d+ with the given parameters\)",
        str(reply),
    )
    server.assert_healthy()


def test_infinite_float_increments_are_refused(server: Checked) -> None:
    assert server.call("INCRBYFLOAT", "n", "inf") == "increment would produce NaN or Infinity"
    assert server.call("INCRBYFLOAT", "n", "1e5000") == "value is not a valid float"
    assert server.call("HINCRBYFLOAT", "h", "f", "inf") == "value is NaN or Infinity"
    server.assert_healthy()


def test_deadlines_past_64_bits_are_refused(server: Checked) -> None:
    for args, command in (
        (["EXPIRE", "k", str(2**62)], "expire"),
        (["PEXPIRE", "k", str(2**63 - 1)], "pexpire"),
        (["SET", "k", "v", "EX", str(2**62)], "set"),
    ):
        server.call("SET", "k", "v")
        assert server.call(*args) == f"invalid expire time in '{command}' command"
    server.assert_healthy()


def test_initial_cap_costs_no_memory_up_front_and_follows_maxmemory(tmp_path: Path) -> None:
    """``INITIAL_CAP 10000000`` cost 420 MB at once, past ``--maxmemory 100mb``."""
    proc = ServerProcess(tmp_path, "--maxmemory", "100mb")
    try:
        server = Checked(proc)
        before = int(server.r.info("memory")["used_memory_rss"])
        # RediSearch's limit with maxmemory 100mb, DIM 2, M 16: 10485760 // 227 = 46192
        assert server.call(*fill(_vector("HNSW", "INITIAL_CAP"), iter(["10000000"]))) == (
            "Vector index initial capacity 10000000 exceeded server limit "
            "(46192 with the given parameters)"
        )
        assert server.call(*fill(_vector("HNSW", "INITIAL_CAP"), iter(["46192"]))) == b"OK"
        assert server.call("FT.CREATE", "big", "SCHEMA", "v", "VECTOR", "HNSW", "8", "TYPE",
                           "FLOAT32", "DIM", "2", "DISTANCE_METRIC", "L2", "INITIAL_CAP",
                           "46192") == b"OK"  # fmt: skip
        after = int(server.r.info("memory")["used_memory_rss"])
        assert after - before < 20 * 2**20, (before, after)
        server.assert_healthy()
    finally:
        proc.ensure_dead()


# --- every numeric argument, every extreme value ----------------------------------------

ALL_SHAPES = [shape for shapes in SHAPES.values() for shape in shapes]


def test_every_numeric_argument_takes_every_extreme(server: Checked) -> None:
    for shape in ALL_SHAPES:
        for value in EXTREMES:
            server.call(*fill(shape, itertools.repeat(value)))
    server.assert_healthy()


NUMBERS = st.one_of(
    st.sampled_from(EXTREMES),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True).map(repr),
    st.text(alphabet="0123456789+-. exEinfa", max_size=12),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(shape=st.sampled_from(ALL_SHAPES), values=st.lists(NUMBERS, min_size=1, max_size=3))
def test_numeric_arguments_property(server: Checked, shape: list[Any], values: list[str]) -> None:
    server.call(*fill(shape, itertools.cycle(values)))


def test_numeric_arguments_leave_the_server_healthy(server: Checked) -> None:
    server.assert_healthy()


# --- random commands from the table ---------------------------------------------------------

FUZZED = sorted(name for name in COMMANDS if name not in NOT_FUZZED)
WORDS = ["k", "h", "n", "base", "v", "f", "*", "EX", "PX", "NX", "XX", "GET", "COUNT", "MATCH",
         "TYPE", "LIMIT", "PARAMS", "KNN", "SCHEMA", "VECTOR", "HNSW", "FLAT", "TEXT", "TAG",
         "NUMERIC", "PREFIX", "DD", "RETURN", "SORTBY", "DIALECT", "@n:[1 2]", "*=>[KNN 2 @v $B]",
         "B", "$B"]  # fmt: skip
ARG = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(EXTREMES),
    st.integers(min_value=-(2**65), max_value=2**65).map(str),
    st.binary(max_size=16),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.sampled_from(FUZZED), args=st.lists(ARG, max_size=8))
def test_random_commands_from_the_table(server: Checked, name: str, args: list[Any]) -> None:
    assume(name != "FT.DROPINDEX" or "base" not in args)  # later tests search it
    server.call(name, *args)


def test_random_commands_leave_the_server_healthy(server: Checked) -> None:
    server.assert_healthy()


# --- the same refusals as the peer ----------------------------------------------------------

SAME_AS_PEER = [
    _vector("HNSW", "INITIAL_CAP"),
    _vector("FLAT", "INITIAL_CAP"),
    _vector("FLAT", "BLOCK_SIZE"),
    _vector("HNSW", "M"),
    _vector("HNSW", "EF_RUNTIME"),
    [*KNN[:2], "*=>[KNN $K @v $B]", "PARAMS", "4", "B", VEC, "K", N, "DIALECT", "2"],
    ["FT.SEARCH", "base", "*", "LIMIT", N, "10"],
    ["FT.SEARCH", "base", "*", "SLOP", N],
    ["FT.SEARCH", "base", "*", "PARAMS", N, "a", "b"],
    ["SET", "k", "v", "EX", N],
    ["EXPIRE", "k", N],
    ["PEXPIRE", "k", N],
    ["INCRBY", "n", N],
    ["INCRBYFLOAT", "n", N],
    ["HINCRBYFLOAT", "h", "f", N],
    ["SCAN", "0", "COUNT", N],
    ["FT.AGGREGATE", "base", "*", "LIMIT", N, "10"],
    ["FT.AGGREGATE", "base", "*", "SORTBY", "1", "@n", "MAX", N],
    *(["FT.AGGREGATE", "base", "*", "WITHCURSOR", opt, N] for opt in ("COUNT", "MAXIDLE")),
    [*REDUCE, "QUANTILE", "2", "@n", N],
    [*REDUCE, "RANDOM_SAMPLE", "2", "@n", N],
    ["FT.CURSOR", "READ", "base", N],
    *(shape for shapes in ISSUE18_SHAPES.values() for shape in shapes),
]
PEER_VALUES = ["-1", str(2**62), str(2**63 - 1), str(2**63), str(2**64), str(10**15), "inf"]
FLOAT_VALUES = ["0x10", "-0x1.8p1", " 1", "1 ", "1_0", "nan", "-inf", "1e308"]
# Where memvec answers differently on purpose: M and EF_RUNTIME have MemoryDB's upper
# bounds (MAX_M, MAX_EF), which RediSearch does not have.
KNOWN_DIFFERENCES = {
    (attr, value) for attr in ("M", "EF_RUNTIME") for value in (str(2**62), str(10**15))
}


def _error(client: Any, args: list[Any]) -> str:
    try:
        client.execute_command(*args)
    except redis.ResponseError as exc:
        return str(exc)
    finally:
        if args[0] == "FT.CREATE":
            try:
                client.execute_command("FT.DROPINDEX", args[1])
            except redis.ResponseError:
                pass
        client.delete("k", "n", "h")
    return "OK"


def test_refusals_match_the_peer(server: Checked, redis_stack: Any) -> None:
    """The texts of these refusals are RediSearch 2.10's and Valkey's, measured live."""
    peer = redis_stack.client()
    try:
        peer.execute_command("FT.CREATE", "base", "SCHEMA", "v", "VECTOR", "HNSW", "6", "TYPE",
                             "FLOAT32", "DIM", "2", "DISTANCE_METRIC", "L2", "n", "NUMERIC")  # fmt: skip
        differences = []
        for shape in SAME_AS_PEER:
            floats = FLOAT_VALUES if shape[0].endswith("FLOAT") else []
            for value in PEER_VALUES + floats:
                args = fill(shape, itertools.repeat(value))
                if args[0] == "FT.CREATE":
                    args[1] = f"peer{next(server.indexes)}"
                if any(word in args and v == value for word, v in KNOWN_DIFFERENCES):
                    continue
                ours, theirs = _error(server.r, args), _error(peer, args)
                if ours != theirs:
                    differences.append((args, ours, theirs))
        assert not differences, "\n".join(map(repr, differences))
    finally:
        peer.execute_command("FT.DROPINDEX", "base")
        peer.close()


SERVER_SHAPES = [
    ["SELECT", N],
    ["WAIT", N, "1"],
    ["CONFIG", "SET", "maxmemory", N],
    ["CONFIG", "SET", "timeout", N],
    ["CONFIG", "SET", "maxclients", N],
    ["CLIENT", "KILL", "MAXAGE", N],
    ["CLIENT", "KILL", "ID", N],
    ["HELLO", N],
    ["ACL", "GENPASS", N],
    ["ACL", "LOG", N],
    ["FAILOVER", "TIMEOUT", N],
    ["WAIT", "1", N],
]


def test_connection_command_refusals_match_the_peer(server: Checked, redis_stack: Any) -> None:
    """Connection-scoped commands (store/server) read integers like every other command."""
    peer = redis_stack.client(socket_timeout=5)
    ours = server.proc.client(socket_timeout=5)
    try:
        differences = []
        for shape in SERVER_SHAPES:
            args = fill(shape, itertools.repeat(str(2**64)))
            mine, theirs = _error(ours, args), _error(peer, args)
            if mine != theirs:
                differences.append((args, mine, theirs))
        assert not differences, "\n".join(map(repr, differences))
    finally:
        peer.close()
        ours.close()
