"""kill -9 under many clients sending one command at a time loses no acknowledged write,
and no read showed a write the crash then lost.

The other crash tests pipeline their writes, which the client's task runs. One command
at a time from many clients is what the inline path serves (store.server.inline_commands):
replies released by durable rounds (one gate waiter per loop iteration,
store.server.durable_rounds), HSETs of concurrent clients applied together by the
WriteCombiner. Here 12 clients each rotate through INCR, RPUSH, SADD, ZADD, XADD and HSET
on keys of their own, and read another client's counter; the server runs under
``appendfsync always`` and is SIGKILLed at a random moment, three times. After each
restart, every acknowledged write is there (and nothing that was never sent), each list
is exactly a prefix of what its client pushed, and every counter is at least the highest
value any client read of it: a read is answered only once what it shows is durable.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.harness.wait import wait_for
from tests.server.test_process import ServerProcess

CLIENTS = 12
OPS = ("incr", "rpush", "sadd", "zadd", "xadd", "hset", "read")


@dataclass
class Seen:
    """One client's writes in one round: what it sent and what was acknowledged."""

    incr_sent: int = 0
    incr_acked: int = 0  # the highest value INCR replied
    pushed_sent: int = 0
    pushed_acked: int = 0
    added_sent: set[int] = field(default_factory=set)  # SADD, ZADD and HSET share numbers
    added_acked: set[int] = field(default_factory=set)
    stream_sent: int = 0
    stream_acked: list[bytes] = field(default_factory=list)  # the ids XADD replied
    read_max: int = 0  # the highest value read of the next client's counter


class Client(threading.Thread):
    """Sends one command at a time (no pipelining) until the server dies."""

    def __init__(self, port: int, round_no: int, k: int) -> None:
        super().__init__(daemon=True)
        self.port, self.k = port, k
        self.prefix = f"r{round_no}:c{k}"
        self.other = f"r{round_no}:c{(k + 1) % CLIENTS}"
        self.seen = Seen()
        self.acks = 0

    def run(self) -> None:
        r = redis.Redis(port=self.port, protocol=2, socket_timeout=30, retry=Retry(NoBackoff(), 0))
        s, p = self.seen, self.prefix
        step = self.k  # clients start at different operations
        try:
            while True:
                op = OPS[step % len(OPS)]
                step += 1
                n = step
                if op == "incr":
                    s.incr_sent += 1
                    s.incr_acked = r.incr(f"{p}:n")
                elif op == "rpush":
                    s.pushed_sent += 1
                    assert r.rpush(f"{p}:l", s.pushed_sent - 1) == s.pushed_sent
                    s.pushed_acked = s.pushed_sent
                elif op == "read":
                    s.read_max = max(s.read_max, int(r.get(f"{self.other}:n") or 0))
                elif op == "xadd":
                    s.stream_sent += 1
                    s.stream_acked.append(r.xadd(f"{p}:x", {"n": n}))
                else:
                    s.added_sent.add(n)
                    if op == "sadd":
                        assert r.sadd(f"{p}:s", n) == 1
                    elif op == "zadd":
                        assert r.zadd(f"{p}:z", {f"m{n}": n}) == 1
                    else:
                        assert r.hset(f"{p}:h", f"f{n}", n) == 1
                    s.added_acked.add(n)
                self.acks += 1
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return  # the server was killed
        finally:
            r.close()


def check_round(r: redis.Redis, clients: list[Client]) -> None:
    """Every acknowledged write of ``clients`` is on the restarted server ``r``."""
    for c in clients:
        s, p = c.seen, c.prefix
        counter = int(r.get(f"{p}:n") or 0)
        assert s.incr_acked <= counter <= s.incr_sent, (p, counter, s)
        pushed = [int(v) for v in r.lrange(f"{p}:l", 0, -1)]
        assert pushed == list(range(len(pushed))), (p, pushed)
        assert s.pushed_acked <= len(pushed) <= s.pushed_sent, (p, len(pushed), s)
        members = {int(m) for m in r.smembers(f"{p}:s")}
        scored = {int(m[1:]): int(score) for m, score in r.zrange(f"{p}:z", 0, -1, withscores=True)}
        fields = {int(f[1:]): int(v) for f, v in r.hgetall(f"{p}:h").items()}
        assert all(k == v for k, v in scored.items()) and all(k == v for k, v in fields.items())
        added = members | set(scored) | set(fields)
        assert added <= s.added_sent, (p, added - s.added_sent)
        assert s.added_acked <= added, (p, sorted(s.added_acked - added))
        # each number went to exactly one of the three (by the rotation), so nothing acked
        # may be missing from the one it went to
        ids = [entry_id for entry_id, _ in r.xrange(f"{p}:x")]
        assert ids[: len(s.stream_acked)] == s.stream_acked, (p, ids, s.stream_acked)
        assert len(ids) <= s.stream_sent, (p, len(ids), s.stream_sent)
    for c in clients:
        # a read's reply waited until what it showed was durable: never more than survived
        reader_saw = c.seen.read_max
        counter = int(r.get(f"{c.other}:n") or 0)
        assert reader_saw <= counter, (c.prefix, "read", reader_saw, c.other, counter)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_kill9_under_one_command_at_a_time_clients(tmp_path: Path) -> None:
    rng = random.Random(7)
    data_dir = tmp_path / "data"
    server = ServerProcess(data_dir)
    try:
        total_acks = inline = combined = 0
        for round_no in range(3):
            clients = [Client(server.port or 0, round_no, k) for k in range(CLIENTS)]
            for c in clients:
                c.start()
            target = rng.randint(300, 1500)
            wait_for(
                lambda: sum(c.acks for c in clients) >= target,  # noqa: B023
                60,
                interval_s=0.005,
                message="clients made no progress",
            )
            with server.client() as r:  # the paths this test is about served the writes
                stats = r.info("stats")
            inline += stats["memvec_inline_commands"]
            combined += stats["memvec_combined_writes"]
            server.kill9()
            for c in clients:
                c.join(30)
                assert not c.is_alive()
            total_acks += sum(c.acks for c in clients)
            server = ServerProcess(data_dir)
            r = server.client()
            try:
                check_round(r, clients)
            finally:
                r.close()
        assert total_acks >= 900
        assert inline >= total_acks // 2, (inline, total_acks)
        assert combined > 0
        assert server.terminate() == 0
    finally:
        server.ensure_dead()
