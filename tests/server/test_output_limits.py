"""Reply memory is bounded (issue 14 item 1), on a real ``memvec server`` process.

A client pipelining many GETs of a 100 KB value that reads its replies gets every byte
(backpressure, not a reset); one that never reads is cut at ``client-output-buffer-limit``
with a log line saying so, while the server's RSS stays within the limit plus a small
constant and other clients keep being answered. Latency figures are in the reliability
benchmark (``bench/reliability.py``), not asserted here.
"""

from __future__ import annotations

import argparse
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.resp import encode_command
from store.server import ServerConfig
from store.server.cli import add_server_parser, config_from_args
from store.server.config import OutputBufferLimit
from tests.harness.wait import wait_for
from tests.server.test_process import ServerProcess

VALUE = b"v" * 100_000
REPLY = b"$%d\r\n%b\r\n" % (len(VALUE), VALUE)
LIMIT = 8 * 1024 * 1024
GET = encode_command("GET", "big")
ENV = "MEMVEC_CLIENT_OUTPUT_BUFFER_LIMIT"
# The Python heap, one flush of replies and allocator slack: RSS may exceed the baseline
# by the limit plus this.
RSS_SLACK = 24 * 1024 * 1024


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path / "data")
    try:
        r = srv.client()
        assert r.config_set("client-output-buffer-limit", f"normal {LIMIT} 0 0")
        r.set("big", VALUE)
        r.close()
        yield srv
    finally:
        srv.ensure_dead()


def test_config_shows_and_sets_every_class(server: ServerProcess) -> None:
    r = server.client()
    shown = r.config_get("client-output-buffer-limit")["client-output-buffer-limit"]
    assert shown == f"normal {LIMIT} 0 0 replica 268435456 67108864 60 pubsub 33554432 8388608 60"
    assert r.config_set("client-output-buffer-limit", "pubsub 1mb 512kb 10")
    shown = r.config_get("client-output-buffer-limit")["client-output-buffer-limit"]
    assert shown.endswith("pubsub 1048576 524288 10") and shown.startswith(f"normal {LIMIT} ")
    r.close()


@pytest.mark.timeout(120)
def test_a_pipelining_client_that_reads_gets_every_byte(server: ServerProcess) -> None:
    n = 300  # 30 MB of replies, almost 4x the limit, sent as one pipeline
    with socket.create_connection(("127.0.0.1", server.port or 0), timeout=30) as sock:
        sock.sendall(GET * n)
        expected = len(REPLY) * n
        received = bytearray()
        while len(received) < expected:
            try:
                chunk = sock.recv(1 << 20)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    assert len(received) == expected, f"reset after {len(received) // len(REPLY)} of {n} replies"
    assert bytes(received) == REPLY * n
    r = server.client()
    assert r.info("stats")["client_output_buffer_limit_disconnections"] == 0
    r.close()


class Pinger(threading.Thread):
    """PINGs on its own connection until stopped; every round trip is recorded."""

    def __init__(self, server: ServerProcess) -> None:
        super().__init__(daemon=True)
        self.r = server.client(socket_timeout=30)
        self.latencies: list[float] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                t0 = time.perf_counter()
                assert self.r.ping() is True
                self.latencies.append(time.perf_counter() - t0)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            self.r.close()


@pytest.mark.timeout(120)
def test_a_client_that_stops_reading_is_cut_at_the_limit(server: ServerProcess) -> None:
    pid = server.proc.pid
    r = server.client()
    baseline = rss_bytes(pid)
    pinger = Pinger(server)
    pinger.start()
    stuck = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.settimeout(60)
    stuck.connect(("127.0.0.1", server.port or 0))
    sent = 0

    def pipeline() -> None:  # up to 300 MB of replies asked for, never read
        nonlocal sent
        try:
            for _ in range(3):
                stuck.sendall(GET * 1000)
                sent += 1000
        except OSError:
            return  # the server cut us

    peak = baseline
    sampling = threading.Event()

    def sample() -> None:  # on its own thread: a spike may block the server's event loop
        nonlocal peak
        while not sampling.is_set():
            peak = max(peak, rss_bytes(pid))
            time.sleep(0.002)  # a sampling period, not a wait for a condition

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    sender = threading.Thread(target=pipeline, daemon=True)
    sender.start()
    wait_for(
        lambda: int(r.info("stats")["client_output_buffer_limit_disconnections"]) == 1,
        60,
        interval_s=0.01,
        message="the client that stopped reading was not cut",
    )
    sampling.set()
    sampler.join(10)
    pinger.stop.set()
    pinger.join(30)
    sender.join(30)
    stuck.close()
    assert pinger.error is None, pinger.error
    assert pinger.latencies, "no PING answered while the client was stuck"
    assert peak - baseline <= LIMIT + RSS_SLACK, f"RSS grew {(peak - baseline) >> 20} MB"
    wait_for(
        lambda: any("closing client" in line for line in server.stderr),
        10,
        message="no log line about closing the client",
    )
    line = next(line for line in server.stderr if "closing client" in line)
    assert "output buffer hard limit of the normal class" in line, line
    assert "stopped reading" in line, line
    assert r.get("big") == VALUE  # everyone else is served
    r.close()


def test_the_flag_takes_redis_conf_syntax_or_one_size() -> None:
    parser = argparse.ArgumentParser()
    add_server_parser(parser.add_subparsers())
    args = parser.parse_args(
        ["server", "--client-output-buffer-limit", "normal 8mb 4mb 10 slave 1gb 0 0"]
    )
    cfg = config_from_args(args, {})
    assert cfg.output_limit("normal") == OutputBufferLimit(8 << 20, 4 << 20, 10)
    assert cfg.output_limit("replica") == OutputBufferLimit(1 << 30, 0, 0)
    assert cfg.output_limit("pubsub") == ServerConfig().output_limit("pubsub")
    cfg = config_from_args(parser.parse_args(["server"]), {ENV: "64mb"})
    assert cfg.output_limit("normal") == OutputBufferLimit(64 << 20, 0, 0)
    with pytest.raises(ValueError, match="Invalid client class"):
        config_from_args(parser.parse_args(["server"]), {ENV: "vip 1mb 0 0"})
