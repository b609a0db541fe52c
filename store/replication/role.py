"""A node's replication role: primary (serving replicas) or replica (following one).

Contract (:class:`Replication`, owned by the RESP server, which hands it the engine, the
replication id, the :class:`LinkSettings` taken from its configuration and a way to read
the port it is reached on; its RESP commands live in
:mod:`store.server.replication_handlers`: nothing here imports the server):

* Every node can serve replicas while it is a primary (:class:`PrimarySide`); a node
  started with ``--replicaof`` (or told ``REPLICAOF host port``) drops its replicas,
  refuses client writes with ``-READONLY`` and follows the primary (:class:`ReplicaLink`).
* Epochs are ``term << 32 | random tag`` (:mod:`store.replication.protocol`). A primary
  that starts with an empty log first appends an empty marker record at term 1 with a
  fresh tag: two unrelated histories then never agree on (seq, epoch), so a node with
  another history that is pointed at this one resyncs fully instead of continuing.
* ``REPLICAOF NO ONE`` promotes: the link stops, the term becomes one more than any
  term this node has seen (with a fresh tag), an empty marker record with the new epoch
  is appended (so the log remembers where the epoch began), and writes are accepted.
  Records of a deposed primary carry an older term and are refused by replicas of the
  new one.
* ``min_replicas_to_ack`` (``--min-replicas-to-ack``): a write's reply waits, after local
  durability, until that many replicas have it durable in their logs; after
  ``min_replicas_timeout_ms`` the reply is ``-NOREPLICAS`` (the write stays applied
  here and may still reach replicas, as with Redis's ``WAIT``: the client must treat it
  as unknown, not as failed).
* With the Kafka log (``--log kafka://...``) there is no link: start, ``REPLICAOF`` and
  ``REPLICAOF NO ONE`` go to :class:`store.replication.log_follower.LogFollower` (nodes
  follow the topic; promotion is an epoch marker in it); ``FAILOVER TO host port`` makes
  this writer follow and tells the target to promote.
* With ``min_replicas_to_ack 0`` (default) a primary crash can lose, on the promoted
  replica, every write acknowledged after the last record that replica had received:
  typically milliseconds of writes (see ``memvec_lag_ms`` in ``INFO replication``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from store.aio import within

from ..errors import CommandError
from . import protocol
from .log_follower import LogFollower
from .primary import PrimarySide
from .protocol import new_epoch, term_of
from .replica import ReplicaLink
from .tls import LinkTLS, open_link

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("memvec.replication")


def parse_hostport(text: str) -> tuple[str, int]:
    """``host:port`` or ``host port`` -> ``(host, port)``; ``ValueError`` otherwise."""
    text = text.strip()
    if " " in text:
        host, port = text.split(None, 1)
    else:
        host, sep, port = text.rpartition(":")
        if not sep:
            raise ValueError(f"{text!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


@dataclass(frozen=True)
class LinkSettings:
    """How this node reaches another one: as a replica of it, or to tell it to promote
    (FAILOVER). ``masteruser``/``masterauth``: the credentials sent first (``AUTH``);
    ``timeout_s``: how long a silent link lives; ``tls``: None for plain TCP. The server
    fills it from its configuration, where the defaults live."""

    masteruser: str | None
    masterauth: str | None
    timeout_s: float
    tls: LinkTLS | None


class Replication:
    """See the module docstring.

    ``replid``: this node's replication id (``master_replid``); ``replicaof``: the primary
    to follow from start (``host:port``), if any; ``announced_port``: the port replicas
    reach this node on, read when a link starts (the server binds it after construction).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        replid: str,
        backlog_bytes: int,
        replicaof: str | None,
        link: LinkSettings,
        announced_port: Callable[[], int],
        auto_failover: tuple[str, int] | None = None,
    ) -> None:
        self.engine = engine
        # (host clients reach this node on, lease session timeout ms) with --auto-failover
        self.auto_failover = auto_failover
        self.replid = replid
        self.replicaof_at_start = replicaof
        self.link_settings = link
        self.announced_port = announced_port
        self.primary = PrimarySide(engine, replid, backlog_bytes)
        self.link: ReplicaLink | None = None
        self.failover_state = "no-failover"
        # the Kafka log replaces the link: nodes follow the topic (store.replication.log_follower)
        self.log_follower = LogFollower.for_engine(engine)

    @property
    def is_replica(self) -> bool:
        return self.link is not None or bool(self.log_follower and self.log_follower.is_follower)

    async def start(self) -> None:
        self.primary.start(asyncio.get_running_loop())
        target = self.replicaof_at_start
        if self.log_follower is not None:
            if self.auto_failover is not None:
                host, timeout_ms = self.auto_failover
                await self.log_follower.start_elected(
                    lambda: f"{host}:{self.announced_port()}", timeout_ms
                )
                return
            await self.log_follower.start(parse_hostport(target) if target else None)
            return
        if target:
            host, port = parse_hostport(target)
            await self.replicaof(host, port)
        elif self.engine.applied_position.seq == 1 and self.engine.transaction_log is not None:
            # a new history: its first record carries a random epoch, so two unrelated
            # histories never look alike to PSYNC (same seq, same epoch 0)
            seq = self.engine.promote(new_epoch(1))
            if seq is not None:
                await asyncio.get_running_loop().run_in_executor(
                    None, self.engine.wait_durable, seq
                )

    async def stop(self) -> None:
        if self.log_follower is not None:
            await self.log_follower.stop()
        if self.link is not None:
            await self.link.stop()
        await self.primary.stop()

    async def replicaof(self, host: str, port: int) -> None:
        """Follow ``host:port`` from now on (drops this node's own replicas)."""
        if self.log_follower is not None:
            await self.log_follower.follow(host, port)
            return
        if self.link is not None:
            if (self.link.host, self.link.port) == (host, port):
                return
            await self.link.stop()
        self.primary.disconnect_all()
        self.engine.set_read_only(True)
        cfg = self.link_settings
        self.link = ReplicaLink(
            self.engine,
            host,
            port,
            listening_port=self.announced_port(),
            masteruser=cfg.masteruser,
            masterauth=cfg.masterauth,
            timeout_s=cfg.timeout_s,
            tls=cfg.tls,
        )
        self.link.start()
        log.info("now a replica of %s:%d", host, port)

    async def promote(self) -> int:
        """Become a primary (REPLICAOF NO ONE); returns the new epoch (or the current one
        if this node already is a primary)."""
        if self.log_follower is not None:
            return await self.log_follower.promote()
        link = self.link
        if link is None:
            self.engine.set_read_only(False)
            return self.engine.last_epoch
        await link.stop()
        self.link = None
        term = max(term_of(self.engine.last_epoch), term_of(link.highest_epoch)) + 1
        epoch = new_epoch(term)
        loop = asyncio.get_running_loop()

        def bump() -> None:
            seq = self.engine.promote(epoch)
            if seq is not None:
                self.engine.wait_durable(seq)

        await loop.run_in_executor(None, bump)
        self.engine.set_read_only(False)
        log.info("promoted to primary at epoch %d", epoch)
        return epoch

    async def failover(self, target: tuple[str, int] | None, timeout_ms: int) -> None:
        """FAILOVER [TO host port] [TIMEOUT ms], run on the primary: refuse writes, wait
        until the target replica (default: the one with the highest ack) acked every
        record, promote it (``REPLICAOF NO ONE`` sent to it), then follow it. If the
        target does not catch up in time, writes resume here and an error is raised."""
        if self.link is not None:
            raise CommandError("FAILOVER is not valid when server is a replica.")
        if self.log_follower is not None:
            await self._failover_on_log(target)
            return
        online = [r for r in self.primary.replicas.values() if r.state == "online"]
        if target is not None:
            online = [r for r in online if (r.ip, r.port) == target]
        if not online:
            raise CommandError("FAILOVER requires connected replicas.")
        chosen = max(online, key=lambda r: r.ack_seq)
        host, port = chosen.ip, chosen.port
        self.failover_state = "waiting-for-sync"
        self.engine.set_read_only(True)
        try:
            last = self.offset()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + (timeout_ms / 1000 if timeout_ms > 0 else 60.0)
            while chosen.ack_seq < last:
                if loop.time() > deadline or chosen.id not in self.primary.replicas:
                    raise CommandError(
                        f"FAILOVER target {host}:{port} did not catch up (acked "
                        f"{chosen.ack_seq} of {last}); writes resumed on this primary"
                    )
                await asyncio.sleep(0.01)
            self.failover_state = "failover-in-progress"
            await self._send_promote(host, port)
        except BaseException:
            self.engine.set_read_only(False)
            raise
        finally:
            self.failover_state = "no-failover"
        await self.replicaof(host, port)

    async def _failover_on_log(self, target: tuple[str, int] | None) -> None:
        """FAILOVER TO host port with the Kafka log: this writer stops and follows, the
        target promotes itself (and so applies every record of this one)."""
        assert self.log_follower is not None
        if self.log_follower.is_follower:
            raise CommandError("FAILOVER is not valid when server is a replica.")
        if target is None:
            raise CommandError(
                "FAILOVER on the Kafka log needs TO host port: followers do not connect to "
                "the writer, so it cannot pick one"
            )
        self.failover_state = "failover-in-progress"
        try:
            await self.log_follower.hand_over(*target, self._send_promote)
        finally:
            self.failover_state = "no-failover"

    async def _send_promote(self, host: str, port: int) -> None:
        cfg = self.link_settings
        reader, writer = await open_link(host, port, cfg.tls, 5)
        try:
            commands = []
            if cfg.masterauth is not None:
                auth = [b"AUTH", *([cfg.masteruser.encode()] if cfg.masteruser else [])]
                commands.append(protocol.command(*auth, cfg.masterauth.encode()))
            commands.append(protocol.command(b"REPLICAOF", b"NO", b"ONE"))
            for cmd in commands:
                writer.write(cmd)
                protocol.parse_answer(await within(reader.readline(), 10))
        except protocol.StreamError as exc:
            raise CommandError(f"FAILOVER could not promote {host}:{port}: {exc}") from exc
        finally:
            writer.close()

    # -- acknowledgements ------------------------------------------------------------------
    async def confirm_write(self, seq: int, n: int, timeout_ms: int) -> bool:
        """Hold a write reply until ``n`` replicas (``min_replicas_to_ack``) acked ``seq``;
        False if they did not within ``timeout_ms`` (``min_replicas_timeout_ms``)."""
        if n <= 0 or self.link is not None:
            return True
        got = await self.primary.wait_acks(seq, n, timeout_ms)
        return got >= n

    async def wait(self, last_write_seq: int, numreplicas: int, timeout_ms: int) -> int:
        """WAIT: replicas that acked a client's last write (every replica if none)."""
        if self.link is not None:
            return 0
        return await self.primary.wait_acks(last_write_seq, numreplicas, timeout_ms)

    # -- introspection ---------------------------------------------------------------------
    def offset(self) -> int:
        return self.engine.applied_position.seq - 1

    def role_reply(self) -> list[object]:
        if self.log_follower is not None:
            return self.log_follower.role_reply(self.offset())
        if self.link is not None:
            state = "connected" if self.link.up else self.link.state.value
            return [
                b"slave",
                self.link.host.encode(),
                self.link.port,
                state.encode(),
                self.offset(),
            ]
        replicas = [
            [r.ip.encode(), str(r.port).encode(), str(r.ack_seq).encode()]
            for r in self.primary.replicas.values()
        ]
        return [b"master", self.offset(), replicas]

    def info_fields(self) -> list[tuple[str, object]]:
        stats = self.primary.stats
        fields: list[tuple[str, object]] = [("role", "slave" if self.link else "master")]
        if self.log_follower is not None:
            fields = self.log_follower.info_fields()
        elif self.link is not None:
            fields += self.link.info_fields()
            fields.append(("connected_slaves", 0))
        else:
            fields += self.primary.info_fields()
        backlog = self.primary.backlog
        first = backlog.first_seq()
        fields += [
            ("master_failover_state", self.failover_state),
            ("master_replid", self.replid),
            ("master_replid2", "0" * 40),
            ("master_repl_offset", self.offset()),
            ("second_repl_offset", -1),
            ("repl_backlog_active", 1 if first is not None else 0),
            ("repl_backlog_size", backlog.limit_bytes),
            ("repl_backlog_first_byte_offset", first or 0),
            ("repl_backlog_histlen", backlog.size_bytes),
            ("memvec_epoch", self.engine.last_epoch),
            ("sync_full", stats.sync_full),
            ("sync_partial_ok", stats.sync_partial_ok),
            ("sync_partial_err", stats.sync_partial_err),
        ]
        return fields
