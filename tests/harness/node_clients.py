"""node-redis (npm ``redis``), installed into the repository for the client tests.

:func:`ensure_node_clients` runs ``npm install --prefix <repo>/.node-clients
redis@PINNED`` on first use (about 5 s; the directory is gitignored) and reuses it
while :data:`PACKAGES` is unchanged (a stamp file records them); a file lock serialises
the install across parallel workers, as tests/harness/client_venv.py does for Python.
Tests run scripts from tests/clients/ with :func:`run_node` against servers they
started, or with :func:`start_node` when the test talks to the script while it runs (a
line on its stdin per step, a JSON line on its stdout per answer); node finds the package
through ``NODE_PATH``.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PREFIX = ROOT / ".node-clients"
PACKAGES = ("redis@6.4.0",)


def ensure_node_clients() -> Path:
    """The ``node_modules`` directory holding :data:`PACKAGES`, installed if missing or
    if the pins changed. Raises if node or npm is not on PATH (the machine has both)."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise AssertionError(f"{tool} is not on PATH: node-redis tests need Node.js")
    modules = PREFIX / "node_modules"
    stamp = PREFIX / ".packages"
    want = json.dumps(PACKAGES)
    PREFIX.mkdir(exist_ok=True)
    with open(ROOT / ".node-clients.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if modules.is_dir() and stamp.exists() and stamp.read_text() == want:
            return modules
        subprocess.run(
            ["npm", "install", "--prefix", str(PREFIX), "--no-audit", "--no-fund",
             "--no-save", "--loglevel=error", *PACKAGES],
            check=True, timeout=300, capture_output=True,
        )  # fmt: skip
        stamp.write_text(want)
    return modules


def run_node(script: Path, *args: str, timeout: float = 60) -> str:
    """Run ``script`` with node and the installed packages; its stdout. A failure
    raises with the script's stderr."""
    modules = ensure_node_clients()
    done = subprocess.run(
        ["node", str(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "NODE_PATH": str(modules)},
    )
    if done.returncode != 0:
        raise AssertionError(f"{script.name} {args} failed:\n{done.stderr[-4000:]}")
    return done.stdout


def start_node(script: Path, *args: str) -> subprocess.Popen[str]:
    """``script`` under node with the installed packages, running: text pipes on stdin,
    stdout and stderr. The caller owns the process (wait or kill it, then close pipes)."""
    modules = ensure_node_clients()
    return subprocess.Popen(
        ["node", str(script), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "NODE_PATH": str(modules)},
    )
