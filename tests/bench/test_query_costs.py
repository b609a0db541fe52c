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
        # the costs are printed to 0.1 us and the ratio (of the unrounded costs) to 0.01:
        # it must lie between the ratios the printed costs allow (3.5 may be 3.54)
        low = (mine - 0.05) / (peer + 0.05) - 0.005
        high = (mine + 0.05) / max(peer - 0.05, 1e-9) + 0.005
        assert low <= ratio <= high, row
