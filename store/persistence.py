"""Snapshots and recovery for an :class:`store.engine.Engine`.

Recovery (``recover``) = the newest snapshot that verifies + replay of the log from the
position it covers. Outcomes of the log scan are named by :class:`RecoveryReport`; a
damaged snapshot is skipped for the previous one by the snapshot store.

Snapshots are taken by **fork** (as Redis's BGSAVE does): under the engine lock the parent
makes sure every record the state contains is durable, forks, and releases the lock; the
child serialises its copy-on-write image of the keyspace, index definitions and saved ANN
graphs into a temporary file and exits; a watcher thread in the parent verifies and
publishes the file atomically, prunes old snapshots and drops the log they no longer need.
Writers are stopped only for the fsync of the log tail and the fork itself (page-table
copy: about 1 ms per 100 MB of resident memory on these machines), not for serialisation.
Why not a thread: serialising a consistent image would hold the lock for the whole copy;
why not a log-follower process: it doubles memory permanently; fork shares pages and only
copies what writers touch while the child runs.

Replication uses two more entry points: :meth:`Persistence.write_temp_snapshot` (a
forked child writes an unpublished snapshot for a replica's full resync) and
:meth:`Persistence.install` (a replica replaces its state and restarts its log at the
snapshot's position). With ``snapshot_to`` every published snapshot is also copied to a
remote store (S3, :mod:`store.snapshot.s3`) from the publishing thread (the BGSAVE
watcher, off the write path); a failed upload is logged and never loses the local one.

Snapshot sections (inside the container of :mod:`store.snapshot.format`):

* ``keyspace``: pickle (protocol 5) of ``(data, expires, field_expires)`` (hash-field
  deadlines, absolute ms; snapshots written before them hold ``(data, expires)`` and still
  load); only dict/bytes/int inside, and loading uses an unpickler that refuses every
  global, so a crafted file cannot run code; strings and hashes only;
* ``typed``: pickle of ``{key: (tag, plain)}`` for every other value (lists, sets, JSON
  documents, ...: :mod:`store.datatypes`), present only when there are such keys. A
  snapshot from before typed values has no such section and loads as it always did; a
  snapshot naming a tag this build does not know is refused with a clear error;
* ``functions``: pickle of the FUNCTION libraries' code, a list of bytes
  (:mod:`store.scripting.libraries`), present only when there are libraries; a snapshot
  without it loads with no libraries;
* ``indexes``: pickle of the index manager's plain-data state (definitions as FT.CREATE
  arguments, key <-> label maps);
* ``vector/<index>/<field>``: each ANN structure as its library saved it.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .datatypes import TypedValue, from_tagged, to_tagged
from .errors import DurabilityError, SnapshotError, StoreError
from .snapshot.base import SnapshotStore
from .snapshot.format import SnapshotReader, SnapshotWriter
from .snapshot.local import LocalSnapshotStore
from .wal.base import RecoveryReport
from .wal.position import LogPosition

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger("memvec.persistence")


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(
            f"snapshot refers to {module}.{name}; snapshots hold only plain data"
        )


def plain_loads(data: bytes) -> Any:
    return _PlainUnpickler(io.BytesIO(data)).load()


class Persistence:
    """Owns the snapshot store of one engine; all methods are thread-safe.

    It reaches the engine through public methods only: :meth:`Engine.frozen` to hold the
    state still, :meth:`Engine.install_state`, :meth:`Engine.mark_applied` and
    :meth:`Engine.set_epoch` to replace it, :meth:`Engine.stopping` to end its loop. It is
    the :class:`store.commands.context.Snapshots` that SAVE, BGSAVE and LASTSAVE use.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._bg_lock = threading.Lock()
        self._child: int | None = None
        self._watcher: threading.Thread | None = None
        data_dir = engine.config.data_dir
        self.store: LocalSnapshotStore | None = (
            LocalSnapshotStore(data_dir / "snapshots") if data_dir is not None else None
        )
        self.tmp_dir: Path | None = data_dir / "tmp" if data_dir is not None else None
        # a second store every published snapshot is copied to (``snapshot_to``, e.g. S3)
        self.remote: SnapshotStore | None = None
        if engine.config.snapshot_to and data_dir is not None:
            from .snapshot.restore import open_remote

            self.remote = open_remote(
                engine.config.snapshot_to, engine.config.snapshot_endpoint_url
            )

    # -- recovery -------------------------------------------------------------------------
    def recover(self, report: RecoveryReport) -> None:
        """Load the newest valid snapshot, then replay the log tail through ``apply``."""
        engine = self.engine
        assert engine.transaction_log is not None
        start = self._load_newest() or LogPosition.start()
        if report.first_position > start:
            raise DurabilityError(
                f"the log starts at {report.first_position} but the newest valid snapshot "
                f"covers only up to {start}: records in between are missing. Restore a "
                "newer snapshot (or the missing log segments) into the data directory."
            )
        if report.next_position < start:
            raise DurabilityError(
                f"the snapshot covers up to {start} but the log ends at "
                f"{report.next_position}; the log directory was replaced. Move the log "
                "aside to start from the snapshot alone."
            )
        replayed = self._replay(start)
        engine.mark_applied(report.next_position)
        log.info("recovery: %s, replayed %d log records", report.outcome.value, replayed)

    def reload(self, end: LogPosition) -> None:
        """Rebuild the state from the newest valid snapshot and the log up to ``end``, as
        recovery does (the engine undoing writes the log refused: its log was rewound to
        ``end``). Callers hold the engine lock.

        Loading a snapshot's ANN graphs goes through scratch files: the data directory's
        ``tmp`` first, then (that disk may be the full one) ``/dev/shm`` and the system
        temporary directory. Raises :class:`DurabilityError` if none works; the state is
        then partly replaced and must not be served.
        """
        engine = self.engine
        failures: list[str] = []
        with engine.frozen():
            for parent in self._scratch_dirs():
                try:
                    if parent == self.tmp_dir:
                        start = self._load_newest(parent)
                    else:  # shared with other processes: a private subdirectory
                        with tempfile.TemporaryDirectory(
                            prefix="memvec-reload-", dir=parent, ignore_cleanup_errors=True
                        ) as private:
                            start = self._load_newest(Path(private))
                except OSError as exc:
                    failures.append(f"{parent}: {exc}")
                    continue
                if start is None:  # no snapshot: from an empty state, every index dropped
                    engine.install_state({}, {}, lambda indexes: indexes.indexes.clear())
                self._replay(start or LogPosition.start())
                engine.mark_applied(end)
                return
        raise DurabilityError(
            "could not reload the state to undo writes the log refused (no scratch space for "
            f"the snapshot's ANN graphs: {'; '.join(failures)}); restart the node after "
            "freeing disk space"
        )

    def reload_in_place(self, save: bool = True) -> None:
        """``DEBUG RELOAD``: rebuild the state from what is durable, as a restart would,
        without restarting: a snapshot first (as SAVE; ``save=False``: Redis's NOSAVE, the
        newest snapshot as it is), then it is loaded and the log after it replayed through
        ``apply``. The state served afterwards is the one a restart would recover. Called
        by a command handler (holding the engine lock, which is reentrant). Raises
        :class:`StoreError` without a data directory (there is nothing to reload from)."""
        if self.store is None or self.engine.transaction_log is None:
            raise StoreError(
                "DEBUG RELOAD needs a data directory (start the server with --dir): "
                "without one there is no snapshot or log to reload from"
            )
        engine = self.engine
        log_backend = engine.transaction_log
        assert log_backend is not None
        with engine.frozen():
            if save:
                self.save()
            end = engine.applied_position
            if end.seq > 1:  # the tail replayed below is read back from the log
                log_backend.wait_durable(end.seq - 1)
            self.reload(end)

    def _scratch_dirs(self) -> list[Path]:
        dirs = [self.tmp_dir] if self.tmp_dir is not None else []
        dirs += [Path("/dev/shm"), Path(tempfile.gettempdir())]
        return [d for d in dirs if d == self.tmp_dir or d.is_dir()]

    def _load_newest(self, scratch: Path | None = None) -> LogPosition | None:
        """Load the newest valid snapshot; return the position it covers (None: none)."""
        if self.store is None:
            return None
        reader = self.store.open_newest_valid()
        if reader is None:
            return None
        with reader:
            self.load(reader, scratch)
            start = reader.position
        self.engine.stats.loaded_snapshot = str(reader.path)
        log.info("loaded snapshot %s covering up to %s", reader.path, start)
        return start

    def _replay(self, start: LogPosition) -> int:
        engine = self.engine
        assert engine.transaction_log is not None
        replayed = 0
        for record in engine.transaction_log.read_from(start):
            engine.apply(record)
            replayed += 1
        return replayed

    def load(self, reader: SnapshotReader, scratch: Path | None = None) -> None:
        engine = self.engine
        # (data, expires) before hash-field expiry, (data, expires, field_expires) since
        keyspace = plain_loads(reader.read_bytes("keyspace"))
        data, expires = keyspace[0], keyspace[1]
        field_expires = keyspace[2] if len(keyspace) > 2 else {}
        if "typed" in reader.section_names():
            try:
                for key, tagged in plain_loads(reader.read_bytes("typed")).items():
                    data[key] = from_tagged(tagged)
            except (ValueError, TypeError, KeyError) as exc:
                raise SnapshotError(f"snapshot's typed values cannot be loaded: {exc}") from exc
        functions: list[bytes] = []
        if "functions" in reader.section_names():
            functions = plain_loads(reader.read_bytes("functions"))
        index_state = plain_loads(reader.read_bytes("indexes"))
        tmp_dir = scratch or self.tmp_dir
        assert tmp_dir is not None
        tmp_dir.mkdir(parents=True, exist_ok=True)
        with engine.frozen():
            engine.last_epoch = max(engine.last_epoch, reader.epoch)
            engine.install_state(
                data,
                expires,
                lambda indexes: indexes.restore(index_state, reader, tmp_dir),
                field_expires,
            )
            try:
                engine.scripting.libraries.restore(functions)
            except StoreError as exc:
                raise SnapshotError(
                    f"snapshot's function libraries cannot be loaded: {exc}"
                ) from exc

    def install(self, path: Path) -> LogPosition:
        """Replace this node's whole state with the snapshot file at ``path`` (a replica's
        full resync) and return the position it covers.

        The file is verified first (nothing changes if it is damaged). Then, under the
        engine lock: the state is loaded, every local snapshot is deleted (they may belong
        to a history the primary does not share), the log restarts empty at the snapshot's
        position, and the file is published as this node's newest snapshot, so a restart
        recovers from it. ``path`` is consumed.
        """
        engine = self.engine
        with SnapshotReader(path) as reader:
            reader.verify()
            position, epoch = reader.position, reader.epoch
            with engine.frozen():
                engine.last_epoch = 0
                self.load(reader)
                engine.set_epoch(epoch)
                if self.store is not None:
                    for info in self.store.list():
                        self.store.delete(info)
                log_backend = engine.transaction_log
                if log_backend is not None:
                    log_backend.reset(position)
                engine.mark_applied(position)
        if self.store is not None:
            self.store.publish_file(path)
        else:
            path.unlink(missing_ok=True)
        return position

    # -- taking snapshots -----------------------------------------------------------------
    def _dump(self, writer: SnapshotWriter, scratch: Path) -> None:
        """Write every section. Runs in the forked child (or inline for SAVE)."""
        engine = self.engine
        engine.keyspace.freeze_strings()
        data = engine.keyspace.data
        typed = {k: to_tagged(v) for k, v in data.items() if isinstance(v, TypedValue)}
        if typed:
            data = {k: v for k, v in data.items() if not isinstance(v, TypedValue)}
        writer.add_bytes(
            "keyspace",
            pickle.dumps(
                (data, engine.keyspace.expires, engine.keyspace.field_expires), protocol=5
            ),
        )
        if typed:
            writer.add_bytes("typed", pickle.dumps(typed, protocol=5))
        libraries = engine.scripting.libraries.to_plain()
        if libraries:
            writer.add_bytes("functions", pickle.dumps(libraries, protocol=5))
        writer.add_bytes("indexes", pickle.dumps(engine.indexes.dump_state(), protocol=5))
        for section, save in engine.indexes.vector_sections():
            path = scratch / (section.replace("/", "_") + ".bin")
            save(str(path))
            writer.add_file(section, path)
            path.unlink()

    def _prepare(self) -> tuple[LogPosition, Path]:
        """Under the engine lock: make the state's log records durable; name a tmp file."""
        engine = self.engine
        position = engine.applied_position
        engine.stats.writes_since_snapshot = 0
        if engine.transaction_log is not None and position.seq > 1:
            engine.transaction_log.wait_durable(position.seq - 1)
        assert self.tmp_dir is not None
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp_dir / f"snapshot-{os.getpid()}-{time.time_ns()}.part"
        return position, tmp

    def _write_file(self, position: LogPosition, tmp: Path) -> None:
        scratch = tmp.with_suffix(".scratch")
        scratch.mkdir(exist_ok=True)
        with open(tmp, "wb") as f:
            writer = SnapshotWriter(f, position, self.engine.last_epoch, meta={"writer": "memvec"})
            self._dump(writer, scratch)
            writer.finish()
            f.flush()
            os.fsync(f.fileno())
        scratch.rmdir()

    def write_temp_snapshot(self) -> tuple[LogPosition, Path]:
        """Write a snapshot of the current state to a temporary file (not published) and
        return the position it covers and its path; the caller deletes it. A forked child
        serialises it as for BGSAVE, so writers pause only for the fork. Blocking: call it
        off the event loop. Raises :class:`StoreError` if the child fails."""
        engine = self.engine
        tmp_dir = self.tmp_dir or Path(tempfile.gettempdir())
        tmp_dir.mkdir(parents=True, exist_ok=True)
        with engine.frozen():
            position = engine.applied_position
            if engine.transaction_log is not None and position.seq > 1:
                engine.transaction_log.wait_durable(position.seq - 1)
            tmp = tmp_dir / f"sync-{os.getpid()}-{time.time_ns()}.part"
            pid = os.fork()
            if pid == 0:  # child: no threads, no locks, no logging; write and leave
                code = 1
                try:
                    self._write_file(position, tmp)
                    code = 0
                finally:
                    os._exit(code)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"the snapshot child for a replica failed (status {status})")
        return position, tmp

    def save(self) -> None:
        """Take a snapshot in the foreground (SAVE): blocks writers until it is written."""
        if self.store is None:
            raise StoreError("snapshots need a data directory (start the engine with data_dir)")
        self.wait_for_background_save()
        tmp: Path | None = None
        try:
            with self.engine.frozen():
                t0 = time.perf_counter()
                position, tmp = self._prepare()
                self._write_file(position, tmp)
            self._publish(position, tmp, t0)
        except (OSError, StoreError) as exc:
            self.engine.stats.last_snapshot_ok = False
            if tmp is not None:
                tmp.unlink(missing_ok=True)
                shutil.rmtree(tmp.with_suffix(".scratch"), ignore_errors=True)
            if isinstance(exc, StoreError):
                raise
            raise self._write_error(exc) from exc

    def bgsave(self) -> bool:
        """Fork a child that writes a snapshot. False if one is already running."""
        if self.store is None:
            raise StoreError("snapshots need a data directory (start the engine with data_dir)")
        with self._bg_lock:
            if self._child is not None:
                return False
            with self.engine.frozen():
                t0 = time.perf_counter()
                try:
                    position, tmp = self._prepare()
                except OSError as exc:
                    self.engine.stats.last_snapshot_ok = False
                    raise self._write_error(exc) from exc
                t_fork = time.perf_counter()
                pid = os.fork()
                if pid == 0:  # child: no threads, no locks, no logging; write and leave
                    code = 1
                    try:
                        self._write_file(position, tmp)
                        code = 0
                    finally:
                        os._exit(code)
                self.engine.stats.last_fork_ms = (time.perf_counter() - t_fork) * 1000
                self._child = pid
            self._watcher = threading.Thread(
                target=self._watch, args=(pid, position, tmp, t0), name="memvec-bgsave", daemon=True
            )
            self._watcher.start()
            return True

    def _write_error(self, exc: OSError) -> SnapshotError:
        where = self.tmp_dir.parent if self.tmp_dir is not None else "the data directory"
        return SnapshotError(
            f"the snapshot could not be written to {where}: {exc.strerror or exc}; free "
            "space there and retry (acknowledged writes stay safe in the transaction log)"
        )

    def _watch(self, pid: int, position: LogPosition, tmp: Path, t0: float) -> None:
        try:
            _, status = os.waitpid(pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                log.error("background snapshot child %d failed (status %d)", pid, status)
                self.engine.stats.last_snapshot_ok = False
                tmp.unlink(missing_ok=True)
                shutil.rmtree(tmp.with_suffix(".scratch"), ignore_errors=True)
                return
            self._publish(position, tmp, t0)
        except Exception:
            log.exception("publishing the background snapshot failed")
            self.engine.stats.last_snapshot_ok = False
        finally:
            with self._bg_lock:
                self._child = None

    def _publish(self, position: LogPosition, tmp: Path, t0: float) -> None:
        assert self.store is not None
        info = self.store.publish_file(tmp)
        self.store.prune(self.engine.config.snapshot_keep)
        oldest = self.store.list()[-1].position
        log_backend = self.engine.transaction_log
        if log_backend is not None:
            log_backend.drop_before(oldest)
        if self.remote is not None:
            self._copy_to_remote(self.store.path_of(info))
        stats = self.engine.stats
        stats.last_snapshot_ms = int(time.time() * 1000)
        stats.last_snapshot_ok = True
        stats.snapshots_taken += 1
        stats.last_snapshot_duration_ms = int((time.perf_counter() - t0) * 1000)
        log.info("snapshot %s published at %s", info.name, position)

    def _copy_to_remote(self, path: Path) -> None:
        """Upload a published snapshot to the remote store and prune it there. A failure is
        logged and counted (``last_snapshot_ok``) but never loses the local snapshot."""
        assert self.remote is not None and self.tmp_dir is not None
        copy = self.tmp_dir / f"remote-{time.time_ns()}.part"
        try:
            shutil.copyfile(path, copy)
            self.remote.publish_file(copy)
            self.remote.prune(self.engine.config.snapshot_keep)
        except (StoreError, OSError) as exc:
            log.error("copying snapshot %s to %r failed: %s", path.name, self.remote, exc)
            self.engine.stats.last_snapshot_ok = False
        finally:
            copy.unlink(missing_ok=True)

    def wait_for_background_save(self, timeout_s: float = 600) -> None:
        watcher = self._watcher
        if watcher is not None:
            watcher.join(timeout_s)

    @property
    def in_progress(self) -> bool:
        return self._child is not None

    @property
    def last_save_ms(self) -> int:
        """Unix time (ms) of the last successful snapshot; 0 if there was none (LASTSAVE)."""
        return self.engine.stats.last_snapshot_ms

    def auto_snapshot_loop(self) -> None:
        cfg = self.engine.config
        last = time.monotonic()
        while not self.engine.stopping(0.2):
            stats = self.engine.stats
            due_writes = cfg.snapshot_after_writes and (
                stats.writes_since_snapshot >= cfg.snapshot_after_writes
            )
            due_time = (
                cfg.snapshot_interval_s
                and stats.writes_since_snapshot
                and time.monotonic() - last >= cfg.snapshot_interval_s
            )
            if due_writes or due_time:
                last = time.monotonic()
                self.bgsave()
