"""Pub/Sub: channels, patterns and shard channels, as Redis 7.4 serves them.

Commands (declared here in the one command table, connection scope): SUBSCRIBE,
UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, SSUBSCRIBE, SUNSUBSCRIBE, PUBLISH, SPUBLISH and
PUBSUB CHANNELS / NUMSUB / NUMPAT / SHARDCHANNELS / SHARDNUMSUB / HELP.

Contract:

* :class:`PubSub` (one per server, ``server.pubsub``) maps each channel, pattern and
  shard channel to its subscribed connections (insertion ordered: a message reaches
  subscribers in the order they subscribed, as in Redis's dict-of-lists). It runs on the
  event loop only: callers on other threads (the expiry sweeper's notifications) hop
  there first (:mod:`store.server.notifications`).
* Every frame a subscriber receives (confirmations and messages) goes through
  :meth:`store.server.connection.Connection.deliver`: a ``Push`` (RESP3 ``>``, a plain
  array in RESP2) placed after every reply the client was already given or is being
  given in its current batch, so a client's replies and messages interleave in the
  order they happened. Messages of one publisher arrive in the order published.
* RESP2 subscribed mode: while a RESP2 client holds any subscription only (P|S)SUBSCRIBE,
  (P|S)UNSUBSCRIBE, PING, QUIT and RESET run (Redis's error text otherwise, see
  :func:`subscribed_gate`), and PING answers ``["pong", <arg or "">]``. RESP3 clients
  run anything.
* A subscribed client is of the ``pubsub`` class for client-output-buffer-limit
  (default ``32mb 8mb 60``): one that stops reading is disconnected at the limit.
* ACL: a user without access to a channel gets ``-NOPERM No permissions to access a
  channel`` (checked for every user, unrestricted ones included: channel access is
  separate from keys and commands, see :meth:`store.server.acl.User.can_use_channel`).
* PUBLISH is not written to the transaction log, so it does not reach replicas
  (Redis propagates it); docs/compatibility.md says so.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..commands.table import command
from ..errors import CommandError, NoPermError
from ..keyspace import glob_to_regex
from ..replies import Push, SimpleString
from .results import NO_REPLY

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["PubSub", "pubsub_handlers", "subscribed_gate"]

# RESP2 subscribed mode: the commands still allowed (Redis's processCommand).
SUBSCRIBED_MODE_COMMANDS = frozenset(
    {
        "SUBSCRIBE",
        "UNSUBSCRIBE",
        "PSUBSCRIBE",
        "PUNSUBSCRIBE",
        "SSUBSCRIBE",
        "SUNSUBSCRIBE",
        "PING",
        "QUIT",
        "RESET",
    }
)

_CHANNEL = "channel"
_PATTERN = "pattern"
_SHARD = "shard"


class ClientSubscriptions:
    """What one connection subscribed to, each in subscription order."""

    __slots__ = ("channels", "patterns", "shards")

    def __init__(self) -> None:
        self.channels: dict[bytes, None] = {}
        self.patterns: dict[bytes, None] = {}
        self.shards: dict[bytes, None] = {}

    def total(self) -> int:
        return len(self.channels) + len(self.patterns) + len(self.shards)


class PubSub:
    """Every subscription of a server (see the module docstring)."""

    def __init__(self) -> None:
        self.channels: dict[bytes, dict[Connection, None]] = {}
        self.patterns: dict[bytes, dict[Connection, None]] = {}
        self.shards: dict[bytes, dict[Connection, None]] = {}
        self.clients: dict[Connection, ClientSubscriptions] = {}
        self._regex: dict[bytes, re.Pattern[bytes]] = {}

    def __bool__(self) -> bool:
        return bool(self.channels or self.patterns)

    # -- subscriptions ----------------------------------------------------------------------
    def _table(self, kind: str) -> dict[bytes, dict[Connection, None]]:
        return {_CHANNEL: self.channels, _PATTERN: self.patterns, _SHARD: self.shards}[kind]

    def _own(self, subs: ClientSubscriptions, kind: str) -> dict[bytes, None]:
        return {_CHANNEL: subs.channels, _PATTERN: subs.patterns, _SHARD: subs.shards}[kind]

    def counts(self, conn: Connection) -> tuple[int, int, int]:
        """(channels, patterns, shard channels) ``conn`` is subscribed to."""
        subs = self.clients.get(conn)
        if subs is None:
            return 0, 0, 0
        return len(subs.channels), len(subs.patterns), len(subs.shards)

    def subscribe(self, conn: Connection, kind: str, names: list[bytes]) -> None:
        subs = self.clients.get(conn)
        if subs is None:
            subs = self.clients[conn] = ClientSubscriptions()
        own = self._own(subs, kind)
        table = self._table(kind)
        verb = {_CHANNEL: b"subscribe", _PATTERN: b"psubscribe", _SHARD: b"ssubscribe"}[kind]
        for name in names:
            if name not in own:
                own[name] = None
                table.setdefault(name, {})[conn] = None
                if kind == _PATTERN and name not in self._regex:
                    self._regex[name] = glob_to_regex(name)
            count = len(subs.shards) if kind == _SHARD else len(subs.channels) + len(subs.patterns)
            conn.deliver(Push([verb, name, count]))
        _mode_changed(conn)

    def unsubscribe(
        self, conn: Connection, kind: str, names: list[bytes], *, reply: bool = True
    ) -> None:
        """Drop ``names`` (all of this kind when empty), confirming each if ``reply``."""
        subs = self.clients.get(conn)
        own = self._own(subs, kind) if subs is not None else {}
        table = self._table(kind)
        verb = {_CHANNEL: b"unsubscribe", _PATTERN: b"punsubscribe", _SHARD: b"sunsubscribe"}[kind]
        targets = names or list(own)
        for name in targets:
            if name in own:
                del own[name]
                members = table.get(name)
                if members is not None:
                    members.pop(conn, None)
                    if not members:
                        del table[name]
                        if kind == _PATTERN:
                            self._regex.pop(name, None)
            if reply:
                assert subs is not None or not own
                count = self._count_after(subs, kind)
                conn.deliver(Push([verb, name, count]))
        if not targets and reply:
            conn.deliver(Push([verb, None, self._count_after(subs, kind)]))
        if subs is not None and not subs.total():
            del self.clients[conn]
        _mode_changed(conn)

    @staticmethod
    def _count_after(subs: ClientSubscriptions | None, kind: str) -> int:
        if subs is None:
            return 0
        return len(subs.shards) if kind == _SHARD else len(subs.channels) + len(subs.patterns)

    def drop(self, conn: Connection) -> None:
        """Forget every subscription of ``conn`` (disconnect, RESET), without replies."""
        if conn not in self.clients:
            return
        for kind in (_CHANNEL, _PATTERN, _SHARD):
            self.unsubscribe(conn, kind, [], reply=False)
        self.clients.pop(conn, None)

    # -- publishing -------------------------------------------------------------------------
    def publish(self, channel: bytes, message: bytes) -> int:
        """Deliver to the channel's subscribers, then to every matching pattern's (as
        Redis does); return how many deliveries were made."""
        received = 0
        members = self.channels.get(channel)
        if members:
            frame = Push([b"message", channel, message])
            for conn in tuple(members):
                if not conn.closing:
                    conn.deliver(frame)
                    received += 1
        if self.patterns:
            for pattern, members in tuple(self.patterns.items()):
                if self._regex[pattern].fullmatch(channel) is None:
                    continue
                frame = Push([b"pmessage", pattern, channel, message])
                for conn in tuple(members):
                    if not conn.closing:
                        conn.deliver(frame)
                        received += 1
        return received

    def spublish(self, channel: bytes, message: bytes) -> int:
        members = self.shards.get(channel)
        if not members:
            return 0
        frame = Push([b"smessage", channel, message])
        received = 0
        for conn in tuple(members):
            if not conn.closing:
                conn.deliver(frame)
                received += 1
        return received

    def wants(self, channel: bytes) -> bool:
        """Would a message on ``channel`` reach anyone? (Cheap pre-check for events.)"""
        if channel in self.channels:
            return True
        return any(rx.fullmatch(channel) is not None for rx in self._regex.values())


def _mode_changed(conn: Connection) -> None:
    """Subscribed or not decides the fast path and the output buffer class."""
    conn.refresh()


def subscribed_gate(conn: Connection, name: str, args: list[bytes]) -> Any:
    """For a RESP2 client with subscriptions: None to run the command, the PING reply to
    send instead, or raise Redis's error for a command not allowed in this context."""
    if name == "PING":
        if len(args) > 2:
            raise CommandError("wrong number of arguments for 'ping' command")
        return Push([b"pong", args[1] if len(args) > 1 else b""])
    if name in SUBSCRIBED_MODE_COMMANDS:
        return None
    if name == "PUBSUB":  # the subcommand is resolved (and refused) first, as in Redis
        _pubsub_subcommand(args)
    shown = args[0].decode("utf-8", "replace").lower()
    if name in _SUB_CONTAINERS and len(args) > 1:
        shown += "|" + args[1].decode("utf-8", "replace").lower()
    raise CommandError(
        f"Can't execute '{shown}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
        "RESET are allowed in this context"
    )


_SUB_CONTAINERS = frozenset(
    {"CLIENT", "CONFIG", "COMMAND", "ACL", "MODULE", "OBJECT", "MEMORY", "PUBSUB", "XINFO"}
)


def _check_channels(conn: Connection, names: list[bytes], *, patterns: bool) -> None:
    user = conn.user
    if user is None or user.all_channels:
        return
    for name in names:
        if not user.can_use_channel(name, pattern=patterns):
            raise NoPermError("No permissions to access a channel")


# -- declarations ------------------------------------------------------------------------------
def _connection_only(ctx: Any, args: list[bytes]) -> object:
    raise CommandError(
        f"'{args[0].decode('utf-8', 'replace').lower()}' needs a client connection; "
        "use it through the RESP server"
    )


# The shard commands declare their channels at key positions, as Redis's key specs do
# (flagged NOT_KEY there: cluster clients route by them). Commands flagged ``pubsub`` are
# exempt from ACL key rules in the connection's check: their "keys" are channels.
_NONE = (0, 0, 0)
for _name, _arity, _flags, _cats, _keys in (
    ("SUBSCRIBE", -2, "pubsub noscript loading stale", "pubsub slow", _NONE),
    ("UNSUBSCRIBE", -1, "pubsub noscript loading stale", "pubsub slow", _NONE),
    ("PSUBSCRIBE", -2, "pubsub noscript loading stale", "pubsub slow", _NONE),
    ("PUNSUBSCRIBE", -1, "pubsub noscript loading stale", "pubsub slow", _NONE),
    ("SSUBSCRIBE", -2, "pubsub noscript loading stale", "pubsub slow", (1, -1, 1)),
    ("SUNSUBSCRIBE", -1, "pubsub noscript loading stale", "pubsub slow", (1, -1, 1)),
    ("PUBLISH", 3, "pubsub loading stale fast", "pubsub fast", _NONE),
    ("SPUBLISH", 3, "pubsub loading stale fast", "pubsub fast", (1, 1, 1)),
    ("PUBSUB", -2, "", "slow", _NONE),
):
    command(
        _name, _arity, _flags, _cats, keys=_keys, scope="connection", summary=f"{_name} (pub/sub)"
    )(_connection_only)


# -- handlers ----------------------------------------------------------------------------------
def cmd_subscribe(conn: Connection, args: list[bytes]) -> Any:
    _check_channels(conn, args[1:], patterns=False)
    conn.server.pubsub.subscribe(conn, _CHANNEL, args[1:])
    return NO_REPLY


def cmd_psubscribe(conn: Connection, args: list[bytes]) -> Any:
    _check_channels(conn, args[1:], patterns=True)
    conn.server.pubsub.subscribe(conn, _PATTERN, args[1:])
    return NO_REPLY


def cmd_ssubscribe(conn: Connection, args: list[bytes]) -> Any:
    _check_channels(conn, args[1:], patterns=False)
    conn.server.pubsub.subscribe(conn, _SHARD, args[1:])
    return NO_REPLY


def cmd_unsubscribe(conn: Connection, args: list[bytes]) -> Any:
    conn.server.pubsub.unsubscribe(conn, _CHANNEL, args[1:])
    return NO_REPLY


def cmd_punsubscribe(conn: Connection, args: list[bytes]) -> Any:
    conn.server.pubsub.unsubscribe(conn, _PATTERN, args[1:])
    return NO_REPLY


def cmd_sunsubscribe(conn: Connection, args: list[bytes]) -> Any:
    conn.server.pubsub.unsubscribe(conn, _SHARD, args[1:])
    return NO_REPLY


def cmd_publish(conn: Connection, args: list[bytes]) -> Any:
    _check_channels(conn, args[1:2], patterns=False)
    return conn.server.pubsub.publish(args[1], args[2])


def cmd_spublish(conn: Connection, args: list[bytes]) -> Any:
    _check_channels(conn, args[1:2], patterns=False)
    return conn.server.pubsub.spublish(args[1], args[2])


_PUBSUB_ARITY = {
    b"CHANNELS": -2,
    b"NUMSUB": -2,
    b"NUMPAT": 2,
    b"SHARDCHANNELS": -2,
    b"SHARDNUMSUB": -2,
    b"HELP": 2,
}

PUBSUB_HELP = [
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Print this help.",
]


def _pubsub_subcommand(args: list[bytes]) -> bytes:
    """The upper-case PUBSUB subcommand, with Redis's unknown-subcommand and arity errors."""
    # (not handlers.sub_check: handlers imports connection, which imports this module)
    sub = args[1].upper()
    arity = _PUBSUB_ARITY.get(sub)
    name = args[1].decode("utf-8", "replace")
    if arity is None:
        raise CommandError(f"unknown subcommand '{name}'. Try PUBSUB HELP.")
    if (arity > 0 and len(args) != arity) or len(args) < -arity:
        raise CommandError(f"wrong number of arguments for 'pubsub|{name.lower()}' command")
    return sub


def cmd_pubsub(conn: Connection, args: list[bytes]) -> Any:
    sub = _pubsub_subcommand(args)
    name = args[1].decode("utf-8", "replace")
    registry = conn.server.pubsub
    if sub == b"HELP":
        return [SimpleString(line) for line in PUBSUB_HELP]
    if sub == b"NUMPAT":
        return len(registry.patterns)
    if sub in (b"CHANNELS", b"SHARDCHANNELS"):
        if len(args) > 3:
            raise CommandError(
                f"unknown subcommand or wrong number of arguments for '{name}'. Try PUBSUB HELP."
            )
        table = registry.channels if sub == b"CHANNELS" else registry.shards
        if len(args) == 2:
            return list(table)
        rx = glob_to_regex(args[2])
        return [channel for channel in table if rx.fullmatch(channel) is not None]
    table = registry.channels if sub == b"NUMSUB" else registry.shards
    out: list[Any] = []
    for channel in args[2:]:
        out += [channel, len(table.get(channel, ()))]
    return out


def pubsub_handlers() -> dict[str, Any]:
    return {
        "SUBSCRIBE": cmd_subscribe,
        "UNSUBSCRIBE": cmd_unsubscribe,
        "PSUBSCRIBE": cmd_psubscribe,
        "PUNSUBSCRIBE": cmd_punsubscribe,
        "SSUBSCRIBE": cmd_ssubscribe,
        "SUNSUBSCRIBE": cmd_sunsubscribe,
        "PUBLISH": cmd_publish,
        "SPUBLISH": cmd_spublish,
        "PUBSUB": cmd_pubsub,
    }
