"""Where the benchmarks find the shared embeddings: relative to the checkout, never a
machine path, overridden by ``MEMVEC_BENCH_DATA``, and a missing file says what to do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bench.common
from bench.common import load_data

CHECKOUT = Path(__file__).resolve().parents[2]
FIXTURE = CHECKOUT / "tests" / "data" / "pypi-minilm-4k.npz"


def data_path(env: dict[str, str]) -> Path:
    out = subprocess.run(
        [sys.executable, "-c", "import bench.common; print(bench.common.DATA)"],
        env=env,
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return Path(out.stdout.strip())


def test_default_is_beside_the_checkout() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MEMVEC_BENCH_DATA"}
    env["PYTHONPATH"] = str(CHECKOUT)
    want = CHECKOUT.parent / "shared" / "data" / "pypi-minilm-100k.npz"
    assert data_path(env) == want


def test_the_variable_overrides_the_default(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT), "MEMVEC_BENCH_DATA": str(tmp_path / "x.npz")}
    assert data_path(env) == tmp_path / "x.npz"


def test_a_missing_file_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench.common, "DATA", tmp_path / "missing.npz")
    with pytest.raises(FileNotFoundError, match="MEMVEC_BENCH_DATA") as err:
        load_data()
    assert str(tmp_path / "missing.npz") in str(err.value)


def test_the_committed_fixture_loads_like_the_shared_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench.common, "DATA", FIXTURE)
    base, queries, gt = load_data()
    assert base.dtype == queries.dtype == np.float32 and gt.dtype == np.int32
    assert base.shape == (4000, 384) and queries.shape == (400, 384) and gt.shape == (400, 100)
