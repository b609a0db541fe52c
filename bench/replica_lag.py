"""Replica lag at a steady write rate: a primary and one replica as separate processes.

Usage: ``python -m bench.replica_lag [--rate 500] [--seconds 10] [--dim 128] [--ack 0]``

Four clients send HSETs of ``dim``-dim FLOAT32 vectors into an HNSW index on the primary at
``rate`` writes/s (one write per request, paced by the clock). The replica measures, per
record, the time from the primary's append (``commit_ms`` in the stream) to the record
being applied and durable in its own log; this script prints the replica's p50/p99 of
those lags (``INFO replication``: ``memvec_lag_ms_p50``/``_p99``), the client's p50/p99
write latency, and the records the replica trailed by at the end. Both nodes use
``appendfsync always`` in a temporary directory; ``--ack 1`` runs the primary with
``--min-replicas-to-ack 1``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import redis

READY = re.compile(r"memvec server ready on [^ ]*:(\d+)")
CLIENTS = 4  # paced clients sharing the rate (one alone cannot do 500 fsynced writes/s)
REPO = Path(__file__).resolve().parents[1]


def start(data_dir: Path, *extra: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "server", "--port", "0", "--dir", str(data_dir),
         "--loglevel", "warning", *extra],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:
        m = READY.search(line)
        if m:
            return proc, int(m.group(1))
    raise RuntimeError("server exited before it was ready")


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=int, default=500)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--ack", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        flags = ["--min-replicas-to-ack", str(args.ack)] if args.ack else []
        primary, pport = start(Path(tmp) / "p", *flags)
        replica, rport = start(Path(tmp) / "r", "--replicaof", f"127.0.0.1:{pport}")
        try:
            p, r = redis.Redis(port=pport), redis.Redis(port=rport)
            deadline = time.monotonic() + 20
            while r.info("replication")["master_link_status"] != "up":
                if time.monotonic() > deadline:
                    raise RuntimeError("the replica did not connect")
                time.sleep(0.05)
            p.execute_command(
                "FT.CREATE", "idx", "ON", "HASH", "PREFIX", "1", "doc:", "SCHEMA", "v",
                "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", str(args.dim),
                "DISTANCE_METRIC", "COSINE",
            )  # fmt: skip
            rng = np.random.default_rng(0)
            vectors = rng.standard_normal((1000, args.dim)).astype(np.float32)
            total = int(args.rate * args.seconds)
            latencies: list[float] = []
            t0 = time.monotonic()

            def client(k: int) -> None:
                c = redis.Redis(port=pport)
                for i in range(k, total, CLIENTS):
                    wait = t0 + i / args.rate - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                    s = time.perf_counter()
                    c.hset(f"doc:{i}", mapping={"v": vectors[i % 1000].tobytes(), "n": i})
                    latencies.append((time.perf_counter() - s) * 1000)
                c.close()

            threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - t0
            end_lag = int(r.info("replication")["memvec_lag_records"])
            target = int(p.info("replication")["master_repl_offset"])
            while int(r.info("replication")["slave_repl_offset"]) < target:
                time.sleep(0.01)
            fields = r.info("replication")
            result = {
                "writes": total,
                "achieved_rate": round(total / elapsed, 1),
                "dim": args.dim,
                "min_replicas_to_ack": args.ack,
                "replica_lag_ms_p50": fields["memvec_lag_ms_p50"],
                "replica_lag_ms_p99": fields["memvec_lag_ms_p99"],
                "replica_lag_records_at_end": end_lag,
                "write_latency_ms_p50": round(pct(latencies, 50), 2),
                "write_latency_ms_p99": round(pct(latencies, 99), 2),
            }
            print(json.dumps(result, indent=2))
        finally:
            for proc in (replica, primary):
                proc.terminate()
                proc.wait(30)


if __name__ == "__main__":
    main()
