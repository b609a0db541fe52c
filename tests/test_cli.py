"""The ``memvec`` console script: --help, --version, every subcommand's help, and what the
product command line imports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent / "memvec"
REPO = Path(__file__).resolve().parents[1]

SUBCOMMANDS = [
    [], ["demo"], ["server"], ["worker"], ["ingest"], ["api"], ["package"],
    ["package", "lambda"], ["restore"], ["stack"], ["stack", "up"], ["stack", "down"],
    ["stack", "status"], ["stack", "failover"], ["bench"],
]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


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


@pytest.mark.parametrize("command", SUBCOMMANDS, ids=lambda c: " ".join(c) or "memvec")
def test_help_speaks_to_users(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Each --help exits 0 with a description for users: no issue numbers, no reST markup
    from module docstrings. In this process (``cli.main``, the console script's function:
    a process per page cost ~1.3 s each); test_version_and_help runs the script itself."""
    from pipeline import cli

    with pytest.raises(SystemExit) as exited:
        cli.main([*command, "--help"])
    text, err = capsys.readouterr()
    assert exited.value.code == 0, err
    assert text.startswith("usage: ")
    for bad in (":class:", ":mod:", ":func:", "``", "issue #", "issue-", "issue 1"):
        assert bad not in text, (bad, text)


def test_unknown_option_is_still_refused() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "demo", "--nope"],
        capture_output=True, text=True, env=_env(), timeout=120,
    )  # fmt: skip
    assert out.returncode == 2 and "unrecognized arguments: --nope" in out.stderr


def test_help_shows_every_environment_variable_the_stack_reads() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "stack", "up", "--help"],
        capture_output=True, text=True, env=_env(), timeout=120, check=True,
    )  # fmt: skip
    for name in ("MEMVEC_STACK_SOURCE", "MEMVEC_MIN_REPLICAS_TO_ACK", "MEMVEC_BATCHING_WINDOW_MS"):
        assert name in out.stdout


def test_product_cli_does_not_import_the_benchmark_harness() -> None:
    code = (
        "import sys, pipeline.cli as c; c.build_parser(); "
        "print(sorted(m for m in sys.modules if m == 'bench' or m.startswith('bench.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(), check=True
    )
    assert out.stdout.strip() == "[]"


def test_bench_runs_as_its_own_entry_point() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench", "--help"],
        capture_output=True, text=True, env=_env(), timeout=120, check=True,
    )  # fmt: skip
    assert out.stdout.startswith("usage: python -m bench") and "--quick" in out.stdout
    out = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "bench", "--help"],
        capture_output=True, text=True, env=_env(), timeout=120, check=True,
    )  # fmt: skip
    assert out.stdout.startswith("usage: memvec bench") and "--quick" in out.stdout
