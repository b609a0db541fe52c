"""Server configuration: one frozen dataclass, its environment variables, CONFIG GET/SET.

:class:`ServerConfig` holds every setting of ``memvec server`` with its default and the
trade-off beside it. Each field that has a command-line flag also has an environment
variable ``MEMVEC_<NAME>`` (``--proto-max-bulk-len`` -> ``MEMVEC_PROTO_MAX_BULK_LEN``);
the flag wins over the variable, the variable over the default.

``CONFIG GET`` / ``CONFIG SET`` use the Redis parameter names (``maxmemory``,
``timeout``, ...). :data:`PARAMETERS` maps each name to how it is read from a
:class:`ServerConfig` and, for the ones that may change at runtime, how a new value is
parsed; the running :class:`store.server.app.Server` applies the result. A parameter
that cannot change while running answers ``can't set immutable config`` as Redis does.

The ``requirepass`` value never appears in ``repr()`` of the config (so not in logs).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..config import FsyncPolicy
from ..errors import CommandError
from ..index.manager import KNN_ORDERS
from ..numbers import parse_int64
from .notifications import format_flags, parse_flags

__all__ = [
    "ENV_PREFIX",
    "OUTPUT_CLASSES",
    "PARAMETERS",
    "ConfigParameter",
    "OutputBufferLimit",
    "ServerConfig",
    "env_name",
    "format_memory",
    "is_loopback",
    "output_limit_field",
    "parse_bool",
    "parse_memory",
    "parse_output_limits",
]

ENV_PREFIX = "MEMVEC_"

_MEMORY = re.compile(rb"^(\d+)(k|kb|m|mb|g|gb)?$")
_UNITS = {
    b"": 1,
    b"k": 1000,
    b"kb": 1024,
    b"m": 1000**2,
    b"mb": 1024**2,
    b"g": 1000**3,
    b"gb": 1024**3,
}


def parse_memory(text: str | bytes) -> int:
    """Bytes from a Redis memory value: ``1000``, ``100mb`` (MiB), ``1g`` (10^9), ``1gb``.

    Units as in redis.conf: ``k``/``m``/``g`` are powers of 1000, ``kb``/``mb``/``gb``
    powers of 1024, case-insensitive. Raises ``ValueError`` for anything else.
    """
    raw = text.encode() if isinstance(text, str) else bytes(text)
    m = _MEMORY.match(raw.strip().lower())
    if m is None:
        raise ValueError(f"{raw.decode('utf-8', 'replace')!r} is not a memory value (e.g. 100mb)")
    value = int(m.group(1)) * _UNITS[m.group(2) or b""]
    if value > 2**63 - 1:
        raise ValueError(f"{raw.decode('utf-8', 'replace')!r} does not fit in 64 bits")
    return value


def format_memory(n: int) -> str:
    """``used_memory_human`` style: ``1.50M``, ``812B``."""
    value = float(n)
    for unit in ("B", "K", "M", "G", "T"):
        if value < 1024 or unit == "T":
            return f"{n}B" if unit == "B" else f"{value:.2f}{unit}"
        value /= 1024
    return f"{n}B"


def parse_bool(text: str | bytes) -> bool:
    t = (text.decode() if isinstance(text, bytes) else text).strip().lower()
    if t in ("yes", "true", "1", "on"):
        return True
    if t in ("no", "false", "0", "off"):
        return False
    raise ValueError(f"{t!r} is not yes/no")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``; False for wildcard or other addresses."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# -- client-output-buffer-limit ---------------------------------------------------------------
# redis.conf syntax: ``client-output-buffer-limit <class> <hard> <soft> <soft-seconds> ...``
# with class normal, replica (``slave`` accepted) or pubsub; hard/soft are memory values,
# 0 for no limit. A client whose queued replies pass ``hard`` is disconnected at once; one
# that stays above ``soft`` for ``soft-seconds`` too. Classes not named keep their limits.
# What is counted is what the server really holds for the client: replies handed to the
# connection and not yet taken by the kernel (see store.server.connection for the
# high-water mark that keeps a reading client far below it).

OUTPUT_CLASSES = ("normal", "replica", "pubsub")
_ALIASES = {"slave": "replica"}


@dataclass(frozen=True)
class OutputBufferLimit:
    """The limits of one client class; 0 means no limit."""

    hard_bytes: int = 0
    soft_bytes: int = 0
    soft_seconds: int = 0

    def exceeded(self, queued: int, above_soft_since: float | None, now: float) -> bool:
        """True when ``queued`` bytes break the hard limit, or have been above the soft
        limit since ``above_soft_since`` (a monotonic time) for ``soft_seconds``."""
        if self.hard_bytes and queued > self.hard_bytes:
            return True
        return (
            bool(self.soft_bytes)
            and queued > self.soft_bytes
            and above_soft_since is not None
            and now - above_soft_since >= self.soft_seconds
        )


def output_limit_field(cls: str) -> str:
    """The :class:`ServerConfig` field holding the limits of client class ``cls``."""
    return f"client_output_buffer_limit_{cls}"


def parse_output_limits(text: str) -> dict[str, OutputBufferLimit]:
    """:class:`ServerConfig` field changes for the classes ``text`` names.

    A lone memory value (``256mb``) sets the normal class's hard limit, as the
    ``--client-output-buffer-limit`` flag always accepted. Raises ``ValueError`` with
    Redis's wording.
    """
    words = text.split()
    if len(words) == 1:
        try:
            hard = parse_memory(words[0])
        except ValueError:
            raise ValueError("Wrong number of arguments in buffer limit configuration.") from None
        return {output_limit_field("normal"): OutputBufferLimit(hard, 0, 0)}
    if not words or len(words) % 4:
        raise ValueError("Wrong number of arguments in buffer limit configuration.")
    changes: dict[str, OutputBufferLimit] = {}
    for i in range(0, len(words), 4):
        cls = words[i].lower()
        cls = _ALIASES.get(cls, cls)
        if cls not in OUTPUT_CLASSES:
            raise ValueError("Invalid client class specified in buffer limit configuration.")
        try:
            hard, soft = parse_memory(words[i + 1]), parse_memory(words[i + 2])
            seconds = int(words[i + 3])
            if seconds < 0:
                raise ValueError(seconds)
        except ValueError:
            raise ValueError(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration."
            ) from None
        changes[output_limit_field(cls)] = OutputBufferLimit(hard, soft, seconds)
    return changes


@dataclass(frozen=True)
class ServerConfig:
    """Everything ``memvec server`` is told. Defaults follow redis-server where it has one."""

    # Addresses to listen on. Anything beyond loopback without a password is open to the
    # network: the server prints a loud warning at start.
    bind: tuple[str, ...] = ("127.0.0.1",)
    # Plain TCP port. None: no plaintext listener (``--port 0``, as Redis's ``port 0``:
    # TLS only, so it needs tls_port). 0 lets the OS pick one (``--port auto``; tests and
    # benchmarks; ``Server.port`` tells which).
    port: int | None = 6379
    # Data directory (transaction log + snapshots). None: in memory only, nothing durable.
    data_dir: Path | None = Path("data")
    # always: a write is acknowledged after fsync (no acknowledged write is ever lost);
    # everysec/no: several times the write throughput, up to ~1 s (or more) lost on crash.
    appendfsync: FsyncPolicy = FsyncPolicy.ALWAYS
    # Password of the ``default`` user. With it (or an ACL file) every command but
    # AUTH/HELLO/QUIT/RESET answers -NOAUTH until the client authenticates.
    requirepass: str | None = field(default=None, repr=False)
    # Users in redis.conf ACL syntax: ``user alice on >pass ~doc:* +@read``.
    aclfile: Path | None = None
    # TLS listener (None: off). A CA file makes client certificates verified if presented
    # (``tls_auth_clients``: "yes" requires one, "no" ignores them).
    tls_port: int | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_ca_cert_file: Path | None = None
    tls_auth_clients: str = "optional"
    # A replica reaches its primary (--replicaof names the primary's TLS port) over TLS,
    # verifying it with tls_ca_cert_file and presenting tls_client_cert_file/key (else
    # tls_cert_file/key) if set; it then announces its own TLS port. Costs a handshake per
    # (re)connection and some CPU per replicated byte.
    tls_replication: bool = False
    tls_client_cert_file: Path | None = None
    tls_client_key_file: Path | None = None
    # More connections are answered "-ERR max number of clients reached" and closed.
    maxclients: int = 10000
    # SLOWLOG: commands running at least this many microseconds are logged (-1: none,
    # 0: every command); at most slowlog_max_len entries are kept.
    slowlog_log_slower_than: int = 10000
    slowlog_max_len: int = 128
    # LATENCY: commands running at least this many milliseconds are sampled (0: off).
    latency_monitor_threshold: int = 0
    # Close a client idle this many seconds (0: never).
    timeout_s: int = 0
    # busy-reply-threshold (lua-time-limit): after a script ran this long, other clients
    # get BUSY and SCRIPT KILL may stop it. Lower: a runaway script is noticed sooner;
    # higher: long legitimate scripts are not reported busy (store.server.script_busy).
    busy_reply_threshold_ms: int = 5000
    # Longest single argument accepted; longer is a protocol error (connection closed).
    proto_max_bulk_len: int = 512 * 1024 * 1024
    # Writes are refused with -OOM once the dataset estimate passes this (0: no limit);
    # reads keep working.
    maxmemory_bytes: int = 0
    # What goes past maxmemory (store/eviction.py): noeviction refuses writes with -OOM;
    # allkeys-*/volatile-* evict least recently / least frequently used, random or
    # nearest-deadline keys, choosing among maxmemory_samples sampled keys (more samples:
    # closer to exact LRU/LFU, more CPU per eviction).
    maxmemory_policy: str = "noeviction"
    maxmemory_samples: int = 5
    # Automatic snapshots after this many logged writes / this often (0: off). Snapshots
    # bound restart time (log replay) and let the log be trimmed.
    snapshot_after_writes: int = 0
    snapshot_interval_s: float = 0.0
    # client-output-buffer-limit per client class (hard, soft, soft seconds; see above).
    # Redis's default for normal clients is no limit; 256 MB keeps one client that stopped
    # reading from taking the server's memory. A client that reads is never cut: the
    # server stops executing its requests while its replies wait (backpressure).
    client_output_buffer_limit_normal: OutputBufferLimit = OutputBufferLimit(256 * 1024**2)
    client_output_buffer_limit_replica: OutputBufferLimit = OutputBufferLimit(
        256 * 1024**2, 64 * 1024**2, 60
    )
    # Keyspace notifications (redis.conf ``notify-keyspace-events``, Redis's NOTIFY_* bits,
    # see store.server.notifications): 0 publishes nothing and costs writes nothing;
    # otherwise each write computes its events while anyone is subscribed.
    notify_keyspace_events: int = 0
    # Encoding limits (redis.conf names; store/datatypes/limits.py): which encoding OBJECT
    # ENCODING reports and where a stream starts a node. Process-wide once applied.
    list_max_listpack_size: int = -2
    list_compress_depth: int = 0
    set_max_intset_entries: int = 512
    set_max_listpack_entries: int = 128
    set_max_listpack_value: int = 64
    zset_max_listpack_entries: int = 128
    zset_max_listpack_value: int = 64
    hash_max_listpack_entries: int = 128
    hash_max_listpack_value: int = 64
    stream_node_max_bytes: int = 4096
    stream_node_max_entries: int = 100
    client_output_buffer_limit_pubsub: OutputBufferLimit = OutputBufferLimit(
        32 * 1024**2, 8 * 1024**2, 60
    )
    # Bytes of one unfinished request (or of requests received while the previous batch
    # waits for fsync) beyond which the client is disconnected / reading pauses.
    client_query_buffer_limit_bytes: int = 1024 * 1024 * 1024
    # Threads that run FT.SEARCH outside the event loop (its ANN walk releases the GIL).
    search_threads: int = field(default_factory=lambda: max(2, os.cpu_count() or 2))
    # A search runs inline on the event loop while at most this many clients have work
    # (the thread hop costs ~100-150 us, more than it saves for a lone client); beyond,
    # it goes to the pool so the loop keeps serving others. 0: always use the pool.
    inline_search_max_active_clients: int = 1
    # A search of the inline path whose query was seen to cost at least this many us of
    # CPU runs on a search-lane thread while other clients share the server, so its walk
    # overlaps the loop's work on another core (store.server.search_lane; up to ~400 us
    # the hand-off costs what the overlap saves, docs/decisions/0040). 0: every such
    # search; None: never.
    search_lane_min_us: int | None = 600
    # While other clients share the server, a kept KNN plan's HNSW walk runs on one of this
    # many threads that never take the GIL, and the loop serves the others meanwhile
    # (store.server.search_walker, docs/decisions/0044). 0: such walks run on the loop.
    search_walker_threads: int = 2
    # ... only for a query whose last walk there took at least this many us (a shorter
    # walk costs less than the hand-off: ~250 us on the 2-vCPU Firecracker VM of
    # docs/decisions/0046, 70 us on 0044's KVM guest). 0: every such query.
    search_walker_min_us: int = 250
    # Answer a kept KNN plan's ids page (FT.SEARCH ... NOCONTENT) from the request's
    # bytes, in C, before the request is parsed (store.commands.plan_bytes,
    # docs/decisions/0045). Off: the inline path parses and runs it (the same replies).
    kept_page_bytes: bool = True
    # Run simple commands straight from the socket callback when the client's task is idle
    # (store.server.inline_commands): no task step or future per command. Off: every
    # batch takes the task path (for comparison; the replies are the same).
    inline_commands: bool = True
    # Order of FT.SEARCH KNN hits without SORTBY: "distance" (nearest first, as Amazon
    # MemoryDB documents its KNN results) or "score" (RediSearch 2.10's: the scorer's score
    # descending, ties by document id, so a plain `*=>[KNN ...]` comes in indexing order).
    search_knn_order: str = "distance"
    # The event loop (store.server.event_loop): "auto" (uvloop when installed, else
    # asyncio's), "uvloop" or "asyncio".
    event_loop: str = "auto"
    loglevel: str = "notice"
    # Follow this primary ("HOST:PORT"): a read-only replica (None: a primary).
    replicaof: str | None = None
    # Credentials this replica presents to its primary (AUTH [masteruser] masterauth).
    masteruser: str | None = None
    masterauth: str | None = field(default=None, repr=False)
    # A write's reply waits until this many replicas have it durable in their logs
    # (0: only local durability; a primary crash can then lose the writes its replicas
    # had not received yet). Costs one replica round trip per write batch.
    min_replicas_to_ack: int = 0
    # ... for at most this long; then the reply is -NOREPLICAS (0: wait forever).
    min_replicas_timeout_ms: int = 1000
    # Recent records kept in memory for replicas that reconnect (partial resync without
    # reading the log file); the log file serves older ones while it holds them.
    repl_backlog_bytes: int = 64 * 1024 * 1024
    # A replica that hears nothing from its primary this long (the primary pings every
    # second) drops the link and reconnects.
    repl_timeout_s: float = 5.0
    # Copy every snapshot to this S3 location too (s3://bucket/prefix; None: local only).
    snapshot_to: str | None = None
    snapshot_endpoint_url: str | None = None
    # Start an empty data directory from the newest valid snapshot here (s3://... or a
    # local snapshot directory); ignored when the directory already holds a log.
    restore_from: str | None = None
    # The transaction log: None (or "file") is segment files in data_dir (one machine);
    # "kafka://HOST:PORT[,HOST:PORT]/TOPIC" is a single-partition topic that every node of
    # the group reads (Kafka keeps the copies; a reply waits for the broker's ack plus the
    # node's own read of the topic confirming no newer writer fenced it: ~1 ms more per
    # write on a local broker). docs/replication.md says what is guaranteed.
    log: str | None = None
    # With a Kafka --log: no node is told its role; a Kafka consumer group (the leader
    # lease, store/replication/election.py) picks the writer and replaces it once it has
    # missed heartbeats for failover_timeout_ms (kill -9, pause, network partition).
    auto_failover: bool = False
    failover_timeout_ms: int = 6000
    # The host other nodes and clients reach this node on (ROLE, INFO); default the first
    # --bind address.
    replica_announce_ip: str | None = None
    # Cluster mode (docs/cluster.md): hash slots, MOVED/ASK, CLUSTER commands. Off: a
    # standalone node (every key served here). On, the node routes by the topology it
    # reads from ``cluster_topology``: file:/PATH (one machine) or kafka://HOST:PORT/TOPIC
    # (shared by the nodes of every machine); default file:<dir>/cluster-topology.json.
    cluster_enabled: bool = False
    cluster_topology: str | None = None
    # The address this node is given to clients in the topology (CLUSTER SLOTS, MOVED);
    # default: the first --bind address.
    cluster_announce_ip: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.bind, str):
            object.__setattr__(self, "bind", tuple(self.bind.split()))
        if isinstance(self.appendfsync, str):
            object.__setattr__(self, "appendfsync", FsyncPolicy(self.appendfsync))
        for name in (
            "data_dir",
            "aclfile",
            "tls_cert_file",
            "tls_key_file",
            "tls_ca_cert_file",
            "tls_client_cert_file",
            "tls_client_key_file",
        ):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))
        if self.port is None and self.tls_port is None:
            raise ValueError(
                "--port 0 turns the plaintext port off: give --tls-port to serve TLS only "
                "(or --port auto for any free port)"
            )
        if self.tls_port is not None and (self.tls_cert_file is None or self.tls_key_file is None):
            raise ValueError("--tls-port needs --tls-cert-file and --tls-key-file")
        if self.tls_auth_clients not in ("yes", "no", "optional"):
            raise ValueError("tls_auth_clients must be yes, no or optional")
        if (self.tls_client_cert_file is None) != (self.tls_client_key_file is None):
            raise ValueError("--tls-client-cert-file and --tls-client-key-file go together")
        if self.maxclients < 1:
            raise ValueError("maxclients must be at least 1")
        if self.min_replicas_to_ack < 0:
            raise ValueError("min_replicas_to_ack must be >= 0")
        if self.log == "file":
            object.__setattr__(self, "log", None)
        if self.log is not None and not self.log.startswith("kafka://"):
            raise ValueError("--log must be 'file' or kafka://HOST:PORT/TOPIC")
        if self.auto_failover and (self.log is None or self.replicaof):
            raise ValueError(
                "--auto-failover needs --log kafka://... and no --replicaof (the leader "
                "lease picks the writer among the nodes of the topic)"
            )
        if self.failover_timeout_ms < 100:
            raise ValueError("--failover-timeout-ms must be at least 100")
        if self.log is not None and self.min_replicas_to_ack:
            raise ValueError(
                "--min-replicas-to-ack does not apply to the Kafka log (the topic's "
                "min.insync.replicas does that job): drop one of them"
            )

        if self.cluster_topology is not None and not self.cluster_topology.startswith(
            ("file:", "kafka://")
        ):
            raise ValueError("--cluster-topology must be file:/PATH or kafka://HOST:PORT/TOPIC")
        if self.cluster_topology is not None and not self.cluster_enabled:
            raise ValueError("--cluster-topology needs --cluster-enabled yes")

    @property
    def topology_url(self) -> str:
        """Where a cluster node reads its topology (see ``cluster_topology``)."""
        if self.cluster_topology is not None:
            return self.cluster_topology
        return f"file:{(self.data_dir or Path('data')) / 'cluster-topology.json'}"

    def output_limit(self, cls: str) -> OutputBufferLimit:
        """The client-output-buffer-limit of client class ``cls`` (normal, replica, pubsub)."""
        limit: OutputBufferLimit = getattr(self, output_limit_field(cls))
        return limit

    def replace(self, **changes: object) -> ServerConfig:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @property
    def exposed(self) -> bool:
        """Listening beyond loopback."""
        return any(not is_loopback(h) for h in self.bind)


def env_name(option: str) -> str:
    """``--proto-max-bulk-len`` -> ``MEMVEC_PROTO_MAX_BULK_LEN``."""
    return ENV_PREFIX + option.lstrip("-").replace("-", "_").upper()


# -- CONFIG GET / SET ------------------------------------------------------------------------

Getter = Callable[[ServerConfig], str]
Parser = Callable[[str], dict[str, object]]


@dataclass(frozen=True)
class ConfigParameter:
    """One ``CONFIG`` parameter: how to show it, and (if mutable) how to parse a new value
    into :class:`ServerConfig` field changes."""

    name: str
    get: Getter
    parse: Parser | None = None


def _int_parser(fld: str, minimum: int = 0) -> Parser:
    def parse(text: str) -> dict[str, object]:
        value = parse_int64(text.encode())
        if value is None:
            raise ValueError("argument couldn't be parsed into an integer")
        if value < minimum:
            raise ValueError(f"argument must be between {minimum} and {2**63 - 1} inclusive")
        return {fld: value}

    return parse


POLICIES = (
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
)


def _policy_parser(text: str) -> dict[str, object]:
    if text.lower() not in POLICIES:
        raise ValueError(f"argument(s) must be one of the following: {', '.join(POLICIES)}")
    return {"maxmemory_policy": text.lower()}


def _knn_order_parser(text: str) -> dict[str, object]:
    if text.lower() not in KNN_ORDERS:
        raise ValueError(f"argument(s) must be one of the following: {', '.join(KNN_ORDERS)}")
    return {"search_knn_order": text.lower()}


def _samples_parser(text: str) -> dict[str, object]:
    value = parse_int64(text.encode())
    if value is None:
        raise ValueError("argument couldn't be parsed into an integer")
    if not 1 <= value <= 64:
        raise ValueError("argument must be between 1 and 64 inclusive")
    return {"maxmemory_samples": value}


def _memory_parser(fld: str) -> Parser:
    def parse(text: str) -> dict[str, object]:
        try:
            return {fld: parse_memory(text)}
        except ValueError:
            raise ValueError("argument must be a memory value") from None

    return parse


INT_MAX = 2**31 - 1
LONG_MAX = 2**63 - 1
_MEMORY_LIMIT = re.compile(r"^(\d+)(k|kb|m|mb|g|gb)?$")


def _range_parser(fld: str, low: int, high: int) -> Parser:
    """An integer config in ``[low, high]`` (Redis's ``createIntConfig`` texts)."""

    def parse(text: str) -> dict[str, object]:
        value = parse_int64(text.encode())
        if value is None:
            raise ValueError("argument couldn't be parsed into an integer")
        if not low <= value <= high:
            raise ValueError(f"argument must be between {low} and {high} inclusive")
        return {fld: value}

    return parse


def _limit_memory_parser(fld: str) -> Parser:
    """A ``MEMORY_CONFIG`` size in ``[0, LONG_MAX]`` (``64``, ``1kb``); the empty string is 0
    as in Redis (``memtoull`` of nothing)."""

    def parse(text: str) -> dict[str, object]:
        m = _MEMORY_LIMIT.match(text.lower())
        if text == "":
            return {fld: 0}
        if m is None:
            raise ValueError("argument must be a memory value")
        value = int(m.group(1)) * _UNITS[(m.group(2) or "").encode()]
        if value > LONG_MAX:
            raise ValueError(f"argument must be between 0 and {LONG_MAX} inclusive")
        return {fld: value}

    return parse


def _limit_parameters() -> list[ConfigParameter]:
    """The encoding limits, each under its name and its ``*-ziplist-*`` alias."""
    specs: list[tuple[str, str | None, Parser]] = [
        ("list-max-listpack-size", "list-max-ziplist-size",
         _range_parser("list_max_listpack_size", -(2**31), INT_MAX)),
        ("list-compress-depth", None, _range_parser("list_compress_depth", 0, INT_MAX)),
        ("set-max-intset-entries", None, _range_parser("set_max_intset_entries", 0, LONG_MAX)),
        ("set-max-listpack-entries", None,
         _range_parser("set_max_listpack_entries", 0, LONG_MAX)),
        ("set-max-listpack-value", None, _range_parser("set_max_listpack_value", 0, LONG_MAX)),
        ("zset-max-listpack-entries", "zset-max-ziplist-entries",
         _range_parser("zset_max_listpack_entries", 0, LONG_MAX)),
        ("zset-max-listpack-value", "zset-max-ziplist-value",
         _limit_memory_parser("zset_max_listpack_value")),
        ("hash-max-listpack-entries", "hash-max-ziplist-entries",
         _range_parser("hash_max_listpack_entries", 0, LONG_MAX)),
        ("hash-max-listpack-value", "hash-max-ziplist-value",
         _limit_memory_parser("hash_max_listpack_value")),
        ("stream-node-max-bytes", None, _limit_memory_parser("stream_node_max_bytes")),
        ("stream-node-max-entries", None, _range_parser("stream_node_max_entries", 0, LONG_MAX)),
    ]  # fmt: skip
    out: list[ConfigParameter] = []
    for name, alias, parser in specs:
        fld = name.replace("-", "_")

        def getter(c: ServerConfig, fld: str = fld) -> str:
            return str(getattr(c, fld))

        out.append(ConfigParameter(name, getter, parser))
        if alias is not None:
            out.append(ConfigParameter(alias, getter, parser))
    return out


def _password_parser(text: str) -> dict[str, object]:
    return {"requirepass": text or None}


def _output_limit_parser(text: str) -> dict[str, object]:
    return dict(parse_output_limits(text))


def _notify_parser(text: str) -> dict[str, object]:
    return {"notify_keyspace_events": parse_flags(text)}


def _path(p: Path | None) -> str:
    return "" if p is None else str(p)


def _output_limit(c: ServerConfig) -> str:
    return " ".join(
        f"{cls} {lim.hard_bytes} {lim.soft_bytes} {lim.soft_seconds}"
        for cls in OUTPUT_CLASSES
        for lim in (c.output_limit(cls),)
    )


PARAMETERS: dict[str, ConfigParameter] = {
    p.name: p
    for p in (
        ConfigParameter("bind", lambda c: " ".join(c.bind)),
        ConfigParameter("port", lambda c: str(c.port or 0)),
        ConfigParameter("dir", lambda c: str(c.data_dir.resolve()) if c.data_dir else ""),
        ConfigParameter("appendonly", lambda c: "yes" if c.data_dir else "no"),
        ConfigParameter("appendfsync", lambda c: c.appendfsync.value),
        ConfigParameter("requirepass", lambda c: c.requirepass or "", _password_parser),
        ConfigParameter("aclfile", lambda c: _path(c.aclfile)),
        ConfigParameter("tls-port", lambda c: str(c.tls_port or 0)),
        ConfigParameter("tls-cert-file", lambda c: _path(c.tls_cert_file)),
        ConfigParameter("tls-key-file", lambda c: _path(c.tls_key_file)),
        ConfigParameter("tls-ca-cert-file", lambda c: _path(c.tls_ca_cert_file)),
        ConfigParameter("tls-auth-clients", lambda c: c.tls_auth_clients),
        ConfigParameter("tls-replication", lambda c: "yes" if c.tls_replication else "no"),
        ConfigParameter("tls-client-cert-file", lambda c: _path(c.tls_client_cert_file)),
        ConfigParameter("tls-client-key-file", lambda c: _path(c.tls_client_key_file)),
        ConfigParameter("maxclients", lambda c: str(c.maxclients), _int_parser("maxclients", 1)),
        ConfigParameter(
            "slowlog-log-slower-than",
            lambda c: str(c.slowlog_log_slower_than),
            _int_parser("slowlog_log_slower_than", -1),
        ),
        ConfigParameter(
            "slowlog-max-len",
            lambda c: str(c.slowlog_max_len),
            _int_parser("slowlog_max_len"),
        ),
        ConfigParameter(
            "latency-monitor-threshold",
            lambda c: str(c.latency_monitor_threshold),
            _int_parser("latency_monitor_threshold"),
        ),
        ConfigParameter("timeout", lambda c: str(c.timeout_s), _int_parser("timeout_s")),
        ConfigParameter(
            "busy-reply-threshold",
            lambda c: str(c.busy_reply_threshold_ms),
            _int_parser("busy_reply_threshold_ms"),
        ),
        ConfigParameter(
            "lua-time-limit",
            lambda c: str(c.busy_reply_threshold_ms),
            _int_parser("busy_reply_threshold_ms"),
        ),
        ConfigParameter(
            "proto-max-bulk-len",
            lambda c: str(c.proto_max_bulk_len),
            _memory_parser("proto_max_bulk_len"),
        ),
        ConfigParameter(
            "maxmemory", lambda c: str(c.maxmemory_bytes), _memory_parser("maxmemory_bytes")
        ),
        ConfigParameter("maxmemory-policy", lambda c: c.maxmemory_policy, _policy_parser),
        ConfigParameter("search-knn-order", lambda c: c.search_knn_order, _knn_order_parser),
        ConfigParameter("event-loop", lambda c: c.event_loop),
        ConfigParameter("maxmemory-samples", lambda c: str(c.maxmemory_samples), _samples_parser),
        ConfigParameter("snapshot-after-writes", lambda c: str(c.snapshot_after_writes)),
        ConfigParameter("snapshot-interval", lambda c: f"{c.snapshot_interval_s:g}"),
        ConfigParameter("save", lambda c: ""),
        ConfigParameter("databases", lambda c: "1"),
        ConfigParameter("client-output-buffer-limit", _output_limit, _output_limit_parser),
        ConfigParameter(
            "notify-keyspace-events",
            lambda c: format_flags(c.notify_keyspace_events),
            _notify_parser,
        ),
        ConfigParameter(
            "client-query-buffer-limit",
            lambda c: str(c.client_query_buffer_limit_bytes),
            _memory_parser("client_query_buffer_limit_bytes"),
        ),
        ConfigParameter("loglevel", lambda c: c.loglevel),
        ConfigParameter("replicaof", lambda c: (c.replicaof or "").replace(":", " ")),
        ConfigParameter(
            "min-replicas-to-write",
            lambda c: str(c.min_replicas_to_ack),
            _int_parser("min_replicas_to_ack"),
        ),
        ConfigParameter("repl-backlog-size", lambda c: str(c.repl_backlog_bytes)),
        ConfigParameter("repl-timeout", lambda c: f"{c.repl_timeout_s:g}"),
        ConfigParameter("log", lambda c: c.log or "file"),
        ConfigParameter("cluster-enabled", lambda c: "yes" if c.cluster_enabled else "no"),
        ConfigParameter("cluster-topology", lambda c: c.topology_url if c.cluster_enabled else ""),
        ConfigParameter("cluster-announce-ip", lambda c: c.cluster_announce_ip or ""),
        *_limit_parameters(),
    )
}


def config_set_error(name: str, reason: str) -> CommandError:
    return CommandError(f"CONFIG SET failed (possibly related to argument '{name}') - {reason}")
