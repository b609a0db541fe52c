"""The replica side of replication: one link to the primary, reconnecting until stopped.

Contract:

* :class:`ReplicaLink` runs on the server's event loop. It connects, authenticates
  (``masteruser``/``masterauth``), sends ``REPLCONF listening-port`` and ``PSYNC
  <next_seq> <last_epoch>`` (:mod:`store.replication.protocol`), installs a snapshot on a
  full resync (:meth:`store.persistence.Persistence.install`), then applies the stream:
  each batch of records goes through :meth:`store.engine.Engine.replicate` (appended to
  this node's log with the primary's seq and epoch, then applied by the one ``apply``
  path) on a worker thread, and ``REPLCONF ACK <seq>`` is sent once the batch is durable
  here. Reads keep being served meanwhile.
* Fencing (terms, see :mod:`store.replication.protocol`): a primary whose term is lower
  than the highest term this node has seen is refused (a deposed primary's writes are
  never applied), and so is a record whose term is older than the newest record held
  here or newer than the primary's own term.
* With ``tls`` (:class:`LinkTLS`, ``--tls-replication yes``) the link is TLS: the
  primary's certificate must chain to ``--tls-ca-cert-file`` (the system's CAs without
  it) and name the host given to ``--replicaof``; the replica presents
  ``--tls-client-cert-file``/``--tls-client-key-file`` (else ``--tls-cert-file``/
  ``--tls-key-file``) when set, for primaries that require client certificates. AUTH
  (``masterauth``) is sent inside the TLS session. A TLS failure keeps the link down and
  logs, once per distinct cause, an error that says which option to fix.
* A broken link (EOF, error, or nothing received for ``timeout_s``) is reported as
  ``master_link_status:down`` and retried with a short backoff; the retry resumes from
  this node's position (partial resync when the primary still has it).
* Lag (``INFO replication``): ``memvec_lag_records`` / ``memvec_lag_bytes`` are what the
  primary has, as of its newest message read here, that this node has not applied
  (bytes are file-log record bytes, :func:`protocol.record_bytes`); ``memvec_lag_ms`` is
  primary append to durable here, per record.
* :meth:`stop` ends the link and waits for the task; it is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import ssl
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

from store.aio import within

from ..errors import FencedError
from ..resp import RequestParser
from ..wal.base import LogRecord
from . import protocol
from .primary import now_ms
from .tls import LinkTLS, LinkTLSError, open_link, tls_failure

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("memvec.replication")

READ_BYTES = 256 * 1024
ACK_INTERVAL_S = 1.0
RETRY_MIN_S = 0.05
RETRY_MAX_S = 1.0
LAG_SAMPLES = 20_000


class LinkState(enum.Enum):
    CONNECTING = "connect"
    SYNC = "sync"
    CONNECTED = "connected"
    STOPPED = "stopped"


class ReplicaLink:
    """Follows ``host:port`` (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        host: str,
        port: int,
        *,
        listening_port: int,
        masteruser: str | None = None,
        masterauth: str | None = None,
        timeout_s: float = 5.0,
        tls: LinkTLS | None = None,
    ) -> None:
        self.engine = engine
        self.host = host
        self.port = port
        self.listening_port = listening_port
        self.masteruser = masteruser
        self.masterauth = masterauth
        self.timeout_s = timeout_s
        self.tls = tls
        self.last_error = ""
        self.state = LinkState.CONNECTING
        self.primary_replid = "?"
        self.highest_epoch = engine.last_epoch
        self.primary_epoch = 0
        self.primary_last_seq = 0
        self.last_io = time.monotonic()
        self.link_down_since: float | None = time.monotonic()
        self.full_syncs = 0
        self.partial_syncs = 0
        self.lag_ms_samples: deque[int] = deque(maxlen=LAG_SAMPLES)
        self.last_lag_ms = 0
        # lag in bytes, as of the newest message read from the primary: records received
        # but not applied yet, plus what the last ping said was not sent yet (minus the
        # records up to that ping's seq received since)
        self.unapplied_bytes = 0
        self.unsent_bytes = 0
        self._unsent_until_seq = 0
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self.state = LinkState.STOPPED
        task, self._task = self._task, None
        if self._writer is not None:
            self._writer.close()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    @property
    def up(self) -> bool:
        return self.state is LinkState.CONNECTED

    async def _run(self) -> None:
        delay = RETRY_MIN_S
        while self.state is not LinkState.STOPPED:
            self.state = LinkState.CONNECTING
            try:
                await self._session()
                delay = RETRY_MIN_S
            except asyncio.CancelledError:
                raise
            except FencedError as exc:
                log.error("replication link to %s:%d refused: %s", self.host, self.port, exc)
            except ssl.SSLError as exc:  # after the handshake (TLS 1.3 client-cert refusal)
                self._report_tls(tls_failure(exc, self.host, self.port))
            except LinkTLSError as exc:
                self._report_tls(exc)
            except (TimeoutError, OSError, ConnectionError, protocol.StreamError) as exc:
                log.info("replication link to %s:%d down: %s", self.host, self.port, exc)
            except Exception:
                log.exception("replication link to %s:%d failed", self.host, self.port)
            finally:
                if self._writer is not None:
                    self._writer.close()
                    self._writer = None
                if self.link_down_since is None:
                    self.link_down_since = time.monotonic()
            if self.state is LinkState.STOPPED:
                return
            self.state = LinkState.CONNECTING
            await asyncio.sleep(delay)
            delay = min(RETRY_MAX_S, delay * 2)

    def _report_tls(self, exc: LinkTLSError) -> None:
        text = str(exc)
        level = logging.ERROR if text != self.last_error else logging.DEBUG
        self.last_error = text
        log.log(level, "replication link to %s:%d down: %s", self.host, self.port, text)

    # -- one connection --------------------------------------------------------------------
    async def _session(self) -> None:
        reader, writer = await open_link(self.host, self.port, self.tls, self.timeout_s)
        self._writer = writer
        self.state = LinkState.SYNC

        answered = False

        async def ask(*args: bytes) -> tuple[str, list[str]]:
            nonlocal answered
            writer.write(protocol.command(*args))
            line = await within(reader.readline(), self.timeout_s)
            if not line and self.tls is not None and not answered:
                # TLS 1.3: a primary that refuses this replica's certificate (or the lack
                # of one) closes the session after the handshake, before any answer
                raise LinkTLSError(
                    f"{self.host}:{self.port} closed the TLS session before answering; if it "
                    "requires client certificates (--tls-auth-clients yes), give this replica "
                    "--tls-client-cert-file/--tls-client-key-file signed by a CA in the "
                    "primary's --tls-ca-cert-file"
                )
            if not line:
                raise ConnectionError("the primary closed the connection")
            answered = True
            return protocol.parse_answer(line)

        if self.masterauth is not None:
            auth = [b"AUTH"]
            if self.masteruser:
                auth.append(self.masteruser.encode())
            await ask(*auth, self.masterauth.encode())
        await ask(b"REPLCONF", b"listening-port", b"%d" % self.listening_port)
        engine = self.engine
        next_seq = engine.applied_position.seq
        kind, words = await ask(b"PSYNC", b"%d" % next_seq, b"%d" % engine.last_epoch)
        if kind == "CONTINUE" and len(words) == 2:
            self._check_epoch(int(words[1]), "the primary")
            self.primary_replid = words[0]
            self.partial_syncs += 1
        elif kind == "FULLRESYNC" and len(words) == 3:
            self._check_epoch(int(words[2]), "the primary")
            self.primary_replid = words[0]
            await self._full_sync(reader)
            self.full_syncs += 1
        else:
            raise protocol.StreamError(f"unexpected PSYNC answer {kind} {' '.join(words)}")
        self.state = LinkState.CONNECTED
        self.link_down_since = None
        self.last_error = ""
        self.last_io = time.monotonic()
        log.info(
            "replicating from %s:%d (%s resync), at seq %d",
            self.host,
            self.port,
            kind.lower(),
            engine.applied_position.seq,
        )
        await self._stream(reader, writer)

    def _check_epoch(self, epoch: int, what: str) -> None:
        term, seen = protocol.term_of(epoch), protocol.term_of(self.highest_epoch)
        if term < seen:
            raise FencedError(
                f"{what} is at term {term} but this node has seen term {seen}: it was "
                "deposed; point this replica at the current primary (or empty this node's "
                "--dir if its data is unrelated)"
            )
        if term > seen:
            self.highest_epoch = epoch
        self.primary_epoch = epoch

    async def _full_sync(self, reader: asyncio.StreamReader) -> None:
        line = await within(reader.readline(), self.timeout_s * 6)
        if not line.startswith(b"$"):
            raise protocol.StreamError(f"expected the snapshot bulk, got {line[:40]!r}")
        size = int(line[1:].strip())
        tmp_dir = self.engine.persistence.tmp_dir or Path("/tmp")
        tmp_dir.mkdir(parents=True, exist_ok=True)
        path = tmp_dir / f"replica-sync-{os.getpid()}-{time.time_ns()}.part"
        try:
            with open(path, "wb") as f:
                left = size
                while left:
                    chunk = await within(reader.read(min(left, READ_BYTES)), self.timeout_s)
                    if not chunk:
                        raise ConnectionError("the primary closed the link during the snapshot")
                    f.write(chunk)
                    left -= len(chunk)
                f.flush()
                os.fsync(f.fileno())
            if await reader.readexactly(2) != b"\r\n":
                raise protocol.StreamError("the snapshot bulk is not terminated by CRLF")
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, self.engine.persistence.install, path)
        finally:
            path.unlink(missing_ok=True)

    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = RequestParser(max_bulk_len=1 << 31)
        loop = asyncio.get_running_loop()
        engine = self.engine
        last_ack = time.monotonic()
        acked = engine.applied_position.seq - 1
        record_term = protocol.term_of(engine.last_epoch)
        self.unapplied_bytes = self.unsent_bytes = self._unsent_until_seq = 0
        self._send_ack(writer, acked)
        while True:
            try:
                data = await within(reader.read(READ_BYTES), ACK_INTERVAL_S)
            except TimeoutError:
                data = None
            now = time.monotonic()
            if data is not None:
                if not data:
                    raise ConnectionError("the primary closed the replication link")
                self.last_io = now
                parser.feed(data)
                batch: list[LogRecord] = []
                stamps: list[int] = []
                for args in parser.drain():
                    item = protocol.decode_item(args)
                    if isinstance(item, protocol.StreamPing):
                        self.primary_last_seq = max(self.primary_last_seq, item.last_seq)
                        self.unsent_bytes = item.unsent_bytes
                        self._unsent_until_seq = item.last_seq
                        continue
                    rec = item.record
                    term = protocol.term_of(rec.epoch)
                    if not record_term <= term <= protocol.term_of(self.primary_epoch):
                        raise FencedError(
                            f"record seq {rec.seq} is at term {term}, outside [{record_term}, "
                            f"{protocol.term_of(self.primary_epoch)}] (the newest record "
                            "here, the primary's term)"
                        )
                    record_term = term
                    size = protocol.record_bytes(rec)
                    self.unapplied_bytes += size
                    if rec.seq <= self._unsent_until_seq:
                        self.unsent_bytes = max(0, self.unsent_bytes - size)
                    batch.append(rec)
                    stamps.append(item.commit_ms)
                if batch:
                    self.primary_last_seq = max(self.primary_last_seq, batch[-1].seq)
                    try:
                        last = await loop.run_in_executor(None, engine.replicate, batch)
                        if last is not None:
                            fut = engine.durable_future(last)
                            if not fut.done():
                                await asyncio.wrap_future(fut)
                            fut.result()
                    finally:
                        self.unapplied_bytes = 0
                    applied_ms = now_ms()
                    for ms in stamps:
                        if ms:
                            self.last_lag_ms = max(0, applied_ms - ms)
                            self.lag_ms_samples.append(self.last_lag_ms)
                    acked = batch[-1].seq
                    self._send_ack(writer, acked)
                    last_ack = time.monotonic()
            elif now - self.last_io > self.timeout_s:
                raise ConnectionError(f"nothing from the primary for {self.timeout_s:g} s")
            if time.monotonic() - last_ack >= ACK_INTERVAL_S:
                self._send_ack(writer, engine.applied_position.seq - 1)
                last_ack = time.monotonic()

    @staticmethod
    def _send_ack(writer: asyncio.StreamWriter, seq: int) -> None:
        writer.write(protocol.command(b"REPLCONF", b"ACK", b"%d" % seq))

    # -- INFO ------------------------------------------------------------------------------
    def lag_bytes(self) -> int:
        """Log-record bytes the primary has (as of its newest message read here) that this
        node has not applied: 0 once it is caught up."""
        if self.primary_last_seq <= self.engine.applied_position.seq - 1:
            return 0
        return self.unapplied_bytes + self.unsent_bytes

    def lag_percentiles(self) -> tuple[int, int]:
        samples = sorted(self.lag_ms_samples)
        if not samples:
            return 0, 0
        return samples[len(samples) // 2], samples[min(len(samples) - 1, len(samples) * 99 // 100)]

    def info_fields(self) -> list[tuple[str, object]]:
        applied = self.engine.applied_position.seq - 1
        now = time.monotonic()
        p50, p99 = self.lag_percentiles()
        down = self.link_down_since
        return [
            ("master_host", self.host),
            ("master_port", self.port),
            ("master_link_status", "up" if self.up else "down"),
            ("master_last_io_seconds_ago", int(now - self.last_io) if self.up else -1),
            ("master_sync_in_progress", 1 if self.state is LinkState.SYNC else 0),
            ("slave_read_repl_offset", applied),
            ("slave_repl_offset", applied),
            ("master_link_down_since_seconds", -1 if down is None else int(now - down)),
            ("slave_priority", 100),
            ("slave_read_only", 1),
            ("replica_announced", 1),
            ("memvec_master_epoch", self.highest_epoch),
            ("memvec_lag_records", max(0, self.primary_last_seq - applied)),
            ("memvec_lag_bytes", self.lag_bytes()),
            ("memvec_lag_ms", self.last_lag_ms if self.primary_last_seq > 0 else 0),
            ("memvec_lag_ms_p50", p50),
            ("memvec_lag_ms_p99", p99),
            ("memvec_full_syncs", self.full_syncs),
            ("memvec_partial_syncs", self.partial_syncs),
        ]
