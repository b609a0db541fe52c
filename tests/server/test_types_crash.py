"""kill -9 under pipelined writes of every type loses no acknowledged write (snapshot with
a typed section + log tail on restart): lists, sets, sorted sets, streams, hashes,
bitmaps, HyperLogLog and JSON written in the same pipelines, one record per command."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import redis

from tests.harness.wait import wait_for
from tests.server.test_process import ServerProcess


class Writer(threading.Thread):
    """Pipelines batches over every type until the server dies; records what was
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
            r.execute_command("JSON.SET", "c:json", "$", '{"seen": []}')
            while True:
                pipe = r.pipeline(transaction=False)
                for j in range(i, i + 20):
                    pipe.rpush("c:list", j)
                    pipe.sadd("c:set", j)
                    if j % 5 == 0:
                        pipe.lmove("c:list", "c:moved", "LEFT", "RIGHT")
                    pipe.zadd("c:zset", {str(j): j})
                    pipe.xadd("c:stream", {"j": j}, id=f"{j + 1}-1")
                    pipe.hset("c:hash", str(j), j)
                    pipe.setbit("c:bits", j, 1)
                    pipe.pfadd("c:hll", j)
                    pipe.execute_command("JSON.ARRAPPEND", "c:json", "$.seen", j)
                pipe.execute()
                self.acked = i + 19
                self.batches += 1
                i += 20
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return
        finally:
            r.close()


def test_kill9_under_writes_of_every_type(tmp_path: Path) -> None:
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
        # every other type holds a prefix at least as long as what was acknowledged
        done = range(acked + 1)
        zset = {int(m): s for m, s in r.zrange("c:zset", 0, -1, withscores=True)}
        assert all(zset[j] == j for j in done)
        ids = [int(i.split(b"-")[0]) for i, _ in r.xrange("c:stream")]
        assert ids[: acked + 1] == [j + 1 for j in done] and ids == sorted(ids)
        assert all(r.hget("c:hash", str(j)) == str(j).encode() for j in done)
        assert r.bitpos("c:bits", 0) > acked  # the first clear bit is past every acked one
        assert r.pfcount("c:hll") >= 0.9 * (acked + 1)  # HLL: within its error bound
        seen = json.loads(r.execute_command("JSON.GET", "c:json", "$.seen"))[0]
        assert seen[: acked + 1] == list(done)
        r.close()
    finally:
        server.ensure_dead()
