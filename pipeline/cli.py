"""The ``memvec`` command line: one entry point, one subcommand per job.

Subcommands import their modules lazily so ``memvec --help`` stays fast and does not load
torch. Every option that a subcommand reads from the environment is shown in its --help.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version

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
        "nothing new. Ctrl-C stops it.",
    )
    p.add_argument("--data-dir", default="./data", help="store directory (default ./data)")
    p.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080; 0 = any)")
    p.add_argument("--limit", type=int, default=200, help="modules to ingest (default 200)")
    p.add_argument("--query", action="append", help="an example query to run (repeatable)")
    p.add_argument("--no-serve", action="store_true", help="ingest, answer, and exit")

    def run(args: argparse.Namespace) -> int:
        from .demo.job import run_demo_job

        return run_demo_job(args)

    p.set_defaults(run=run)


def _add_server(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    try:
        from store.server.cli import add_server_parser
    except ImportError:
        return
    add_server_parser(sub)


def _add_worker(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from .worker import add_worker_parser

    add_worker_parser(sub)


def _add_api(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from .api.cli import add_api_parser

    add_api_parser(sub)


def _add_package(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from .packaging import add_package_parser

    add_package_parser(sub)


def _add_restore(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from store.snapshot.restore import add_restore_parser

    add_restore_parser(sub)


def _add_stack(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from .stack import add_stack_parser

    add_stack_parser(sub)


def _add_ingest(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from .backfill import add_ingest_parser

    add_ingest_parser(sub)


def _add_bench(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    try:
        from bench.cli import add_bench_parser
    except ImportError:
        return
    add_bench_parser(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memvec",
        description="memvec: a durable, Redis-compatible, in-memory vector store and the "
        "streaming pipeline that keeps it fresh.",
    )
    parser.add_argument("--version", action="version", version=f"memvec {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_demo(sub)
    _add_server(sub)
    _add_worker(sub)
    _add_ingest(sub)
    _add_api(sub)
    _add_package(sub)
    _add_restore(sub)
    _add_stack(sub)
    _add_bench(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
