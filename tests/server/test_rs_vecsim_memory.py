"""Memory-side causes in RediSearch's ``test_vecsim.py`` (issue #20 item 9): INFO
``used_memory`` counting the server's startup overhead (its tests set ``maxmemory`` to 5 x
``used_memory``), ``FT.CONFIG SET/GET VSS_MAX_RESIZE`` and the vector index limits it and
``maxmemory`` set (compared with the peer), and ``DEBUG RELOAD`` (``env.dumpAndReload()``;
the shared peer does not enable DEBUG, so memvec's replies are checked against the state
before the reload).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import redis

from store.engine import STARTUP_MEMORY_BYTES
from store.server import ServerThread
from tests.harness.components import RedisStack
from tests.server.conftest import RawClient
from tests.server.test_differential import Pair, call, connected_pair


@pytest.fixture
def pair(memvec: ServerThread, redis_stack: RedisStack) -> Iterator[Pair]:
    with connected_pair(memvec.port, redis_stack, 2) as pair:
        try:
            yield pair
        finally:  # the peer is shared: leave its settings as they were
            for r in (pair.memvec, pair.peer):
                r.execute_command("FT.CONFIG", "SET", "VSS_MAX_RESIZE", "0")
                r.execute_command("FT.CONFIG", "SET", "MINPREFIX", "2")
                r.execute_command("CONFIG", "SET", "maxmemory", "0")
                for index in r.execute_command("FT._LIST"):
                    if index.startswith(b"rsm"):
                        r.execute_command("FT.DROPINDEX", index)


def test_vss_max_resize_is_set_and_read_as_the_peer(pair: Pair) -> None:
    """RediSearch's integer parsing (strict integers, else whole numbers strtod reads), its
    errors, and its 32-bit storage. After a refused value the peer keeps an uninitialised
    one, so the setting is reset before it is read again."""
    for value in ("100", "+5", "3.0", "1e3", "-0", "4294967297", "9223372036854775807", "0",
                  "-1", "abc", "1.5", " 5", "5 ", "", "0x10", "18446744073709551616"):  # fmt: skip
        if pair.same("FT.CONFIG", "SET", "VSS_MAX_RESIZE", value) == b"OK":
            pair.same("FT.CONFIG", "GET", "VSS_MAX_RESIZE")
        else:
            pair.same("FT.CONFIG", "SET", "VSS_MAX_RESIZE", "0")
    pair.same("FT.CONFIG", "SET", "VSS_MAX_RESIZE", "5", "6")
    pair.same("FT.CONFIG", "HELP", "VSS_MAX_RESIZE")
    for value in ("3.0", "1e3", "+5", "0", "2.5"):  # the same parsing for MINPREFIX
        pair.same("FT.CONFIG", "SET", "MINPREFIX", value)
        pair.same("FT.CONFIG", "GET", "MINPREFIX")


def test_vector_limits_follow_maxmemory_and_vss_max_resize(pair: Pair) -> None:
    """A tenth of ``maxmemory`` per index, or ``VSS_MAX_RESIZE`` bytes when set: 50 MB and
    16 FLOAT32 dimensions allow 65536 vectors of 80 bytes in a FLAT block."""
    pair.same("CONFIG", "SET", "maxmemory", str(50 * 1024 * 1024))
    n = 0
    for resize in (None, "10000000", "0"):
        if resize is not None:
            pair.same("FT.CONFIG", "SET", "VSS_MAX_RESIZE", resize)
        for algo, attrs in (
            ("FLAT", ["BLOCK_SIZE", "65536", "INITIAL_CAP", "10"]),
            ("FLAT", ["BLOCK_SIZE", "65537", "INITIAL_CAP", "10"]),
            ("FLAT", ["BLOCK_SIZE", "125000", "INITIAL_CAP", "10"]),
            ("FLAT", ["INITIAL_CAP", "65537"]),
            ("HNSW", ["INITIAL_CAP", "30000"]),
            ("HNSW", ["INITIAL_CAP", "40000"]),
            ("FLAT", ["TYPE", "FLOAT64", "INITIAL_CAP", "60000"]),
        ):
            n += 1
            spec = ["TYPE", "FLOAT32", "DIM", "16", "DISTANCE_METRIC", "L2", *attrs]
            spec = spec[2:] if attrs[0] == "TYPE" else spec  # the case naming its own TYPE
            pair.same("FT.CREATE", f"rsm{n}", "PREFIX", "1", f"rsm{n}:", "SCHEMA",
                      "v", "VECTOR", algo, len(spec), *spec)  # fmt: skip
            pair.same("FT.CREATE", f"rsm{n}a", "PREFIX", "1", f"rsm{n}a:", "SCHEMA", "t", "TEXT")
            pair.same("FT.ALTER", f"rsm{n}a", "SCHEMA", "ADD",
                      "v", "VECTOR", algo, len(spec), *spec)  # fmt: skip


def test_used_memory_counts_the_startup_overhead(memvec: ServerThread) -> None:
    r = redis.Redis(host="127.0.0.1", port=memvec.port, protocol=2)
    try:
        info = r.info("memory")
        assert info["used_memory_startup"] == STARTUP_MEMORY_BYTES
        assert info["used_memory"] == STARTUP_MEMORY_BYTES + info["used_memory_dataset"]
        assert r.memory_stats()["startup.allocated"] == STARTUP_MEMORY_BYTES
        # RediSearch's test_redis_memory_limits: 5 x used_memory is a real limit, not 0
        maxmemory = 5 * int(info["used_memory"])
        r.config_set("maxmemory", maxmemory)
        with pytest.raises(redis.ResponseError, match="exceeded server limit"):
            r.execute_command("FT.CREATE", "rsm_limit", "SCHEMA", "v", "VECTOR", "FLAT", "8",
                              "TYPE", "FLOAT32", "DIM", "16", "DISTANCE_METRIC", "L2",
                              "BLOCK_SIZE", maxmemory // 64 // 9)  # fmt: skip
    finally:
        r.config_set("maxmemory", 0)
        r.close()


def test_debug_reload_rebuilds_the_same_state(start_server: Callable[..., ServerThread]) -> None:
    srv = start_server()
    r = redis.Redis(host="127.0.0.1", port=srv.port, protocol=2)
    rng = np.random.default_rng(7)
    r.execute_command("FT.CREATE", "idx", "SCHEMA", "v", "VECTOR", "HNSW", "6", "TYPE",
                      "FLOAT32", "DIM", "8", "DISTANCE_METRIC", "L2", "t", "TEXT")  # fmt: skip
    for i in range(50):
        r.hset(f"d{i}", mapping={"v": rng.random(8).astype("<f4").tobytes(), "t": f"w{i % 3}"})
    r.expire("d0", 1000)
    query = ["FT.SEARCH", "idx", "@t:w1=>[KNN 5 @v $q AS d]", "PARAMS", "2", "q",
             rng.random(8).astype("<f4").tobytes(), "SORTBY", "d", "DIALECT", "2"]  # fmt: skip
    before = r.execute_command(*query)
    assert r.execute_command("DEBUG", "RELOAD") == b"OK"
    assert r.execute_command(*query) == before
    assert 0 < r.ttl("d0") <= 1000 and r.dbsize() == 50
    # NOSAVE: the newest snapshot plus the log after it, so a later write survives
    r.hset("d50", mapping={"v": np.zeros(8, "<f4").tobytes(), "t": "w1"})
    assert r.execute_command("DEBUG", "RELOAD", "NOSAVE") == b"OK"
    assert r.hget("d50", "t") == b"w1" and r.dbsize() == 51
    info = r.execute_command("FT.INFO", "idx")
    assert info[info.index(b"num_docs") + 1] == 51
    for args, text in (
        (["DEBUG", "RELOAD", "FOO"], "DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options."),
        (["DEBUG", "RELOAD", "MERGE"], "DEBUG RELOAD MERGE and NOFLUSH are not supported by memvec"),
        (["DEBUG", "SLEEP", "0"], "unknown subcommand or wrong number of arguments for 'SLEEP'"),
        (["DEBUG"], "wrong number of arguments for 'debug' command"),
    ):  # fmt: skip
        err = call(r, *args)
        assert isinstance(err, tuple) and err[1].startswith(text), (args, err)
    r.close()
    diskless = start_server(data_dir=None)
    r = redis.Redis(host="127.0.0.1", port=diskless.port)
    err = call(r, "DEBUG", "RELOAD")
    assert isinstance(err, tuple) and re.match(r"DEBUG RELOAD needs a data directory", err[1])
    r.close()


def test_config_replies_byte_for_byte(
    pair: Pair, redis_stack: RedisStack, raw: Callable[[int], RawClient]
) -> None:
    """Names and descriptions are status replies (``+VSS_MAX_RESIZE``), RESP2 and RESP3."""
    mine, theirs = raw(pair.memvec.connection_pool.connection_kwargs["port"]), raw(redis_stack.port)
    for hello in (b"", b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n"):
        if hello:
            for c in (mine, theirs):
                c.send(hello)
                c.read_reply()
        for args in (
            [b"SET", b"VSS_MAX_RESIZE", b"7", b"8"],  # EXCESSARGS, and 7 is set
            [b"GET", b"VSS_MAX_RESIZE"],
            [b"HELP", b"VSS_MAX_RESIZE"],
            [b"GET", b"EXTLOAD"],
            [b"SET", b"VSS_MAX_RESIZE", b"0"],
        ):
            cmd = [b"FT.CONFIG", *args]
            wire = b"*%d\r\n" % len(cmd) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in cmd)
            replies = []
            for c in (mine, theirs):
                c.send(wire)
                replies.append(c.read_reply())
            assert replies[0] == replies[1], (hello, args, replies)
