"""The RESP server: listeners, the client registry, WATCH bookkeeping, limits, shutdown.

Lifecycle (``ServerState``): NEW -> STARTING -> RUNNING -> STOPPING -> STOPPED.

* :meth:`Server.start` (async) listens first, then starts the engine (recovery runs on a
  worker thread; clients that connect meanwhile get ``-LOADING`` as from Redis), and
  returns once the server answers commands. With ``port=0`` the OS picks a port:
  :attr:`Server.port` says which; with ``port=None`` only the TLS port listens.
* :meth:`Server.stop` is graceful and idempotent: stop accepting, let every connection
  finish the batch it is running (its writes become durable and are answered), close
  the connections, optionally snapshot, stop the engine (the log is fsynced and closed)
  if the server created it. ``SHUTDOWN`` and SIGTERM (in the CLI) end up here.
* :class:`store.server.thread.ServerThread` runs a server on its own event loop in a
  background thread (tests, embedding in a synchronous program).

The engine runs engine-scope commands under its lock; everything here runs on the event
loop thread except the engine's key listener (:meth:`Server._on_key_changed`), which is
called under the engine lock from whichever thread changed a key and only sets flags.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import fcntl
import logging
import os
import secrets
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from store.aio import within

from ..cluster import ClusterNode, load_identity, open_source
from ..cluster.commands import cluster_handlers
from ..cluster.search import SearchCoordinator
from ..commands.table import COMMANDS, connection_commands
from ..config import EngineConfig
from ..datatypes.limits import LIMIT_FIELDS
from ..datatypes.limits import configure as configure_limits
from ..engine import Engine, EngineState
from ..errors import ServerError, StoreError
from ..index.scan_batch import MAX_BATCH
from ..replication import Replication
from ..replication.role import LinkSettings
from ..replication.tls import LinkTLS
from ..wal.base import TransactionLog
from . import admin
from .acl import AclStore
from .blocking import ParkingLot
from .config import ServerConfig
from .connection import Connection
from .durable_gate import DurableGate
from .durable_rounds import DurableRounds
from .handlers import Handler, base_handlers
from .kept_pages import KeptPages
from .notifications import Notifier
from .observe import Observability
from .pubsub import PubSub, pubsub_handlers
from .replication_handlers import replication_handlers
from .results import Deferred
from .script_busy import ScriptGuard
from .search_lane import SearchLane
from .search_walker import SearchWalker
from .tracking import Tracking
from .write_combiner import WriteCombiner

log = logging.getLogger("memvec.server")

SHARED_WINDOW_S = 0.010
"""A client counts as sharing the server while another client read within this long
(10 ms); its replies then take turns (``Server.send_at_next_iteration``)."""

SCAN_POOL_THREADS = MAX_BATCH
"""Threads of :attr:`Server.scan_pool`: as many long FLAT scans as share one pass."""

CRON_INTERVAL_S = 0.1


class ServerState(enum.Enum):
    NEW = "new"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


@dataclass
class ServerStats:
    connections_received: int = 0
    rejected_connections: int = 0
    evicted_clients: int = 0
    output_limit_disconnections: int = 0
    query_limit_disconnections: int = 0
    idle_timeouts: int = 0
    searches_offloaded: int = 0
    inline_commands: int = 0  # run from data_received (store.server.inline_commands)
    kept_page_bytes: int = 0  # of them, ids pages read from the request's bytes (0045)
    commands: int = 0
    net_input_bytes: int = 0
    net_output_bytes: int = 0
    ops_per_sec: float = 0.0
    peak_memory: int = 0


def check_handlers(handlers: dict[str, Handler]) -> None:
    """Raise :class:`ServerError` unless every connection-scope command of the table has
    a handler: a command declared but not served is a bug to catch at start, not a
    surprise for the first client that sends it."""
    missing = [name for name in connection_commands() if name not in handlers]
    if missing:
        raise ServerError(
            f"connection-scope commands without a handler in the server: {', '.join(missing)}; "
            "implement them (store/server/handlers.py, admin.py, replication_handlers.py) "
            "or drop their declaration from store/commands/"
        )


def link_settings(cfg: ServerConfig) -> LinkSettings:
    """What the replication link needs from the server's configuration."""
    tls: LinkTLS | None = None
    if cfg.tls_replication:  # client cert/key as Redis picks them
        if cfg.tls_client_cert_file is not None:
            tls = LinkTLS(cfg.tls_ca_cert_file, cfg.tls_client_cert_file, cfg.tls_client_key_file)
        else:
            tls = LinkTLS(cfg.tls_ca_cert_file, cfg.tls_cert_file, cfg.tls_key_file)
    return LinkSettings(
        masteruser=cfg.masteruser,
        masterauth=cfg.masterauth,
        timeout_s=cfg.repl_timeout_s,
        tls=tls,
    )


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("memvec")
    except Exception:
        return "0+unknown"


class Server:
    """A RESP2/RESP3 server over one :class:`store.engine.Engine`.

    ``engine``: serve an engine the caller started and will stop; by default the server
    creates one from ``config`` (data dir, fsync policy, maxmemory, snapshots) and owns it.
    """

    def __init__(self, config: ServerConfig | None = None, *, engine: Engine | None = None) -> None:
        self.config = config or ServerConfig()
        configure_limits(self.config)  # before the engine replays its log
        self._own_engine = engine is None
        self.engine = (
            engine
            if engine is not None
            else Engine(self._engine_config(), log_backend=self._log_backend())
        )
        self.engine.evictor.configure(self.config.maxmemory_policy, self.config.maxmemory_samples)
        self.engine.indexes.knn_order = self.config.search_knn_order
        self.state = ServerState.NEW
        self.engine_ready = False
        self.version = _version()
        self.run_id = secrets.token_hex(20)
        self.stats = ServerStats()
        self.observe: Observability = Observability()
        self.clients: dict[int, Connection] = {}
        # connections with unprocessed input or a batch in flight, and searches on the pool
        self.active_clients = 0
        self._send_queue: list[Connection] = []  # replies to send at the next iteration
        self._send_scheduled = False
        # the send queue whose replies the next socket read sends (send_at_next_iteration)
        self.turn_armed: list[Connection] | None = None
        self.loop_thread = 0  # the event loop's thread, once started
        # the connection that read last, when (time.monotonic), and the last read of the
        # one before it
        self.last_reader: Connection | None = None
        self.last_read_at = 0.0
        self.other_read_at = 0.0
        self.searches_in_pool = 0
        self.scans_in_pool = 0  # of which long FLAT scans, on scan_pool
        self.durable_gate = DurableGate(self.engine)  # clients' durability waits, coalesced
        self.durable_rounds = DurableRounds(self.durable_gate)  # one waiter per iteration
        self.write_combiner = WriteCombiner(self.engine)  # clients' key writes, one submit
        # perf_counter_ns of the last engine write a client ran (Connection: searches run
        # inline, not on the pool, while writes are in flight)
        self.last_write_ns = 0
        self.watchers: dict[bytes, set[Connection]] = {}
        self.blocking = ParkingLot(self.engine)  # clients blocked by BLPOP, XREAD BLOCK ...
        self.script_guard = ScriptGuard(self)  # EVAL/FCALL off the loop, BUSY, SCRIPT KILL
        self.handlers: dict[str, Handler] = {
            **base_handlers(),
            **admin.admin_handlers(),
            **replication_handlers(),
            **pubsub_handlers(),
            **cluster_handlers(),
        }
        # cluster mode (store.cluster): None on a standalone node
        self.cluster: ClusterNode | None = self._cluster_node()
        # cluster mode: FT.* fanned out to every shard (store.cluster.search)
        self.search_coordinator = self._search_coordinator()
        self.pubsub = PubSub()
        self.notifier: Notifier | None = None  # made at start (it needs the loop)
        self.tracking = Tracking(self)
        # the connection whose command runs now (pushes to it wait for its reply)
        self.executing: Connection | None = None
        self.acl = AclStore.build(
            self.categories(), requirepass=self.config.requirepass, aclfile=self.config.aclfile
        )
        self.search_pool = ThreadPoolExecutor(
            max_workers=self.config.search_threads, thread_name_prefix="memvec-search"
        )
        # searches of indexes with long FLAT scans: its threads mostly wait at the index,
        # where the queries that arrive during a pass share the next (Connection._offloads)
        self.scan_pool = ThreadPoolExecutor(
            max_workers=SCAN_POOL_THREADS, thread_name_prefix="memvec-scan"
        )
        # the inline path's long searches, while other clients share the server
        # (Connection._run_inline; docs/decisions/0040)
        lane_min = self.config.search_lane_min_us
        self.search_lane = SearchLane(
            self.engine, self.search_pool, None if lane_min is None else lane_min * 1000
        )
        self.kept_pages = KeptPages()  # kept ids pages by their requests' bytes (0045)
        # kept KNN plans' walks on a thread of their own, while other clients share the
        # server (Connection._run_inline; docs/decisions/0044)
        self.search_walker = SearchWalker(
            self.engine, self.config.search_walker_threads, self.config.search_walker_min_us * 1000
        )
        self.started_monotonic = time.monotonic()
        self._next_id = 0
        self._listeners: list[asyncio.Server] = []
        self._tls_listeners: list[asyncio.Server] = []
        self._cron: asyncio.Task[None] | None = None
        self._stopped: asyncio.Event | None = None
        self._stopping: asyncio.Event | None = None
        self._stop_task: asyncio.Task[None] | None = None
        self._lock_fd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_after_start: tuple[bool | None] | None = None
        self._ops_mark = (time.monotonic(), 0)
        self.replication = Replication(
            self.engine,
            replid=self.run_id,
            backlog_bytes=self.config.repl_backlog_bytes,
            replicaof=self.config.replicaof,
            link=link_settings(self.config),
            announced_port=self._announced_port,
            auto_failover=(
                (
                    self.config.replica_announce_ip or self.config.bind[0],
                    self.config.failover_timeout_ms,
                )
                if self.config.auto_failover
                else None
            ),
        )

    def _cluster_node(self) -> ClusterNode | None:
        if not self.config.cluster_enabled:
            return None
        keyspace, lock = self.engine.keyspace, self.engine.lock

        def exists(key: bytes) -> bool:  # ASK during a migration: is the key still here?
            with lock:
                return key in keyspace.data and not keyspace.is_expired(
                    key, int(time.time() * 1000)
                )

        try:
            identity = load_identity(self.config.data_dir)
        except (OSError, ValueError) as exc:
            raise ServerError(f"cluster identity: {exc}") from exc
        node = ClusterNode(
            identity,
            open_source(self.config.topology_url),
            exists,
            leads_log=self._leads_log,
            announce=lambda: (self.config.cluster_announce_ip, self.port),
        )
        with lock:  # COUNTKEYSINSLOT, GETKEYSINSLOT and resharding read it
            keyspace.track(node.slot_index)
        return node

    def _leads_log(self) -> bool:
        """This node won its Kafka log's leader lease and finished promoting (cluster
        failover publishes it as its shard's primary then: store.cluster.failover)."""
        follower = self.replication.log_follower
        election = follower.election if follower is not None else None
        return (
            election is not None
            and election.leading
            and not follower.is_follower  # type: ignore[union-attr]
            and not self.engine.config.read_only
        )

    def _search_coordinator(self) -> SearchCoordinator | None:
        if self.cluster is None:
            return None
        c = self.config
        coordinator = SearchCoordinator(
            self.cluster,
            self.engine,
            # the credentials this node presents to other nodes (as a replica does)
            user=c.masteruser if c.masterauth else None,
            password=c.masterauth or c.requirepass,
            deferred=Deferred,
        )
        self.handlers.update(coordinator.handlers())
        return coordinator

    def _engine_config(self) -> EngineConfig:
        c = self.config
        return EngineConfig(
            data_dir=c.data_dir,
            appendfsync=c.appendfsync,
            maxmemory_bytes=c.maxmemory_bytes,
            # a Kafka-log node writes only once its epoch marker is in the topic
            read_only=bool(c.replicaof or c.log),
            snapshot_to=c.snapshot_to,
            snapshot_endpoint_url=c.snapshot_endpoint_url,
            snapshot_after_writes=c.snapshot_after_writes,
            snapshot_interval_s=c.snapshot_interval_s,
        )

    def _log_backend(self) -> TransactionLog | None:
        """The Kafka log for ``--log kafka://...``; None: the file log in the data dir."""
        if not self.config.log:
            return None
        from ..wal.kafka import KafkaTransactionLog

        return KafkaTransactionLog.from_url(self.config.log, checkpoint_dir=self.config.data_dir)

    @staticmethod
    def categories() -> dict[str, frozenset[str]]:
        return {name: spec.categories for name, spec in COMMANDS.items()}

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> Server:
        """Listen, recover the engine, and return once commands are served."""
        if self.state is not ServerState.NEW:
            return self
        check_handlers(self.handlers)
        self.state = ServerState.STARTING
        self._loop = asyncio.get_running_loop()
        self.loop_thread = threading.get_ident()
        self.notifier = Notifier(self.engine, self.pubsub, self._loop)
        self.notifier.configure(self.config.notify_keyspace_events)
        self.search_lane.start(self._loop)
        self.search_walker.start(self._loop)
        self.tracking.attach(self._loop)
        self._stopped = asyncio.Event()
        self._stopping = asyncio.Event()
        try:
            self._lock_data_dir()
            await self._listen()
            self.engine.key_listeners.append(self._on_key_changed)
            self.blocking.start(self._loop)
            if self.engine.state is EngineState.NEW:
                if self.config.restore_from and self._own_engine:
                    await self._loop.run_in_executor(None, self._restore)
                await self._loop.run_in_executor(None, self.engine.start)
        except BaseException:
            await self._abort_start()
            raise
        if self.cluster is not None:
            try:
                await self.cluster.start()
            except BaseException:
                await self._abort_start()
                raise
        if self.search_coordinator is not None:
            self.search_coordinator.start()
        self.engine_ready = True
        for conn in list(self.clients.values()):
            conn.refresh()
        self.state = ServerState.RUNNING
        await self.replication.start()
        self._cron = self._loop.create_task(self._cron_loop())
        self._warn_if_exposed()
        if self._stop_after_start is not None:  # SHUTDOWN arrived while loading
            self.request_shutdown(save=self._stop_after_start[0])
        return self

    async def _abort_start(self) -> None:
        for srv in self._listeners + self._tls_listeners:
            srv.close()
        with contextlib.suppress(ValueError):
            self.engine.key_listeners.remove(self._on_key_changed)
        if self._own_engine:
            self.engine.stop()
        self._unlock_data_dir()
        self.search_lane.close()  # before its pool shuts down
        self.search_walker.close()
        self.search_pool.shutdown(wait=False)
        self.scan_pool.shutdown(wait=False)
        self.script_guard.close()
        self.state = ServerState.STOPPED

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        cfg = self.config
        hosts = list(cfg.bind)
        try:
            if cfg.port is not None:  # None: TLS only (Redis's ``port 0``)
                srv = await loop.create_server(
                    lambda: Connection(self), host=hosts, port=cfg.port, backlog=511
                )
                self._listeners.append(srv)
            if cfg.tls_port is not None:
                ctx = self._ssl_context()
                tls = await loop.create_server(
                    lambda: Connection(self, tls=True),
                    host=hosts,
                    port=cfg.tls_port,
                    ssl=ctx,
                    backlog=511,
                    ssl_handshake_timeout=10,
                )
                self._tls_listeners.append(tls)
        except OSError as exc:
            raise ServerError(
                f"could not listen on {' '.join(hosts)} port {cfg.port or 0}"
                f"{'' if cfg.tls_port is None else f' / TLS port {cfg.tls_port}'}: {exc}; "
                "choose another --port or stop the process using it"
            ) from exc

    def _ssl_context(self) -> ssl.SSLContext:
        cfg = self.config
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            assert cfg.tls_cert_file is not None and cfg.tls_key_file is not None
            ctx.load_cert_chain(cfg.tls_cert_file, cfg.tls_key_file)
            if cfg.tls_ca_cert_file is not None:
                ctx.load_verify_locations(cafile=str(cfg.tls_ca_cert_file))
                ctx.verify_mode = {
                    "yes": ssl.CERT_REQUIRED,
                    "optional": ssl.CERT_OPTIONAL,
                    "no": ssl.CERT_NONE,
                }[cfg.tls_auth_clients]
        except (OSError, ssl.SSLError) as exc:
            raise ServerError(
                f"could not load the TLS certificate/key ({cfg.tls_cert_file}, "
                f"{cfg.tls_key_file}): {exc}; check the --tls-* file paths"
            ) from exc
        return ctx

    def _restore(self) -> None:
        """--restore-from: fill an empty data directory from the newest remote snapshot
        (a directory whose log already holds records is left alone)."""
        from ..snapshot.restore import open_remote, restore

        data_dir = self.engine.config.data_dir
        assert data_dir is not None and self.config.restore_from is not None
        log_dir = data_dir / "log"
        if log_dir.is_dir() and any(p.stat().st_size for p in log_dir.iterdir()):
            log.info("--restore-from ignored: %s already holds a log", data_dir)
            return
        remote = open_remote(self.config.restore_from, self.config.snapshot_endpoint_url)
        info = restore(remote, data_dir, force=True)
        log.info("restored %s from %s", info.name, self.config.restore_from)

    def _lock_data_dir(self) -> None:
        data_dir = self.engine.config.data_dir
        if not self._own_engine or data_dir is None:
            return
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(data_dir / "memvec.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ServerError(
                f"{data_dir} is in use by another memvec process; stop it or pick another --dir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def _unlock_data_dir(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _warn_if_exposed(self) -> None:
        if self.config.exposed and not self.acl.auth_required:
            log.warning(
                "\n%s\nWARNING: memvec is listening on %s WITHOUT A PASSWORD.\n"
                "Anyone who can reach this address can read, change and delete every key.\n"
                "Set --requirepass (or --aclfile), or bind to 127.0.0.1.\n%s",
                "!" * 78,
                " ".join(self.config.bind),
                "!" * 78,
            )

    async def stop(self, *, save: bool | None = None) -> None:
        """Graceful stop (see the module docstring). Idempotent; safe to call concurrently.

        ``save``: snapshot before stopping; None means "if automatic snapshots are
        configured", as Redis saves on shutdown when it has save points.
        """
        if self.state in (ServerState.NEW, ServerState.STOPPED):
            self.state = ServerState.STOPPED
            return
        if self._stop_task is None:
            self._stop_task = asyncio.get_running_loop().create_task(self._do_stop(save))
        await asyncio.shield(self._stop_task)

    async def _do_stop(self, save: bool | None) -> None:
        if save is None:
            cfg = self.engine.config
            save = bool(cfg.snapshot_after_writes or cfg.snapshot_interval_s)
        self.state = ServerState.STOPPING
        assert self._stopping is not None
        self._stopping.set()
        loop = asyncio.get_running_loop()
        for srv in self._listeners + self._tls_listeners:
            srv.close()
        if self._cron is not None:
            self._cron.cancel()
        await self.replication.stop()
        if self.search_coordinator is not None:
            await self.search_coordinator.stop()
        if self.cluster is not None:
            await self.cluster.stop()
        conns = list(self.clients.values())
        self.blocking.stop()
        for conn in conns:
            conn.begin_shutdown()
        tasks = [c._task for c in conns if c._task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=10)
            for conn in conns:
                if conn._task in pending:
                    conn.kill("still busy 10 s after shutdown began")
            if pending:
                await asyncio.wait(pending, timeout=5)
        for srv in self._listeners + self._tls_listeners:
            with contextlib.suppress(Exception):
                await within(srv.wait_closed(), 5)
        with contextlib.suppress(ValueError):
            self.engine.key_listeners.remove(self._on_key_changed)
        if self.notifier is not None:
            self.notifier.stop()
        self.tracking.detach()
        self.durable_gate.close()  # its fsync thread, before the log closes
        if save and self.engine.config.data_dir is not None:
            try:
                await loop.run_in_executor(None, self.engine.persistence.save)
            except Exception:
                log.exception("snapshot at shutdown failed; the log still holds every write")
        if self._own_engine:
            await loop.run_in_executor(None, self.engine.stop)
        self.search_lane.close()  # before its pool shuts down
        self.search_walker.close()
        self.search_pool.shutdown(wait=False)
        self.scan_pool.shutdown(wait=False)
        self.script_guard.close()
        self._unlock_data_dir()
        self.state = ServerState.STOPPED
        log.info("memvec server stopped")
        assert self._stopped is not None
        self._stopped.set()

    def request_shutdown(self, *, save: bool | None = None) -> None:
        """Begin a graceful stop from inside the loop (SHUTDOWN, signal handlers)."""
        if self._loop is None or self.state in (ServerState.STOPPING, ServerState.STOPPED):
            return
        if self.state is ServerState.STARTING:
            self._stop_after_start = (save,)
            return
        if self._stop_task is None:
            log.info("shutdown requested")
            self._stop_task = self._loop.create_task(self._do_stop(save))

    async def serve_forever(self) -> None:
        """Wait until the server stopped (SHUTDOWN, a signal, or :meth:`stop`)."""
        assert self._stopped is not None, "start() first"
        await self._stopped.wait()

    async def __aenter__(self) -> Server:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the server runs on (None before ``start``)."""
        return self._loop

    @property
    def port(self) -> int:
        """The plain TCP port actually bound (useful with ``port=0``); 0 when plaintext is
        off (TLS only), as Redis's INFO ``tcp_port``."""
        return self._bound_port(self._listeners) or self.config.port or 0

    @property
    def tls_port(self) -> int | None:
        return self._bound_port(self._tls_listeners) or self.config.tls_port

    def _announced_port(self) -> int:
        """The port replicas reach this node on (FAILOVER): the TLS one with
        --tls-replication."""
        tls_port = self.tls_port
        if self.config.tls_replication and tls_port is not None:
            return tls_port
        return self.port

    @staticmethod
    def _bound_port(listeners: list[asyncio.Server]) -> int | None:
        for srv in listeners:
            for sock in srv.sockets:
                return int(sock.getsockname()[1])
        return None

    # -- clients ----------------------------------------------------------------------------
    def send_at_next_iteration(self, conn: Connection) -> None:
        """Have ``conn``'s queued replies (``Connection.send_queued``) written once the
        event loop's next poll has collected the requests already waiting, before it serves
        them: every client served in one iteration gets its reply at about the same time,
        and none of them can take the next round from a client that waited (the connection
        module's fairness note). Called on the loop.

        asyncio's loop runs a ``call_soon`` callback after its next poll, uvloop's before
        it (libuv's idle phase). So the callback only arms the turn (:meth:`_arm_turn`):
        the first socket read after it sends the replies (:meth:`take_turn`), and if the
        poll found no request, a second callback sends them one iteration later."""
        self._send_queue.append(conn)
        if not self._send_scheduled:
            self._send_scheduled = True
            loop = self._loop or asyncio.get_running_loop()
            loop.call_soon(self._arm_turn)

    def _arm_turn(self) -> None:
        queue = self._send_queue
        self.turn_armed = queue
        loop = self._loop or asyncio.get_running_loop()
        loop.call_soon(self._end_turn, queue)

    def take_turn(self) -> None:
        """Send the armed turn's replies now: a socket read began while
        :attr:`turn_armed` is set (Connection checks it first thing when it reads)."""
        self._send_queued()

    def _end_turn(self, queue: list[Connection]) -> None:
        if self.turn_armed is queue:  # no read sent them: the poll found no request
            self._send_queued()

    def shared_with(self, conn: Connection) -> bool:
        """Whether ``conn`` shares the server now: replies are queued for the next
        iteration, or another client read within :data:`SHARED_WINDOW_S`."""
        if self._send_queue:
            return True
        other = self.other_read_at if self.last_reader is conn else self.last_read_at
        return time.monotonic() - other < SHARED_WINDOW_S

    def on_loop(self, callback: Callable[..., object], *args: object) -> None:
        """Run ``callback(*args)`` on the event loop: now if called there, else soon (from
        another thread, through ``call_soon_threadsafe``)."""
        if threading.get_ident() == self.loop_thread or self._loop is None:
            callback(*args)
        else:
            self._loop.call_soon_threadsafe(callback, *args)

    def _send_queued(self) -> None:
        self._send_scheduled = False
        self.turn_armed = None
        queue, self._send_queue = self._send_queue, []
        for conn in queue:
            try:
                conn.send_queued()
            except Exception:  # one client's failure must not keep the others' replies
                log.exception("client id=%d: sending replies failed; closing it", conn.id)
                with contextlib.suppress(Exception):
                    conn.kill()

    def next_client_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def admit(self, conn: Connection) -> bool:
        """Register a new connection; False if ``maxclients`` is reached or we are stopping."""
        self.stats.connections_received += 1
        if len(self.clients) >= self.config.maxclients or self.state is ServerState.STOPPING:
            self.stats.rejected_connections += 1
            return False
        self.clients[conn.id] = conn
        return True

    def forget(self, conn: Connection) -> None:
        self.clients.pop(conn.id, None)
        self.unwatch_all(conn)
        self.pubsub.drop(conn)
        self.tracking.forget(conn)

    def refresh_users(self) -> None:
        """After an ACL change: clients see their user's new rules; deleted users' clients go
        (as in Redis, a user switched ``off`` keeps its authenticated connections)."""
        for conn in list(self.clients.values()):
            if conn.user is None:
                continue
            user = self.acl.users.get(conn.user.name)
            if user is None:
                conn.kill()
            else:
                conn.user = user
                conn.refresh()

    def index_prefixes(self, name: bytes) -> list[bytes] | None:
        """The key prefixes of index ``name`` (empty: every key), None if there is none."""
        try:
            index = self.engine.indexes.get(name)
        except StoreError:
            return None
        return list(index.definition.prefixes)

    # -- WATCH ------------------------------------------------------------------------------
    def watch(self, conn: Connection, keys: Iterable[bytes]) -> None:
        for key in keys:
            if key not in conn.watched:
                conn.watched.add(key)
                self.watchers.setdefault(key, set()).add(conn)

    def unwatch_all(self, conn: Connection) -> None:
        for key in conn.watched:
            conns = self.watchers.get(key)
            if conns is not None:
                conns.discard(conn)
                if not conns:
                    del self.watchers[key]
        conn.watched = set()
        conn.watch_dirty = False

    def _on_key_changed(self, key: bytes) -> None:
        conns = self.watchers.get(key)
        if conns:
            for conn in tuple(conns):
                conn.watch_dirty = True

    def touch_all_watched(self) -> None:
        """FLUSHALL: every watched key changed (the engine does not report each key)."""
        for conns in tuple(self.watchers.values()):
            for conn in tuple(conns):
                conn.watch_dirty = True

    # -- config -----------------------------------------------------------------------------
    def apply_config(self, changes: dict[str, object]) -> None:
        """CONFIG SET: validated field changes of :class:`ServerConfig`, applied at once."""
        new = self.config.replace(**changes)
        self.config = new
        if "requirepass" in changes:
            rules = ["resetpass", f">{new.requirepass}"] if new.requirepass else ["nopass"]
            self.acl.setuser("default", rules)
            self.refresh_users()
        if "proto_max_bulk_len" in changes:
            for conn in self.clients.values():
                conn.parser.max_bulk_len = new.proto_max_bulk_len
        if "notify_keyspace_events" in changes and self.notifier is not None:
            self.notifier.configure(new.notify_keyspace_events)
        if "maxmemory_bytes" in changes:
            self.engine.config = dataclasses.replace(
                self.engine.config, maxmemory_bytes=new.maxmemory_bytes
            )
        if "maxmemory_policy" in changes or "maxmemory_samples" in changes:
            self.engine.evictor.configure(new.maxmemory_policy, new.maxmemory_samples)
        if "search_knn_order" in changes:
            self.engine.indexes.knn_order = new.search_knn_order
        if changes.keys() & LIMIT_FIELDS:
            configure_limits(new)

    def reset_stats(self) -> None:
        self.stats = ServerStats()
        self.observe.reset_stats()

    # -- replication (store.replication) ----------------------------------------------------
    def replication_offset(self) -> int:
        return self.replication.offset()

    # -- cron -------------------------------------------------------------------------------
    async def _cron_loop(self) -> None:
        ticks = 0
        while True:
            await asyncio.sleep(CRON_INTERVAL_S)
            ticks += 1
            now = time.monotonic()
            then, count = self._ops_mark
            if now > then:
                self.stats.ops_per_sec = (self.stats.commands - count) / (now - then)
            self._ops_mark = (now, self.stats.commands)
            timeout = self.config.timeout_s
            if timeout > 0 and ticks % 10 == 0:
                for conn in list(self.clients.values()):
                    if not conn.busy and now - conn.last_io > timeout:
                        self.stats.idle_timeouts += 1
                        conn.kill()
