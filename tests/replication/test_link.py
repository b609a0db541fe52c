"""The replication link through a TCP proxy that cuts and heals it mid-stream: the
replica reconnects, resumes from its position and converges with no divergence."""

from __future__ import annotations

import threading
from functools import partial
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.harness.wait import wait_for

from .nodes import Node, Proxy, converged, info, keyspace


def test_cut_and_healed_link_converges(tmp_path: Path) -> None:
    primary = Node(tmp_path / "p")
    proxy = Proxy(primary.port or 0)
    replica = Node(tmp_path / "r", "--replicaof", f"127.0.0.1:{proxy.port}", "--repl-timeout", "2")
    stop = threading.Event()
    written = [0]

    def write() -> None:
        r = redis.Redis(port=primary.port or 0, retry=Retry(NoBackoff(), 0))
        n = 0
        while not stop.is_set():
            with r.pipeline(transaction=False) as p:
                for i in range(20):
                    p.hset(f"h:{(n + i) % 500}", mapping={"n": n + i, "v": b"x" * 100})
                p.execute()
            n += 20
            written[0] = n
        r.close()

    def at_least(n: int) -> bool:
        return written[0] >= n

    writer = threading.Thread(target=write, daemon=True)
    try:
        wait_for(lambda: info(replica)["master_link_status"] == "up", 20, message="link up")
        writer.start()
        for _ in range(3):
            seen = written[0]
            wait_for(partial(at_least, seen + 200), 20, message="writes flow")
            proxy.cut()
            wait_for(lambda: info(replica)["master_link_status"] == "down", 20, message="down")
            wait_for(partial(at_least, seen + 400), 20, message="writes while cut")
            proxy.heal()
            wait_for(lambda: info(replica)["master_link_status"] == "up", 20, message="up again")
        stop.set()
        writer.join(10)
        wait_for(lambda: converged(primary, replica), 30, message="replica converges")
        assert keyspace(replica) == keyspace(primary)
        assert info(primary)["sync_full"] == 0  # every reconnection resumed partially
        assert proxy.connections >= 4
    finally:
        stop.set()
        replica.stop()
        proxy.close()
        primary.stop()
