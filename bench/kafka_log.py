"""Acknowledgement latency of a durable HSET: the Kafka transaction log vs the file log.

Usage: ``python -m bench.kafka_log [--writes 2000] [--dim 384]``

Starts the tansu broker of ``tests.harness`` and, one after the other, a ``memvec server``
with ``--log kafka://...`` and one with the file log (``--appendfsync always``), each in
a temporary directory. One client sends ``writes`` HSETs of a ``dim``-dim FLOAT32 vector,
one at a time (each waits for its reply, so the number is the full durable round trip:
fsync for the file log; broker ack plus the writer's fencing check for Kafka), and the
script prints p50/p99/max in ms and writes/s per log as JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import redis

READY = re.compile(r"memvec server ready on [^ ]*:(\d+)")


def run_server(data_dir: Path, *extra: str) -> tuple[subprocess.Popen[str], int]:
    argv = [sys.executable, "-m", "pipeline.cli", "server", "--port", "auto",
            "--dir", str(data_dir), "--appendfsync", "always", "--loglevel", "warning",
            *extra]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if m := READY.search(line):
            return proc, int(m.group(1))
    raise RuntimeError(f"memvec server did not start (rc {proc.wait()}): {argv}")


def measure(port: int, writes: int, dim: int) -> dict[str, Any]:
    r = redis.Redis(port=port)
    vec = np.random.default_rng(0).standard_normal(dim).astype(np.float32).tobytes()
    for i in range(50):  # warm up connections and the producer
        r.hset(f"warm:{i}", mapping={"v": vec})
    lat = np.empty(writes)
    t0 = time.perf_counter()
    for i in range(writes):
        t = time.perf_counter()
        r.hset(f"doc:{i}", mapping={"v": vec, "n": i})
        lat[i] = (time.perf_counter() - t) * 1000
    elapsed = time.perf_counter() - t0
    r.close()
    return {
        "p50_ms": round(float(np.percentile(lat, 50)), 3),
        "p99_ms": round(float(np.percentile(lat, 99)), 3),
        "max_ms": round(float(lat.max()), 3),
        "writes_per_s": round(writes / elapsed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--dim", type=int, default=384)
    args = parser.parse_args()
    from tests.harness.components import KafkaBroker

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, KafkaBroker(log_dir=tmp) as broker:
        url = f"kafka://{broker.bootstrap}/bench-{uuid.uuid4().hex[:8]}"
        for name, extra in (("kafka", ["--log", url]), ("file", [])):
            proc, port = run_server(Path(tmp) / name, *extra)
            try:
                results[name] = measure(port, args.writes, args.dim)
            finally:
                proc.terminate()
                proc.wait(30)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
