"""Appends per second of the file transaction log, printed as JSON.

Each writer thread loops ``seq = log.append(payload); log.wait_durable(seq)`` with
1.6 KB payloads, as the engine does per write command, for ``--seconds`` per case:
``always`` with 1, 8 and 32 writers (group commit) and ``everysec`` with 1 and 8.
A raw ``os.write`` + ``os.fsync`` loop on the same disk is measured first as the
baseline a one-fsync-per-write design would get. Run from the repository root::

    .venv/bin/python -m bench.wal_throughput [--seconds 2] [--dir /path/on/the/disk]

``--dir`` picks the filesystem measured (default: a temporary directory). Numbers from a
shared, noisy machine vary by 2x between runs; compare cases within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Sequence

from store.config import FsyncPolicy
from store.wal.file_log import FileLog

PAYLOAD = os.urandom(1600)


def raw_fsync_baseline(directory: str, seconds: float) -> dict[str, float]:
    path = os.path.join(directory, "raw.bin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    count, start = 0, time.perf_counter()
    try:
        while time.perf_counter() - start < seconds:
            os.write(fd, PAYLOAD)
            os.fsync(fd)
            count += 1
    finally:
        os.close(fd)
        os.unlink(path)
    elapsed = time.perf_counter() - start
    return {
        "writes_per_s": round(count / elapsed),
        "fsync_latency_us": round(elapsed / count * 1e6),
    }


def run_case(
    directory: str, policy: FsyncPolicy, threads: int, seconds: float
) -> dict[str, object]:
    log = FileLog(directory, fsync=policy)
    log.open()
    stop = threading.Event()
    counts = [0] * threads
    latencies: list[list[float]] = [[] for _ in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def writer(i: int) -> None:
        barrier.wait()
        while not stop.is_set():
            began = time.perf_counter()
            log.wait_durable(log.append(PAYLOAD))
            latencies[i].append(time.perf_counter() - began)
            counts[i] += 1

    workers = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    fsyncs = log.fsync_count
    log.close()
    total = sum(counts)
    ordered = sorted(x for per in latencies for x in per)
    return {
        "policy": policy.value,
        "threads": threads,
        "appends": total,
        "appends_per_s": round(total / elapsed),
        "mb_per_s": round(total * len(PAYLOAD) / elapsed / 1e6, 1),
        "fsyncs": fsyncs,
        "appends_per_fsync": round(total / fsyncs, 1) if fsyncs else None,
        "p50_ms": round(ordered[len(ordered) // 2] * 1e3, 3),
        "p99_ms": round(ordered[int(len(ordered) * 0.99)] * 1e3, 3),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each case")
    parser.add_argument("--dir", default=None, help="parent directory on the disk to measure")
    args = parser.parse_args(argv)
    cases = [
        (FsyncPolicy.ALWAYS, 1),
        (FsyncPolicy.ALWAYS, 8),
        (FsyncPolicy.ALWAYS, 32),
        (FsyncPolicy.EVERYSEC, 1),
        (FsyncPolicy.EVERYSEC, 8),
    ]
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="wal-bench-") as root:
        result = {
            "payload_bytes": len(PAYLOAD),
            "seconds_per_case": args.seconds,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "raw_write_fsync": raw_fsync_baseline(root, args.seconds),
            "cases": [
                run_case(
                    os.path.join(root, f"{policy.value}-{threads}"), policy, threads, args.seconds
                )
                for policy, threads in cases
            ],
        }
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
