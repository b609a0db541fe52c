"""The engine: the keyspace, its indexes and the transaction log behind one write path.

Contract:

* :meth:`Engine.execute` runs one command and returns its reply once the write is durable
  under the configured ``appendfsync`` policy. Errors raise :class:`store.errors.StoreError`
  and change nothing. The RESP server resolves each call once in the command table
  (:func:`store.commands.table.resolve`) and hands the spec to :meth:`Engine.submit`.
* Handlers see an :class:`store.commands.context.ExecContext` (keyspace, indexes,
  snapshots, flush, the clock), never the engine.
* Every state change, from clients, from startup replay or from a primary's log, goes
  through the same command handlers (:mod:`store.commands`) under one lock. A write that
  changed state is appended to the log under that lock, in the order it was applied.
* Durability is waited for *outside* the lock, so concurrent writers share one fsync (group
  commit) and readers are never blocked by a disk flush. A client therefore never gets an
  acknowledgement for a write the log could lose, and always reads its own writes.
* A refused write is undone (docs/durability.md, docs/decisions/0003): when the log fails
  (a full disk), the log is rewound to its durable end (:meth:`TransactionLog.rewind`) and,
  if memory holds more than that, the state is rebuilt from the newest snapshot and the
  log, exactly as at startup, before the next command runs. Until then a reader that could
  see the refused write waits for its seq, which fails, so it is answered an error, never
  the value. Writes are refused while the log fails; each write (and the expiry loop, ten
  times a second) first appends an empty record to probe the disk, so writes resume by
  themselves once it takes them. A log that cannot rewind (the Kafka log, a failed
  truncation) refuses writes until restart.
* Replication (:mod:`store.replication`): a replica feeds its primary's records to
  :meth:`Engine.replicate`, which appends each to this node's log with the primary's seq
  and epoch and then runs the same :meth:`Engine.apply`; ``append_listeners`` see every
  record appended (the primary's backlog); :meth:`Engine.promote` starts a new epoch.
* Effects (keyspace notifications): ``effect_listeners`` see each command that changed
  state, under the lock, as a :class:`CommandEffects` (the call, what was logged for it,
  which of its keys existed before), and each expiry (``args`` None); replicas' applied
  records too. Nothing is computed for them while the list is empty.
* Expiry: readers never see an expired key; the primary deletes expired keys (lazily on
  write access and with an active sweeper) and logs the ``DEL``. Replay and replicas never
  expire keys by their own clock.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from . import commands as _commands  # noqa: F401  (registers every command)
from .commands.context import ExecContext
from .commands.table import CommandSpec, resolve
from .commands.walk_later import WalkLater
from .config import EngineConfig
from .errors import (
    CommandError,
    DurabilityError,
    LoadingError,
    OutOfMemoryError,
    ReadOnlyError,
    RecordVoidedError,
    StoreError,
    mark_module_error,
)
from .eviction import Evictor
from .index.manager import IndexManager
from .keyspace import Keyspace
from .persistence import Persistence
from .scripting import Scripting
from .wal.base import LogRecord, RecoveryReport, TransactionLog
from .wal.payload import decode_commands, encode_commands
from .wal.position import LogPosition

log = logging.getLogger("memvec.engine")

# Key writes that touch no index definition and read no index: a pipelined run of them
# may share one lock hold and one parallel vector insert (Engine.submit_many).
BATCHABLE_WRITES = frozenset({"HSET", "HMSET", "HSETNX", "HDEL", "DEL", "UNLINK"})

STARTUP_MEMORY_BYTES = 1 << 20
"""The server's fixed overhead in ``used_memory`` (INFO ``used_memory_startup``): what an
empty server counts, as Redis counts its own startup allocations (an empty Redis 7.4 with
RediSearch and RedisJSON: ~1.1 MB). A constant, not the process's RSS at start: memvec's
interpreter (tens of MB, more in a test process hosting several servers) would leave a
small ``maxmemory`` no room at all and make the limit depend on what was imported. So
``maxmemory`` bounds this plus the dataset estimate, as Redis's bounds ``used_memory``, and
clients that size ``maxmemory`` from ``used_memory`` (RediSearch's tests) get a real
limit, never 0."""

SLOW_WALK_S = 0.02
"""A dataset walk longer than this makes INFO reuse estimates (``Engine.reported_memory``)."""
WALK_SHARE_INVERSE = 20
"""``used_memory(max_age_s)`` reuses an estimate for this many times the last dataset
walk's duration when that is longer than ``max_age_s``: walks take at most ~1/20 of the
time. Writes admitted meanwhile are still counted (``Engine._admit_memory``)."""

Arg = bytes | str | int | float
Authorizer = Callable[[CommandSpec, list[bytes]], None]


@dataclass(frozen=True)
class CommandEffects:
    """A state change, for ``Engine.effect_listeners`` (called under the engine lock).

    ``args``: the command as run, or None for an expiry or an eviction (``logged`` then
    holds the ``DEL``/``HDEL`` of what expired or was evicted; ``evicted`` tells which).
    ``logged``: the commands logged for it (its deterministic rewrite). ``existed``:
    which of the command's keys existed before it ran.
    """

    args: list[bytes] | None
    logged: list[list[bytes]]
    existed: frozenset[bytes] = frozenset()
    # with ``args`` None: the maxmemory policy deleted the key (``evicted``), not expiry
    evicted: bool = False


def to_bytes(arg: Arg) -> bytes:
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, (bytearray, memoryview)):
        return bytes(arg)
    if isinstance(arg, str):
        return arg.encode()
    if isinstance(arg, bool):
        return b"1" if arg else b"0"
    if isinstance(arg, (int, float)):
        return repr(arg).encode()
    raise TypeError(f"command arguments must be bytes, str, int or float, not {type(arg)!r}")


class EngineState(enum.Enum):
    NEW = "new"
    LOADING = "loading"
    RUNNING = "running"
    FAILED = "failed"  # the log failed: reads continue, writes are refused
    STOPPED = "stopped"


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Submitted:
    """The outcome of :meth:`Engine.submit`: the reply and the log seq to wait for."""

    reply: Any
    seq: int | None = None
    error: StoreError | None = None


@dataclass
class EngineStats:
    commands_processed: int = 0
    writes_logged: int = 0
    expired_keys: int = 0
    expired_fields: int = 0  # hash fields deleted because their deadline passed
    evicted_keys: int = 0  # deleted by the maxmemory policy (store/eviction.py)
    # the declared keys of read commands found / not found (expired counts as not found)
    keyspace_hits: int = 0
    keyspace_misses: int = 0
    writes_since_snapshot: int = 0
    last_snapshot_ms: int = 0
    last_snapshot_ok: bool = True
    snapshots_taken: int = 0
    last_snapshot_duration_ms: int = 0
    last_fork_ms: float = 0.0
    log_rollbacks: int = 0  # times the state was rebuilt to undo writes the log refused
    recovery: RecoveryReport | None = None
    loaded_snapshot: str | None = None
    started_ms: int = field(default_factory=now_ms)


class Engine:
    """The store. Use as a context manager or call :meth:`start` / :meth:`stop`."""

    def __init__(
        self, config: EngineConfig | None = None, *, log_backend: TransactionLog | None = None
    ) -> None:
        self.config = config or EngineConfig()
        self.lock = threading.RLock()
        self.keyspace = Keyspace(on_change=self._on_key_change)
        self.indexes = IndexManager(self.keyspace)
        self.state = EngineState.NEW
        self.stats = EngineStats()
        self._log: TransactionLog | None = log_backend
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._failure: DurabilityError | None = None  # the log failed: writes are refused
        self._rollback_due = False  # memory may hold a write the log refused
        self._memory_ahead = False  # an append failed after its command changed memory
        self._permanent: DurabilityError | None = None  # the log could not rewind
        self._state_lost: DurabilityError | None = None  # a rollback failed half-way
        self._applied = LogPosition.start()
        # called with each changed key, under the engine lock (WATCH, keyspace events);
        # listeners must be cheap and must not call back into the engine
        self.key_listeners: list[Callable[[bytes], None]] = []
        # called with each record appended to the log, under the engine lock, in seq order
        # (replication backlog); listeners must be cheap and must not call back into the engine
        self.append_listeners: list[Callable[[LogRecord], None]] = []
        # called with each state change (CommandEffects), under the engine lock, in order
        # (keyspace notifications); cheap, must not call back into the engine
        self.effect_listeners: list[Callable[[CommandEffects], None]] = []
        # told the keys a read command did not find (``keymiss`` notifications)
        self.miss_listeners: list[Callable[[list[bytes]], None]] = []
        # epoch of the newest record in the state (fencing: replicas, promotion)
        self.last_epoch = 0
        self._memory_estimate: tuple[int, float] = (0, float("-inf"))
        # argument bytes of the writes admitted since that estimate (see _admit_memory)
        self._written_since_estimate = 0
        self._walk_s = 0.0  # how long the last dataset walk of used_memory took
        self.evictor = Evictor()  # maxmemory-policy; the server configures it
        self.persistence = Persistence(self)
        # EVAL's script cache and the FUNCTION libraries; a script's redis.call takes a
        # client command's admission and lazy expiry
        self.scripting = Scripting()
        self.scripting.admit = self._admit_script_call
        self.scripting.expire = self._expire_for_call

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> Engine:
        """Recover (snapshot + log tail) and start background work. Idempotent."""
        if self.state is not EngineState.NEW:
            return self
        self.state = EngineState.LOADING
        if self._log is None and self.config.data_dir is not None:
            from .wal.file_log import FileLog

            self._log = FileLog(
                self.config.data_dir / "log",
                fsync=self.config.appendfsync,
                segment_max_bytes=self.config.segment_max_bytes,
            )
        if self._log is not None:
            report = self._log.open()
            self.stats.recovery = report
            self.persistence.recover(report)
            self.set_epoch(max(self.last_epoch, self._log.recovered_epoch or 0))
        self.state = EngineState.RUNNING
        self._spawn(self._expire_loop, "memvec-expire")
        if self.config.data_dir is not None and (
            self.config.snapshot_after_writes or self.config.snapshot_interval_s
        ):
            self._spawn(self.persistence.auto_snapshot_loop, "memvec-autosnapshot")
        return self

    def stop(self) -> None:
        """Stop background work, wait for a running snapshot, close the log. Idempotent."""
        if self.state in (EngineState.STOPPED, EngineState.NEW):
            self.state = EngineState.STOPPED
            return
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)
        self.persistence.wait_for_background_save()
        with self.lock:
            if self._log is not None:
                self._log.close()
            self.state = EngineState.STOPPED

    def __enter__(self) -> Engine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target: Any, name: str) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    @property
    def transaction_log(self) -> TransactionLog | None:
        return self._log

    @property
    def applied_position(self) -> LogPosition:
        """The next log record this engine's state does not contain."""
        return self._applied

    @property
    def rollbacks(self) -> int:
        """How many times the state was rolled back to undo writes the log refused. A
        reply computed before it changed may show such a write, and a write submitted
        before it may have been undone even if a later seq is durable: the RESP server
        compares it before and after a batch."""
        return self.stats.log_rollbacks

    def stopping(self, wait_s: float = 0.0) -> bool:
        """True once :meth:`stop` began; waits up to ``wait_s`` for that (background loops)."""
        return self._stop.wait(wait_s)

    # -- the state as a whole (store.persistence: snapshots, recovery, full resync) -------
    @contextmanager
    def frozen(self) -> Iterator[None]:
        """Hold the state still: no command, replay or expiry runs inside the block, so
        the keyspace, the indexes and :attr:`applied_position` stay as they are."""
        with self.lock:
            yield

    def install_state(
        self,
        data: dict[bytes, Any],
        expires: dict[bytes, int],
        restore_indexes: Callable[[IndexManager], None],
        field_expires: dict[bytes, dict[bytes, int]] | None = None,
    ) -> None:
        """Replace every key and deadline, then let ``restore_indexes`` rebuild the
        indexes over them (a snapshot being loaded). Key listeners are not told: this is a
        new state, not a run of key changes."""
        with self.lock:
            self.keyspace.replace(data, expires, field_expires)
            restore_indexes(self.indexes)

    def mark_applied(self, position: LogPosition) -> None:
        """The state now holds every record before ``position`` and none after (recovery
        replayed the log to its end; a full resync installed a snapshot)."""
        with self.lock:
            self._applied = position

    def set_epoch(self, epoch: int) -> None:
        """This node's state is at ``epoch``; the log stamps it on what it appends next."""
        with self.lock:
            self.last_epoch = epoch
            if self._log is not None:
                self._log.set_epoch(epoch)

    # -- the write path -------------------------------------------------------------------
    def execute(self, *args: Arg, protocol: int = 2) -> Any:
        """Run one command; return its reply once durable. Raises StoreError.

        The convenience entry for embedded use: it resolves the command in the table,
        then runs it as :meth:`submit` does."""
        done = self._resolve_and_submit([to_bytes(a) for a in args], protocol)
        if done.seq is not None:
            self.wait_durable(done.seq)
        if done.error is not None:
            raise done.error
        return done.reply

    def execute_many(self, commands: Iterable[Sequence[Arg]], protocol: int = 2) -> list[Any]:
        """Run a pipeline; one durability wait for all of it. Errors are returned in place."""
        results: list[Any] = []
        last_seq: int | None = None
        for cmd in commands:
            done = self._resolve_and_submit([to_bytes(a) for a in cmd], protocol)
            results.append(done.error if done.error is not None else done.reply)
            if done.seq is not None:
                last_seq = done.seq
        if last_seq is not None:
            self.wait_durable(last_seq)
        return results

    def _resolve_and_submit(self, args: list[bytes], protocol: int) -> Submitted:
        try:
            spec = resolve(args)
        except StoreError as exc:
            return Submitted(None, None, exc)
        return self.submit(spec, args, protocol=protocol)

    def submit(
        self,
        spec: CommandSpec,
        args: list[bytes],
        *,
        protocol: int = 2,
        allow_write: bool = True,
        may_block: bool = False,
        resume: dict[str, Any] | None = None,
        authorize: Authorizer | None = None,
        walker: Any = None,
    ) -> Submitted:
        """Run one engine-scope command, resolved by the caller
        (:func:`store.commands.table.resolve`: arity checked), without waiting for
        durability.

        Returns the reply (or the error as data) and, if the command wrote, the log seq the
        caller must wait for with :meth:`wait_durable` / :meth:`durable_future` before
        acknowledging. The RESP server pipelines with this. ``may_block``/``resume``: a
        client's top-level call the server can park (``ExecContext.may_block``).
        ``authorize`` checks the calling user's permission for each command a script runs
        (ExecContext.authorize). ``walker``: the server's ``hnsw_graph.Walker``, for a
        ``lockfree`` command whose caller takes a :class:`WalkLater` reply (finished by
        :meth:`finish_walk`; docs/decisions/0044).
        """
        if "lockfree" in spec.flags:
            # a read that takes the engine lock itself, in short phases (FT.SEARCH: the
            # ANN walk runs unlocked so concurrent searches use every core)
            if self._rollback_due:
                with self.lock:
                    self._roll_back()
            try:
                self._admit(spec, allow_write)
            except StoreError as exc:
                return Submitted(None, None, exc)
            assert spec.handler is not None
            ctx = self._context(now_ms(), protocol)
            ctx.walker = walker
            try:
                return Submitted(spec.handler(ctx, args))
            except StoreError as exc:
                return Submitted(None, None, mark_module_error(spec.name, exc))
        with self.lock:
            if self._rollback_due:
                self._roll_back()
            try:
                return self._submit_locked(
                    spec, args, protocol, allow_write, may_block, resume, authorize
                )
            finally:
                if self._rollback_due:  # this write's append failed: undo it before others read
                    self._roll_back()

    def finish_walk(self, later: WalkLater, pairs: list[tuple[int, float]]) -> Submitted:
        """The outcome of the command that returned ``later`` from :meth:`submit`, now that
        its walk gave ``pairs``: its reply, or its error as data, as :meth:`submit` gives
        them. Called where the command was submitted (the event loop)."""
        assert later.finish is not None
        try:
            return Submitted(later.finish(pairs))
        except StoreError as exc:
            return Submitted(None, None, mark_module_error(later.command, exc))

    def submit_many(
        self,
        calls: Sequence[tuple[CommandSpec, list[bytes]]],
        *,
        protocol: int = 2,
        allow_write: bool = True,
    ) -> list[Submitted]:
        """:meth:`submit` each of a run of resolved key writes in one engine-lock hold.

        The vectors they index are inserted together at the end (built on every core, see
        ``store.index.search_index``); no other reader runs in between, so the result is
        the same as submitting them one by one. Every command must be one of
        :data:`BATCHABLE_WRITES`; anything else raises ``ValueError`` before any runs.
        """
        for spec, _ in calls:
            if spec.name not in BATCHABLE_WRITES:
                raise ValueError(f"submit_many runs only {sorted(BATCHABLE_WRITES)}")
        results: list[Submitted] = []
        with self.lock:
            if self._rollback_due:
                self._roll_back()
            try:
                with self.indexes.deferred_vectors():
                    for spec, args in calls:
                        try:
                            results.append(self._submit_locked(spec, args, protocol, allow_write))
                        except Exception as exc:  # a bug in a handler: answer it, run the rest
                            log.exception("%s failed unexpectedly", spec.name)
                            error = CommandError(
                                f"internal error in {spec.name}: {type(exc).__name__}"
                            )
                            results.append(Submitted(None, None, error))
            finally:
                if self._rollback_due:  # after the deferred vectors went in: undo them too
                    self._roll_back()
        return results

    def _submit_locked(
        self,
        spec: CommandSpec,
        args: list[bytes],
        protocol: int,
        allow_write: bool,
        may_block: bool = False,
        resume: dict[str, Any] | None = None,
        authorize: Authorizer | None = None,
    ) -> Submitted:
        seq: int | None = None
        try:
            if self.evictor.tracks_access:
                self.evictor.touch(spec.keys(args))
            self._admit(spec, allow_write, args)
            existed: frozenset[bytes] | None = None
            if not spec.is_write:
                self._count_lookups(spec, args)
            else:
                seq = self._expire_keys_of(spec, args)
                if self.effect_listeners:
                    existed = self._existing(spec, args)
            ctx = self._context(now_ms(), protocol, authorize=authorize)
            ctx.may_block, ctx.resume = may_block, resume
            assert spec.handler is not None
            try:
                reply = spec.handler(ctx, args)
            except StoreError as exc:
                raise mark_module_error(spec.name, exc) from None
            finally:
                # a handler mutates only after validating; if it mutated, log it
                if ctx.dirty:
                    logged = ctx.logged(args)
                    seq = self._append(logged)
                    if existed is not None:
                        self._tell(CommandEffects(args, logged, existed))
            return Submitted(reply, seq)
        except StoreError as exc:
            return Submitted(None, seq, exc)
        finally:
            self.stats.commands_processed += 1

    def transaction(self, commands: Sequence[Sequence[Arg]], *, protocol: int = 2) -> list[Any]:
        """Run commands atomically (MULTI/EXEC): one log record, errors returned in place.

        Arity and unknown-command errors are the caller's to check at queue time (the
        server answers EXECABORT); runtime errors (e.g. WRONGTYPE) do not stop the others,
        as in Redis. Returns after the batch is durable.
        """
        calls = []
        for c in commands:
            args = [to_bytes(a) for a in c]
            calls.append((resolve(args), args))
        replies, last = self.submit_transaction(calls, protocol=protocol)
        if last is not None:
            self.wait_durable(last)
        return replies

    def submit_transaction(
        self,
        calls: Sequence[tuple[CommandSpec, list[bytes]]],
        *,
        protocol: int = 2,
        authorize: Authorizer | None = None,
    ) -> tuple[list[Any], int | None]:
        """:meth:`transaction` for resolved calls, without waiting for durability: the
        replies and the seq of the one log record (None if nothing was written)."""
        with self.lock:
            if self._rollback_due:
                self._roll_back()
            try:
                return self._transaction_locked(calls, protocol, authorize)
            finally:
                if self._rollback_due:
                    self._roll_back()

    def _transaction_locked(
        self,
        calls: Sequence[tuple[CommandSpec, list[bytes]]],
        protocol: int,
        authorize: Authorizer | None = None,
    ) -> tuple[list[Any], int | None]:
        for spec, call_args in calls:
            self._admit(spec, True, call_args)
        replies: list[Any] = []
        logged: list[list[bytes]] = []
        t = now_ms()
        for spec, args in calls:
            existed: frozenset[bytes] | None = None
            if not spec.is_write:
                self._count_lookups(spec, args)
            else:
                for key in spec.keys(args):
                    if self.keyspace.is_expired(key, t):
                        self.keyspace.delete(key)
                        self.stats.expired_keys += 1
                        logged.append([b"DEL", key])
                        self._tell(CommandEffects(None, [[b"DEL", key]]))
                    elif expired := self._drop_expired_fields(key, t):
                        logged.append(expired)
                        self._tell(CommandEffects(None, [expired]))
                if self.effect_listeners:
                    existed = self._existing(spec, args)
            ctx = self._context(t, protocol, authorize=authorize)
            assert spec.handler is not None
            try:
                replies.append(spec.handler(ctx, args))
            except StoreError as exc:
                replies.append(mark_module_error(spec.name, exc))
            if ctx.dirty:
                effects = ctx.logged(args)
                logged.extend(effects)
                if existed is not None:
                    self._tell(CommandEffects(args, effects, existed))
        self.stats.commands_processed += len(calls)
        seq = self._append(logged) if logged else None
        return replies, seq

    def wait_durable(self, seq: int, timeout_s: float | None = None) -> None:
        if self._log is not None:
            try:
                self._log.wait_durable(seq, timeout_s)
            except DurabilityError as exc:
                self._fail(exc)
                raise

    def durable_future(self, seq: int) -> Future[None]:
        if self._log is None:
            f: Future[None] = Future()
            f.set_result(None)
            return f
        future = self._log.durable_future(seq)

        def note_failure(f: Future[None]) -> None:
            exc = f.exception()
            if isinstance(exc, DurabilityError):
                self._fail(exc)

        future.add_done_callback(note_failure)
        return future

    def _context(
        self,
        now: int,
        protocol: int,
        *,
        replaying: bool = False,
        authorize: Authorizer | None = None,
    ) -> ExecContext:
        return ExecContext(
            self.keyspace,
            self.indexes,
            self.lock,
            self.persistence,
            self.flush_keys,
            now,
            replaying=replaying,
            protocol=protocol,
            maxmemory_bytes=self.config.maxmemory_bytes,
            scripting=self.scripting,
            authorize=authorize,
        )

    def _admit(self, spec: CommandSpec, allow_write: bool, args: list[bytes] | None = None) -> None:
        if self.state is EngineState.LOADING:
            raise LoadingError()
        if self._state_lost is not None:  # half rebuilt: serving it could show anything
            raise DurabilityError(self._state_lost.message)
        if not spec.is_write:
            return
        if self.config.read_only or not allow_write:
            raise ReadOnlyError()
        if self._failure is not None:
            self._resume_writes()
        if self.config.maxmemory_bytes and "denyoom" in spec.flags:
            self._admit_memory()
            if args is not None:  # payload plus the keyspace's per-key/field overheads
                self._written_since_estimate += sum(map(len, args)) + 100 * len(args)

    def _admit_memory(self) -> None:
        """maxmemory for one write about to run (caller holds the lock): evict by policy
        or refuse. The dataset walk is O(keys), so an estimate up to 0.1 s old is reused,
        plus every byte of the write arguments admitted since and 100 per argument (an
        upper bound of what they can have added, after Keyspace.memory_bytes' overheads):
        a burst of writes cannot pass maxmemory unseen. Once that bound reaches the limit
        the walk is repeated (at most every 10 ms); a refusal always rests on a walk."""
        limit = self.config.maxmemory_bytes
        used = self.used_memory(max_age_s=0.1) + self._written_since_estimate
        if used > limit:
            used = self.used_memory(max_age_s=0.01) + self._written_since_estimate
        if used > limit:
            # evict by policy (logged as DEL, as Redis propagates evictions) or refuse
            evicted = self.evictor.evict(self.keyspace, used - limit)
            if not evicted and self._written_since_estimate:
                # refuse only on a walk of the dataset, not on the bound of recent writes
                used = self.used_memory()
            if not evicted and used > limit:
                raise OutOfMemoryError()
            for key in evicted:
                self._append([[b"DEL", key]])
                self._tell(CommandEffects(None, [[b"DEL", key]], evicted=True))
            self.stats.evicted_keys += len(evicted)
            self._memory_estimate = (0, float("-inf"))

    def _admit_script_call(self, spec: CommandSpec) -> None:
        """Admission of one ``redis.call`` (caller holds the lock): a client command's."""
        self._admit(spec, True)

    def _expire_for_call(self, spec: CommandSpec, args: list[bytes], t: int) -> list[list[bytes]]:
        """Delete what a script's write finds expired at ``t`` (the script's clock); the
        commands to log with its effects (caller holds the lock)."""
        logged: list[list[bytes]] = []
        for key in spec.keys(args):
            if self.keyspace.is_expired(key, t):
                self.keyspace.delete(key)
                self.stats.expired_keys += 1
                logged.append([b"DEL", key])
            elif expired := self._drop_expired_fields(key, t):
                logged.append(expired)
        return logged

    def _expire_keys_of(self, spec: CommandSpec, args: list[bytes]) -> int | None:
        seq = None
        t = now_ms()
        for key in spec.keys(args):
            if self.keyspace.is_expired(key, t):
                self.keyspace.delete(key)
                self.stats.expired_keys += 1
                seq = self._append([[b"DEL", key]])
                self._tell(CommandEffects(None, [[b"DEL", key]]))
            elif expired := self._drop_expired_fields(key, t):
                seq = self._append([expired])
                self._tell(CommandEffects(None, [expired]))
        return seq

    def _count_lookups(self, spec: CommandSpec, args: list[bytes]) -> None:
        """A read command's declared keys as Redis's read lookups count them: hits and
        misses (INFO keyspace_hits/misses) and the misses to ``miss_listeners`` (but
        OBJECT's, which Redis looks up without notifying). Caller holds the lock."""
        keys = spec.keys(args)
        if not keys:
            return
        data, expires = self.keyspace.data, self.keyspace.expires
        missed = [k for k in keys if k not in data or (k in expires and self._expired(k))]
        self.stats.keyspace_misses += len(missed)
        self.stats.keyspace_hits += len(keys) - len(missed)
        if missed and self.miss_listeners and spec.name != "OBJECT":
            for listener in self.miss_listeners:
                try:
                    listener(missed)
                except Exception:
                    log.exception("miss listener failed")

    def _expired(self, key: bytes) -> bool:
        return self.keyspace.is_expired(key, now_ms())

    def _existing(self, spec: CommandSpec, args: list[bytes]) -> frozenset[bytes]:
        data = self.keyspace.data
        return frozenset(key for key in spec.keys(args) if key in data)

    def _tell(self, effects: CommandEffects) -> None:
        for listener in self.effect_listeners:
            try:
                listener(effects)
            except Exception:  # a listener's bug must not fail the write it heard of
                log.exception("effect listener failed")

    def _drop_expired_fields(self, key: bytes, t: int) -> list[bytes] | None:
        """Delete the hash fields of ``key`` whose deadline passed (HEXPIRE); the HDEL to
        log, as Redis propagates it, or None. Caller holds the lock and logs it."""
        fields = self.keyspace.expired_fields(key, t)
        if not fields:
            return None
        self.keyspace.remove_fields(key, fields)
        self.stats.expired_fields += len(fields)
        return [b"HDEL", key, *fields]

    def _append(self, commands: list[list[bytes]]) -> int | None:
        self.stats.writes_logged += 1
        self.stats.writes_since_snapshot += 1
        if self._log is None:
            return None
        payload = encode_commands(commands)
        try:
            seq = self._log.append(payload)
        except DurabilityError as exc:
            self._memory_ahead = True
            self._fail(exc)
            raise
        except OSError as exc:
            err = DurabilityError(f"could not append to the transaction log: {exc}")
            self._memory_ahead = True
            self._fail(err)
            raise err from exc
        self._applied = LogPosition(seq + 1)
        self.last_epoch = self._log.epoch
        if self.append_listeners:
            rec = LogRecord(seq, self.last_epoch, payload)
            for listener in self.append_listeners:
                listener(rec)
        return seq

    def _fail(self, exc: DurabilityError) -> None:
        """Note a log failure (any thread, no lock needed): writes are refused, and the
        next command (or the expiry loop) rolls memory back to the durable state first."""
        if isinstance(exc, RecordVoidedError):  # a record an earlier rollback undid
            return
        self._rollback_due = True
        if self._failure is None:
            log.error("transaction log failed; refusing writes until it accepts them: %s", exc)
            self._failure = exc
            self.state = EngineState.FAILED

    def _roll_back(self) -> None:
        """Make memory hold exactly what the log holds durably (caller holds the lock).

        The log drops what it had not made durable (:meth:`TransactionLog.rewind`); if
        memory applied more than that, the state is rebuilt from the newest snapshot and
        the log, the path startup takes, so the undo is exact for every command, index
        entry and ANN insert without an undo log. That costs a reload of the dataset, once
        per failure: a write refused by the probe in :meth:`_resume_writes` costs nothing.
        """
        self._rollback_due = False
        if self._log is None or self._permanent is not None:
            return
        try:
            kept = self._log.rewind()
        except DurabilityError as exc:
            log.error("the transaction log cannot recover; writes are refused until restart")
            self._permanent = exc
            return
        if self._memory_ahead or self._applied > kept:
            self._memory_ahead = False
            t0 = time.perf_counter()
            self.stats.log_rollbacks += 1  # first: replies computed before are suspect now
            try:
                self.persistence.reload(kept)
            except DurabilityError as exc:
                log.error("%s", exc)
                self._permanent = self._state_lost = exc
                return
            self._memory_estimate = (0, float("-inf"))
            log.warning(
                "rolled the state back to %s (writes the log refused are undone) in %.0f ms",
                kept,
                (time.perf_counter() - t0) * 1000,
            )

    def _resume_writes(self) -> None:
        """Let writes through again if the log takes one; else raise (caller holds the lock).

        The probe is an empty record (it replays as nothing), appended and waited for.
        """
        if self._rollback_due:
            self._roll_back()
        if self._permanent is not None or self._log is None:
            cause = self._permanent or self._failure
            raise DurabilityError(
                f"writes are refused: the transaction log failed ({cause.message if cause else ''})"
                " and cannot recover; fix the disk and restart the node"
            )
        applied = self._applied
        try:
            seq = self._append([])
            if seq is not None:
                self._log.wait_durable(seq)
        except DurabilityError as exc:
            self._applied = applied  # the probe changed nothing in memory: no reload
            self._memory_ahead = False
            self._fail(exc)
            self._roll_back()
            raise DurabilityError(
                f"writes are refused while the transaction log cannot write ({exc.message}); "
                "they resume by themselves once it can (free disk space)"
            ) from exc
        log.warning("the transaction log accepts writes again; writes resumed")
        self._failure = None
        self.state = EngineState.RUNNING

    # -- replay (startup, replicas) -------------------------------------------------------
    def apply(self, record: LogRecord) -> None:
        """Apply one log record exactly as the primary did. The only path for replay."""
        with self.lock:
            for args in decode_commands(record.payload):
                spec = resolve(args)
                ctx = self._context(now_ms(), 2, replaying=True)
                assert spec.handler is not None
                existed = self._existing(spec, args) if self.effect_listeners else None
                try:
                    spec.handler(ctx, args)
                except StoreError as exc:  # deterministic: the primary saw the same error
                    log.debug("replayed command failed as it did originally: %s", exc)
                if existed is not None and ctx.dirty:
                    self._tell(CommandEffects(args, ctx.logged(args), existed))
            self._applied = LogPosition(record.seq + 1)

    # -- replication (store.replication) --------------------------------------------------
    def replicate(self, records: Sequence[LogRecord]) -> int | None:
        """Append a primary's records to this node's log (same seq and epoch), then apply.

        Records must continue this node's log exactly (``ValueError`` otherwise). Returns
        the last seq, to wait for with :meth:`durable_future` before acknowledging it.
        """
        log_backend = self._log
        last: int | None = None
        with self.lock:
            for rec in records:
                if log_backend is not None:
                    try:
                        log_backend.append_record(rec.seq, rec.epoch, rec.payload)
                    except DurabilityError as exc:
                        self._fail(exc)
                        raise
                self.apply(rec)
                self.last_epoch = max(self.last_epoch, rec.epoch)
                self.stats.writes_since_snapshot += 1
                for listener in self.append_listeners:
                    listener(rec)
                last = rec.seq
        return last if log_backend is not None else None

    def promote(self, epoch: int) -> int | None:
        """Start writing as a primary at ``epoch`` (> every epoch seen): stamp it on the log
        and append an empty marker record so the log itself remembers the new epoch (and
        the seq where it began). Returns the marker's seq."""
        with self.lock:
            if epoch <= self.last_epoch:
                raise ValueError(f"new epoch {epoch} must exceed the last one {self.last_epoch}")
            self.set_epoch(epoch)
            return self._append([]) if self._log is not None else None

    def set_read_only(self, read_only: bool) -> None:
        """Replica (True) or primary (False): client writes answer -READONLY on a replica."""
        self.config = dataclasses.replace(self.config, read_only=read_only)

    # -- reads and housekeeping -----------------------------------------------------------
    def _on_key_change(self, key: bytes) -> None:
        self.indexes.on_key_changed(key)
        for listener in self.key_listeners:
            listener(key)

    def flush_keys(self) -> None:
        """Remove every key and drop every index and alias, as RediSearch does on
        FLUSHALL/FLUSHDB. Caller holds the lock."""
        keys = self.keyspace.clear()
        self.indexes.drop_all()
        self._memory_estimate = (0, float("-inf"))
        for listener in self.key_listeners:
            for key in keys:
                listener(key)

    def used_memory(self, max_age_s: float = 0.0) -> int:
        """INFO ``used_memory``: :data:`STARTUP_MEMORY_BYTES` plus the estimated dataset
        bytes (keys and indexes), what ``maxmemory`` bounds. The walk is O(keys): callers
        on a hot path (maxmemory admission) pass ``max_age_s`` to reuse an estimate at
        most that old, or :data:`WALK_SHARE_INVERSE` times the last walk's duration if
        that is longer, so walks take at most ~1/20 of the time however large the
        dataset. (With a fixed 0.1 s, a walk longer than that, ~800,000 keys, was stale
        when it ended: every write walked again, 6 SETs a second at 1M keys.)"""
        cached, at = self._memory_estimate
        if max_age_s and time.monotonic() - at <= max(max_age_s, self._walk_s * WALK_SHARE_INVERSE):
            return cached
        began = time.monotonic()
        value = STARTUP_MEMORY_BYTES + self.keyspace.memory_bytes() + self.indexes.memory_bytes()
        ended = time.monotonic()
        self._walk_s = ended - began
        self._memory_estimate = (value, ended)
        self._written_since_estimate = 0
        return value

    def reported_memory(self) -> int:
        """``used_memory`` for INFO and MEMORY STATS: a fresh walk while walks are quick;
        once one takes more than :data:`SLOW_WALK_S`, the last walk's estimate (plus the
        write bytes admitted since, under maxmemory) for up to :data:`WALK_SHARE_INVERSE`
        times its duration. Each INFO poll walked the whole dataset, holding every client
        for it: 125 ms at 1M keys."""
        if self._walk_s > SLOW_WALK_S:
            return self.used_memory(max_age_s=SLOW_WALK_S) + self._written_since_estimate
        return self.used_memory()

    def _expire_loop(self) -> None:
        interval = self.config.active_expire_interval_ms / 1000
        while not self._stop.wait(interval):
            if self._failure is not None:
                self._retry_log()
                continue
            if self.config.read_only:
                continue
            if not self.keyspace.expires and not self.keyspace.field_expires:  # no TTL at all
                continue
            try:
                self.expire_now()
            except StoreError as exc:
                log.warning("active expiry failed: %s", exc)

    def _retry_log(self) -> None:
        """Background: roll back a refused write nobody else undid yet, and probe the log,
        so INFO and writers see the disk take writes again without waiting for a write."""
        with self.lock:
            if self._failure is None or self.state is not EngineState.FAILED:
                return
            try:
                if self.config.read_only:
                    self._roll_back()
                else:
                    self._resume_writes()
            except DurabilityError:
                pass  # still refused; the next tick tries again

    def expire_now(self) -> int:
        """Delete (and log) every key, and every hash field, whose deadline has passed.
        Returns how many keys."""
        last = None
        count = 0
        with self.lock:
            if self.state is not EngineState.RUNNING:
                return 0
            try:
                t = now_ms()
                for key in self.keyspace.expired_keys(t):
                    self.keyspace.delete(key)
                    last = self._append([[b"DEL", key]])
                    self._tell(CommandEffects(None, [[b"DEL", key]]))
                    count += 1
                for key in self.keyspace.keys_with_expired_fields(t):
                    expired = self._drop_expired_fields(key, t)
                    if expired:
                        last = self._append([expired])
                        self._tell(CommandEffects(None, [expired]))
            finally:
                if self._rollback_due:
                    self._roll_back()
            self.stats.expired_keys += count
        if last is not None:
            self.wait_durable(last)
        return count
