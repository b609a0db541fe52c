"""kill -9 under pipelined list and set writes loses no acknowledged write (snapshot with
a typed section + log tail on restart)."""

from __future__ import annotations

import threading
from pathlib import Path

import redis

from tests.harness.wait import wait_for
from tests.server.test_process import ServerProcess


class Writer(threading.Thread):
    """Pipelines RPUSH / SADD / LMOVE batches until the server dies; records what was
    acknowledged."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.acked = -1  # every i <= acked was acknowledged
        self.batches = 0

    def run(self) -> None:
        r = redis.Redis(port=self.port, protocol=2, socket_timeout=10)
        i = 0
        try:
            while True:
                pipe = r.pipeline(transaction=False)
                for j in range(i, i + 20):
                    pipe.rpush("c:list", j)
                    pipe.sadd("c:set", j)
                    if j % 5 == 0:
                        pipe.lmove("c:list", "c:moved", "LEFT", "RIGHT")
                pipe.execute()
                self.acked = i + 19
                self.batches += 1
                i += 20
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return
        finally:
            r.close()


def test_kill9_under_list_and_set_writes(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = ServerProcess(data_dir)
    try:
        writer = Writer(server.port or 0)
        writer.start()
        wait_for(lambda: writer.batches >= 3, 60, interval_s=0.01, message="no progress")
        server.client().bgsave()
        wait_for(lambda: any((data_dir / "snapshots").glob("*")), 60, message="BGSAVE")
        wait_for(lambda: writer.batches >= 5, 60, interval_s=0.01, message="no progress")
        server.kill9()
        writer.join(30)
        acked = writer.acked
        assert acked > 0
        server = ServerProcess(data_dir)
        r = server.client()
        moved = [int(x) for x in r.lrange("c:moved", 0, -1)]
        rest = [int(x) for x in r.lrange("c:list", 0, -1)]
        n = len(moved) + len(rest)
        assert n > acked  # nothing acknowledged is lost ...
        assert sorted(moved + rest) == list(range(n))  # ... and nothing is out of order
        assert moved == sorted(moved) and rest == sorted(rest)
        members = {int(x) for x in r.smembers("c:set")}
        assert set(range(acked + 1)) <= members
        assert r.object("encoding", "c:set") == (b"intset" if len(members) <= 512 else b"hashtable")
        r.close()
    finally:
        server.ensure_dead()
