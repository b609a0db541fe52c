"""``python -m bench.query_costs`` measures every query on both servers and prints the rows.

A toy run (300 documents of the committed 4k subset, 0.2 s per query, as the servers' CPU
clocks tick every 10 ms): each query of :func:`bench.query_costs.queries` gets a row with
two positive costs and their ratio.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import bench.common
from bench import query_costs

TOY_DATA = Path(__file__).resolve().parents[1] / "data" / "pypi-minilm-4k.npz"


def test_every_query_gets_both_costs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bench.common, "DATA", TOY_DATA)
    assert query_costs.main(["--docs", "300", "--seconds", "0.2", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    names = list(query_costs.queries(b"q", b"d"))
    for name in names:
        row = next(line for line in out.splitlines() if line.startswith(name + " "))
        mine, peer, ratio = (
            float(x.replace(",", "")) for x in re.findall(r"[\d,]+\.\d+", row[len(name) :])
        )
        assert mine > 0 and peer > 0, row
        assert ratio == pytest.approx(mine / peer, rel=0.01, abs=0.01), row
