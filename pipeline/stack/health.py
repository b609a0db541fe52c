"""Health of a local stack's processes: probes, ``stack_status`` and store node roles.

:func:`probe` runs a process's recorded check (``tcp``, ``resp`` PING, ``log`` for a
``ready`` line, or an HTTP path that must answer 200); sockets time out after 1-2 s and a
connection error reads as unhealthy. :func:`stack_status` reports (process, alive,
healthy) for each process in ``stack.json``. :func:`wait_until` polls a condition every 0.1 s
until a timeout.
"""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from .state import HOST, Proc, is_alive, load_state, procs_of


def _tcp_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def _resp_ping(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=2) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def probe(proc: Proc) -> bool:
    """Run the process's health check: ``tcp``, ``resp`` (PING), ``log`` (its log has a
    ``ready`` line; for a process without a port) or an HTTP path."""
    if proc.probe == "log":
        return " ready" in log_tail(proc.log, 200)
    if proc.probe == "tcp":
        return _tcp_open(proc.port)
    if proc.probe == "resp":
        return _resp_ping(proc.port)
    return _http_ok(f"http://{HOST}:{proc.port}{proc.probe}")


def log_tail(path: str, lines: int = 20) -> str:
    """The last ``lines`` lines of a process log ("" when it cannot be read)."""
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Poll ``condition`` every 0.1 s; whether it held within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def stack_status(stack_dir: Path) -> list[tuple[Proc, bool, bool]]:
    """(process, alive, healthy) for every recorded process; empty when there is no stack."""
    rows = []
    for proc in procs_of(load_state(stack_dir.resolve())):
        alive = is_alive(proc)
        rows.append((proc, alive, alive and probe(proc)))
    return rows


def role_of(proc: Proc, healthy: bool) -> str:
    """``primary`` or ``replica`` for a healthy store node; "" for anything else."""
    if proc.probe != "resp" or not healthy:
        return ""
    from ..stores.failover import node_info

    role = node_info(f"redis://{HOST}:{proc.port}").role
    return {"master": "primary", "slave": "replica"}.get(role, role)
