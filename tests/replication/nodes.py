"""Helpers for replication tests: memvec server processes, INFO fields, a TCP proxy.

Every node is a ``memvec server`` subprocess on a port the OS picks, with its own data
directory (:class:`tests.server.test_process.ServerProcess`). Tests wait for conditions
(:func:`tests.harness.wait.wait_for`), never for time.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.server.test_process import ServerProcess

__all__ = ["Node", "Proxy", "QueuedWrite", "converged", "info", "keyspace", "offset"]


class Node:
    """A server process that can be killed and restarted on the same directory."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.data_dir = data_dir
        self.extra = list(extra)
        self.proc: ServerProcess | None = ServerProcess(data_dir, *extra)
        self.port = self.proc.port
        self.r = self.client()

    def client(self, **kwargs: Any) -> redis.Redis:
        """A RESP2 client (``decode_responses`` off) with no retries."""
        kwargs.setdefault("socket_timeout", 30)
        return redis.Redis(port=self.port or 0, retry=Retry(NoBackoff(), 0), **kwargs)

    def kill9(self) -> None:
        assert self.proc is not None
        self.r.close()
        self.proc.kill9()
        self.proc = None

    def restart(self, *extra: str) -> None:
        """Start again on the same directory (a new port); ``extra`` replaces the flags."""
        assert self.proc is None
        self.extra = list(extra)
        self.proc = ServerProcess(self.data_dir, *extra)
        self.port = self.proc.port
        self.r = self.client()

    def stop(self) -> None:
        if self.proc is not None:
            self.r.close()
            self.proc.ensure_dead()
            self.proc = None

    @property
    def replicaof(self) -> str:
        return f"127.0.0.1:{self.port}"


class QueuedWrite(threading.Thread):
    """``SET key 1`` sent on a connection of its own to a (paused) node: ``outcome`` holds
    the reply or the error once it comes; the connection closes then."""

    def __init__(self, node: Node, key: str, timeout_s: float) -> None:
        super().__init__(daemon=True)
        self.client = node.client(socket_timeout=timeout_s)
        self.key = key
        self.outcome: list[object] = []
        self.start()

    def run(self) -> None:
        try:
            self.outcome.append(self.client.set(self.key, 1))
        except redis.RedisError as exc:
            self.outcome.append(exc)
        finally:
            self.client.close()


def info(node: Node) -> dict[str, Any]:
    return node.r.info("replication")


def offset(node: Node) -> int:
    fields = info(node)
    key = "slave_repl_offset" if fields["role"] == "slave" else "master_repl_offset"
    return int(fields[key])


def keyspace(node: Node) -> dict[bytes, Any]:
    """Every key with its value (strings and hashes)."""
    r = node.r
    out: dict[bytes, Any] = {}
    for key in r.scan_iter(count=1000):
        kind = r.type(key)
        out[key] = r.hgetall(key) if kind == b"hash" else r.get(key)
    return out


def converged(primary: Node, replica: Node) -> bool:
    """The replica is linked, at the primary's offset, with the same keys."""
    fields = info(replica)
    if fields.get("master_link_status") != "up":
        return False
    if offset(replica) != offset(primary):
        return False
    return primary.r.dbsize() == replica.r.dbsize()


class Proxy:
    """A TCP proxy on its own event loop thread: ``cut()`` drops every connection (the link
    breaks mid-stream) and refuses new ones until ``heal()``."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.open = True
        self.connections = 0
        self._pairs: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.open:
            writer.close()
            return
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self.connections += 1
        pair = (writer, up_w)
        self._pairs.append(pair)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))
        with contextlib.suppress(ValueError):
            self._pairs.remove(pair)

    def cut(self) -> None:
        def do() -> None:
            self.open = False
            for a, b in list(self._pairs):
                for w in (a, b):
                    w.transport.abort()

        self._loop.call_soon_threadsafe(do)

    def heal(self) -> None:
        self._loop.call_soon_threadsafe(lambda: setattr(self, "open", True))

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
