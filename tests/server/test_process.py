"""`memvec server` as a process: kill -9 loses no acknowledged write, SIGTERM exits 0
after finishing in-flight writes, and the command line reads flags and MEMVEC_* variables.

The crash test reuses the engine crash test's idea through the network path: several
clients send pipelined HSETs of 384-dim FLOAT32 vectors into an HNSW index under
``--appendfsync always``; the server is SIGKILLed at a random moment; after a restart every
acknowledged document is present with its exact vector, FT.INFO counts every document and
FT.SEARCH finds acknowledged documents by their own vectors.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from store.server import Server, ServerConfig
from store.server.cli import add_server_parser, config_from_args
from tests.harness.wait import wait_for

REPO = Path(__file__).resolve().parents[2]
DIM = 384
READY = re.compile(r"memvec server ready on [^ ]*:(\d+)")


INTRINSIC_DIM = 16


def vector_for(n: int) -> bytes:
    """A DIM-wide vector with 16 random coordinates, like embeddings of low intrinsic dimension.

    I.i.d. Gaussian vectors in all 384 coordinates are adversarial for every HNSW: some
    nodes end up with no incoming links, and a KNN query with the node's own vector misses
    it even at EF_RUNTIME = N (3,000 such vectors: 13 self-misses at EF_RUNTIME 400 and 11
    at 3,000, identical on memvec and RediSearch 2.10). These tests check durability and
    index consistency, not ANN recall, so they use vectors HNSW finds exactly.
    """
    vector = np.zeros(DIM, dtype=np.float32)
    vector[:INTRINSIC_DIM] = np.random.default_rng(n).standard_normal(INTRINSIC_DIM)
    return vector.tobytes()


class ServerProcess:
    """``python -m pipeline.cli server`` on a port the OS picks (read from the ready line)."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "server", "--port", "auto", "--dir", str(data_dir),
             "--appendfsync", "always", *extra],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        self.port: int | None = None
        self.stderr: list[str] = []
        self._out = threading.Thread(target=self._read_stdout, daemon=True)
        self._err = threading.Thread(target=self._read_stderr, daemon=True)
        self._out.start()
        self._err.start()
        wait_for(
            lambda: self.port is not None or self.proc.poll() is not None,
            60,
            message="server printed no ready line",
        )
        assert self.port is not None, f"server exited: {''.join(self.stderr)}"
        wait_for(self._pings, 30, message="server does not answer PING", ignore=(redis.RedisError,))

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            m = READY.search(line)
            if m:
                self.port = int(m.group(1))

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def _pings(self) -> bool:
        r = self.client(socket_timeout=2)
        try:
            return bool(r.ping())
        finally:
            r.close()

    def client(self, **kwargs: object) -> Any:
        kwargs.setdefault("socket_timeout", 30)
        return redis.Redis(
            port=self.port or 0,
            protocol=3,
            retry=Retry(NoBackoff(), 0),
            **kwargs,  # type: ignore[arg-type]
        )

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._join()

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        self._join()
        return code

    def _join(self) -> None:
        self._out.join(10)
        self._err.join(10)

    def ensure_dead(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


class Loader(threading.Thread):
    """Sends pipelines of HSETs and records the documents acknowledged."""

    def __init__(self, port: int, first: int, stride: int, batch: int) -> None:
        super().__init__(daemon=True)
        self.r = redis.Redis(port=port, protocol=3, retry=Retry(NoBackoff(), 0), socket_timeout=30)
        self.n, self.stride, self.batch = first, stride, batch
        self.sent: set[int] = set()
        self.acked: set[int] = set()
        self.pipelines = 0

    def run(self) -> None:
        try:
            while True:
                docs = [self.n + i * self.stride for i in range(self.batch)]
                self.n += self.batch * self.stride
                self.sent.update(docs)
                with self.r.pipeline(transaction=False) as p:
                    for d in docs:
                        p.hset(
                            f"doc:{d}", mapping={"vec": vector_for(d), "n": d, "tag": f"t{d % 5}"}
                        )
                    replies = p.execute()
                assert replies == [3] * len(docs)
                self.acked.update(docs)
                self.pipelines += 1
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return  # the server was killed
        finally:
            self.r.close()


def create_index(server: ServerProcess) -> None:
    r = server.client()
    r.execute_command(
        "FT.CREATE", "idx", "ON", "HASH", "PREFIX", "1", "doc:", "SCHEMA",
        "tag", "TAG", "n", "NUMERIC",
        "vec", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", str(DIM), "DISTANCE_METRIC", "L2",
    )  # fmt: skip
    r.close()


def check_acked(server: ServerProcess, acked: set[int], sent: set[int]) -> None:
    r = server.client()
    try:
        keys = r.keys("doc:*")
        present = {int(k.split(b":")[1]) for k in keys}
        missing = acked - present
        assert not missing, f"acknowledged documents lost: {sorted(missing)[:10]}"
        assert not (present - sent), "documents that were never sent"
        with r.pipeline(transaction=False) as p:
            for n in sorted(acked):
                p.hget(f"doc:{n}", "vec")
            vectors = p.execute()
        assert all(v == vector_for(n) for n, v in zip(sorted(acked), vectors, strict=True))
        info = r.ft("idx").info()
        assert int(info[b"num_docs"]) == len(present)
        for n in random.Random(len(acked)).sample(sorted(acked), min(8, len(acked))):
            res = r.execute_command(
                "FT.SEARCH", "idx", "*=>[KNN 1 @vec $B EF_RUNTIME 400]", "PARAMS", "2",
                "B", vector_for(n), "NOCONTENT", "DIALECT", "2",
            )  # fmt: skip
            assert [d[b"id"] for d in res[b"results"]] == [f"doc:{n}".encode()]
    finally:
        r.close()


@dataclass
class CrashRounds:
    """What :func:`kill9_rounds` saw: documents sent and acknowledged, kills survived."""

    acked: set[int] = field(default_factory=set)
    sent: set[int] = field(default_factory=set)
    rounds: int = 0


def kill9_rounds(
    data_dir: Path, rounds: int, rng: random.Random, *, snapshot_round: int = 2
) -> tuple[ServerProcess, CrashRounds]:
    """``rounds`` times: 3 clients pipeline HSETs, the server is SIGKILLed at a random
    moment and restarted, and every acknowledged write is checked (:func:`check_acked`
    raises AssertionError on a lost one). Round ``snapshot_round`` first takes a snapshot
    (kills may all land before an automatic one publishes). Returns the running server
    (the caller stops it) and the counts."""
    seen = CrashRounds()
    first = 0
    server = ServerProcess(data_dir, "--snapshot-after-writes", "200")
    try:
        create_index(server)
        for round_no in range(rounds):
            if round_no == snapshot_round:
                server.client().bgsave()
                wait_for(lambda: any((data_dir / "snapshots").glob("*")), 60, message="BGSAVE")
            threads = 3
            loaders = [
                Loader(server.port or 0, first + t, threads, rng.randint(5, 30))
                for t in range(threads)
            ]
            for loader in loaders:
                loader.start()
            target = rng.randint(2, 30)
            wait_for(
                lambda: sum(ld.pipelines for ld in loaders) >= target,  # noqa: B023
                60,
                interval_s=0.01,
                message="loaders made no progress",
            )
            server.kill9()
            for loader in loaders:
                loader.join(30)
                seen.acked |= loader.acked
                seen.sent |= loader.sent
            first = max(seen.sent) + 1 + threads
            server = ServerProcess(data_dir, "--snapshot-after-writes", "200")
            check_acked(server, seen.acked, seen.sent)
            seen.rounds += 1
    except BaseException:
        server.ensure_dead()
        raise
    return server, seen


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_kill9_loses_no_acknowledged_write(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server, seen = kill9_rounds(data_dir, 5, random.Random(2024))
    try:
        assert len(seen.acked) > 0
        assert server.client().info("persistence")["rdb_saves"] >= 0
        assert any((data_dir / "snapshots").iterdir()), "no snapshot was taken during the run"
        assert server.terminate() == 0
    finally:
        server.ensure_dead()


@pytest.mark.timeout(120)
def test_sigterm_finishes_in_flight_writes_and_exits_0(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = ServerProcess(data_dir)
    try:
        create_index(server)
        loaders = [Loader(server.port or 0, t, 2, 10) for t in range(2)]
        for loader in loaders:
            loader.start()
        wait_for(lambda: sum(ld.pipelines for ld in loaders) >= 3, 60, interval_s=0.01)
        assert server.terminate() == 0
        assert any("memvec server stopped" in line for line in server.stderr), server.stderr
        for loader in loaders:
            loader.join(30)
        acked = set().union(*(ld.acked for ld in loaders))
        sent = set().union(*(ld.sent for ld in loaders))
        server = ServerProcess(data_dir)
        check_acked(server, acked, sent)
        r = server.client()
        r.set("last", "write")
        r.shutdown()  # no reply: the connection closes (redis-py treats that as success)
        assert server.proc.wait(60) == 0
        r.close()
    finally:
        server.ensure_dead()


def test_cli_flags_and_environment() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    p = add_server_parser(sub)
    help_text = p.format_help()
    for env in ("MEMVEC_PORT", "MEMVEC_BIND", "MEMVEC_MAXMEMORY", "MEMVEC_TLS_CERT_FILE"):
        assert env in help_text
    args = parser.parse_args(["server", "--port", "7000", "--maxmemory", "100mb"])
    assert callable(args.run)
    cfg = config_from_args(
        args, {"MEMVEC_PORT": "7001", "MEMVEC_TIMEOUT": "30", "MEMVEC_APPENDFSYNC": "everysec"}
    )
    assert cfg.port == 7000  # the flag wins
    assert cfg.maxmemory_bytes == 100 * 1024 * 1024
    assert cfg.timeout_s == 30 and cfg.appendfsync.value == "everysec"
    with pytest.raises(ValueError, match="MEMVEC_MAXMEMORY"):
        config_from_args(parser.parse_args(["server"]), {"MEMVEC_MAXMEMORY": "lots"})


async def test_binding_beyond_loopback_without_password_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="memvec.server")
    async with Server(ServerConfig(bind=("0.0.0.0",), port=0, data_dir=None)):
        pass
    assert "WITHOUT A PASSWORD" in caplog.text
    caplog.clear()
    async with Server(ServerConfig(bind=("0.0.0.0",), port=0, data_dir=None, requirepass="x")):
        pass
    assert "WITHOUT A PASSWORD" not in caplog.text
    assert os.environ.get("MEMVEC_PORT") is None
