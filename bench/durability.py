"""Issue 10 items 2-4: durable ingest, restart time and memory per document, memvec vs peer.

- :func:`ingest`: pipelined HSET (pipelines of 100) of 384-dim vectors + TAG + ~200 bytes
  of TEXT into an HNSW index on a fresh server, memvec ``--appendfsync always|everysec``
  against the peer with ``appendonly yes`` and the same ``appendfsync``. Target: memvec
  >= 1.0x at ``always``.
- :func:`restart_memory`: each server loads ``size.vectors`` documents (HNSW index only,
  2 connections, pipelines of 500; memvec everysec, peer AOF everysec) and the RSS /
  ``used_memory`` deltas give bytes per document. Then memvec takes a snapshot (SAVE) and
  the peer rewrites its AOF (RDB preamble, BGREWRITEAOF); both get a log tail (the first
  ``restart_tail`` of the documents rewritten), 1.5 s for everysec to sync it, and SIGKILL.
  Restart time runs from launching the process to FT.INFO reporting every document
  indexed and one KNN answered (the peer rebuilds its HNSW graph; memvec loads its saved
  graph and replays the tail). 1M is extrapolated linearly from the part above an empty
  start (process start to first reply with no data, measured too); HNSW build is n log n,
  so the peer's real 1M figure is worse. Targets: restart >= 10x faster; RSS/doc <= 0.9x
  (issue #16).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from .common import F32, log, ratio, target_row
from .resp import (
    Target,
    create_args,
    create_index,
    knn_query,
    memvec_server,
    peer_server,
    resp_load,
    server_pid,
    server_rss,
    used_memory,
    wait_indexed,
    write_throughput,
)
from .sizes import Size

PEER = "redis-stack"
SERVERS = (("memvec", memvec_server), (PEER, peer_server))


def ingest(size: Size, data: tuple[F32, F32, Any], tmp: Path) -> dict[str, Any]:
    base = data[0]
    n = size.ingest_vectors
    index = create_args("idx", base.shape[1], size.m, size.ef_construction)
    samples: list[dict[str, Any]] = []
    for policy in ("always", "everysec"):
        for clients in size.ingest_clients:
            for name, start in SERVERS:
                log(f"ingest: {name} appendfsync {policy}, {clients} client(s)")
                opts = {"policy": policy, "name": f"{name}-{policy}"}
                rate = write_throughput(start, opts, base, index, n, clients, 100, tmp)
                samples.append(
                    {"server": name, "policy": policy, "clients": clients,
                     "vectors": n, "vectors_per_s": round(rate, 1)}
                )  # fmt: skip
    rates = {(s["server"], s["policy"], s["clients"]): s["vectors_per_s"] for s in samples}
    summary: dict[str, Any] = {}
    targets = []
    for policy in ("always", "everysec"):
        for clients in size.ingest_clients:
            m, p = rates[("memvec", policy, clients)], rates[(PEER, policy, clients)]
            summary[f"{policy}_c{clients}"] = {"memvec": m, PEER: p, "ratio": round(m / p, 3)}
            targets.append(
                target_row(
                    f"durable ingest vectors/s, appendfsync {policy}, {clients} client(s)",
                    m, p, PEER, ">= 1.0x" if policy == "always" else "(no target)",
                    m >= p if policy == "always" else None, unit="vectors/s",
                )
            )  # fmt: skip
    return {
        "params": {
            "vectors": n,
            "dim": int(base.shape[1]),
            "m": size.m,
            "ef_construction": size.ef_construction,
            "clients": list(size.ingest_clients),
            "pipeline": 100,
            "fields": "v (FLOAT32), tag (TAG), text (~200 B TEXT)",
        },
        "samples": {"runs": samples},
        "summary": summary,
        "baseline": f"{PEER} (valkey + RediSearch 2.10), appendonly yes, same appendfsync",
        "targets": targets,
    }


def _kill(t: Target) -> None:
    os.kill(server_pid(t), signal.SIGKILL)
    time.sleep(0.2)


def _wait_aof_rewritten(t: Target) -> None:
    with t.client() as c:
        c.execute_command("BGREWRITEAOF")
        while True:
            info = c.info("persistence")
            if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
                return
            time.sleep(0.05)


def ready_after_restart(t: Target, n: int, q: F32) -> None:
    """Block until ``t`` has indexed all ``n`` documents again and answered one KNN query."""
    wait_indexed(t, "idx", n)
    with t.client() as c:
        c.execute_command(
            "FT.SEARCH", "idx", knn_query(10), "PARAMS", 2, "B", q.tobytes(), "NOCONTENT",
            "DIALECT", 2,
        )  # fmt: skip


def _empty_start_s(start: Any, name: str, tmp: Path) -> float:
    """Launch to first reply with no data: the fixed cost inside every restart time."""
    began = time.perf_counter()
    with start(tmp, "everysec", name=name) as t, t.client() as c:
        c.ping()
        return time.perf_counter() - began


def _load_and_restart(name: str, start: Any, size: Size, base: F32, q: F32, tmp: Path) -> dict:
    n = len(base)
    tail = max(1, int(n * size.restart_tail))
    d = tmp / f"restart-{name}"
    d.mkdir()
    with start(tmp, "everysec", data_dir=d, name=name) as t:
        create_index(t, create_args("idx", base.shape[1], size.m, size.ef_construction))
        time.sleep(0.3)
        used0, rss0 = used_memory(t), server_rss(t)
        log(f"restart/memory: loading {n} into {name}")
        load_s = resp_load(t, base, 0, n, 2, 500)
        wait_indexed(t, "idx", n)
        used1, rss1 = used_memory(t), server_rss(t)
        began = time.perf_counter()
        if name == "memvec":
            with t.client() as c:
                c.execute_command("SAVE")
        else:
            _wait_aof_rewritten(t)
        save_s = time.perf_counter() - began
        resp_load(t, base, 0, tail, 1, 100)
        time.sleep(1.5)
        _kill(t)
    disk = sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
    log(f"restart/memory: restarting {name}")
    began = time.perf_counter()
    with start(tmp, "everysec", data_dir=d, name=name) as t:
        ready_after_restart(t, n, q)
        restart_s = time.perf_counter() - began
    empty_s = _empty_start_s(start, name, tmp)
    return {
        "documents": n,
        "tail_writes": tail,
        "load_s": round(load_s, 2),
        "save_s": round(save_s, 3),
        "disk_bytes": disk,
        "restart_s": round(restart_s, 3),
        "empty_start_s": round(empty_s, 3),
        "restart_s_1m_linear": round(empty_s + (restart_s - empty_s) * 1_000_000 / n, 1),
        "used_memory_bytes_per_doc": round((used1 - used0) / n),
        "rss_bytes_per_doc": round((rss1 - rss0) / n),
    }


def restart_memory(size: Size, data: tuple[F32, F32, Any], tmp: Path) -> dict[str, dict]:
    """Both measurements from one load per server: ``{"restart": ..., "memory": ...}``."""
    base, queries = data[0][: size.vectors], data[1]
    runs = {name: _load_and_restart(name, start, size, base, queries[0], tmp)
            for name, start in SERVERS}  # fmt: skip
    m, p = runs["memvec"], runs[PEER]
    params = {
        "documents": len(base), "dim": int(base.shape[1]), "m": size.m,
        "ef_construction": size.ef_construction, "appendfsync": "everysec",
        "doc": "384-dim FLOAT32 vector + TAG + ~200 bytes TEXT",
    }  # fmt: skip
    speedup = ratio(p["restart_s"], m["restart_s"]) or 0.0
    restart = {
        "params": {**params, "tail_share": size.restart_tail},
        "samples": runs,
        "summary": {
            "memvec_s": m["restart_s"],
            f"{PEER}_s": p["restart_s"],
            "speedup": speedup,
            "memvec_s_1m_linear": m["restart_s_1m_linear"],
            f"{PEER}_s_1m_linear": p["restart_s_1m_linear"],
        },
        "baseline": f"{PEER}: AOF with RDB preamble + tail, HNSW rebuilt on load",
        "targets": [
            target_row(
                f"restart to serving, {len(base)} docs (1M: memvec ~{m['restart_s_1m_linear']}"
                f" s, peer ~{p['restart_s_1m_linear']} s)",
                m["restart_s"],
                p["restart_s"],
                PEER,
                ">= 10x faster (ratio = speedup)",
                speedup >= 10,
                value_ratio=speedup,
                unit="s",
            )
        ],
    }
    mem_ratio = ratio(m["rss_bytes_per_doc"], p["rss_bytes_per_doc"])
    memory = {
        "params": params,
        "samples": runs,
        "summary": {
            "memvec_rss_bytes_per_doc": m["rss_bytes_per_doc"],
            "memvec_used_memory_bytes_per_doc": m["used_memory_bytes_per_doc"],
            f"{PEER}_rss_bytes_per_doc": p["rss_bytes_per_doc"],
            f"{PEER}_used_memory_bytes_per_doc": p["used_memory_bytes_per_doc"],
            "rss_ratio": mem_ratio,
        },
        "baseline": f"{PEER} RSS delta per document (used_memory in the summary)",
        "targets": [
            target_row(
                "memory bytes/doc (RSS delta)",
                m["rss_bytes_per_doc"],
                p["rss_bytes_per_doc"],
                PEER,
                "<= 0.9x",
                mem_ratio is not None and mem_ratio <= 0.9,
                unit="B/doc",
            )
        ],
    }
    return {"restart": restart, "memory": memory}
