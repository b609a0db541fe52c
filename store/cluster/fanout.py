"""Calling the cluster's nodes from a node: a pool of RESP connections and concurrent calls.

Cross-shard search (:mod:`store.cluster.search`) sends one command to one node of every
shard and waits for all replies. :class:`PeerPool` keeps idle connections per (address,
protocol) so a search reuses them; each connection carries one request at a time.

Every connection the pool opens, before its first request:

* authenticates with the cluster's password, if the node has one: ``masteruser`` /
  ``masterauth`` (the credentials a node already presents to other nodes as a replica),
  else ``requirepass`` as the default user;
* switches to RESP3 with ``HELLO 3`` when the pool is asked for protocol 3, so a shard
  answers in the shape the client asked for and replies merge without conversion;
* names itself with ``CLIENT SETINFO LIB-NAME memvec-coordinator``
  (:data:`COORDINATOR_LIB`): a node runs the FT.* commands of such a connection on its own
  data, never fanning them out again (what RediSearch's internal ``_FT.*`` commands do).
  It shows in CLIENT LIST; a client that sets that name itself sees one shard, as before.
* sends ``READONLY`` (a replica then serves its reads).

Replies are decoded into the reply vocabulary of :mod:`store.replies` so that writing them
again gives the same bytes: a RESP3 double stays :class:`store.replies.DoubleText` with its
digits, an error reply is an :class:`store.replies.ErrorReply` value (the caller decides),
``*-1`` is :data:`store.replies.NULL_ARRAY`. A connection error or a timeout raises
:class:`PeerError` and the connection is dropped, never reused.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from store.aio import within

from ..errors import CommandError
from ..replies import NULL_ARRAY, BigNumber, DoubleText, ErrorReply, SimpleString, Verbatim
from ..resp import encode_command

__all__ = ["COORDINATOR_LIB", "PeerError", "PeerPool", "read_reply"]

COORDINATOR_LIB = b"memvec-coordinator"
# Idle connections kept per (address, protocol); more are opened under load and closed
# when they come back to a full pool.
IDLE_PER_PEER = 8


class PeerError(CommandError):
    """A node of the cluster could not be asked (refused, closed, timed out)."""


async def read_reply(reader: asyncio.StreamReader) -> Any:
    """One RESP2/RESP3 reply, decoded as described in the module docstring."""
    line = await reader.readuntil(b"\r\n")
    kind, body = line[:1], line[1:-2]
    if kind == b"+":
        return SimpleString(body.decode("utf-8", "surrogateescape"))
    if kind == b"-":
        return ErrorReply(body.decode("utf-8", "surrogateescape"))
    if kind == b":":
        return int(body)
    if kind in (b"$", b"="):
        n = int(body)
        if n < 0:
            return None
        data = (await reader.readexactly(n + 2))[:-2]
        if kind == b"=":
            return Verbatim(data[:3].decode(), data[4:].decode("utf-8", "surrogateescape"))
        return data
    if kind in (b"*", b"~", b">"):
        n = int(body)
        if n < 0:
            return NULL_ARRAY
        items = [await read_reply(reader) for _ in range(n)]
        return set(items) if kind == b"~" else items
    if kind == b"%":
        out: dict[Any, Any] = {}
        for _ in range(int(body)):
            key = await read_reply(reader)
            out[key] = await read_reply(reader)
        return out
    if kind == b"_":
        return None
    if kind == b",":
        return DoubleText(body)
    if kind == b"#":
        return body == b"t"
    if kind == b"(":
        return BigNumber(int(body))
    if kind == b"|":  # attributes: not part of the reply
        for _ in range(int(body) * 2):
            await read_reply(reader)
        return await read_reply(reader)
    raise PeerError(f"unexpected RESP type byte {kind!r} from a cluster node")


def _failed(host: str, port: int, exc: BaseException) -> PeerError:
    what = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
    return PeerError(
        f"cluster node {host}:{port} could not be asked ({what}: {exc}); retry once the "
        "cluster is healthy (CLUSTER INFO)"
    )


class _Peer:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def call(self, args: Sequence[bytes | str | int]) -> Any:
        self.writer.write(encode_command(*args))
        await self.writer.drain()
        return await read_reply(self.reader)

    def close(self) -> None:
        self.writer.close()


class PeerPool:
    """Connections from this node to the cluster's nodes (see the module docstring).

    ``password``/``user``: the credentials presented; ``timeout_s`` bounds one call
    (connect included). :meth:`close` (idempotent) closes every idle connection.
    """

    def __init__(
        self, *, user: str | None = None, password: str | None = None, timeout_s: float = 30.0
    ) -> None:
        self.user = user
        self.password = password
        self.timeout_s = timeout_s
        self._idle: dict[tuple[str, int, int], list[_Peer]] = {}
        self._closed = False

    async def call(self, host: str, port: int, protocol: int, args: Sequence[bytes]) -> Any:
        """Send ``args`` to ``host:port`` and return its reply (an error reply as
        :class:`ErrorReply`); :class:`PeerError` if the node cannot be asked.

        An idle connection found closed (the node restarted, CLIENT KILL, its ``timeout``)
        is replaced by a new one and the request sent again, once: FT.* requests are
        reads, or definition changes whose repetition the coordinator answers as done."""
        key = (host, port, protocol)
        idle = self._idle.setdefault(key, [])
        while idle:
            peer = idle.pop()
            try:
                reply = await within(peer.call(args), self.timeout_s)
            except (OSError, EOFError, asyncio.IncompleteReadError):
                peer.close()  # went stale while idle: try the next, then a new one
                continue
            except TimeoutError as exc:
                peer.close()
                raise _failed(host, port, exc) from exc
            except BaseException:  # cancelled mid-reply: the connection's state is unknown
                peer.close()
                raise
            self._release(key, peer)
            return reply
        fresh: _Peer | None = None
        try:
            async with asyncio.timeout(self.timeout_s):
                fresh = await self._connect(host, port, protocol)
                reply = await fresh.call(args)
        except (OSError, EOFError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            if fresh is not None:
                fresh.close()
            raise _failed(host, port, exc) from exc
        except BaseException:
            if fresh is not None:
                fresh.close()
            raise
        self._release(key, fresh)
        return reply

    def _release(self, key: tuple[str, int, int], peer: _Peer) -> None:
        idle = self._idle.setdefault(key, [])
        if self._closed or len(idle) >= IDLE_PER_PEER:
            peer.close()
        else:
            idle.append(peer)

    async def _connect(self, host: str, port: int, protocol: int) -> _Peer:
        reader, writer = await asyncio.open_connection(host, port)
        peer = _Peer(reader, writer)
        try:
            steps: list[list[bytes | str | int]] = []
            if self.password is not None:
                auth: list[bytes | str | int] = ["AUTH"]
                auth += [self.user] if self.user else []
                steps.append([*auth, self.password])
            if protocol == 3:
                steps.append(["HELLO", "3"])
            steps.append(["CLIENT", "SETINFO", "LIB-NAME", COORDINATOR_LIB])
            steps.append(["READONLY"])
            for step in steps:
                reply = await peer.call(step)
                if isinstance(reply, ErrorReply):
                    raise PeerError(
                        f"cluster node {host}:{port} refused {str(step[0])!r}: {reply}; "
                        "every node needs the same password (masterauth or requirepass)"
                    )
        except BaseException:
            peer.close()
            raise
        return peer

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, {}
        for peers in idle.values():
            for peer in peers:
                peer.close()
                with contextlib.suppress(Exception):
                    await peer.writer.wait_closed()
