"""The ``memvec stack`` command line: parses ``up|down|status|failover`` and prints tables.

The behaviour of each verb is the contract in :mod:`pipeline.stack`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .cluster import ClusterShape
from .failover import stack_failover
from .health import role_of, stack_status
from .launch import SOURCES, stack_down, stack_up
from .state import Proc


def _print_table(rows: list[tuple[Proc, bool, bool]]) -> None:
    width = max([15, *(len(proc.name) + 2 for proc, _, _ in rows)])
    print(f"{'process':<{width}}{'pid':>8}{'port':>7}  {'alive':<6}{'health':<8}{'role':<8}log")
    for proc, alive, healthy in rows:
        health = "healthy" if healthy else "down"
        print(
            f"{proc.name:<{width}}{proc.pid:>8}{proc.port:>7}  {'yes' if alive else 'no':<6}"
            f"{health:<8}{role_of(proc, healthy):<8}{proc.log}"
        )


def _run(args: argparse.Namespace) -> int:
    stack_dir = Path(args.dir)
    if args.stack_command == "up":
        shape = ClusterShape(args.shards, args.replicas) if args.shards else None
        state = stack_up(stack_dir, base_port=args.base_port, source=args.source, shape=shape)
        _print_table(stack_status(stack_dir))
        width = max(len(name) + 2 for name in [*state["endpoints"], "bucket"])
        for name, url in state["endpoints"].items():
            print(f"{name:<{width}}{url}")
        print(f"{'bucket':<{width}}s3://{state['bucket']} -> {state['queue_url']}")
        return 0
    if args.stack_command == "down":
        stack_down(stack_dir)
        return 0
    if args.stack_command == "failover":
        if args.nodes:
            from ..stores.failover import promote, split_urls

            try:
                print(f"memvec stack failover: primary is {promote(split_urls(args.nodes))}")
            except RuntimeError as exc:
                raise SystemExit(f"memvec stack failover: {exc}") from None
            return 0
        new = stack_failover(stack_dir)
        print(f"memvec stack failover: {new} is the primary")
        _print_table(stack_status(stack_dir))
        return 0
    rows = stack_status(stack_dir)
    if not rows:
        print(f"memvec stack: no stack in {stack_dir.resolve()} (start one with 'memvec stack up')")
        return 1
    _print_table(rows)
    return 0 if all(alive and healthy for _, alive, healthy in rows) else 1


def add_stack_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``memvec stack up|down|status``; sets ``run`` like the other subcommands."""
    p = sub.add_parser(
        "stack",
        help="the compose.yaml topology as local processes (kafka, moto, store, workers, api)",
        description="Run the compose.yaml topology as local processes, each in its own process "
        "group with its own port and log file under --dir: kafka, moto (S3, SQS), the store "
        "primary and its replica, two workers and the HTTP API. 'up' returns once every "
        "process is healthy and leaves the stack running; 'down' stops all of it.",
    )
    verbs = p.add_subparsers(dest="stack_command", metavar="up|down|status|failover", required=True)
    up = verbs.add_parser(
        "up",
        help="start the stack detached and wait until it is healthy",
        description="Start the stack detached and return once every process is healthy; "
        "it keeps running until 'memvec stack down'. Environment: MEMVEC_STACK_SOURCE "
        "(--source), MEMVEC_STACK_SHARDS (--shards), MEMVEC_STACK_REPLICAS (--replicas), "
        "MEMVEC_MIN_REPLICAS_TO_ACK (replicas that must have a write before "
        "the store acknowledges it; default 1), MEMVEC_BATCHING_WINDOW_MS (the workers' "
        "batching window; default 1000).",
    )
    up.add_argument("--base-port", type=int, default=0, help="first port (default 0: free ports)")
    up.add_argument(
        "--source",
        choices=SOURCES,
        default=os.environ.get("MEMVEC_STACK_SOURCE", "sqs"),
        help="what workers read: the SQS queue S3 notifies (default), or the Kafka topic "
        "memvec-events that a bridge process fills from it (env MEMVEC_STACK_SOURCE)",
    )
    up.add_argument(
        "--shards",
        type=int,
        default=int(os.environ.get("MEMVEC_STACK_SHARDS", "0")),
        help="run the store as a Redis Cluster of this many shards (memvec server "
        "--cluster-enabled yes, made with 'memvec cluster create'; workers and the API get "
        "its redis+cluster:// URL); 0, the default, is one primary and its replica "
        "(env MEMVEC_STACK_SHARDS)",
    )
    up.add_argument(
        "--replicas",
        type=int,
        default=int(os.environ.get("MEMVEC_STACK_REPLICAS", "1")),
        help="replicas per shard with --shards (default 1; env MEMVEC_STACK_REPLICAS); "
        "MEMVEC_MIN_REPLICAS_TO_ACK defaults to 1 with replicas, 0 without",
    )
    verbs.add_parser("down", help="stop every process of the stack")
    verbs.add_parser("status", help="each process, pid, port, alive, health and role")
    failover = verbs.add_parser(
        "failover",
        help="promote the replica (after losing the primary, or to hand over without loss)",
    )
    failover.add_argument(
        "--nodes",
        help="act on these store nodes instead of a stack directory (compose: "
        "redis://store:6379,redis://store-replica:6379)",
    )
    for verb in (up, verbs.choices["down"], verbs.choices["status"], failover):
        verb.add_argument("--dir", default="./stack", help="stack directory (default ./stack)")
    p.set_defaults(run=_run)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pipeline.stack up|down|status|failover ...``, the same as ``memvec stack``."""
    parser = argparse.ArgumentParser(prog="memvec")
    add_stack_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["stack", *(argv if argv is not None else sys.argv[1:])])
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
