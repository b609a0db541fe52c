"""Issue 10 item 1: KNN recall@10 vs QPS and p50/p99 through RESP, memvec against the peer.

Both servers (memvec, redis-stack = valkey + RediSearch 2.10) run at once, each one
process holding the first ``size.vectors`` shared embeddings as hashes, indexed twice
over the same prefix: an HNSW index (``hnsw``, the same M / EF_CONSTRUCTION on both) and
a FLAT one (``flat``), COSINE, and a third time as a FLAT ``L2`` index (``flat_l2``: the
embeddings are unit vectors, so its nearest are the cosine ones).
Each point of the sweep sends every query once (``FT.SEARCH ... KNN 10 ... NOCONTENT``)
from 1 client, then from 8 forked client processes at once, and records recall@10, QPS,
p50/p99 latency and the CPU% of the server process (user + system time over wall time;
above 100% means it used more than one core). HNSW sweeps EF_RUNTIME over ``size.efs``;
FLAT and FLAT L2 are one exact point each. Then each client count sends every query once
more with a 10% tag filter (:data:`FILTER`) to the HNSW index (at :data:`FILTERED_EF`)
and to the FLAT one, recall measured against the exact filtered answer: reported, with no
goal. Each point is measured ``size.query_rounds`` times on each server, the two taking
turns, and reported as the medians (:func:`median_point`): the machine's speed moves by
tens of percent within minutes, and one server's whole sweep after the other's put that
into the ratios. The ceiling is hnswlib in this process with the same M /
EF_CONSTRUCTION, one query per call on one thread (``bench.ann_choice.Hnswlib``).

Targets (issue #16; each server at the smallest EF of its sweep reaching recall@10 >= 0.95,
then >= 0.99): memvec QPS >= 1.0x the peer's and p99 <= 1.0x, with 1 and with 8 clients;
at 1 client QPS >= 0.5x the in-process hnswlib ceiling; FLAT QPS >= 1.0x and p99 <= 1.0x
with 1 and 8 clients, for COSINE and L2; with 8 clients memvec's CPU% > 100.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import numpy as np

from .ann_choice import Hnswlib
from .common import F32, exact_gt, ground_truth, log, pct, ratio, target_row
from .resp import (
    QueryClients,
    create_args,
    create_index,
    memvec_server,
    peer_server,
    resp_load,
    wait_indexed,
    warm_up,
)
from .sizes import Size

RECALL = 0.95
RECALLS = (0.95, 0.99)
"""The recall levels issue #16 sets goals at."""
PEER = "redis-stack"
FLAT_WARM_UP = 20
"""FLAT queries sent once, unmeasured, before the FLAT series of each client count."""
FLAT_INDEXES = {"FLAT": ("flat", "COSINE"), "FLAT L2": ("flat_l2", "L2")}
"""The exact indexes measured: series algorithm -> (index name, DISTANCE_METRIC)."""
FILTER = "@tag:{t3}"
"""The filtered KNN's filter: the documents whose row number ends in 3, 10% of them
(``bench.resp.hset_args``). memvec's FLAT index scans those rows alone at both sizes
(under 20% of the index, 0036); its HNSW index walks in batches at 100k and scans the
subset's blobs at 20k (2,000 documents, 0035)."""
FILTERED_EF = 100
"""The filtered HNSW KNN's EF_RUNTIME, the same on both servers (each reports its recall
against the exact filtered answer)."""
FILTERED = {"HNSW, 10% tag filter": ("hnsw", FILTERED_EF), "FLAT, 10% tag filter": ("flat", None)}
"""The filtered series: algorithm -> (index name, EF_RUNTIME)."""


def _series(server: str, algorithm: str, clients: int, points: list[dict[str, Any]]) -> dict:
    return {"server": server, "algorithm": algorithm, "clients": clients, "points": points}


def at_recall(series: dict[str, Any] | None, recall: float = RECALL) -> dict[str, Any] | None:
    """The first point (smallest EF) of a sweep reaching ``recall``, or None."""
    for pt in (series or {}).get("points", []):
        if pt["recall_at_10"] >= recall:
            return dict(pt)
    return None


def filtered_truth(base: F32, queries: F32) -> Any:
    """The exact top 10 among the documents :data:`FILTER` passes, as row numbers."""
    rows = np.arange(3, len(base), 10)
    return rows[exact_gt(base[rows], queries, 10)]


def _loaded(t: Any, name: str, size: Size, base: F32) -> dict[str, Any]:
    """Create the three indexes on server ``t``, load ``base`` and wait until indexed."""
    dim = base.shape[1]
    create_index(t, create_args("hnsw", dim, size.m, size.ef_construction, "HNSW"))
    for index, metric in FLAT_INDEXES.values():
        create_index(t, create_args(index, dim, algorithm="FLAT", metric=metric))
    log(f"vector_query: loading {len(base)} vectors into {name}")
    load_s = resp_load(t, base, 0, len(base), 2, 500)
    for index in ("hnsw", *(index for index, _ in FLAT_INDEXES.values())):
        wait_indexed(t, index, len(base))
    return {"load_s": round(load_s, 2), "load_vectors_per_s": round(len(base) / load_s)}


def median_point(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One point of a sweep from its alternated ``rounds``: the round of the median QPS
    (its recall, latencies and query count), with QPS, p50, p99 and server CPU% the
    medians over the rounds, each round's under ``"rounds"``."""
    by_qps = sorted(rounds, key=lambda r: r["qps"])
    point = dict(by_qps[(len(by_qps) - 1) // 2])
    for field in ("qps", "p50_ms", "p99_ms", "server_cpu_percent"):
        point[field] = round(float(np.median([r[field] for r in rounds])), 3)
    point["rounds"] = [
        {field: r[field] for field in ("qps", "p50_ms", "p99_ms", "server_cpu_percent")}
        for r in rounds
    ]
    return point


def _alternated(
    qc: QueryClients,
    servers: dict[str, Any],
    rounds: int,
    index: str,
    ef: int | None,
    truth: Any,
    where: str = "*",
) -> dict[str, dict[str, Any]]:
    """``qc.run`` of ``index`` at ``ef`` ``rounds`` times on each server, the servers
    taking turns (memvec first in even rounds, the peer first in odd ones), so both see
    the machine's same minutes; each server's :func:`median_point`."""
    names = list(servers)
    seen: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            seen[name].append(qc.run(servers[name], index, ef, truth, where=where))
    return {name: median_point(points) for name, points in seen.items()}


def _sweeps(
    servers: dict[str, Any], size: Size, queries: F32, gt: Any, gt_filtered: Any
) -> list[dict[str, Any]]:
    """Every series of both servers (see the module docstring), each point measured
    alternately on the two, :attr:`Size.query_rounds` times."""
    out: list[dict[str, Any]] = []
    rounds = size.query_rounds
    for clients in size.clients:
        log(f"vector_query: both servers' sweeps, {clients} client(s), {rounds} rounds a point")
        with QueryClients(queries, clients) as qc:
            for t in servers.values():
                qc.run(t, "hnsw", size.efs[0], gt)  # warm-up
            hnsw = [_alternated(qc, servers, rounds, "hnsw", ef, gt) for ef in size.efs]
            series = {name: [_series(name, "HNSW", clients, [p[name] for p in hnsw])]
                      for name in servers}  # fmt: skip
            for algorithm, (index, _) in FLAT_INDEXES.items():
                for t in servers.values():
                    # warm-up: memvec's first threaded FLAT pass starts its helper threads,
                    # which a p99 over 400 queries would report
                    warm_up(t, index, FLAT_WARM_UP)
                flat = _alternated(qc, servers, rounds, index, None, gt)
                for name, point in flat.items():
                    series[name].append(_series(name, algorithm, clients, [point]))
            for algorithm, (index, ef) in FILTERED.items():
                filtered = _alternated(qc, servers, rounds, index, ef, gt_filtered, FILTER)
                for name, point in filtered.items():
                    series[name].append(_series(name, algorithm, clients, [point]))
        for name in servers:
            out += series[name]
    return out


def _ceiling(size: Size, base: F32, queries: F32, gt: Any) -> dict[str, Any]:
    log("vector_query: hnswlib in-process ceiling")
    engine = Hnswlib()
    began = time.perf_counter()
    engine.build(base, size.m, size.ef_construction, threads=2)
    build_s = time.perf_counter() - began
    points = []
    for ef in size.efs:
        engine.set_ef(ef)
        lat = np.empty(len(queries))
        hits = 0
        t0 = time.perf_counter()
        for j, q in enumerate(queries):
            s = time.perf_counter()
            got = engine.query(q, 10)
            lat[j] = (time.perf_counter() - s) * 1e3
            hits += len(set(got.tolist()) & set(gt[j, :10].tolist()))
        elapsed = time.perf_counter() - t0
        points.append(
            {
                "ef": ef,
                "clients": 1,
                "queries": len(queries),
                "recall_at_10": round(hits / (10 * len(queries)), 4),
                "qps": round(len(queries) / elapsed, 1),
                "p50_ms": pct(lat, 50),
                "p99_ms": pct(lat, 99),
                "latencies_ms": [round(float(x), 4) for x in lat],
            }
        )
    series = _series("hnswlib (in-process)", "HNSW", 1, points)
    series["build_s_2_threads"] = round(build_s, 2)
    return series


def find(series: list[dict[str, Any]], server: str, algorithm: str, clients: int) -> Any:
    for s in series:
        if (s["server"], s["algorithm"], s["clients"]) == (server, algorithm, clients):
            return s
    return None


def _key(recall: float) -> str:
    return f"{recall:.2f}".replace(".", "")


def _hnsw_targets(
    series: list[dict[str, Any]], size: Size, recall: float, summary: dict[str, Any], n: str
) -> list[dict[str, Any]]:
    """QPS and p99 against the peer at ``recall`` for each client count, and 1-client QPS
    against the in-process hnswlib ceiling (goal >= 0.5x); each server at the smallest EF
    of its sweep reaching ``recall`` (not reached: the row says so, met unknown)."""
    at: dict[str, Any] = {}
    targets = []
    for clients in size.clients:
        m = at_recall(find(series, "memvec", "HNSW", clients), recall)
        p = at_recall(find(series, PEER, "HNSW", clients), recall)
        for pt in (m, p):
            if pt:
                pt.pop("latencies_ms")
        at[f"clients_{clients}"] = {"memvec": m, PEER: p}
        mq, pq = (m or {}).get("qps"), (p or {}).get("qps")
        m99, p99 = (m or {}).get("p99_ms"), (p or {}).get("p99_ms")
        qr, lr = ratio(mq, pq), ratio(m99, p99)
        targets.append(
            target_row(
                f"KNN QPS at recall@10>={recall}, {n}, {clients} client(s)", mq, pq, PEER,
                ">= 1.0x", None if qr is None else qr >= 1.0, unit="QPS",
            )
        )  # fmt: skip
        targets.append(
            target_row(
                f"KNN p99 at recall@10>={recall}, {n}, {clients} client(s)", m99, p99, PEER,
                "<= 1.0x", None if lr is None else lr <= 1.0, unit="ms",
            )
        )  # fmt: skip
    summary[f"at_recall_{_key(recall)}"] = at
    ceiling = at_recall(series[-1], recall)
    if ceiling:
        ceiling.pop("latencies_ms")
    summary[f"ceiling_at_recall_{_key(recall)}"] = ceiling
    m1 = (at.get("clients_1") or {}).get("memvec") or {}
    cr = ratio(m1.get("qps"), (ceiling or {}).get("qps"))
    targets.append(
        target_row(
            f"KNN QPS at recall@10>={recall}, {n}, 1 client vs in-process hnswlib (ceiling)",
            m1.get("qps"), (ceiling or {}).get("qps"), "hnswlib in-process",
            ">= 0.5x", None if cr is None else cr >= 0.5, unit="QPS",
        )
    )  # fmt: skip
    return targets


def _one_points(series: list[dict[str, Any]], algorithm: str, clients: int) -> dict[str, Any]:
    """Each server's one point of a one-point series (FLAT, filtered), without its
    latencies; ``{}`` for a series that did not run."""
    pts = {
        name: dict((find(series, name, algorithm, clients) or {"points": [{}]})["points"][0])
        for name in ("memvec", PEER)
    }
    for pt in pts.values():
        pt.pop("latencies_ms", None)
    return pts


def _flat_targets(
    series: list[dict[str, Any]], size: Size, summary: dict[str, Any], n: str
) -> list[dict[str, Any]]:
    """FLAT (exact) KNN QPS and p99 against the peer for each index of
    :data:`FLAT_INDEXES` and client count (``summary["flat"]``, ``summary["flat_l2"]``)."""
    targets = []
    for algorithm, (index, _) in FLAT_INDEXES.items():
        flat: dict[str, Any] = {}
        for clients in size.clients:
            pts = _one_points(series, algorithm, clients)
            flat[f"clients_{clients}"] = pts
            m, p = pts["memvec"], pts[PEER]
            qr, lr = ratio(m.get("qps"), p.get("qps")), ratio(m.get("p99_ms"), p.get("p99_ms"))
            targets.append(
                target_row(
                    f"{algorithm} KNN QPS, {n}, {clients} client(s) (recall@10 "
                    f"{m.get('recall_at_10')} vs {p.get('recall_at_10')})", m.get("qps"),
                    p.get("qps"), PEER, ">= 1.0x", None if qr is None else qr >= 1.0, unit="QPS",
                )
            )  # fmt: skip
            targets.append(
                target_row(
                    f"{algorithm} KNN p99, {n}, {clients} client(s)", m.get("p99_ms"),
                    p.get("p99_ms"), PEER, "<= 1.0x", None if lr is None else lr <= 1.0,
                    unit="ms",
                )
            )  # fmt: skip
        summary[index] = flat
    return targets


def _filtered_rows(
    series: list[dict[str, Any]], size: Size, summary: dict[str, Any], n: str
) -> list[dict[str, Any]]:
    """Filtered KNN QPS and p99 against the peer, reported (issue #16 sets no goal for
    them): each server's recall against the exact filtered answer is in the row."""
    rows = []
    summary["filtered"] = {}
    for algorithm in FILTERED:
        for clients in size.clients:
            pts = _one_points(series, algorithm, clients)
            summary["filtered"][f"{algorithm}, {clients} client(s)"] = pts
            m, p = pts["memvec"], pts[PEER]
            ef = "" if FILTERED[algorithm][1] is None else f", EF_RUNTIME {FILTERED[algorithm][1]}"
            rows.append(
                target_row(
                    f"KNN QPS, {algorithm}{ef}, {n}, {clients} client(s) (recall@10 "
                    f"{m.get('recall_at_10')} vs {p.get('recall_at_10')})", m.get("qps"),
                    p.get("qps"), PEER, "report", None, unit="QPS",
                )
            )  # fmt: skip
            rows.append(
                target_row(
                    f"KNN p99, {algorithm}{ef}, {n}, {clients} client(s)", m.get("p99_ms"),
                    p.get("p99_ms"), PEER, "report", None, unit="ms",
                )
            )  # fmt: skip
    return rows


def run(size: Size, data: tuple[F32, F32, Any], tmp: Path) -> dict[str, Any]:
    """Sweeps for both servers and the ceiling; the result envelope without machine info."""
    all_base, all_queries, gt100 = data
    base, queries = all_base[: size.vectors], all_queries[: size.queries]
    gt = ground_truth(all_base, queries, gt100, size.vectors)
    series: list[dict[str, Any]] = []
    loads: dict[str, Any] = {}
    gt_filtered = filtered_truth(base, queries)
    with contextlib.ExitStack() as stack:
        servers = {}
        for name, start in (("memvec", memvec_server), (PEER, peer_server)):
            servers[name] = stack.enter_context(start(tmp, name=name))
            loads[name] = _loaded(servers[name], name, size, base)
        series += _sweeps(servers, size, queries, gt, gt_filtered)
    series.append(_ceiling(size, base, queries, gt))
    summary: dict[str, Any] = {"load": loads}
    targets: list[dict[str, Any]] = []
    n = f"{len(base) // 1000}k vectors" if len(base) >= 1000 else f"{len(base)} vectors"
    for recall in RECALLS:
        targets += _hnsw_targets(series, size, recall, summary, n)
    targets += _flat_targets(series, size, summary, n)
    targets += _filtered_rows(series, size, summary, n)
    many = max(size.clients)
    cpu = {
        name: max(pt["server_cpu_percent"] for pt in find(series, name, "HNSW", many)["points"])
        for name in ("memvec", PEER)
    }
    summary["server_cpu_percent_max"] = {"clients": many, **cpu}
    targets.append(
        target_row(
            f"server CPU% with {many} clients (max over EF)", cpu["memvec"], cpu[PEER], PEER,
            "> 100% (both cores)", cpu["memvec"] > 100, unit="%",
        )
    )  # fmt: skip
    return {
        "params": {
            "vectors": len(base),
            "dim": int(base.shape[1]),
            "queries": len(queries),
            "m": size.m,
            "ef_construction": size.ef_construction,
            "efs": list(size.efs),
            "clients": list(size.clients),
            "rounds_per_point": size.query_rounds,
            "metric": "COSINE (FLAT L2: L2)",
            "k": 10,
            "load": "2 connections, pipelines of 500 HSET",
        },
        "samples": {"series": series},
        "summary": summary,
        "baseline": f"{PEER} (valkey + RediSearch 2.10), same M/EF_CONSTRUCTION",
        "targets": targets,
    }
