"""MIGRATE: move keys to another node, durable there before they leave here.

``MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password |
AUTH2 username password] [KEYS key ...]`` as Redis 7.4: each key present here is
serialized (DUMP's payload) and sent as ``RESTORE-ASKING key ttl payload [REPLACE]`` on one
connection to the target (pipelined); a key the target accepted is then deleted here
(unless COPY), with one ``DEL`` record in this node's log. Replies: ``OK``; ``NOKEY`` when
none of the keys exists; ``IOERR ...`` when the target cannot be reached or does not
answer within ``timeout`` ms; ``ERR Target instance replied with error: ...`` when it
refused a key (keys it accepted before are deleted here, the others stay).

Why no write is lost or served twice, although this runs on the event loop with awaits
(Redis's MIGRATE blocks the whole server instead):

* From the moment a key's payload is taken until it is deleted here, the key is in
  :attr:`store.cluster.routing.ClusterNode.moving`: routing answers ``TRYAGAIN`` to a
  write of it (reads are served: the value is still here and unchanged). A standalone
  node has no routing: there the check below alone keeps a concurrent write.
* The target replies to RESTORE only once the record is durable in its log (its write
  path acknowledges nothing earlier), so the key is deleted here only when the target's
  copy would survive a crash of either node.
* The delete happens under the engine lock after checking that the key's payload and
  deadline are still what was sent. A write that was routed before the key was marked
  but ran after its payload was taken (a script running off the event loop, a client
  held by CLIENT PAUSE) changed it: the key is sent again (REPLACE), up to
  :data:`ROUNDS` times, and only then deleted.

Connections to the target are opened per call (Redis caches them for 10 s; resharding
moves keys in batches of many keys per call, so the connect cost is spread).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from store.aio import within

from ..commands.table import resolve
from ..commands.util import parse_int
from ..errors import CommandError, ReadOnlyError, StoreError, SyntaxErr
from ..replication.protocol import command as encode_command
from ..replies import SimpleString
from ..server.results import Deferred, Durable

if TYPE_CHECKING:
    from ..engine import Engine
    from ..server.connection import Connection

__all__ = ["MigrateIOError", "cmd_migrate"]

ROUNDS = 3  # how many times a key changed while in flight is sent again before giving up
MAX_TIMEOUT_MS = 86_400_000  # a longer timeout is a day (asyncio timers need a finite one)


class MigrateIOError(StoreError):
    prefix = "IOERR"


# a node without cluster mode has no routing to consult; its in-flight set lives here
_LOCAL_MOVING: set[bytes] = set()


def cmd_migrate(conn: Connection, args: list[bytes]) -> Any:
    host = args[1].decode("utf-8", "replace")
    try:  # Redis reads the port only to connect: a bad one fails to connect (IOERR)
        port = int(args[2])
    except ValueError:
        port = -1
    db = parse_int(args[4])
    timeout_ms = parse_int(args[5])
    if timeout_ms <= 0:
        timeout_ms = 1000  # as Redis
    timeout_ms = min(timeout_ms, MAX_TIMEOUT_MS)
    copy = replace = False
    auth: list[bytes] | None = None
    keys = [args[3]]
    j = 6
    while j < len(args):
        opt = args[j].upper()
        more = len(args) - j - 1
        if opt == b"COPY":
            copy = True
        elif opt == b"REPLACE":
            replace = True
        elif opt == b"AUTH" and more >= 1:
            auth = [b"AUTH", args[j + 1]]
            j += 1
        elif opt == b"AUTH2" and more >= 2:
            auth = [b"AUTH", args[j + 1], args[j + 2]]
            j += 2
        elif opt == b"KEYS":
            if args[3]:
                raise CommandError(
                    "When using MIGRATE KEYS option, the key argument must be set to the "
                    "empty string"
                )
            keys = args[j + 1 :]
            break
        else:
            raise SyntaxErr()
        j += 1
    if conn.engine.config.read_only:  # MIGRATE deletes here: a write (Redis refuses it too)
        raise ReadOnlyError()
    cluster = conn.server.cluster
    moving = cluster.moving if cluster is not None else _LOCAL_MOVING
    engine = conn.engine
    with engine.lock:
        taken = _take(engine, keys)
    if not taken:
        return SimpleString("NOKEY")
    if db != 0:  # after NOKEY, as Redis checks the keys before it connects
        raise CommandError("memvec has one database: MIGRATE destination-db must be 0")
    claimed = [k for k in taken if k not in moving]
    if len(claimed) < len(taken):
        raise CommandError("another MIGRATE is moving some of these keys; retry")
    moving.update(claimed)

    async def run() -> Any:
        try:
            return await _move(engine, host, port, timeout_ms, auth, taken, copy, replace)
        finally:
            moving.difference_update(claimed)

    return Deferred(run())


def _take(engine: Engine, keys: list[bytes]) -> dict[bytes, tuple[bytes, int | None]]:
    """key -> (DUMP payload, absolute deadline ms or None) of each key present. Caller
    holds the engine lock."""
    dump = resolve([b"DUMP", b"k"])
    out: dict[bytes, tuple[bytes, int | None]] = {}
    for key in keys:
        if key in out:
            continue
        done = engine.submit(dump, [b"DUMP", key])
        if done.error is not None:
            raise done.error
        if done.reply is not None:
            out[key] = (done.reply, engine.keyspace.expires.get(key))
    return out


async def _move(
    engine: Engine,
    host: str,
    port: int,
    timeout_ms: int,
    auth: list[bytes] | None,
    taken: dict[bytes, tuple[bytes, int | None]],
    copy: bool,
    replace: bool,
) -> Any:
    timeout_s = timeout_ms / 1000
    try:
        if not 0 < port < 65536:
            raise OSError(f"port {port} out of range")
        reader, writer = await within(asyncio.open_connection(host, port), timeout_s)
    except (TimeoutError, OSError, UnicodeError) as exc:
        raise MigrateIOError("error or timeout connecting to the client") from exc
    seq: int | None = None
    try:
        if auth is not None:
            writer.write(encode_command(*auth))
            error = await _answer(reader, timeout_s)
            if error is not None:
                raise CommandError(f"Target instance replied with error: {error}")
        pending = dict(taken)
        for round_ in range(ROUNDS):
            sent, failure = await _send(reader, writer, pending, timeout_s, replace or round_ > 0)
            if copy:
                if failure is not None:
                    raise CommandError(f"Target instance replied with error: {failure}")
                return SimpleString("OK")
            with engine.lock:
                changed = _take(engine, list(sent))
                same = [k for k in sent if changed.get(k) == sent[k]]
                pending = {k: v for k, v in changed.items() if v != sent[k]}
                if same:
                    done = engine.submit(resolve([b"DEL", b"k"]), [b"DEL", *same])
                    if done.error is not None:
                        raise done.error
                    seq = done.seq if done.seq is not None else seq
            if failure is not None:
                raise CommandError(f"Target instance replied with error: {failure}")
            if not pending:
                return Durable(SimpleString("OK"), seq)
        raise CommandError(
            f"{len(pending)} key(s) kept changing while being migrated; they stay here"
        )
    except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
        raise MigrateIOError("error or timeout reading to target instance") from exc
    finally:
        writer.close()


async def _send(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    keys: dict[bytes, tuple[bytes, int | None]],
    timeout_s: float,
    replace: bool,
) -> tuple[dict[bytes, tuple[bytes, int | None]], str | None]:
    """RESTORE-ASKING every key (pipelined); the keys the target accepted (in order, up
    to the first refusal) and the refusal's text, if any."""
    now = int(time.time() * 1000)
    order = list(keys)
    for key in order:
        payload, deadline = keys[key]
        ttl = max(1, deadline - now) if deadline is not None else 0
        parts = [b"RESTORE-ASKING", key, b"%d" % ttl, payload]
        writer.write(encode_command(*parts, *([b"REPLACE"] if replace else [])))
    accepted: dict[bytes, tuple[bytes, int | None]] = {}
    failure: str | None = None
    for key in order:
        error = await _answer(reader, timeout_s)
        if error is None and failure is None:
            accepted[key] = keys[key]
        elif failure is None:
            failure = error
    return accepted, failure


async def _answer(reader: asyncio.StreamReader, timeout_s: float) -> str | None:
    """One simple-string reply: None for ``+...``, the error text for ``-...``."""
    line = await within(reader.readuntil(b"\r\n"), timeout_s)
    text = line[:-2].decode("utf-8", "replace")
    if text.startswith("+"):
        return None
    if text.startswith("-"):
        return text[1:]
    return f"unexpected reply {text[:80]!r}"
