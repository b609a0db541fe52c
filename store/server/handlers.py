"""Connection-scope commands: the ones that need a client, not just the keyspace.

Each handler takes ``(conn, args)`` (``args`` includes the command name, arity already
checked by the command table) and returns a reply value for :mod:`store.resp`, or raises
:class:`store.errors.StoreError`. Special results (:mod:`store.server.results`):
:class:`~store.server.results.Durable` (EXEC: wait for a log record first),
:class:`~store.server.results.Deferred` (await something), ``CLOSE_NO_REPLY``
(SHUTDOWN). Replication commands (WAIT, ROLE, REPLICAOF, PSYNC, REPLCONF) live in
:mod:`store.server.replication_handlers`.

Error texts are Redis 7.4's. COMMAND, CONFIG, INFO, ACL and MODULE live in
:mod:`store.server.admin`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..commands.table import CommandSpec, resolve
from ..commands.util import parse_int
from ..errors import (
    CommandError,
    ExecAbortError,
    NoAuthError,
    StoreError,
    SyntaxErr,
)
from ..numbers import parse_int64
from ..replies import NULL_ARRAY, ErrorReply, SimpleString, Verbatim
from .acl import no_key_permission
from .connection import Connection
from .results import CLOSE_NO_REPLY, NO_REPLY, Deferred, Durable
from .script_busy import authorizer
from .tracking import client_tracking_subcommand

if TYPE_CHECKING:
    from .app import Server

Handler = Callable[[Connection, list[bytes]], Any]

OK = SimpleString("OK")
WRONGPASS = ErrorReply("WRONGPASS invalid username-password pair or user is disabled.")
SERVER_VERSION = "7.4.0"
SEARCH_MODULE_VERSION = 21005
JSON_MODULE_VERSION = 20803  # RedisJSON 2.8.3, the peer's


def text(arg: bytes) -> str:
    return arg.decode("utf-8", "replace")


def sub_arity_error(command: str, sub: bytes) -> CommandError:
    return CommandError(
        f"wrong number of arguments for '{command.lower()}|{text(sub).lower()}' command"
    )


def unknown_subcommand(command: str, sub: bytes) -> CommandError:
    return CommandError(f"unknown subcommand '{text(sub)}'. Try {command.upper()} HELP.")


def sub_check(command: str, args: list[bytes], arities: dict[bytes, int]) -> bytes:
    """The upper-case subcommand of ``args``, with Redis's unknown-subcommand and
    subcommand-arity errors (``arities``: Redis convention, counting the command name)."""
    sub = args[1].upper()
    arity = arities.get(sub)
    if arity is None:
        raise unknown_subcommand(command, args[1])
    if (arity > 0 and len(args) != arity) or len(args) < -arity:
        raise sub_arity_error(command, args[1])
    return sub


def module_list() -> list[dict[bytes, Any]]:
    """What MODULE LIST and HELLO report: the RediSearch-compatible ``search`` module and
    the RedisJSON-compatible ``ReJSON`` one (clients look for these names)."""
    return [
        {b"name": b"search", b"ver": SEARCH_MODULE_VERSION, b"path": b"memvec", b"args": []},
        {b"name": b"ReJSON", b"ver": JSON_MODULE_VERSION, b"path": b"memvec", b"args": []},
    ]


# -- connection ------------------------------------------------------------------------------
def cmd_auth(conn: Connection, args: list[bytes]) -> Any:
    if len(args) > 3:
        raise SyntaxErr()
    acl = conn.server.acl
    if len(args) == 2:
        if acl.default.nopass:
            raise CommandError(
                "AUTH <password> called without any password configured for the default "
                "user. Are you sure your configuration is correct?"
            )
        username, password = "default", args[1]
    else:
        username, password = text(args[1]), args[2]
    user = acl.authenticate(username, password)
    if user is None:
        return WRONGPASS
    conn.authenticate(user)
    return OK


def cmd_hello(conn: Connection, args: list[bytes]) -> Any:
    protocol = conn.protocol
    if len(args) > 1:
        protocol = parse_int(args[1], "Protocol version is not an integer or out of range")
        if protocol not in (2, 3):
            return ErrorReply("NOPROTO unsupported protocol version")
    i = 2
    auth: tuple[str, bytes] | None = None
    setname: bytes | None = None
    while i < len(args):
        opt = args[i].upper()
        more = len(args) - i - 1
        if opt == b"AUTH" and more >= 2:
            auth = (text(args[i + 1]), args[i + 2])
            i += 3
        elif opt == b"SETNAME" and more >= 1:
            setname = args[i + 1]
            _check_client_name(setname)
            i += 2
        else:
            raise CommandError(f"Syntax error in HELLO option '{text(args[i])}'")
    if auth is not None:
        user = conn.server.acl.authenticate(*auth)
        if user is None:
            return WRONGPASS
        conn.authenticate(user)
    if conn.user is None:
        raise NoAuthError(
            "HELLO must be called with the client already authenticated, otherwise the "
            "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client "
            "and select the RESP protocol version at the same time"
        )
    if setname is not None:
        conn.name = setname or None
    conn.protocol = protocol
    return {
        b"server": b"redis",
        b"version": SERVER_VERSION.encode(),
        b"proto": protocol,
        b"id": conn.id,
        b"mode": b"standalone" if conn.server.cluster is None else b"cluster",
        b"role": b"master",
        b"modules": module_list(),
    }


def cmd_select(conn: Connection, args: list[bytes]) -> Any:
    db = parse_int(args[1])
    if db != 0 and conn.server.cluster is not None:
        raise CommandError("SELECT is not allowed in cluster mode")  # Redis 7.4's text
    if db != 0:
        raise CommandError("DB index is out of range")
    return OK


def cmd_quit(conn: Connection, args: list[bytes]) -> Any:
    conn.close_after_reply()
    return OK


def cmd_reset(conn: Connection, args: list[bytes]) -> Any:
    if conn.multi is not None:
        conn.end_multi()
    conn.server.unwatch_all(conn)
    conn.server.pubsub.drop(conn)
    conn.server.tracking.forget(conn)
    if conn.monitoring:
        conn.monitoring = False
        conn.server.observe.monitors.discard(conn)
    conn.no_evict = conn.no_touch = False
    conn.cluster_readonly = conn.cluster_asking = False
    conn.name = None
    conn.protocol = 2
    acl = conn.server.acl
    conn.user = None if acl.auth_required else acl.default
    conn.parser.auth_required = conn.user is None
    conn.refresh()
    return SimpleString("RESET")


def _check_client_name(name: bytes) -> None:
    if any(c < 0x21 or c > 0x7E for c in name):
        raise CommandError("Client names cannot contain spaces, newlines or special characters.")


_CLIENT_ARITY = {
    b"ID": 2,
    b"GETNAME": 2,
    b"SETNAME": 3,
    b"INFO": 2,
    b"LIST": -2,
    b"KILL": -3,
    b"SETINFO": 4,
    b"NO-EVICT": 3,
    b"NO-TOUCH": 3,
    b"HELP": 2,
    b"REPLY": 3,
    b"PAUSE": -3,
    b"UNPAUSE": 2,
    b"UNBLOCK": -3,
}

CLIENT_HELP = [
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are: ID, ADDR, LADDR, USER, SKIPME, TYPE, MAXAGE.",
    "LIST [TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID <client-id> ...]",
    "    Return information about client connections.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <LIB-NAME|LIB-VER> <value>",
    "    Set client meta attr.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "HELP",
    "    Print this help.",
]


def cmd_client(conn: Connection, args: list[bytes]) -> Any:
    sub = args[1].upper()
    tracking = client_tracking_subcommand(sub)  # TRACKING, CACHING, GETREDIR, TRACKINGINFO
    if tracking is not None:
        if (tracking[0] > 0 and len(args) != tracking[0]) or len(args) < -tracking[0]:
            raise sub_arity_error("client", args[1])
        return tracking[1](conn, args)
    arity = _CLIENT_ARITY.get(sub)
    if arity is None:
        raise unknown_subcommand("CLIENT", args[1])
    if (arity > 0 and len(args) != arity) or len(args) < -arity:
        raise sub_arity_error("client", args[1])
    server = conn.server
    if sub == b"ID":
        return conn.id
    if sub == b"GETNAME":
        return conn.name
    if sub == b"SETNAME":
        _check_client_name(args[2])
        conn.name = args[2] or None
        return OK
    if sub == b"INFO":
        return Verbatim("txt", conn.describe() + "\n")
    if sub == b"LIST":
        return Verbatim("txt", "".join(c.describe() + "\n" for c in _client_list(server, args)))
    if sub == b"KILL":
        return _client_kill(conn, args)
    if sub == b"SETINFO":
        attr = args[2].upper()
        if attr not in (b"LIB-NAME", b"LIB-VER"):
            raise CommandError(f"Unrecognized option '{text(args[2])}'")
        if any(c < 0x21 or c > 0x7E for c in args[3]):
            raise CommandError(
                f"{text(attr)} cannot contain spaces, newlines or special characters."
            )
        if attr == b"LIB-NAME":
            conn.lib_name = args[3]
        else:
            conn.lib_ver = args[3]
        return OK
    if sub in (b"NO-EVICT", b"NO-TOUCH"):
        mode = args[2].upper()
        if mode not in (b"ON", b"OFF"):
            raise SyntaxErr()
        if sub == b"NO-EVICT":
            conn.no_evict = mode == b"ON"
        else:
            conn.no_touch = mode == b"ON"
        return OK
    if sub == b"PAUSE":
        return _client_pause(conn, args)
    if sub == b"UNPAUSE":
        server.observe.pause.unpause()
        return OK
    if sub == b"UNBLOCK":
        return _client_unblock(server, args)
    if sub == b"REPLY":
        if args[2].upper() == b"ON":
            return OK
        raise CommandError("CLIENT REPLY OFF|SKIP is not supported by memvec")
    return [SimpleString(line) for line in CLIENT_HELP]


def _client_unblock(server: Server, args: list[bytes]) -> int:
    """CLIENT UNBLOCK id [TIMEOUT|ERROR] (store.server.blocking): 1 if it was blocked."""
    error = False  # a reason is read only from exactly four arguments, as the peer does
    if len(args) == 4:
        reason = args[3].upper()
        if reason not in (b"TIMEOUT", b"ERROR"):
            raise CommandError("CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
        error = reason == b"ERROR"
    client_id = parse_int(args[2])
    return int(server.blocking.unblock(client_id, error=error))


def _client_type(conn: Connection) -> bytes:
    """A client's TYPE for CLIENT LIST / KILL: ``replica`` (also matched by ``slave``) for
    a replica's link, else ``normal`` (MONITOR clients included, as in Redis). memvec has no
    pub/sub, and its link to a master is not a client of this server."""
    return b"replica" if conn.is_replica else b"normal"


def _client_pause(conn: Connection, args: list[bytes]) -> Any:
    """CLIENT PAUSE timeout [WRITE|ALL] (store.server.pause)."""
    ms = parse_int64(args[2])
    if ms is None:
        raise CommandError("timeout is not an integer or out of range")
    if ms < 0:
        raise CommandError("timeout is negative")
    all_commands = True
    if len(args) >= 4:  # later arguments are ignored, as in Redis
        mode = args[3].upper()
        if mode not in (b"WRITE", b"ALL"):
            raise CommandError("CLIENT PAUSE mode must be WRITE or ALL")
        all_commands = mode == b"ALL"
    conn.server.observe.pause.pause(ms, all_commands)
    return OK


def _client_list(server: Server, args: list[bytes]) -> list[Connection]:
    clients = list(server.clients.values())
    i = 2
    while i < len(args):
        opt = args[i].upper()
        if opt == b"TYPE" and i + 1 < len(args):
            kind = args[i + 1].lower()
            if kind not in (b"normal", b"master", b"replica", b"slave", b"pubsub"):
                raise CommandError(f"Unknown client type '{text(args[i + 1])}'")
            kind = b"replica" if kind == b"slave" else kind
            clients = [c for c in clients if _client_type(c) == kind]
            i += 2
        elif opt == b"ID" and i + 1 < len(args):
            ids = set()
            for raw in args[i + 1 :]:
                n = parse_int(raw, "Invalid client ID")
                if n <= 0:
                    raise CommandError("Invalid client ID")
                ids.add(n)
            clients = [c for c in clients if c.id in ids]
            break
        else:
            raise SyntaxErr()
    return sorted(clients, key=lambda c: c.id)


def _client_kill(conn: Connection, args: list[bytes]) -> Any:
    server = conn.server
    if len(args) == 3:
        addr = text(args[2])
        for c in list(server.clients.values()):
            if c.addr == addr:
                _kill(conn, c)
                return OK
        raise CommandError("No such client")
    if (len(args) - 2) % 2:
        raise SyntaxErr()
    ids: set[int] | None = None
    addr_f = laddr_f = user_f = None
    maxage: int | None = None
    type_f: bytes | None = None
    skipme = True
    for i in range(2, len(args), 2):
        opt, value = args[i].upper(), args[i + 1]
        if opt == b"ID":
            client_id = parse_int64(value)
            if client_id is None:
                raise SyntaxErr()
            if client_id <= 0:
                raise CommandError("client-id should be greater than 0")
            ids = {client_id}
        elif opt == b"ADDR":
            addr_f = text(value)
        elif opt == b"LADDR":
            laddr_f = text(value)
        elif opt == b"USER":
            user_f = text(value)
            if user_f not in server.acl.users:
                raise CommandError(f"No such user '{user_f}'")
        elif opt == b"SKIPME":
            v = value.lower()
            if v not in (b"yes", b"no"):
                raise SyntaxErr()
            skipme = v == b"yes"
        elif opt == b"TYPE":
            if value.lower() not in (b"normal", b"master", b"replica", b"slave", b"pubsub"):
                raise CommandError(f"Unknown client type '{text(value)}'")
            type_f = b"replica" if value.lower() == b"slave" else value.lower()
        elif opt == b"MAXAGE":
            maxage = parse_int(value, "maxage is not an integer or out of range")
        else:
            raise SyntaxErr()
    now = time.monotonic()
    killed = 0
    for c in list(server.clients.values()):
        if ids is not None and c.id not in ids:
            continue
        if addr_f is not None and c.addr != addr_f:
            continue
        if laddr_f is not None and c.laddr != laddr_f:
            continue
        if user_f is not None and (c.user is None or c.user.name != user_f):
            continue
        if maxage is not None and now - c.created < maxage:
            continue
        if type_f is not None and _client_type(c) != type_f:
            continue
        if skipme and c is conn:
            continue
        _kill(conn, c)
        killed += 1
    return killed


def _kill(me: Connection, victim: Connection) -> None:
    if victim is me:
        me.close_after_reply()  # Redis answers first, then closes
    else:
        victim.kill()


# -- transactions ----------------------------------------------------------------------------
def cmd_multi(conn: Connection, args: list[bytes]) -> Any:
    if conn.multi is not None:
        conn.multi_error = True
        raise CommandError("Command not allowed inside a transaction")
    conn.begin_multi()
    return OK


def cmd_discard(conn: Connection, args: list[bytes]) -> Any:
    if conn.multi is None:
        raise CommandError("DISCARD without MULTI")
    conn.end_multi()
    return OK


def cmd_watch(conn: Connection, args: list[bytes]) -> Any:
    if conn.multi is not None:
        conn.multi_error = True
        raise CommandError("Command not allowed inside a transaction")
    user = conn.user
    if user is not None and not user.all_keys:
        # EXEC would reveal whether a key changed: WATCH reads it (Redis: a RO key spec).
        for key in args[1:]:
            if not user.can_access(key, write=False):
                raise no_key_permission()
    conn.server.watch(conn, args[1:])
    return OK


def cmd_unwatch(conn: Connection, args: list[bytes]) -> Any:
    conn.server.unwatch_all(conn)
    return OK


def cmd_exec(conn: Connection, args: list[bytes]) -> Any:
    queued = conn.multi
    if queued is None:
        raise CommandError("EXEC without MULTI")
    failed, dirty = conn.multi_error, conn.watch_dirty
    conn.end_multi()
    if failed:
        raise ExecAbortError()
    if dirty:
        return NULL_ARRAY
    engine_cmds: list[tuple[CommandSpec, list[bytes]]] = []
    order: list[tuple[CommandSpec, list[bytes]]] = []
    for cmd in queued:
        spec = resolve(cmd)
        order.append((spec, cmd))
        if spec.scope == "engine":
            engine_cmds.append((spec, cmd))
    seq: int | None = None
    engine_replies: list[Any] = []
    share = 0  # each engine command's part of the transaction's time (INFO commandstats)
    if engine_cmds:
        started = time.perf_counter_ns()
        try:
            engine_replies, seq = conn.engine.submit_transaction(
                engine_cmds,
                protocol=conn.protocol,
                authorize=authorizer(conn.server, conn.user),  # scripts' redis.call
            )
        except StoreError as exc:
            raise ExecAbortError(f"Transaction discarded because of: {exc.resp_line()}") from None
        share = (time.perf_counter_ns() - started) // len(engine_cmds)
    server = conn.server
    observe = server.observe
    replies: list[Any] = []
    it = iter(engine_replies)
    for spec, cmd in order:
        if spec.scope == "engine":
            reply = next(it)
            # counted and shown to MONITOR one by one, before EXEC itself, as in Redis
            observe.done(conn, spec, cmd, share, reply if isinstance(reply, StoreError) else None)
            if (
                server.watchers
                and not isinstance(reply, StoreError)
                and spec.name in ("FLUSHALL", "FLUSHDB")
            ):
                server.touch_all_watched()
            replies.append(reply)
            continue
        try:
            handler = server.handlers.get(spec.name)
            if handler is None:
                raise CommandError(f"'{text(cmd[0]).lower()}' is not implemented by this server")
            held = len(conn.held)
            reply = handler(conn, cmd)
            if reply is NO_REPLY and len(conn.held) > held:  # (P|S)SUBSCRIBE: its frames
                frames, conn.held[held:] = conn.held[held:], []
                reply = frames[0] if len(frames) == 1 else frames
            if isinstance(reply, (Durable, Deferred)) or reply is CLOSE_NO_REPLY:
                reply = CommandError(f"'{text(cmd[0]).lower()}' cannot run inside MULTI")
        except StoreError as exc:
            reply = exc
        observe.done(conn, spec, cmd, 0, reply if isinstance(reply, StoreError) else None)
        replies.append(reply)
    return Durable(replies, seq)


# -- server ----------------------------------------------------------------------------------
def cmd_shutdown(conn: Connection, args: list[bytes]) -> Any:
    save: bool | None = None  # neither SAVE nor NOSAVE: the server's default
    for opt in args[1:]:
        o = opt.upper()
        if o == b"NOSAVE":
            save = False
        elif o == b"SAVE":
            save = True
        elif o in (b"NOW", b"FORCE"):
            pass
        elif o == b"ABORT":
            raise CommandError("No shutdown in progress.")
        else:
            raise SyntaxErr()
    conn.server.request_shutdown(save=save)
    return CLOSE_NO_REPLY


def base_handlers() -> dict[str, Handler]:
    return {
        "AUTH": cmd_auth,
        "HELLO": cmd_hello,
        "SELECT": cmd_select,
        "QUIT": cmd_quit,
        "RESET": cmd_reset,
        "CLIENT": cmd_client,
        "MULTI": cmd_multi,
        "EXEC": cmd_exec,
        "DISCARD": cmd_discard,
        "WATCH": cmd_watch,
        "UNWATCH": cmd_unwatch,
        "SHUTDOWN": cmd_shutdown,
    }
