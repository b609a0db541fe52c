"""``memvec server``: command-line options (each also an environment variable) and the runner.

Every option ``--some-name`` can come from ``MEMVEC_SOME_NAME``; a flag wins over the
variable, the variable over the default. ``--help`` lists them.

The runner starts a :class:`store.server.Server`, prints ``memvec server ready on
HOST:PORT`` (plus ``tls on HOST:PORT``) on stdout once commands are served, and stops
gracefully on SIGTERM/SIGINT or SHUTDOWN: exit status 0 after every in-flight write was
made durable and answered and the log was closed; 1 if it could not start.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import FsyncPolicy
from ..index.manager import KNN_ORDERS
from . import event_loop
from .config import (
    POLICIES,
    ServerConfig,
    env_name,
    is_loopback,
    parse_bool,
    parse_memory,
    parse_output_limits,
)

log = logging.getLogger("memvec.server")

_LOGLEVELS = {
    "debug": logging.DEBUG,
    "verbose": logging.INFO,
    "notice": logging.INFO,
    "warning": logging.WARNING,
}


def _nonneg_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"{value} is negative")
    return value


def _lane_min_us(text: str) -> int | None:
    """``--search-lane-min-us``: microseconds, or ``off``."""
    return None if text.strip().lower() == "off" else _nonneg_int(text)


def _plain_port(text: str) -> int | None:
    """``--port``: 0 turns plaintext off (Redis's ``port 0``), ``auto`` lets the OS pick."""
    if text.strip().lower() == "auto":
        return 0
    return _port(text) or None


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError(f"{value} is not a TCP port")
    return value


def _maxmemory_policy(text: str) -> str:
    if text.lower() not in POLICIES:
        raise ValueError(f"{text} is not one of {', '.join(POLICIES)}")
    return text.lower()


def _event_loop(text: str) -> str:
    event_loop.loop_name(text)  # a name it knows, and uvloop installed if named
    return text.lower()


def _knn_order(text: str) -> str:
    if text.lower() not in KNN_ORDERS:
        raise ValueError(f"{text} is not one of {', '.join(KNN_ORDERS)}")
    return text.lower()


@dataclass(frozen=True)
class _Option:
    flag: str
    dest: str  # ServerConfig field (an option whose parse returns a dict sets several)
    parse: Callable[[str], Any]
    help: str
    metavar: str = ""


_OPTIONS = (
    _Option(
        "--bind",
        "bind",
        lambda s: tuple(s.split()),
        "addresses to listen on, space separated (default 127.0.0.1)",
        "ADDR",
    ),
    _Option(
        "--port",
        "port",
        _plain_port,
        "TCP port (default 6379); 0: no plaintext port, TLS only (needs --tls-port); "
        "auto: the OS picks a free one (shown in the ready line)",
        "PORT",
    ),
    _Option(
        "--dir",
        "data_dir",
        Path,
        "data directory: transaction log and snapshots (default ./data)",
        "DIR",
    ),
    _Option(
        "--appendfsync",
        "appendfsync",
        FsyncPolicy,
        "always: acknowledge writes after fsync (default; nothing acknowledged is lost); "
        "everysec / no: faster, a crash loses up to ~1 s",
        "always|everysec|no",
    ),
    _Option(
        "--requirepass",
        "requirepass",
        str,
        "password of the default user; clients must AUTH",
        "PASSWORD",
    ),
    _Option(
        "--aclfile",
        "aclfile",
        Path,
        "ACL users file (lines like 'user alice on >pass ~doc:* +@read')",
        "FILE",
    ),
    _Option("--tls-port", "tls_port", _port, "TLS port (off unless given)", "PORT"),
    _Option("--tls-cert-file", "tls_cert_file", Path, "TLS certificate (PEM)", "FILE"),
    _Option("--tls-key-file", "tls_key_file", Path, "TLS private key (PEM)", "FILE"),
    _Option(
        "--tls-ca-cert-file",
        "tls_ca_cert_file",
        Path,
        "CA bundle used to verify client certificates (and, with --tls-replication, the "
        "primary's certificate)",
        "FILE",
    ),
    _Option(
        "--tls-auth-clients",
        "tls_auth_clients",
        str,
        "client certificates: yes (required), optional (verified if sent; default), no",
        "yes|optional|no",
    ),
    _Option(
        "--tls-replication",
        "tls_replication",
        parse_bool,
        "yes: a replica reaches its primary's --tls-port over TLS (default no)",
        "yes|no",
    ),
    _Option(
        "--tls-client-cert-file",
        "tls_client_cert_file",
        Path,
        "certificate a replica presents to its primary (default --tls-cert-file)",
        "FILE",
    ),
    _Option(
        "--tls-client-key-file",
        "tls_client_key_file",
        Path,
        "private key of --tls-client-cert-file",
        "FILE",
    ),
    _Option(
        "--maxclients", "maxclients", _nonneg_int, "most simultaneous clients (default 10000)", "N"
    ),
    _Option(
        "--timeout",
        "timeout_s",
        _nonneg_int,
        "close clients idle this many seconds; 0 never (default)",
        "SECONDS",
    ),
    _Option(
        "--proto-max-bulk-len",
        "proto_max_bulk_len",
        parse_memory,
        "longest argument accepted (default 512mb)",
        "BYTES",
    ),
    _Option(
        "--maxmemory",
        "maxmemory_bytes",
        parse_memory,
        "refuse writes with -OOM past this dataset size, e.g. 100mb, 2gb; 0 no limit (default)",
        "BYTES",
    ),
    _Option(
        "--maxmemory-policy",
        "maxmemory_policy",
        _maxmemory_policy,
        "what goes past --maxmemory: noeviction (default: refuse writes), allkeys-lru, "
        "volatile-lru, allkeys-lfu, volatile-lfu, allkeys-random, volatile-random, volatile-ttl",
        "POLICY",
    ),
    _Option(
        "--inline-commands",
        "inline_commands",
        parse_bool,
        "yes (default): simple commands run straight from the socket callback when the "
        "client is otherwise idle; no: every batch through the client's task",
        "yes|no",
    ),
    _Option(
        "--kept-page-bytes",
        "kept_page_bytes",
        parse_bool,
        "yes (default): a repeated FT.SEARCH KNN ... NOCONTENT request is answered "
        "from its bytes, in C, before it is parsed; no: parsed and run as any request (the "
        "same replies)",
        "yes|no",
    ),
    _Option(
        "--search-walker-threads",
        "search_walker_threads",
        _nonneg_int,
        "while other clients share the server, a repeated KNN query's HNSW walk runs on one "
        "of this many threads and the event loop serves others meanwhile (default 2); 0: on "
        "the event loop",
        "N",
    ),
    _Option(
        "--search-walker-min-us",
        "search_walker_min_us",
        _nonneg_int,
        "only a query whose last walk on those threads took at least this many us goes "
        "there (default 250); 0: every such query",
        "US",
    ),
    _Option(
        "--event-loop",
        "event_loop",
        _event_loop,
        "auto (default: uvloop when installed, else asyncio's), uvloop or asyncio",
        "LOOP",
    ),
    _Option(
        "--search-lane-min-us",
        "search_lane_min_us",
        _lane_min_us,
        "a search whose query was seen to cost at least this many us of CPU runs on a worker "
        "thread while other clients share the server (default 600); 0: every such search; "
        "off: every search on the event loop",
        "US|off",
    ),
    _Option(
        "--search-knn-order",
        "search_knn_order",
        _knn_order,
        "order of FT.SEARCH KNN hits without SORTBY: distance (default: nearest first, as "
        "Amazon MemoryDB) or score (RediSearch 2.10's: score, then document id)",
        "ORDER",
    ),
    _Option(
        "--snapshot-after-writes",
        "snapshot_after_writes",
        _nonneg_int,
        "snapshot after this many logged writes; 0 off (default)",
        "N",
    ),
    _Option(
        "--snapshot-interval",
        "snapshot_interval_s",
        float,
        "snapshot at least this often (seconds) while writes happen; 0 off (default)",
        "SECONDS",
    ),
    _Option(
        "--client-output-buffer-limit",
        "client_output_buffer_limit",
        parse_output_limits,
        "redis.conf syntax '<class> <hard> <soft> <soft-seconds> ...' (class normal, "
        "replica or pubsub), or one size for normal clients' hard limit: a client whose "
        "unsent replies pass it is disconnected (default 'normal 256mb 0 0')",
        "LIMITS",
    ),
    _Option("--loglevel", "loglevel", str, "debug, verbose, notice (default) or warning", "LEVEL"),
    _Option(
        "--replicaof",
        "replicaof",
        str,
        "run as a read-only replica of this primary",
        "HOST:PORT",
    ),
    _Option("--masteruser", "masteruser", str, "user a replica authenticates as", "USER"),
    _Option("--masterauth", "masterauth", str, "password a replica presents", "PASSWORD"),
    _Option(
        "--min-replicas-to-ack",
        "min_replicas_to_ack",
        _nonneg_int,
        "hold each write reply until N replicas have it durable (default 0)",
        "N",
    ),
    _Option(
        "--min-replicas-timeout-ms",
        "min_replicas_timeout_ms",
        _nonneg_int,
        "then answer -NOREPLICAS after this long; 0 waits forever (default 1000)",
        "MS",
    ),
    _Option(
        "--repl-backlog-size",
        "repl_backlog_bytes",
        parse_memory,
        "recent records kept in memory for reconnecting replicas (default 64mb)",
        "BYTES",
    ),
    _Option(
        "--snapshot-to",
        "snapshot_to",
        str,
        "also copy every snapshot to S3 (restore with 'memvec restore s3://...')",
        "s3://BUCKET/PREFIX",
    ),
    _Option(
        "--restore-from",
        "restore_from",
        str,
        "fill an empty --dir from the newest valid snapshot there first",
        "s3://BUCKET/PREFIX",
    ),
    _Option(
        "--snapshot-endpoint-url",
        "snapshot_endpoint_url",
        str,
        "S3 endpoint for --snapshot-to (moto, MinIO); AWS when omitted",
        "URL",
    ),
    _Option(
        "--log",
        "log",
        str,
        "transaction log: file (segments in --dir, default) or a Kafka topic shared by "
        "every node; with kafka, --replicaof makes a follower of the topic",
        "file|kafka://HOST:PORT/TOPIC",
    ),
    _Option(
        "--auto-failover",
        "auto_failover",
        parse_bool,
        "yes: with a kafka --log, the nodes elect the writer (a Kafka consumer group as "
        "the lease) and replace it when it stops answering (default no)",
        "yes|no",
    ),
    _Option(
        "--failover-timeout-ms",
        "failover_timeout_ms",
        _nonneg_int,
        "with --auto-failover, a writer silent this long is replaced (default 6000)",
        "MS",
    ),
    _Option(
        "--replica-announce-ip",
        "replica_announce_ip",
        str,
        "the host other nodes and clients reach this node on (default: first --bind)",
        "HOST",
    ),
    _Option(
        "--cluster-enabled",
        "cluster_enabled",
        parse_bool,
        "cluster mode: hash slots, MOVED/ASK redirections, CLUSTER commands (default no)",
        "yes|no",
    ),
    _Option(
        "--cluster-topology",
        "cluster_topology",
        str,
        "where the cluster topology lives; written by 'memvec cluster create' "
        "(default file:DIR/cluster-topology.json)",
        "file:/PATH|kafka://HOST:PORT/TOPIC",
    ),
    _Option(
        "--cluster-announce-ip",
        "cluster_announce_ip",
        str,
        "address clients are sent to for this node (default: the first --bind address)",
        "ADDR",
    ),
    _Option(
        "--repl-timeout",
        "repl_timeout_s",
        float,
        "a replica reconnects after hearing nothing this long (default 5)",
        "SECONDS",
    ),
)


def add_server_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add ``server`` to the ``memvec`` command line; sets ``run`` via ``set_defaults``."""
    p = subparsers.add_parser(
        "server",
        help="run the Redis-compatible RESP server (redis-py, redis-cli, RedisVL)",
        description="Serve the durable vector store over RESP2/RESP3 (Redis protocol), with "
        "the FT.* vector search commands, AUTH/ACL users and TLS. Every option can also be "
        "set with the environment variable shown; a flag wins over the variable.",
    )
    for opt in _OPTIONS:
        p.add_argument(
            opt.flag,
            dest=opt.dest,
            default=None,
            metavar=opt.metavar or None,
            help=f"{opt.help} [env {env_name(opt.flag)}]",
        )
    p.set_defaults(run=run)
    return p


def config_from_args(
    args: argparse.Namespace, environ: dict[str, str] | None = None
) -> ServerConfig:
    """Flags over ``MEMVEC_*`` variables over defaults. Raises ``ValueError`` naming the bad one."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for opt in _OPTIONS:
        raw = getattr(args, opt.dest, None)
        source = opt.flag
        if raw is None:
            raw = env.get(env_name(opt.flag))
            source = env_name(opt.flag)
        if raw is None:
            continue
        try:
            parsed = opt.parse(raw)
        except ValueError as exc:
            raise ValueError(f"{source}={raw!r}: {exc}") from None
        if isinstance(parsed, dict):  # an option that sets several fields
            values.update(parsed)
        else:
            values[opt.dest] = parsed
    if "tls_port" in values and values["tls_port"] == 0:
        del values["tls_port"]
    return ServerConfig(**values)


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"memvec server: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=_LOGLEVELS.get(config.loglevel, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    _one_blas_thread()
    return event_loop.run(serve(config), config.event_loop)


def _one_blas_thread() -> None:
    """Concurrent searches spread over the cores themselves (the search pool); BLAS
    threads inside every concurrent FLAT scan would fight them (8 clients on 100k
    vectors: FLAT 80 QPS with 2 BLAS threads per scan, see docs/decisions/0002). FLAT
    scans do not use BLAS: their own pass takes every core, one pass at a time
    (:mod:`store.index.flat_scan`)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def freeze_startup_objects() -> None:
    """Take every object alive now out of the cyclic garbage collector's walks.

    By the time the server starts, the process holds ~53k tracked objects that live as
    long as it does: modules, classes, functions, the configuration. Each full collection
    walks them all again, and a full collection stops every client. With 20k documents
    indexed, a full collection took 10.2 ms with them and 1.5 ms without
    (docs/decisions/0028). Garbage is collected first, so no cycle that is already dead
    gets frozen. Objects made afterwards stay collectable: connections, and the data
    that ``Server.start`` restores."""
    gc.collect()
    gc.freeze()


async def serve(config: ServerConfig) -> int:
    """Run a server until SHUTDOWN or SIGTERM/SIGINT; the process exit status."""
    from ..errors import StoreError
    from .app import Server

    freeze_startup_objects()
    server = Server(config)
    try:
        await server.start()
    except StoreError as exc:  # port in use, data dir locked, a damaged log (with its fix)
        log.error("memvec server could not start: %s", exc.message)
        return 1
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.request_shutdown)
    host = config.bind[0]
    shown = f"[{host}]" if ":" in host else host
    if server.port:
        line = f"memvec server ready on {shown}:{server.port}"
        if server.tls_port is not None:
            line += f" (tls on {shown}:{server.tls_port})"
    else:
        line = f"memvec server ready, tls only, on {shown}:{server.tls_port}"
    print(line, flush=True)
    if not all(is_loopback(h) for h in config.bind):
        log.info("listening on %s", " ".join(config.bind))
    await server.serve_forever()
    return 0
