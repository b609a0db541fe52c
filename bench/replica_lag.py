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
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import redis

from .common import pct
from .resp import memvec_server

CLIENTS = 4  # paced clients sharing the rate (one alone cannot do 500 fsynced writes/s)


def measure(rate: int, seconds: float, dim: int, ack: int, tmp: Path) -> dict[str, Any]:
    """Run the primary + replica case once; the summary plus the raw client latencies."""
    with ExitStack() as stack:
        flags = ["--min-replicas-to-ack", str(ack)] if ack else []
        prim = stack.enter_context(
            memvec_server(tmp, "always", extra_args=flags, name="memvec primary")
        )
        rep = stack.enter_context(
            memvec_server(
                tmp, "always", extra_args=["--replicaof", f"127.0.0.1:{prim.port}"],
                name="memvec replica",
            )
        )  # fmt: skip
        p, r = prim.client(), rep.client()
        deadline = time.monotonic() + 20
        while r.info("replication")["master_link_status"] != "up":
            if time.monotonic() > deadline:
                raise RuntimeError("the replica did not connect")
            time.sleep(0.05)
        p.execute_command(
            "FT.CREATE", "idx", "ON", "HASH", "PREFIX", "1", "doc:", "SCHEMA", "v",
            "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", str(dim),
            "DISTANCE_METRIC", "COSINE",
        )  # fmt: skip
        rng = np.random.default_rng(0)
        vectors = rng.standard_normal((1000, dim)).astype(np.float32)
        total = int(rate * seconds)
        latencies: list[float] = []
        t0 = time.monotonic()

        def client(k: int) -> None:
            c = redis.Redis(port=prim.port)
            for i in range(k, total, CLIENTS):
                wait = t0 + i / rate - time.monotonic()
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
        p.close()
        r.close()
    return {
        "writes": total,
        "achieved_rate": round(total / elapsed, 1),
        "dim": dim,
        "min_replicas_to_ack": ack,
        "replica_lag_ms_p50": float(fields["memvec_lag_ms_p50"]),
        "replica_lag_ms_p99": float(fields["memvec_lag_ms_p99"]),
        "replica_lag_records_at_end": end_lag,
        "write_latency_ms_p50": round(pct(latencies, 50), 2),
        "write_latency_ms_p99": round(pct(latencies, 99), 2),
        "write_latencies_ms": [round(x, 3) for x in latencies],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=int, default=500)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--ack", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(args.rate, args.seconds, args.dim, args.ack, Path(tmp))
    result.pop("write_latencies_ms")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
