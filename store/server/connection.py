"""One client connection: bytes in, commands through the table, replies out.

Contract:

* Commands run in the order received. Everything the socket delivered is parsed at once
  (:class:`store.resp.RequestParser`), the complete commands form a *batch*, and the
  replies of a batch leave in one ``transport.write`` unless they pass
  :data:`FLUSH_BYTES` (below).
* Durability (group commit): engine commands run inline under the engine lock without
  waiting for the disk; before the batch's replies are written the connection waits,
  once per flush, until the log is durable up to the last record the batch wrote *or could have
  read* (a read must not show a client another client's write that a crash could still
  lose: Redis with ``appendfsync always`` gives the same guarantee by fsyncing before it
  writes any reply). Nothing is acknowledged before it is durable. The waits of all
  clients go through the server's :class:`store.server.durable_gate.DurableGate` (one
  request to the log per loop iteration, one wake-up per fsync round). With
  ``min_replicas_to_ack`` the replies of a batch that wrote also wait until that many
  replicas acknowledged its last record (else ``-NOREPLICAS``; see
  :mod:`store.replication.role`).
* Key writes (``store.engine.BATCHABLE_WRITES``: HSET, DEL ...) of a fast client while
  other clients are active go through the server's
  :class:`store.server.write_combiner.WriteCombiner`: those that arrive in one loop
  iteration are applied together at the next one (one ``Engine.submit_many``, their
  vectors inserted as one batch on every core). A pipelined run of them from one client
  is one ``submit_many`` of its own.
* Simple commands of an otherwise idle client run straight from ``data_received``
  (:mod:`store.server.inline_commands`): the same engine call and durability, their
  replies released by a durable-gate callback, no task step; anything else, and what
  follows it, goes to the client's task, which sends those replies first.
* ``lockfree`` commands (FT.SEARCH) run on the server's thread pool so searches from many
  clients use every core; the batch continues after them, in order. On the inline path, a
  search whose query was measured long runs on the server's
  :class:`store.server.search_lane.SearchLane` while other clients share the server: its
  reply takes its place among the client's inline replies when a lane thread answers.
* Dispatch goes through the one command table (``store.commands.table``): unknown command
  and arity errors, NOAUTH, ACL NOPERM (command, keys, and the key prefixes of an index
  for FT.* commands), MULTI queueing. Connection-scope commands are implemented in
  :mod:`store.server.handlers`.
* A protocol error answers ``-ERR Protocol error: ...`` after the replies to the good
  commands before it, then closes this connection only.
* Fairness: while other clients use the server, replies are handed to the transport
  once the loop's next poll has collected the requests already waiting, before those
  are served (:meth:`Server.send_at_next_iteration`), all of a client's together. Written
  at once, the reply of the client served last in an iteration left just after the next
  poll had begun: that client missed the next round, and missed it again every time
  after (epoll keeps the clients still ready in their order). Eight clients on FLAT 20k:
  p50 5.9, p90 11.3, p99 13.0 ms, one or two clients always waiting two rounds; queued:
  5.8 / 6.0 / 6.2 ms, every client alike (docs/decisions/0019). Sent before the poll
  instead (uvloop runs ``call_soon`` callbacks there), the clients just answered split
  off into a faster group: one of eight completed 1.9x the requests of another
  (docs/decisions/0029). A client alone is written at once; :data:`QUEUED_MAX_BYTES`
  bounds the queue.
* Replies leave as they are made, not per batch: every :data:`FLUSH_BYTES` of replies
  the batch so far is made durable (as above), encoded in chunks of
  :data:`CHUNK_BYTES` and handed to the transport, so a batch of large replies is never
  held encoded all at once.
* Backpressure: while more than :data:`OUTPUT_HIGH_WATER_BYTES` of replies wait in the
  transport, the connection executes no more of the client's requests and reads none
  (what Redis gets by not processing more of its query buffer); it resumes once the
  client has read them down to a quarter of that. A client that reads its replies, however
  slowly, is served completely with bounded memory.
* Output limits (``client-output-buffer-limit``, class ``normal`` or ``replica``) apply to
  the replies really queued for the client, checked as replies are handed over. A client
  held by backpressure that takes no byte for :data:`OUTPUT_STALL_S` has stopped reading:
  its requests run on without backpressure (as in Redis) and it is disconnected when its
  queue passes the hard limit, or is still above the soft limit after the soft seconds.
  Without any limit it just stays paused (memory stays at the high-water mark).
* Reading also pauses while a batch waits and more than
  :data:`PAUSE_READING_BYTES` arrived; one unfinished request beyond
  ``client_query_buffer_limit_bytes`` disconnects; idle clients are closed by the server
  cron (``timeout``).

* Observability: every command executed is timed and reported to
  :meth:`store.server.observe.Observability.done` (INFO commandstats, SLOWLOG, LATENCY,
  MONITOR, OBJECT IDLETIME), every refused one to ``refused``. While a CLIENT PAUSE holds
  a command, the replies before it are sent and the client waits (:mod:`store.server.pause`).

Per command the fast path (authenticated unrestricted user, no MULTI) is a dict lookup,
an arity check, the engine call and the observability counters: no logging, no task, no
allocation beyond the reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import struct
import threading
import time
from typing import TYPE_CHECKING, Any, cast

from store.aio import within

from ..commands import plan_bytes
from ..commands.blocking import WouldBlock
from ..commands.knn_plans import Plan
from ..commands.table import RESOLVED, CommandSpec, resolve
from ..commands.walk_later import WalkLater
from ..engine import BATCHABLE_WRITES, Submitted, now_ms
from ..errors import (
    CommandError,
    DurabilityError,
    LoadingError,
    NoAuthError,
    NoReplicasError,
    StoreError,
)
from ..index.schema import parse_ft_create
from ..resp import ErrorReply, ProtocolError, Push, ReplyWriter, RequestParser, SimpleString
from .acl import User, no_key_permission
from .cmdstats import SUBCOMMAND_CONTAINERS, command_label
from .inline_commands import NOTHING_UNSIZED, InlineReplies, combines_inline, runs_inline
from .pubsub import subscribed_gate
from .results import CLOSE_NO_REPLY, NO_REPLY, Deferred, Durable
from .script_busy import SCRIPT_RUNNERS

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from concurrent.futures import ThreadPoolExecutor

    from .app import Server
    from .write_combiner import Answer

log = logging.getLogger("memvec.server")

# While a batch waits (fsync, a search), reading pauses once this much more has arrived.
PAUSE_READING_BYTES = 8 * 1024 * 1024
# A batch's replies so far are flushed once about this many bytes of them are pending:
# large enough that small-reply pipelines (and their one durability wait) keep one flush
# per batch, small enough that memory per client stays far below any output limit.
FLUSH_BYTES = 256 * 1024
# Replies queued for a client leave together at the loop's next iteration (fairness, in
# the module docstring) until this many bytes are queued: then at once, so a large output
# reaches the transport (and its backpressure and output limits) as it is made.
QUEUED_MAX_BYTES = 64 * 1024
# Encoded replies go to the transport in pieces of about this size.
CHUNK_BYTES = 64 * 1024
# Execution of a client's requests pauses while more than this waits in its transport
# (resumes below a quarter of it). Lower: less memory per slow client; higher: fewer
# pauses for a client on a long-latency link. Never above half the client's hard limit.
OUTPUT_HIGH_WATER_BYTES = 1024 * 1024
# A client held by backpressure that takes no byte for this long has stopped reading.
# A reading client (even descheduled on a loaded machine) takes some within it.
OUTPUT_STALL_S = 2.0
# A search runs inline (not on the pool) while a client ran an engine write this recently.
WRITE_QUIET_NS = 50_000_000
_LINGER_RESET = struct.pack("ii", 1, 0)

# Commands executed (not queued) inside MULTI, as in Redis's processCommand.
_MULTI_DIRECT = frozenset({"EXEC", "DISCARD", "MULTI", "WATCH", "QUIT", "RESET"})
# FT.* commands whose args[1] is an index: the user must reach every key of its prefixes.
_INDEX_READS = frozenset({"FT.SEARCH", "FT.AGGREGATE", "FT.INFO", "FT.EXPLAIN", "FT.PROFILE"})
_INDEX_WRITES = frozenset({"FT.DROPINDEX", "FT.ALTER"})
_FLUSHES = frozenset({"FLUSHALL", "FLUSHDB"})


def _batchable(spec: CommandSpec | None, args: list[bytes]) -> bool:
    """A pipelined command that may join a run of ``Engine.submit_many`` as it stands."""
    if spec is None or spec.name not in BATCHABLE_WRITES:
        return False
    arity = spec.arity
    return not ((arity > 0 and len(args) != arity) or len(args) < -arity)


class Connection(asyncio.Protocol):
    """The protocol state machine of one client (see the module docstring)."""

    def __init__(self, server: Server, *, tls: bool = False) -> None:
        self.server = server
        self.engine = server.engine
        self.tls = tls
        self.id = server.next_client_id()
        cfg = server.config
        self.parser = RequestParser(max_bulk_len=cfg.proto_max_bulk_len)
        self._inline_search_max = cfg.inline_search_max_active_clients
        self._inline_enabled = cfg.inline_commands
        self._kept_bytes = cfg.kept_page_bytes  # (docs/decisions/0045)
        # replies of commands run from data_received, not sent yet (store.server.inline_commands)
        self._inline: InlineReplies | None = None
        # commands taken from the parser by the inline path for the task to run first
        self._leftover: list[list[bytes]] = []
        self.writer = ReplyWriter(2)
        self.protocol = 2
        self.name: bytes | None = None
        self.lib_name = b""
        self.lib_ver = b""
        self.user: User | None = None
        self.transport: asyncio.Transport | None = None
        self.addr = "?:0"
        self.laddr = "?:0"
        self.created = time.monotonic()
        self.last_io = self.created
        self.last_spec: CommandSpec | None = None  # CLIENT LIST cmd=: set before it runs
        self.last_args: list[bytes] = []
        self.multi: list[list[bytes]] | None = None
        self.multi_error = False
        self.watched: set[bytes] = set()
        self.watch_dirty = False
        self.fast = False
        self.closing = False
        self.busy = False
        self._close_after_write = False
        self._waiter: asyncio.Future[None] | None = None
        self._has_data = False
        self._active = False  # counted in Server.active_clients: has input or a batch
        self._unread = 0
        self._paused = False
        self._writing_paused = False  # the transport holds more than the high-water mark
        self._queued: list[bytes | bytearray] | None = None  # replies for the next iteration
        self._queued_bytes = 0
        self._drained: asyncio.Future[None] | None = None
        self._stalled = False  # stopped reading: no more backpressure, the limit applies
        self._above_soft_since: float | None = None
        self.is_replica = False  # attached as a replica (PSYNC): output class "replica"
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop it was made on
        self.registered = False
        self.repl_port = 0  # REPLCONF listening-port of a replica on this connection
        self.last_write_seq = 0  # the newest log record this client wrote (WAIT)
        self.monitoring = False  # in MONITOR mode (store.server.monitor)
        self.no_evict = False  # CLIENT NO-EVICT: shown in CLIENT LIST flags (e)
        self.no_touch = False  # CLIENT NO-TOUCH: shown in CLIENT LIST flags (T)
        self.cluster_asking = False  # ASKING: the next command may use an importing slot
        self.cluster_readonly = False  # READONLY: a replica serves this client's reads
        # the replies of the batch being run: pushed messages join it, in order (deliver)
        self.outbox: list[Any] | None = None
        # messages for this client made while its own command runs: after that reply
        self.held: list[Any] = []

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's transport, or uvloop's (not an asyncio.Transport subclass, same methods)
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._set_high_water()
        self.addr = _fmt_addr(transport.get_extra_info("peername"))
        self.laddr = _fmt_addr(transport.get_extra_info("sockname"))
        if not self.server.admit(self):
            self.transport.write(b"-ERR max number of clients reached\r\n")
            self.transport.close()
            return
        self.registered = True
        if not self.server.acl.auth_required:
            self.user = self.server.acl.default
        self.parser.auth_required = self.user is None
        self.refresh()
        self._loop = loop = asyncio.get_running_loop()  # one getpid() here, not per write
        self._task = loop.create_task(self._serve())

    def data_received(self, data: bytes) -> None:
        if not self.registered:
            return  # refused (maxclients) or already finished
        n = len(data)
        self.server.stats.net_input_bytes += n
        self.last_io = now = time.monotonic()
        server = self.server
        if server.turn_armed is not None:  # replies of the last round go first (fairness)
            server.take_turn()
        if server.last_reader is not self:  # who else reads: the fairness rule in _send
            server.other_read_at = server.last_read_at
            server.last_reader = self
        server.last_read_at = now
        self._unread += n
        if self._unread > PAUSE_READING_BYTES:
            self._check_query_buffer()
        waiter = self._waiter
        if (
            waiter is not None
            and self._kept_bytes
            and self._inline is None
            and type(data) is bytes
            and self.parser.idle
            and (kept := self.server.kept_pages.match(data)) is not None
            and self._answer_kept(data, kept.plan, kept.at)
        ):
            return  # a kept plan's page, answered from the request's bytes
        self.parser.feed(data)
        self._has_data = True
        if not self._active:
            self._active = True
            self.server.active_clients += 1
        if waiter is not None:
            if self._inline_allowed() and self._run_inline():
                if self._waiter is waiter:  # every complete command ran: the task stays parked
                    self._has_data = False
                    if self._inline is None and self._active:  # answered already: idle
                        self._active = False
                        self.server.active_clients -= 1
                return  # (or the inline path woke it: a failed log, its task answers)
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def eof_received(self) -> bool:
        return False

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._stalled = False
        self._release_drain()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.server.blocking.disconnected(self)
        self._wake()
        self._release_drain()
        if self._task is None and self.registered:
            self.server.forget(self)
            self.registered = False

    # -- state ------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Recompute whether the per-command checks can be skipped."""
        user = self.user
        self.fast = (
            user is not None
            and user.unrestricted
            and self.multi is None
            and self.server.engine_ready
            and self not in self.server.pubsub.clients
            and self.id not in self.server.tracking.clients
            and self.server.cluster is None  # cluster mode routes every command (_gate)
        )

    def authenticate(self, user: User) -> None:
        self.user = user
        self.parser.auth_required = False
        self.refresh()

    def kill(self, reason: str = "", *, reset: bool = False) -> None:
        """Close the connection now (CLIENT KILL, limits, shutdown of an idle client).

        ``reset``: drop the replies still queued in the kernel too (RST instead of FIN),
        for a client that stopped reading: its unread data would otherwise hold memory.
        """
        if reason:
            log.warning("closing client id=%d addr=%s: %s", self.id, self.addr, reason)
        self.closing = True
        transport = self.transport
        if transport is not None:
            if reset:
                sock = transport.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            transport.abort()
        self._wake()
        self._release_drain()

    def begin_shutdown(self) -> None:
        """Finish the batch in flight (its writes become durable and are answered), then close."""
        self.closing = True
        self._wake()
        self._release_drain()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _release_drain(self) -> None:
        drained = self._drained
        if drained is not None:
            self._drained = None
            if not drained.done():
                drained.set_result(None)

    @property
    def output_class(self) -> str:
        """The client-output-buffer-limit class of this client."""
        if self.is_replica:
            return "replica"
        return "pubsub" if self in self.server.pubsub.clients else "normal"

    def _set_high_water(self) -> None:
        """Transport flow control at :data:`OUTPUT_HIGH_WATER_BYTES` (at most half the
        class's hard limit, so a reading client never reaches it)."""
        transport = self.transport
        if transport is None:
            return
        high = OUTPUT_HIGH_WATER_BYTES
        hard = self.server.config.output_limit(self.output_class).hard_bytes
        if hard:
            high = max(min(high, hard // 2), 1)
        transport.set_write_buffer_limits(high=high, low=high // 4)

    async def _backpressure(self) -> None:
        """Wait while the client's unsent replies are above the high-water mark.

        Reading pauses meanwhile. Returns when the client read them down, the connection
        closes, or the client took nothing for :data:`OUTPUT_STALL_S` while an output
        limit applies (it stopped reading: the limit decides from here on).
        """
        transport = self.transport
        if transport is None:
            return
        self._set_high_water()  # CONFIG SET may have changed the limit
        if not self._writing_paused or self._stalled or self.closing:
            return
        loop = asyncio.get_running_loop()
        if not self._paused:
            self._paused = True
            transport.pause_reading()
        queued = transport.get_write_buffer_size()
        while self._writing_paused and not self.closing:
            drained: asyncio.Future[None] = loop.create_future()
            self._drained = drained
            with contextlib.suppress(TimeoutError):
                await within(asyncio.shield(drained), OUTPUT_STALL_S)
            if not self._writing_paused or self.closing:
                break
            now = transport.get_write_buffer_size()
            if now < queued:  # the client reads, slowly: keep waiting
                queued = now
                continue
            limit = self.server.config.output_limit(self.output_class)
            if limit.hard_bytes or limit.soft_bytes:
                self._stalled = True
                log.info(
                    "client id=%d addr=%s stopped reading (no reply taken for %.0f s, %d "
                    "bytes queued): its requests run on up to the output buffer limit",
                    self.id, self.addr, OUTPUT_STALL_S, now,
                )  # fmt: skip
                break
        self._drained = None
        if self._paused and not self.closing:
            self._paused = False
            transport.resume_reading()

    def _check_query_buffer(self) -> None:
        if self._unread > self.server.config.client_query_buffer_limit_bytes:
            self.server.stats.query_limit_disconnections += 1
            self.kill("query buffer limit reached (an unfinished request is too large)", reset=True)
        elif self.busy and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    # -- the loop ---------------------------------------------------------------------------
    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                if not self._has_data:
                    if self.closing:
                        if self._inline is not None:  # answered before closing
                            await self._run_batch([])
                        break
                    if self._paused and self.transport is not None:
                        self._paused = False
                        self.transport.resume_reading()
                    if self._active:
                        self._active = False
                        self.server.active_clients -= 1
                    waiter: asyncio.Future[None] = loop.create_future()
                    self._waiter = waiter
                    await waiter
                    continue
                self._has_data = False
                if self.closing or not await self._process():
                    break
        except Exception:
            log.exception("client id=%d addr=%s failed; closing it", self.id, self.addr)
        finally:
            self.closing = True
            if self._active:
                self._active = False
                self.server.active_clients -= 1
            self.server.unwatch_all(self)
            self.server.observe.monitors.discard(self)
            if self.transport is not None:
                self.send_queued()  # a protocol error's answer, QUIT's OK
                self.transport.close()
            if self.registered:
                self.server.forget(self)
                self.registered = False

    async def _process(self) -> bool:
        """Run every complete command buffered. False when the connection must close."""
        parser = self.parser
        while True:
            batch, self._leftover = self._leftover, []
            if not batch:
                try:
                    batch = parser.drain()
                except ProtocolError as exc:
                    if self._inline is not None:  # the replies before the error first
                        await self._run_batch([])
                    self._send(b"-ERR %s\r\n" % str(exc).encode("utf-8", "replace"))
                    return False
            if not batch:
                if self._inline is not None and self._inline.failed:
                    return await self._run_batch([]) and not self.closing
                return True
            self._unread = 0
            if self._paused and self.transport is not None:
                self._paused = False
                self.transport.resume_reading()
            self.server.stats.commands += len(batch)
            if not await self._run_batch(batch) or self.closing:
                return False

    async def _run_batch(self, batch: list[list[bytes]]) -> bool:
        engine = self.engine
        submit = engine.submit
        specs = RESOLVED
        handlers = self.server.handlers
        observe = self.server.observe
        pause = observe.pause
        guard = self.server.script_guard
        clock = time.perf_counter_ns
        replies: list[Any] = []
        writes: list[tuple[int, int]] = []  # (reply position, log seq) of each write
        need = 0
        touched = False
        pending = 0  # approximate bytes of the replies not flushed yet
        spec: CommandSpec | None = None
        rollbacks = engine.rollbacks
        inline = self._inline
        if inline is not None:  # commands run inline before these: their replies first
            if inline.deferred is not None:  # a combined write or a lane search: its reply
                inline.claimed = True
                await inline.deferred
            self._inline = None
            replies, writes, pending = inline.replies, inline.writes, inline.size
            if inline.unsized is not NOTHING_UNSIZED:
                pending += size_hint(inline.unsized)
            need, touched, rollbacks = inline.written, True, inline.rollbacks
        self.busy = True
        self.outbox = replies
        position, end = 0, len(batch)
        blocking = self.server.blocking
        coordinator = self.server.search_coordinator
        try:
            while position < end:
                if blocking.ready:  # serve clients blocked on keys the last command wrote
                    blocking.serve()
                if self.held:
                    replies.extend(self.held)
                    self.held.clear()
                self.server.executing = self
                if pending >= FLUSH_BYTES:
                    await self._flush(replies, writes, need, touched, rollbacks)
                    replies, writes, need, touched, pending = [], [], 0, False, 0
                    self.outbox = replies
                    rollbacks = engine.rollbacks
                    await self._backpressure()
                    # Let other clients in between flushes even when nothing had to wait.
                    await asyncio.sleep(0)
                    if self.closing:
                        break
                args = batch[position]
                position += 1
                spec = specs.get(args[0])
                try:
                    if spec is None:
                        spec = resolve(args)
                    else:
                        arity = spec.arity
                        if (arity > 0 and len(args) != arity) or len(args) < -arity:
                            spec.check_arity(len(args))
                    if not self.fast:
                        gated = self._gate(spec, args)
                        if gated is not None:
                            replies.append(gated)
                            continue
                except StoreError as exc:
                    if self.multi is not None:
                        self.multi_error = True
                    observe.refused(args, spec, exc)
                    replies.append(exc)
                    continue
                self.last_spec = spec
                self.last_args = args
                if pause.active and not self.is_replica and pause.holds(spec):
                    # CLIENT PAUSE: what came before is answered, then this client waits
                    await self._flush(replies, writes, need, touched, rollbacks)
                    replies, writes, need, touched, pending = [], [], 0, False, 0
                    self.outbox = replies
                    await pause.wait(spec, lambda: self.closing)
                    rollbacks = engine.rollbacks
                    if self.closing:
                        break
                if guard.pending or spec.name in SCRIPT_RUNNERS:  # store.server.script_busy
                    done = await guard.handle(self, spec, args)
                    if done is not None:
                        touched = True
                        if done.seq is not None:
                            writes.append((len(replies), done.seq))
                            need = max(need, done.seq)
                        replies.append(done.reply if done.error is None else done.error)
                        continue
                # cluster mode: FT.* fanned out to the shards, answered as a handler's reply
                if spec.scope == "engine" and (
                    coordinator is None or not coordinator.takes(self, spec)
                ):
                    touched = True
                    if self.fast and spec.name in BATCHABLE_WRITES:
                        run = position
                        while run < end and _batchable(specs.get(batch[run][0]), batch[run]):
                            run += 1
                        if run > position:  # a run of pipelined key writes: one lock hold
                            calls = [(spec, args)]
                            calls += [(specs[a[0]], a) for a in batch[position:run]]
                            started = clock()
                            self.server.last_write_ns = started
                            results = engine.submit_many(calls, protocol=self.protocol)
                            share = (clock() - started) // len(calls)
                            for (one, call), done in zip(calls, results, strict=True):
                                observe.done(self, one, call, share, done.error)
                                if done.seq is not None:
                                    writes.append((len(replies), done.seq))
                                    if done.seq > need:
                                        need = done.seq
                                replies.append(done.reply if done.error is None else done.error)
                            position = run
                            continue
                        if self.server.active_clients > 1:  # others write too: one submit
                            self.server.last_write_ns = clock()
                            done, took = await self.server.write_combiner.submit(
                                spec, args, self.protocol
                            )
                            observe.done(self, spec, args, took, done.error)
                            if done.seq is not None:
                                writes.append((len(replies), done.seq))
                                if done.seq > need:
                                    need = done.seq
                            replies.append(done.reply if done.error is None else done.error)
                            continue
                    started = clock()
                    if spec.is_write:
                        self.server.last_write_ns = started
                    try:
                        pool = "lockfree" in spec.flags and self._offloads(started, args)
                        if pool:
                            done = await self._offload(pool, spec, args)
                        else:
                            done = submit(spec, args, protocol=self.protocol, may_block=True)
                    except Exception as exc:  # a bug in a handler: answer, keep serving
                        log.exception("%s failed unexpectedly", spec.name)
                        failure = CommandError(
                            f"internal error in {spec.name}: {type(exc).__name__}"
                        )
                        observe.done(self, spec, args, clock() - started, failure)
                        replies.append(failure)
                        continue
                    if type(done.reply) is WouldBlock:  # park (store.server.blocking)
                        await self._flush(replies, writes, need, touched, rollbacks)
                        replies, writes, need, pending = [], [], 0, 0
                        done = await blocking.wait(self, spec, args, done.reply)
                        rollbacks, started = engine.rollbacks, clock()  # not the wait
                        if self.closing:  # went while blocked: run nothing more of it
                            break
                    observe.done(self, spec, args, clock() - started, done.error)
                    if done.seq is not None:
                        writes.append((len(replies), done.seq))
                        if done.seq > need:
                            need = done.seq
                    if done.error is not None:
                        replies.append(done.error)
                    else:
                        replies.append(done.reply)
                        pending += size_hint(done.reply)
                        if spec.name in _FLUSHES and self.server.watchers:
                            self.server.touch_all_watched()
                    continue
                started = clock()
                try:
                    reply = handlers[spec.name](self, args)
                    if type(reply) is Deferred:
                        reply = await reply.awaitable
                except StoreError as exc:
                    reply = exc
                observe.done(
                    self,
                    spec,
                    args,
                    clock() - started,
                    reply if isinstance(reply, (StoreError, ErrorReply)) else None,
                )
                if type(reply) is Durable:
                    if reply.seq is not None:
                        writes.append((len(replies), reply.seq))
                        need = max(need, reply.seq)
                    touched = True
                    reply = reply.reply
                elif reply is CLOSE_NO_REPLY:
                    self.closing = True
                    break
                elif reply is NO_REPLY:
                    continue
                replies.append(reply)
                pending += size_hint(reply)
                if self.closing:
                    break
                if self.protocol != self.writer.protocol:
                    # HELLO/RESET switched RESP versions: what came before leaves in the old one
                    last = replies.pop()
                    await self._flush(replies, writes, need, touched, rollbacks)
                    replies, writes, need, touched = [last], [], 0, False
                    self.outbox = replies
                    rollbacks = engine.rollbacks
                    self.writer.protocol = self.protocol
            if self.held:
                replies.extend(self.held)
                self.held.clear()
            self.server.executing = None
            await self._flush(replies, writes, need, touched, rollbacks)
        finally:
            self.busy = False
            self.outbox = None
            if self.server.executing is self:
                self.server.executing = None
        if self._close_after_write:
            if self.transport is not None:
                self.send_queued()
                self.transport.close()
            return False
        return True

    # -- the inline path (store.server.inline_commands) -----------------------------------
    def _inline_allowed(self) -> bool:
        """Whether data_received may run commands itself now (the task is parked)."""
        server = self.server
        return (
            self._inline_enabled
            and self.fast
            and not self.closing
            and not self._leftover
            and not self._writing_paused
            and not self._paused
            and (self._inline is None or not (self._inline.failed or self._inline.deferred))
            and not server.observe.pause.active
            and not server.script_guard.pending
            and server.config.min_replicas_to_ack == 0
            and server.search_coordinator is None
        )

    def _run_inline(self) -> bool:
        """Run the buffered complete commands that are eligible, from data_received.

        True when every complete command ran; otherwise the first that cannot (and what
        follows) is left to the task (``_leftover``, or the parser for a protocol error)."""
        server, engine = self.server, self.engine
        parser = self.parser
        specs = RESOLVED
        observe = server.observe
        clock = time.perf_counter_ns
        thread_cpu = time.thread_time_ns
        lane = server.search_lane
        state = self._inline
        ran = 0
        complete = True
        # the last reply's size is counted only when another command follows it (here or
        # in a later call, InlineReplies.unsized), or when the task takes the replies: a
        # lone command's reply is never sized (a RESP3 KNN page of 10 maps: ~7 us,
        # docs/decisions/0027)
        unsized: Any = NOTHING_UNSIZED
        if state is not None:
            unsized, state.unsized = state.unsized, NOTHING_UNSIZED
        try:
            while state is None or state.size < FLUSH_BYTES:
                try:
                    args = parser.next_command()
                except ProtocolError:
                    complete = False  # the task's drain raises it again, after these replies
                    break
                if args is None:
                    break
                if unsized is not NOTHING_UNSIZED:
                    assert state is not None
                    state.size += size_hint(unsized)
                    unsized = NOTHING_UNSIZED
                    if state.size >= FLUSH_BYTES:  # a reply-heavy pipeline: as below
                        self._leftover.append(args)
                        complete = False
                        break
                spec = specs.get(args[0])
                if spec is None:
                    try:
                        spec = resolve(args)  # a spelling not seen yet (cached from now on)
                    except StoreError:
                        spec = None  # unknown, or the wrong arity: the task answers it
                # a command answered later (a combined write, a search on the lane)
                defer: Callable[[InlineReplies, CommandSpec, list[bytes]], None] | None = None
                lockfree = False
                if spec is not None and server.active_clients > 1 and combines_inline(spec, args):
                    defer = self._combine
                else:
                    lockfree = spec is not None and "lockfree" in spec.flags
                    now = clock() if lockfree else 0
                    searches_inline = lockfree and not self._offloads(now, args)
                    if spec is None or not runs_inline(spec, args, searches_inline):
                        self._leftover.append(args)
                        complete = False
                        break
                    if searches_inline and self._lane_takes(now, args):
                        defer = self._to_lane
                # a kept KNN plan's walk goes to the search walker's thread while others
                # share the server: its reply is answered later (docs/decisions/0044)
                walker = None
                if lockfree and defer is None and parser.buffered == 0:  # the last command sent
                    walker = self._walker_takes(args)
                if defer is not None:
                    assert spec is not None
                    # the last command sent? a pipelined run is the task's, in order (and
                    # its key writes the task's to batch)
                    if not self._last_sent(args):
                        complete = False
                        break
                    if state is None:
                        state = self._inline = InlineReplies(engine.rollbacks)
                    defer(state, spec, args)
                    ran += 1
                    break
                if state is None:
                    state = self._inline = InlineReplies(engine.rollbacks)
                replies = state.replies
                self.outbox = replies
                self.last_spec = spec
                self.last_args = args
                started = clock()
                if spec.is_write:
                    server.last_write_ns = started
                server.executing = self
                # a search's CPU time, while others share the server: what decides whether
                # its query goes to the lane next (a lone client's is not measured)
                costed = lockfree and lane.min_cost_ns and server.shared_with(self)
                cpu_started = thread_cpu() if costed else 0
                try:
                    done = engine.submit(
                        spec, args, protocol=self.protocol, may_block=True, walker=walker
                    )
                    if costed:
                        lane.note(args, thread_cpu() - cpu_started)
                except Exception as exc:  # a bug in a handler: answer, keep serving
                    log.exception("%s failed unexpectedly", spec.name)
                    failure = CommandError(f"internal error in {spec.name}: {type(exc).__name__}")
                    observe.done(self, spec, args, clock() - started, failure)
                    replies.append(failure)
                    ran += 1
                    continue
                finally:
                    server.executing = None
                if type(done.reply) is WouldBlock:  # it parks: the task runs it (no effect yet)
                    self._leftover.append(args)
                    complete = False
                    break
                if type(done.reply) is WalkLater:  # answered when the walker's thread walked
                    self._to_walker(state, spec, args, done.reply, started)
                    ran += 1
                    break
                observe.done(self, spec, args, clock() - started, done.error)
                if done.seq is not None:
                    state.writes.append((len(replies), done.seq))
                    if done.seq > state.written:
                        state.written = done.seq
                if done.error is not None:
                    replies.append(done.error)
                else:
                    replies.append(done.reply)
                    unsized = done.reply
                if self.held:
                    replies.extend(self.held)
                    self.held.clear()
                ran += 1
            else:
                complete = False  # a reply-heavy pipeline: the task flushes as it goes
        finally:
            self.outbox = None
        if ran:
            server.stats.commands += ran
            server.stats.inline_commands += ran
            self._unread = 0
            if server.blocking.ready:  # serve clients blocked on keys these wrote
                server.blocking.serve()
        if state is not None and ran and state.deferred is None:
            self._inline_settle(state)  # (else the deferred command's answer settles them)
        if unsized is not NOTHING_UNSIZED and state is not None and self._inline is state:
            state.unsized = unsized  # they wait: sized if later commands join them
        return complete

    def _answer_kept(self, data: bytes, plan: Plan, at: int) -> bool:
        """Answer ``data``, a whole request that is the bytes of a kept plan's ids page
        with its vector's value at ``at`` (:mod:`store.server.kept_pages`,
        :mod:`store.commands.plan_bytes`, docs/decisions/0045), when the inline path would
        run it here and now; True when answered. False (nothing done) when the inline
        path could not run it, or would send it elsewhere (the search pool, the lane, the
        walker), or the reply would have to wait for the log, or ``plan_bytes`` leaves it to
        the general path: the caller feeds ``data`` to the parser as any request."""
        server = self.server
        if not self._inline_allowed() or server.observe.monitors.clients:
            return False
        engine = self.engine
        request = plan.request_args
        assert request is not None  # an ids plan's
        head = request.head
        # as the inline path counts the client while it runs a command (_offloads reads it)
        counted = not self._active
        if counted:
            server.active_clients += 1
        try:
            now = time.perf_counter_ns()
            if self._offloads(now, head) or self._lane_takes(now, head):
                return False
            walker = self._walker_takes(head)
            if walker is not None:
                return self._kept_to_walker(data, plan, at, walker)
            rollbacks = engine.rollbacks
            if not self._read_durable():
                return False
            # its CPU time, while others share the server, as _run_inline measures a search
            lane = server.search_lane
            costed = lane.min_cost_ns and server.shared_with(self)
            cpu_started = time.thread_time_ns() if costed else 0
            started = time.perf_counter_ns()
            try:
                reply = plan_bytes.answer(engine, plan, data, at, now_ms(), self.protocol)
            except Exception:  # a bug: the general path answers (its own error, if any)
                log.exception("answering a kept plan from its bytes failed")
                return False
            took = time.perf_counter_ns() - started
            if costed and reply is not None:
                lane.note(head, time.thread_time_ns() - cpu_started)
            # a write applied meanwhile (on another thread) must be durable before a read
            # that may show it is answered; one rolled back must not be shown: the general
            # path answers then, and waits as it does
            if reply is None or engine.rollbacks != rollbacks or not self._read_durable():
                return False
        finally:
            if counted:
                server.active_clients -= 1
        spec = RESOLVED.get(head[0]) or resolve(list(head))
        self.last_spec = spec
        self.last_args = args = list(head)
        slower = server.config.slowlog_log_slower_than
        if 0 <= slower <= took // 1000:  # the slow log shows the whole command
            args = request.args(data[at : at + request.size])
        server.observe.done(self, spec, args, took, None)
        stats = server.stats
        stats.commands += 1
        stats.inline_commands += 1
        stats.kept_page_bytes += 1
        self._unread = 0
        if self._active:  # as the inline path leaves a client that has nothing in flight
            self._active = False
            server.active_clients -= 1
        self._send(reply)
        return True

    def _kept_to_walker(self, data: bytes, plan: Plan, at: int, walker: Any) -> bool:
        """:meth:`_answer_kept` with the walk queued on the search walker's threads: the
        reply's place is held as for the inline path's walked searches (:meth:`_to_walker`)
        and its page read when the walk is done (``plan_bytes.walked_reply``)."""
        engine = self.engine
        later = WalkLater("FT.SEARCH")
        started = time.perf_counter_ns()
        try:
            want = plan_bytes.walk_later(engine, plan, data, at, walker, later, self.protocol)
        except Exception:  # a bug: the general path answers (its own error, if any)
            log.exception("queueing a kept plan's walk from its bytes failed")
            return False
        if want is None:
            return False
        request = plan.request_args
        assert request is not None  # an ids plan's
        args = request.args(data[at : at + request.size])
        spec = RESOLVED.get(args[0]) or resolve(args)
        later.finish = functools.partial(
            plan_bytes.walked_reply,
            engine,
            plan,
            data,
            at,
            want,
            now_ms(),
            self.protocol,
            spec,
            args,
        )
        state = self._inline = InlineReplies(engine.rollbacks)
        self._to_walker(state, spec, args, later, started)
        stats = self.server.stats
        stats.commands += 1
        stats.inline_commands += 1
        stats.kept_page_bytes += 1
        self._unread = 0
        return True

    def _read_durable(self) -> bool:
        """Whether a read's reply may leave now: everything applied is durable (as
        :meth:`_inline_settle` waits for)."""
        engine = self.engine
        if engine.transaction_log is None:
            return True
        need = engine.applied_position.seq - 1
        return need <= 0 or self.server.durable_gate.covers(need)

    def _last_sent(self, args: list[bytes]) -> bool:
        """Whether ``args`` is the last complete command the client sent. If not, it and the
        next go to the task (``_leftover``), which runs the rest in order; so does it before
        a protocol error (the task's drain raises that again, after the replies)."""
        try:
            after = self.parser.next_command()
        except ProtocolError:
            self._leftover.append(args)
            return False
        if after is None:
            return True
        self._leftover.append(args)
        self._leftover.append(after)
        return False

    def _walker_takes(self, args: Sequence[bytes]) -> Any:
        """The search walker's ``hnsw_graph.Walker`` when FT.SEARCH ``args``, the last
        command the client sent, walks there (docs/decisions/0044): the walker is on,
        other clients share the server, and its query is not known to walk shorter than
        the walker's threshold (:meth:`SearchWalker.takes`); else None."""
        server = self.server
        walker = server.search_walker
        if walker.walker is not None and server.shared_with(self) and walker.takes(args):
            return walker.walker
        return None

    def _lane_takes(self, now_ns: int, args: Sequence[bytes]) -> bool:
        """Whether FT.SEARCH ``args``, about to run inline, goes to the search lane: its
        query was seen to be long (:meth:`SearchLane.takes`), other clients share the
        server, whose loop serves them meanwhile (alone, the client would only wait for
        the hand-off), and no client wrote in the last :data:`WRITE_QUIET_NS` (the
        search pool's rule: a search off the loop convoys with writes for the engine
        lock, the index's write lock and the GIL). docs/decisions/0040."""
        server = self.server
        return (
            server.search_lane.takes(args)
            and now_ns - server.last_write_ns > WRITE_QUIET_NS
            and server.shared_with(self)
        )

    def _combine(self, state: InlineReplies, spec: CommandSpec, args: list[bytes]) -> None:
        """Queue a key write to the server's WriteCombiner from the inline path: its reply
        joins ``state``'s at the place it holds now, once the batch answers
        (:meth:`_deferred_answer`)."""
        server = self.server
        server.last_write_ns = time.perf_counter_ns()
        answer = self._defer(state, spec, args)
        server.write_combiner.enqueue(spec, args, self.protocol, answer)

    def _to_lane(self, state: InlineReplies, spec: CommandSpec, args: list[bytes]) -> None:
        """Run a long search on the server's SearchLane from the inline path: its reply
        joins ``state``'s at the place it holds now, once a lane thread answers
        (:meth:`_deferred_answer`).

        Meanwhile the client has nothing for the loop to do, so it is not counted in
        ``Server.active_clients`` (its next request counts it again): counted, the clients
        waiting on the lane made the other clients' searches go to the search pool
        through their tasks (``_offloads``), 97% of those that left the loop in a measured
        run (docs/decisions/0040)."""
        answer = self._defer(state, spec, args)
        server = self.server
        server.search_lane.enqueue(spec, args, self.protocol, answer)
        if self._active:
            self._active = False
            server.active_clients -= 1

    def _to_walker(
        self,
        state: InlineReplies,
        spec: CommandSpec,
        args: list[bytes],
        later: WalkLater,
        started: int,
    ) -> None:
        """Hold the place of a search whose walk is queued on the server's SearchWalker:
        its reply joins ``state``'s there once the walk is done (:meth:`_deferred_answer`).
        Meanwhile the client is not counted in ``Server.active_clients``, as for the lane
        (:meth:`_to_lane`)."""
        later.answer = self._defer(state, spec, args)
        later.started = started
        later.key = (args[1], args[2])  # its walk's time is counted under its query
        if self._active:
            self._active = False
            self.server.active_clients -= 1

    def _defer(self, state: InlineReplies, spec: CommandSpec, args: list[bytes]) -> Answer:
        """Hold the next place in ``state``'s replies for a command answered later; the
        callback that answers it (:meth:`_deferred_answer`)."""
        self.last_spec = spec
        self.last_args = args
        place = len(state.replies)
        state.replies.append(None)  # held for the reply: never sent while deferred is set
        assert self._loop is not None  # registered: connection_made ran
        state.deferred = self._loop.create_future()
        return functools.partial(self._deferred_answer, state, spec, args, place)

    def _deferred_answer(
        self,
        state: InlineReplies,
        spec: CommandSpec,
        args: list[bytes],
        place: int,
        done: Submitted,
        took: int,
    ) -> None:
        """The answer to a command :meth:`_defer` held (on the loop): its reply in place,
        then ``state``'s replies wait for the log as any inline replies do, unless the
        client's task took them (it awaits ``state.deferred``). ``took``: the ns it ran
        (a combined write's share of its batch)."""
        server = self.server
        server.observe.done(self, spec, args, took, done.error)
        if done.seq is not None:
            state.writes.append((place, done.seq))
            if done.seq > state.written:
                state.written = done.seq
        state.replies[place] = done.reply if done.error is None else done.error
        waiter, state.deferred = state.deferred, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if server.blocking.ready:  # serve clients blocked on keys this wrote
            server.blocking.serve()
        if state.claimed or self._inline is not state or self.closing:
            return  # the task sends them (or nobody: the client went away)
        try:
            self._inline_settle(state)
        except Exception:  # never into the combiner or the lane: other clients' answers follow
            log.exception("client id=%d: answering a deferred command failed; closing", self.id)
            self.kill()

    def _inline_settle(self, state: InlineReplies) -> None:
        """Send ``state``'s replies once what they show is durable (at once if nothing)."""
        engine = self.engine
        tlog = engine.transaction_log
        need = state.written
        if tlog is not None:
            last = engine.applied_position.seq - 1
            if last > need:
                need = last
        state.need = need
        if tlog is None or need <= 0:
            self._inline_send(state)
        elif not state.waiting:
            gate = self.server.durable_gate
            if engine.rollbacks == state.rollbacks and gate.covers(need):
                self._inline_send(state)  # durable already (a read; everysec): no callback
                return
            state.waiting = need
            assert self._loop is not None  # registered: connection_made ran
            self.server.durable_rounds.join(self._loop, self, state, need)

    def inline_durable(self, state: InlineReplies, outcome: Any, exc: BaseException | None) -> None:
        """The gate's answer for ``state`` (on the loop): send, wait more, or hand over."""
        try:
            if self._inline is not state:  # the task took them into a batch
                return
            engine = self.engine
            if exc is not None or outcome is not None or engine.rollbacks != state.rollbacks:
                state.failed = True  # the task's _flush refuses what may not be durable
                self._has_data = True
                self._wake()
                return
            if state.deferred is not None:  # a deferred command joined them: it settles them
                state.waiting = 0
                return
            if not self.server.durable_gate.covers(state.need):
                state.waiting = state.need  # commands ran since the request: wait for them
                self.server.durable_gate.notify(
                    state.need, functools.partial(self.inline_durable, state)
                )
                return
            self._inline_send(state)
        except Exception:  # never into the gate's loop: it answers other clients next
            log.exception("client id=%d: answering inline commands failed; closing", self.id)
            self.kill()

    def _inline_send(self, state: InlineReplies) -> None:
        self._inline = None
        if state.written > self.last_write_seq:
            self.last_write_seq = state.written
        writer = self.writer
        for reply in state.replies:
            try:
                writer.write(reply)
            except TypeError as exc:
                log.error("cannot encode a reply: %s", exc)
                writer.write(CommandError("internal error: reply could not be encoded"))
        if len(writer):
            self._send(writer.take_chunk())
        if self._waiter is not None and not self._has_data and self._active:
            self._active = False  # as the parked task would: no input, nothing in flight
            self.server.active_clients -= 1

    def _offloads(self, now_ns: int, args: Sequence[bytes]) -> ThreadPoolExecutor | None:
        """The pool a lockfree command (FT.SEARCH) runs on now, or None: inline.

        The search pool only while other clients have work (alone, the thread hop costs more
        than it saves) and no client ran an engine write in the last :data:`WRITE_QUIET_NS`:
        a write holds the engine lock and the vector index's write lock, so a pooled search
        then waits for both, and for the GIL, while the loop waits for the search's short
        lock phases (a convoy: the 200-client mixed load ran 13-20% slower with a 40% higher
        p99, docs/decisions/0006-request-path.md). Pure search loads keep every core, except
        a search that is at most a short FLAT scan (``IndexManager.short_scans``), shorter
        than the hop to a thread and back.
        ``inline_search_max_active_clients`` 0 still means: always the search pool.

        A search that is a long FLAT scan (``IndexManager.long_scans``: a KNN of a large
        FLAT field) goes to the scan pool while other clients share the server
        or such searches are in flight, under the same quiet rule: its many threads wait
        together at the index, and the queries that arrive during a pass over the matrix
        share the next one (:mod:`store.index.scan_batch`; docs/decisions/0034). Inline,
        each scan held the loop alone and the 8-client p99 at 100k was 1.39x the peer's.
        """
        inline_max = self._inline_search_max
        server = self.server
        quiet = inline_max == 0 or now_ns - server.last_write_ns > WRITE_QUIET_NS
        if not quiet:
            return None
        if (
            inline_max
            and len(args) > 2
            and (server.scans_in_pool or server.shared_with(self))
            and self.engine.indexes.long_scans(args[1], args[2])
        ):
            return server.scan_pool
        if server.active_clients > inline_max and not (
            inline_max and len(args) > 1 and self.engine.indexes.short_scans(args[1])
        ):
            return server.search_pool
        return None

    async def _offload(self, pool: ThreadPoolExecutor, spec: CommandSpec, args: list[bytes]) -> Any:
        """Run a lockfree command on ``pool`` (other clients have work meanwhile).

        Alone, a search runs inline: the hop to a worker thread and back costs more than
        it saves. With other clients active, the loop keeps serving them while the ANN walk
        or the FLAT pass (which release the GIL) runs on another core.
        """
        server = self.server
        scans = pool is server.scan_pool
        server.searches_in_pool += 1
        server.scans_in_pool += scans
        server.stats.searches_offloaded += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(
                pool,
                functools.partial(self.engine.submit, spec, args, protocol=self.protocol),
            )
        finally:
            server.searches_in_pool -= 1
            server.scans_in_pool -= scans

    def _refuse_undurable(
        self,
        replies: list[Any],
        writes: list[tuple[int, int]],
        touched: bool,
        error: DurabilityError,
    ) -> int:
        """Answer ``error`` for every write whose record is not durable and, if the batch
        read the engine, for every other reply; return the last durable write's seq."""
        durable_writes: set[int] = set()
        written = 0
        for i, seq in writes:
            try:
                fut = self.engine.durable_future(seq)  # settled now: durable, or void
                if fut.done() and fut.exception() is None:
                    durable_writes.add(i)
                    written = max(written, seq)
            except Exception:  # not durable as far as we can tell
                pass
        write_positions = {i for i, _ in writes}
        for i in range(len(replies)):
            if i in durable_writes:
                continue
            if isinstance(replies[i], Push):  # a pushed message, not this batch's reply
                continue
            if i in write_positions or (touched and not isinstance(replies[i], StoreError)):
                replies[i] = error
        return written

    async def _flush(
        self,
        replies: list[Any],
        writes: list[tuple[int, int]],
        need: int,
        touched: bool,
        rollbacks: int,
    ) -> None:
        """Wait until what these replies acknowledge or show is durable, then send them.

        If that fails (the log refused a write: a full disk), a write is answered the
        error unless its own record is durable, and so is every other reply of a batch that
        read the engine: it may show a write the log refused (docs/durability.md). The
        same holds if the engine rolled its state back since the batch began
        (``rollbacks``): a later durable seq then proves nothing about earlier ones.
        """
        engine = self.engine
        written = need if writes else 0
        if touched and engine.transaction_log is not None:
            last = engine.applied_position.seq - 1
            if last > need:
                need = last
        if need > 0:
            try:
                await self.server.durable_gate.wait(need)
            except DurabilityError as exc:
                written = self._refuse_undurable(replies, writes, touched, exc)
            except Exception as exc:  # log closed under us (shutdown) or a bug
                err = DurabilityError(f"the write may not be durable: {exc}; check the server log")
                written = self._refuse_undurable(replies, writes, touched, err)
            else:
                if engine.rollbacks != rollbacks:
                    err = DurabilityError(
                        "the transaction log refused a write while this batch ran; what it "
                        "showed or wrote may be undone: retry"
                    )
                    written = self._refuse_undurable(replies, writes, touched, err)
        if written:
            self.last_write_seq = max(self.last_write_seq, written)
            cfg = self.server.config
            if cfg.min_replicas_to_ack > 0 and not (
                await self.server.replication.confirm_write(
                    written, cfg.min_replicas_to_ack, cfg.min_replicas_timeout_ms
                )
            ):
                refused = NoReplicasError()
                for i, _ in writes:
                    if not isinstance(replies[i], StoreError):
                        replies[i] = refused
        writer = self.writer
        for reply in replies:
            try:
                writer.write(reply)
            except TypeError as exc:
                log.error("cannot encode a reply: %s", exc)
                writer.write(CommandError("internal error: reply could not be encoded"))
            if len(writer) >= CHUNK_BYTES:
                self._send(writer.take_chunk())
                if self.closing:
                    return
        if len(writer):
            self._send(writer.take_chunk())

    def _send(self, data: bytes | bytearray) -> None:
        """Queue ``data`` for the client: it leaves after the loop's next poll with
        everything else queued for this client (:meth:`send_queued`),
        or now once :data:`QUEUED_MAX_BYTES` are queued (module docstring, fairness).
        A client alone on the server (no other client read anything in the last
        :data:`~store.server.app.SHARED_WINDOW_S`, nothing queued) is written at once:
        it has nobody to take turns with, and the extra iteration would cost it ~6 us a
        round trip."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        server = self.server
        if threading.get_ident() != server.loop_thread and server.loop_thread:
            # every sender known runs on the loop; one on another thread is carried over
            # to it, as the transport and the queue are the loop's
            server.on_loop(self._send, data)
            return
        queued = self._queued
        if queued is None:
            if len(data) >= QUEUED_MAX_BYTES or not server.shared_with(self):
                self._write(data)
                return
            server.send_at_next_iteration(self)
            self._queued = [data]
            self._queued_bytes = len(data)
            return
        queued.append(data)
        self._queued_bytes += len(data)
        if self._queued_bytes >= QUEUED_MAX_BYTES:
            self.send_queued()

    def send_queued(self) -> None:
        """Hand the replies queued by :meth:`_send` to the transport, as one write."""
        queued = self._queued
        if queued is None:
            return
        self._queued = None
        self._write(queued[0] if len(queued) == 1 else b"".join(queued))

    def _write(self, data: bytes | bytearray) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(data)
        self.server.stats.net_output_bytes += len(data)
        queued = transport.get_write_buffer_size()
        if not queued:
            self._above_soft_since = None
            return
        limit = self.server.config.output_limit(self.output_class)
        now = time.monotonic()
        if limit.soft_bytes and queued > limit.soft_bytes:
            if self._above_soft_since is None:
                self._above_soft_since = now
        else:
            self._above_soft_since = None
        if limit.exceeded(queued, self._above_soft_since, now):
            self.server.stats.output_limit_disconnections += 1
            what = "hard" if limit.hard_bytes and queued > limit.hard_bytes else "soft"
            self.kill(
                f"output buffer {what} limit of the {self.output_class} class reached: "
                f"{queued} bytes of replies queued (the client stopped reading them)",
                reset=True,
            )

    def deliver(self, message: Any) -> None:
        """A pushed message (pub/sub): after every reply this client was given or is being
        given in its current batch, before the next ones; one made while this client's own
        command runs follows that command's reply (as in Redis 7.2+)."""
        if self.server.executing is self:
            self.held.append(message)
            return
        if self.outbox is not None:
            self.outbox.append(message)
            return
        if self._inline is not None:  # after the inline replies still waiting for the log
            self._inline.replies.append(message)
            return
        writer = self.writer
        writer.write(message)
        self._send(writer.take_chunk())

    def push(self, data: bytes) -> None:
        """Send ``data`` now, outside any batch (MONITOR lines), under the output limits."""
        self._send(data)

    def close_after_reply(self) -> None:
        self._close_after_write = True
        self.closing = True

    # -- the slow path: auth, ACL, MULTI ----------------------------------------------------
    def _gate(self, spec: CommandSpec, args: list[bytes]) -> Any:
        """None to execute the command now; otherwise the reply (QUEUED). Raises StoreError."""
        user = self.user
        no_auth = "no_auth" in spec.flags
        if user is None and not no_auth:
            raise NoAuthError()
        if not self.server.engine_ready and spec.scope == "engine":
            raise LoadingError()
        if user is not None and not no_auth and not user.unrestricted:
            self._check_acl(user, spec, args)
        if self.server.cluster is not None:  # after ACL, as Redis's processCommand
            self.server.cluster.route(self, spec, args)  # MOVED, ASK, CROSSSLOT ...
        if self.server.tracking.clients:
            self.server.tracking.note_command(self, spec, args)
        if self.protocol == 2 and self in self.server.pubsub.clients:
            pong = subscribed_gate(self, spec.name, args)
            if pong is not None:
                return pong
        if self.multi is not None and spec.name not in _MULTI_DIRECT:
            self.multi.append(args)
            return SimpleString("QUEUED")
        return None

    def _check_acl(self, user: User, spec: CommandSpec, args: list[bytes]) -> None:
        sub = args[1] if spec.name in SUBCOMMAND_CONTAINERS and len(args) > 1 else None
        self.server.acl.check_command(user, spec.name, sub)
        if user.all_keys:
            return
        write = spec.is_write
        for key in spec.keys(args) if "pubsub" not in spec.flags else ():  # channels
            if not user.can_access(key, write):
                raise no_key_permission()
        if spec.name in _INDEX_READS or spec.name in _INDEX_WRITES:
            prefixes = self.server.index_prefixes(args[1])
            if prefixes is not None and not user.covers_prefixes(
                prefixes, write=spec.name in _INDEX_WRITES
            ):
                raise no_key_permission()
        elif spec.name == "FT.CREATE":
            # The prefixes the index will get, from the command's own parser (a repeated
            # PREFIX clause: the last wins, as in RediSearch 2.10). Arguments it refuses
            # create nothing: the command answers that error itself, when it runs (in MULTI:
            # at EXEC, as before).
            try:
                created = parse_ft_create(args).prefixes
            except StoreError:
                return
            if not user.covers_prefixes(() if created == (b"",) else created, write=True):
                raise no_key_permission()

    # -- MULTI / WATCH ----------------------------------------------------------------------
    def begin_multi(self) -> None:
        self.multi = []
        self.multi_error = False
        self.refresh()

    def end_multi(self) -> None:
        self.multi = None
        self.multi_error = False
        self.server.unwatch_all(self)
        self.refresh()

    # -- introspection ----------------------------------------------------------------------
    def describe(self) -> str:
        """One ``CLIENT LIST`` line (no passwords: only the user name)."""
        now = time.monotonic()
        transport = self.transport
        omem = transport.get_write_buffer_size() if transport is not None else 0
        obl = len(self.writer)
        qbuf = self.parser.buffered
        flags = ""
        if self.monitoring:
            flags += "O"
        if self.server.blocking.is_blocked(self):
            flags += "b"
        sub, psub, ssub = self.server.pubsub.counts(self)
        if sub or psub or ssub:
            flags += "P"
        if self.multi is not None:
            flags += "x"
        if self.no_evict:
            flags += "e"
        if self.no_touch:
            flags += "T"
        flags = flags or "N"
        user = self.user.name if self.user is not None else "default"
        name = (self.name or b"").decode("utf-8", "replace")
        return (
            f"id={self.id} addr={self.addr} laddr={self.laddr} fd=-1 name={name} "
            f"age={int(now - self.created)} idle={int(now - self.last_io)} flags={flags} db=0 "
            f"sub={sub} psub={psub} ssub={ssub} "
            f"multi={len(self.multi) if self.multi is not None else -1} "
            f"watch={len(self.watched)} qbuf={qbuf} qbuf-free=0 argv-mem=0 multi-mem=0 "
            f"rbs=0 rbp=0 obl={obl} oll=0 omem={omem} tot-mem={qbuf + omem + obl} events=r "
            f"cmd={command_label(self.last_spec, self.last_args)} user={user} redir=-1 "
            f"resp={self.protocol} "
            f"lib-name={self.lib_name.decode('utf-8', 'replace')} "
            f"lib-ver={self.lib_ver.decode('utf-8', 'replace')}"
        )


def size_hint(reply: Any) -> int:
    """Roughly how many bytes ``reply`` encodes to (bulk payloads counted, framing not)."""
    t = type(reply)
    if t is bytes or t is str or t is bytearray:
        return len(reply)
    if t is list or t is tuple:
        n = 8
        for item in reply:  # a loop, not sum() of a generator: replies of many items
            it = type(item)
            if it is bytes or it is str or it is bytearray:
                n += len(item)
            elif it is list or it is tuple or it is dict:
                n += size_hint(item)
            else:
                n += 8
        return n
    if t is dict:
        return sum(size_hint(k) + size_hint(v) for k, v in reply.items()) + 8
    return 8


def _fmt_addr(addr: Any) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        host = addr[0]
        return f"[{host}]:{addr[1]}" if ":" in str(host) else f"{host}:{addr[1]}"
    return str(addr or "?:0")
