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
        help="embedded main job: ingest a sample corpus into a durable local store and query it",
        description="Ingest a sample corpus (Python standard-library module documentation, "
        "no download) into the embedded durable store under --data-dir and answer example "
        "queries. A second run reuses the data directory and ingests nothing new.",
    )
    p.add_argument("--data-dir", default="./data", help="store directory (default ./data)")
    p.add_argument("--limit", type=int, default=200, help="modules to ingest (default 200)")
    p.add_argument("--query", action="append", help="a query to run (repeatable)")

    def run(args: argparse.Namespace) -> int:
        from .demo import run_demo

        return run_demo(args)

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
    _add_api(sub)
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
