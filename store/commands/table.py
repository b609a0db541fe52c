"""The one command table.

Every command the store understands is declared once, with :func:`command`: its name,
arity (Redis convention: ``n`` exact, ``-n`` at least n, counting the name), flags, ACL
categories and where its keys are. That declaration drives dispatch and arity errors,
what is appended to the transaction log (``write``), READONLY refusals on replicas,
``OOM`` refusals past maxmemory (``denyoom``), COMMAND INFO/DOCS and ACL checks in the
RESP server. Connection-scope commands (MODULE included) are declared here too; there is
no other registry.

A call is resolved once, by :func:`resolve` (Redis's exact unknown-command and arity
errors), and the resolved spec travels with it: :meth:`store.engine.Engine.submit` takes
it and does not look it up again.

Handlers come in two scopes:

* ``engine`` handlers take ``(ctx: ExecContext, args: list[bytes])`` and run under the
  engine lock. A write handler validates everything first and raises before mutating
  anything, so a rejected command changes nothing. If it mutated state it sets
  ``ctx.dirty`` (optionally ``ctx.log_args`` to log a deterministic rewrite, e.g. EXPIRE
  becomes PEXPIREAT). Handlers must be deterministic given the state and ``ctx.now_ms``:
  startup replay and replicas run the very same handlers.
* ``connection`` handlers (PING, AUTH, CLIENT, MULTI, ...) are implemented by the RESP
  server; the table only declares them so there is one list of commands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ArityError, UnknownCommandError

if TYPE_CHECKING:
    from .context import ExecContext

Handler = Callable[["ExecContext", list[bytes]], Any]


@dataclass(frozen=True)
class CommandSpec:
    name: str  # upper case, e.g. "HSET", "FT.SEARCH"
    arity: int
    flags: frozenset[str]
    categories: frozenset[str]
    first_key: int = 0
    last_key: int = 0
    key_step: int = 0
    handler: Handler | None = None
    scope: str = "engine"  # "engine" | "connection"
    summary: str = ""
    subcommands: tuple[str, ...] = field(default=())
    # movablekeys commands (LMPOP numkeys key ...): the keys of a call, for ACL key checks,
    # expiry before a write and COMMAND GETKEYS; COMMAND INFO still shows 0 0 0 as Redis
    find_keys: Callable[[list[bytes]], list[bytes]] | None = None

    @property
    def is_write(self) -> bool:
        return "write" in self.flags

    def arity_ok(self, argc: int) -> bool:
        """Whether ``argc`` arguments (counting the command name) fit the arity."""
        arity = self.arity
        return argc == arity if arity > 0 else argc >= -arity

    def check_arity(self, argc: int) -> None:
        """``argc`` counts the command name. Raises Redis's exact arity error."""
        if not self.arity_ok(argc):
            raise ArityError.for_command(self.name)

    def keys(self, args: list[bytes]) -> list[bytes]:
        """The key arguments of a call (``args`` includes the command name)."""
        if self.find_keys is not None:
            return self.find_keys(args)
        if self.first_key <= 0:
            return []
        last = self.last_key if self.last_key >= 0 else len(args) + self.last_key
        return args[self.first_key : last + 1 : self.key_step or 1]


COMMANDS: dict[str, CommandSpec] = {}

# Key specs the ``keys=(first, last, step)`` range cannot express (SORT's BY/GET and STORE
# keys), by command name: COMMAND INFO shows these instead of the one range spec.
KEY_SPECS: dict[str, list[dict[bytes, Any]]] = {}

# Commands whose first argument is a subcommand (ACL rules like +config|get).
CONTAINERS = frozenset(
    {"CLIENT", "CONFIG", "COMMAND", "ACL", "MODULE", "OBJECT", "MEMORY", "XGROUP", "XINFO"}
)


def command(
    name: str,
    arity: int,
    flags: str = "",
    categories: str = "",
    keys: tuple[int, int, int] = (0, 0, 0),
    scope: str = "engine",
    summary: str = "",
    find_keys: Callable[[list[bytes]], list[bytes]] | None = None,
) -> Callable[[Handler], Handler]:
    """Declare a command. ``flags``/``categories`` are space-separated words.

    Categories follow Redis ACL names without the ``@`` (``read``, ``write``, ``keyspace``,
    ``string``, ``hash``, ``search``, ``fast``, ``slow``, ``admin``, ``dangerous``,
    ``connection``, ``transaction``); ``write``/``read`` are added from ``flags``.
    """

    def register(handler: Handler) -> Handler:
        flag_set = frozenset(flags.split())
        cats = set(categories.split())
        if "write" in flag_set:
            cats.add("write")
        if "readonly" in flag_set:
            cats.add("read")
        spec = CommandSpec(
            name=name.upper(),
            arity=arity,
            flags=flag_set,
            categories=frozenset(cats),
            first_key=keys[0],
            last_key=keys[1],
            key_step=keys[2],
            handler=handler,
            scope=scope,
            summary=summary or _first_line(handler.__doc__),
            find_keys=find_keys,
        )
        if spec.name in COMMANDS:
            raise RuntimeError(f"command {spec.name} declared twice")
        COMMANDS[spec.name] = spec
        return handler

    return register


def _first_line(doc: str | None) -> str:
    lines = (doc or "").strip().splitlines()
    return lines[0] if lines else ""


SPEC_CACHE_MAX = 4096

# name exactly as sent (b"hset") -> spec; bounded so names in every letter case cannot grow
# it forever. The server's per-command fast path reads it directly.
RESOLVED: dict[bytes, CommandSpec] = {}


def resolve(args: list[bytes]) -> CommandSpec:
    """The spec for a call, with arity checked; Redis's exact errors otherwise."""
    spec = RESOLVED.get(args[0])
    if spec is None:
        name = args[0].decode("utf-8", "replace").upper()
        spec = COMMANDS.get(name)
        if spec is None:
            raise UnknownCommandError.for_command(args[0].decode("utf-8", "replace"), args[1:])
        if len(RESOLVED) < SPEC_CACHE_MAX:
            RESOLVED[args[0]] = spec
    spec.check_arity(len(args))
    return spec


def connection_commands() -> list[str]:
    """Names of every connection-scope command: the RESP server must handle each."""
    return sorted(name for name, spec in COMMANDS.items() if spec.scope == "connection")
