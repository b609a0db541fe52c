"""The ``memvec`` command line: one entry point, one subcommand per job.

Subcommands import their modules lazily so ``memvec --help`` stays fast and does not load
torch. Every option that a subcommand reads from the environment is shown in its --help.
The store registers its own subcommands (:func:`store.cli.add_store_parsers`). ``memvec
bench`` only delegates to the benchmark harness (``python -m bench``): ``bench`` is imported
when that subcommand runs, never by this module, and the subcommand is absent when the
harness is not installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version

from store.cli import add_store_parsers

Runner = Callable[[argparse.Namespace], int]


def _version() -> str:
    try:
        return version("memvec")
    except PackageNotFoundError:  # running from a checkout without install
        return "0+unknown"


def _add_demo(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="the embedded main job: S3 -> notifications -> pipeline -> durable store -> API",
        description="In one process: an embedded S3 endpoint seeded with a sample corpus "
        "(Python standard-library module documentation, no download), S3 notifications on "
        "an in-process stream, the pipeline, the durable store under --data-dir, and the "
        "HTTP API and search page. A second run reuses the data directory and embeds "
        "nothing new. With --from DIR, your own files (.txt .md .html .htm .json .jsonl "
        ".csv, each optionally .gz; recursively; hidden, binary and unreadable files are "
        "skipped with a reason) replace the sample corpus, through the same S3 and ingest "
        "path as `memvec ingest` with its progress bar; a rerun with the same DIR and "
        "--data-dir embeds only new and changed chunks and removes deleted files' chunks. "
        "Hits show the file's path as source files/<path relative to DIR>. All state (the "
        "durable store: chunks, vectors, per-file hashes; dlq.jsonl) is in --data-dir; the "
        "embedded S3 endpoint is in memory and re-seeded each run. Ctrl-C stops it.",
    )
    p.add_argument(
        "--from", dest="from_dir", metavar="DIR", default=None,
        help="ingest the files under DIR instead of the sample corpus; use one --data-dir "
        "per DIR (a run prunes files the data directory holds that DIR no longer has)",
    )  # fmt: skip
    p.add_argument(
        "--data-dir", default="./data",
        help="where the demo keeps its state: the durable store (WAL, snapshots) with "
        "every chunk, vector and per-file content hash, and dlq.jsonl (default ./data)",
    )  # fmt: skip
    p.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080; 0 = any)")
    p.add_argument(
        "--limit", type=int, default=None,
        help="sample-corpus modules to ingest (default 200; not with --from)",
    )  # fmt: skip
    p.add_argument("--query", action="append", help="an example query to run (repeatable)")
    p.add_argument("--no-serve", action="store_true", help="ingest, answer, and exit")

    def run(args: argparse.Namespace) -> int:
        from .demo.job import run_demo_job

        return run_demo_job(args)

    p.set_defaults(run=run)


def _describe(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str
) -> None:
    # worker.py and backfill.py show their module docstrings (reST, internals) as --help;
    # users get a short description instead, the contract stays in the docstring
    parser = sub.choices[name]
    parser.description = text
    parser.formatter_class = argparse.HelpFormatter


def _add_worker(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from .worker import add_worker_parser

    add_worker_parser(sub)
    _describe(
        sub,
        "worker",
        "Run the pipeline on a stream of S3 notifications (or inline documents) from Kafka, "
        "Kinesis or SQS: parse, chunk, embed, write to the store, send failures to --dlq, "
        "and commit only after the store acknowledged. Workers can share a Kafka consumer "
        "group or a Kinesis lease table. Sources: kafka://HOST:PORT/TOPIC?group=NAME, "
        "kinesis://STREAM?lease_table=TABLE, sqs://HOST:PORT/QUEUE-PATH or the queue's "
        "http(s):// URL. Stores: redis://HOST:PORT or embedded:DIR; a comma-separated list "
        "of every node of one store follows whichever is primary; "
        "redis+cluster://HOST:PORT[,HOST:PORT...] is a Redis Cluster. SIGTERM or Ctrl-C stops "
        "it cleanly.",
    )


def _add_api(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from .api.cli import add_api_parser

    add_api_parser(sub)


def _add_package(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from .packaging import add_package_parser

    add_package_parser(sub)


def _add_stack(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from .stack import add_stack_parser

    add_stack_parser(sub)


def _add_ingest(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from .backfill import add_ingest_parser

    add_ingest_parser(sub)
    _describe(
        sub,
        "ingest",
        "Bring the store in line with every object under an S3 prefix, through the same "
        "pipeline the workers run. Resumable: an object already ingested at its current "
        "ETag is skipped, so a rerun after Ctrl-C or a crash redoes no finished work. An "
        "object that fails (unparseable, too large) is reported and tried again by the next "
        "run. --prune also deletes the chunks of objects S3 no longer has.",
    )


def _add_bench(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    if importlib.util.find_spec("bench") is None:
        return
    # no options of its own: everything after "bench" goes to the harness (see main)
    p = sub.add_parser(
        "bench",
        help="benchmarks against redis-stack-server: JSON and PNG plots (python -m bench)",
        add_help=False,
    )

    def run(args: argparse.Namespace) -> int:
        from bench.cli import main

        return main(args.forwarded, prog="memvec bench")

    p.set_defaults(run=run, forwards_arguments=True)


def build_parser() -> argparse.ArgumentParser:
    """The ``memvec`` parser; a parsed subcommand sets ``run`` (``args.run(args)``)."""
    parser = argparse.ArgumentParser(
        prog="memvec",
        description="memvec: a durable, Redis-compatible, in-memory vector store and the "
        "streaming pipeline that keeps it fresh.",
    )
    parser.add_argument("--version", action="version", version=f"memvec {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_demo(sub)
    add_store_parsers(sub)
    _add_worker(sub)
    _add_ingest(sub)
    _add_api(sub)
    _add_package(sub)
    _add_stack(sub)
    _add_bench(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``memvec`` with ``argv`` (default ``sys.argv[1:]``); the exit status."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "forwards_arguments", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.forwarded = extra
    run: Runner | None = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return 0
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
