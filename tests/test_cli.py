"""The ``memvec`` console script: --help, --version, and the server subcommand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent / "memvec"


def test_version_and_help() -> None:
    out = subprocess.run([BIN, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("memvec 0.1.0")
    helptext = subprocess.run([BIN, "--help"], capture_output=True, text=True, check=True).stdout
    assert "demo" in helptext and "server" in helptext
    server_help = subprocess.run(
        [BIN, "server", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--appendfsync" in server_help and "MEMVEC_PORT" in server_help


def test_unknown_subcommand_fails_clearly() -> None:
    out = subprocess.run([BIN, "nope"], capture_output=True, text=True)
    assert out.returncode == 2 and "invalid choice" in out.stderr
