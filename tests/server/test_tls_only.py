"""Serving TLS only: ``memvec server --port 0 --tls-port N`` listens on N alone (Redis's
``port 0``); ``--port 0`` without a TLS port is refused; ``--port auto`` is how a caller
asks for any free plaintext port. Real ``memvec server`` processes, real sockets."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.harness.ports import free_port
from tests.server.test_security import self_signed

REPO = Path(__file__).resolve().parents[2]
SERVER = [sys.executable, "-m", "pipeline.cli", "server", "--loglevel", "warning"]


def _ready_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, f"server exited ({proc.wait()}): {proc.stderr.read() if proc.stderr else ''}"
    return line


def test_port_0_with_tls_port_serves_tls_only(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    tls_port = free_port()
    argv = [*SERVER, "--port", "0", "--tls-port", str(tls_port), "--dir", str(tmp_path / "d"),
            "--tls-cert-file", str(cert), "--tls-key-file", str(key)]  # fmt: skip
    proc = subprocess.Popen(
        argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = _ready_line(proc)
        assert "tls only" in line and line.rstrip().endswith(f":{tls_port}"), line
        r = redis.Redis(
            host="127.0.0.1", port=tls_port, ssl=True, ssl_ca_certs=str(cert),
            retry=Retry(NoBackoff(), 0),
        )  # fmt: skip
        assert r.ping() is True
        assert r.info("server")["tcp_port"] == 0  # as Redis reports a disabled plaintext port
        assert r.config_get("port") == {"port": "0"}
        r.close()
    finally:
        proc.terminate()
        proc.wait(30)


def test_port_0_without_tls_port_is_refused(tmp_path: Path) -> None:
    argv = [*SERVER, "--port", "0", "--dir", str(tmp_path / "d")]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout
    assert "--tls-port" in done.stderr and "ready" not in done.stdout


def test_port_auto_picks_a_free_port(tmp_path: Path) -> None:
    argv = [*SERVER, "--port", "auto", "--dir", str(tmp_path / "d")]
    proc = subprocess.Popen(
        argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        m = re.search(r"ready on [^ ]*:(\d+)", _ready_line(proc))
        assert m is not None and int(m.group(1)) > 0
        r = redis.Redis(port=int(m.group(1)), retry=Retry(NoBackoff(), 0))
        assert r.ping() is True
        r.close()
    finally:
        proc.terminate()
        proc.wait(30)
