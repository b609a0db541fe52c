"""maxmemory-policy and maxmemory-samples over the wire: CONFIG GET/SET (refusals compared
with the peer), eviction under a real server with INFO's evicted_keys, and -OOM."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from store.engine import STARTUP_MEMORY_BYTES
from store.server import ServerThread
from store.server.config import ServerConfig
from tests.harness.components import RedisStack
from tests.server.test_differential import connected_pair


@pytest.fixture(scope="module")
def memvec() -> Iterator[ServerThread]:
    thread = ServerThread(
        ServerConfig(port=0, data_dir=None, maxmemory_bytes=STARTUP_MEMORY_BYTES + 50_000)
    ).start()
    try:
        yield thread
    finally:
        thread.stop()


def test_config_refusals_match_the_peer(memvec: ServerThread, redis_stack: RedisStack) -> None:
    with connected_pair(memvec.port, redis_stack) as pair:
        for value in ("foo", ""):
            pair.same("CONFIG", "SET", "maxmemory-policy", value)
        for value in ("0", "x", "65", "-1"):
            pair.same("CONFIG", "SET", "maxmemory-samples", value)
        pair.same("CONFIG", "GET", "maxmemory-samples")


def test_eviction_and_oom_over_the_wire(memvec: ServerThread) -> None:
    r = redis.Redis(host="127.0.0.1", port=memvec.port, socket_timeout=20)
    try:
        assert r.config_set("maxmemory-policy", "ALLKEYS-LRU")
        assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
        assert r.info("memory")["maxmemory_policy"] == "allkeys-lru"
        i = 0
        while r.info("stats")["evicted_keys"] < 50:
            r.set(f"ev:{i}", "x" * 200)
            i += 1
        assert r.dbsize() < i
        r.config_set("maxmemory-policy", "noeviction")
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            for n in range(100_000):
                r.set(f"oom:{n}", "x" * 200)
        r.flushall()
    finally:
        r.close()


def test_object_freq_and_idletime_follow_the_policy(
    memvec: ServerThread, redis_stack: RedisStack
) -> None:
    with connected_pair(memvec.port, redis_stack) as pair:
        key = "objfreq:k"
        try:
            pair.same("SET", key, "v")
            pair.same("OBJECT", "FREQ", key)  # no LFU policy: the same error
            for r in (pair.memvec, pair.peer):
                r.config_set("maxmemory-policy", "allkeys-lfu")
            pair.same("SET", key, "v")
            pair.same("OBJECT", "IDLETIME", key)  # LFU selected: the same error
            freq = pair.memvec.object("freq", key)
            assert isinstance(freq, int) and 0 <= freq <= 255
        finally:
            for r in (pair.memvec, pair.peer):
                r.config_set("maxmemory-policy", "noeviction")
                r.delete(key)
