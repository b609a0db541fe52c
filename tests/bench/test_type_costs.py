"""``python -m bench.type_costs`` measures every command of the types mix on both servers.

A toy run (0.2 s per command and depth; the servers' CPU read in nanoseconds, as 10 ms
ticks could read 0 for a pipelined peer):
``PING`` and each command of :data:`bench.type_mix.MIX` get a row per depth (one request
at a time, and pipelined) with two positive costs and their ratio, and pipelining makes
``PING`` cheaper per command on both servers.
"""

from __future__ import annotations

import re

import pytest

from bench import type_costs, type_mix


def test_every_command_gets_both_costs_at_both_depths(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--seconds", "0.2", "--rounds", "1", "--pipeline", "8"]
    assert type_costs.main(argv) == 0
    out = capsys.readouterr().out
    rows: dict[tuple[str, int], tuple[float, float, float]] = {}
    for line in out.splitlines():
        m = re.fullmatch(r"(\w+) +(\d+) +([\d,.]+) +([\d,.]+) +([\d.]+)x", line)
        if m:
            mine, peer, ratio = (float(x.replace(",", "")) for x in m.group(3, 4, 5))
            rows[(m.group(1), int(m.group(2)))] = (mine, peer, ratio)
    names = ["ping", *(name for name, _ in type_mix.MIX)]
    assert set(rows) == {(name, depth) for name in names for depth in (1, 8)}
    for (name, depth), (mine, peer, ratio) in rows.items():
        assert mine > 0 and peer > 0, (name, depth)
        low = (mine - 0.05) / (peer + 0.05) - 0.005
        high = (mine + 0.05) / max(peer - 0.05, 1e-9) + 0.005
        assert low <= ratio <= high, (name, depth)
    for server in (0, 1):
        assert rows[("ping", 8)][server] < rows[("ping", 1)][server]


def test_no_command_named_is_an_error() -> None:
    with pytest.raises(SystemExit):
        type_costs.main(["--only", "nosuch"])
