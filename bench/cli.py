"""The benchmark command line: ``python -m bench`` (and ``memvec bench``, which delegates here).

``--quick`` (the default; a few minutes on 2 cores) or ``--full`` (tens of minutes: 100k
vectors, 1,000 queries), ``--only vector_query,ingest`` to choose, ``--out DIR`` for the
JSON and PNG files (default ``bench/results``), ``--profile`` to record py-spy profiles of
memvec under ``DIR/profiles``. Exit status 1 when a benchmark failed (its JSON holds the
error), 2 for an unknown benchmark name. The README table comes from the JSON files:
``python -m bench.report --readme README.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .sizes import SIZES
from .suite import BENCHMARKS

__all__ = ["build_parser", "main", "run"]


def build_parser(prog: str = "python -m bench") -> argparse.ArgumentParser:
    """The benchmark options; ``args.run(args)`` runs what they select."""
    p = argparse.ArgumentParser(
        prog=prog,
        description="Run memvec's benchmarks (vector query, durable ingest, restart, "
        "memory, pipeline throughput, replica lag, freshness when available, reliability: "
        "output buffer limits and kill -9, concurrency: 200 clients mixing writes, KNN and "
        "deletes, cluster: 1 and 3 shards through RedisCluster) side by side with "
        "redis-stack-server on this machine, and retrieval quality (recall@1/@10 and MRR "
        "through S3 -> ingest -> server -> API against exact search); write "
        "<out>/<name>.json and PNG plots. Data: the shared embeddings at $MEMVEC_BENCH_DATA "
        "(default <checkout>/../shared/data/pypi-minilm-100k.npz).",
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="size", action="store_const", const="quick",
                      help="20k vectors, fewer EF values: a few minutes (default)")  # fmt: skip
    size.add_argument("--full", dest="size", action="store_const", const="full",
                      help="100k vectors, 1,000 queries: tens of minutes")  # fmt: skip
    size.add_argument("--size", dest="size", choices=sorted(SIZES), help=argparse.SUPPRESS)
    p.add_argument("--only", default=None, metavar="NAME,...",
                   help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")  # fmt: skip
    p.add_argument("--out", type=Path, default=Path("bench/results"),
                   help="where the JSON files and plots go (default bench/results)")  # fmt: skip
    p.add_argument("--profile", action="store_true",
                   help="record py-spy profiles of memvec into OUT/profiles")  # fmt: skip
    p.set_defaults(run=run, size="quick")
    return p


def main(argv: Sequence[str] | None = None, prog: str = "python -m bench") -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) and run the selected benchmarks."""
    args = build_parser(prog).parse_args(sys.argv[1:] if argv is None else list(argv))
    return run(args)


def run(args: Any) -> int:
    """Run the benchmarks ``args`` selects; 0 when all succeeded (see the module doc)."""
    from .common import log
    from .suite import run_suite

    names = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else BENCHMARKS
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        log(f"unknown benchmark(s) {', '.join(unknown)}: choose from {', '.join(BENCHMARKS)}")
        return 2
    written = run_suite(names, SIZES[args.size], args.out, profile=args.profile)
    failed = []
    for name, path in written.items():
        log(f"{name}: {path or 'skipped'}")
        if path is not None and "error" in json.loads(path.read_text()):
            failed.append(name)
    if failed:
        log(f"failed: {', '.join(failed)} (see the JSON files for the traceback)")
    return 1 if failed else 0
