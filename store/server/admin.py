"""Introspection and administration: COMMAND, CONFIG, INFO, ACL, MODULE.

MONITOR, SLOWLOG, LATENCY, MEMORY and OBJECT live in :mod:`store.server.observe` and
:mod:`store.server.memory_usage`.

COMMAND answers from the one command table (name, arity, flags, key positions, ACL
categories, summary), in the shapes redis-py and redis-cli read (Redis 7 COMMAND INFO
entries with key specs; COMMAND DOCS maps). CONFIG GET/SET use the parameter table of
:mod:`store.server.config`. ACL changes take effect at once for connected clients.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from ..commands.table import COMMANDS, CONTAINERS, KEY_SPECS, CommandSpec, resolve
from ..commands.util import parse_int
from ..errors import CommandError, SyntaxErr
from ..replies import OrderedSet, SimpleString, Verbatim
from .acl import CATEGORIES, AclError, generate_password
from .cmdstats import SUBCOMMAND_CONTAINERS
from .config import PARAMETERS, config_set_error
from .connection import Connection
from .handlers import (
    OK,
    Handler,
    module_list,
    sub_arity_error,
    text,
    unknown_subcommand,
)
from .info import render_info
from .observe import observability_handlers

# Flags COMMAND INFO reports: Redis's own names only (memvec's "lockfree" is internal).

_REDIS_FLAGS = (
    "write",
    "readonly",
    "denyoom",
    "module",
    "admin",
    "pubsub",
    "noscript",
    "blocking",
    "loading",
    "stale",
    "skip_monitor",
    "skip_slowlog",
    "asking",
    "fast",
    "no_auth",
    "may_replicate",
    "no_mandatory_keys",
    "no_multi",
    "movablekeys",
    "allow_busy",
)
_GROUPS = {
    "string": "string",
    "hash": "hash",
    "list": "list",
    "set": "set",
    "keyspace": "generic",
    "search": "search",
    "connection": "connection",
    "transaction": "transactions",
}


def _sub_check(command: str, args: list[bytes], arities: dict[bytes, int]) -> bytes:
    sub = args[1].upper()
    arity = arities.get(sub)
    if arity is None:
        raise unknown_subcommand(command, args[1])
    if (arity > 0 and len(args) != arity) or len(args) < -arity:
        raise sub_arity_error(command, args[1])
    return sub


# -- COMMAND ---------------------------------------------------------------------------------
def _key_spec_with_set_flags(key_spec: dict[bytes, Any]) -> dict[bytes, Any]:
    if b"flags" not in key_spec:
        return key_spec
    return {**key_spec, b"flags": OrderedSet(key_spec[b"flags"])}


def command_info(spec: CommandSpec) -> list[Any]:
    """A Redis 7 COMMAND INFO entry. Container commands (CLIENT, CONFIG, OBJECT, ...) show
    as Redis shows them: no flags, no keys, ``@slow`` (their subcommands carry the rest).
    Commands flagged ``fast`` are in ``@fast``, every other one in ``@slow``."""
    if spec.name in SUBCOMMAND_CONTAINERS:
        return [spec.name.lower().encode(), spec.arity, OrderedSet(), 0, 0, 0,
                OrderedSet([SimpleString("@slow")]), OrderedSet(), OrderedSet(), []]  # fmt: skip
    flags = [SimpleString(f) for f in _REDIS_FLAGS if f in spec.flags]
    if spec.name.startswith("FT."):
        flags.append(SimpleString("module"))
    speed = "fast" if "fast" in spec.flags or "fast" in spec.categories else "slow"
    cats = [
        SimpleString("@" + c)
        for c in CATEGORIES
        if c == speed or (c in spec.categories and c not in ("fast", "slow"))
    ]
    key_specs: list[Any] = []
    if spec.first_key > 0:
        last = spec.last_key
        key_specs.append(
            {
                b"flags": [SimpleString("RW" if spec.is_write else "RO"), SimpleString("access")],
                b"begin_search": {b"type": b"index", b"spec": {b"index": spec.first_key}},
                b"find_keys": {
                    b"type": b"range",
                    b"spec": {
                        b"lastkey": last - spec.first_key if last >= 0 else last,
                        b"keystep": spec.key_step or 1,
                        b"limit": 0,
                    },
                },
            }
        )
    key_specs = KEY_SPECS.get(spec.name, key_specs)
    name = spec.name if spec.name.startswith("FT.") else spec.name.lower()
    # flags, categories, tips, key specs and each key spec's flags are RESP3 sets, as Redis's
    return [
        name.encode(),
        spec.arity,
        OrderedSet(flags),
        spec.first_key,
        spec.last_key,
        spec.key_step,
        OrderedSet(cats),
        OrderedSet(),
        OrderedSet(_key_spec_with_set_flags(ks) for ks in key_specs),
        [],
    ]


def command_docs(spec: CommandSpec) -> dict[bytes, Any]:
    group = next((g for c, g in _GROUPS.items() if c in spec.categories), "server")
    return {
        b"summary": (spec.summary or spec.name).encode(),
        b"since": b"1.0.0",
        b"group": group.encode(),
        b"complexity": b"",
        b"arguments": [],
    }


def _by_name(name: bytes) -> CommandSpec | None:
    return COMMANDS.get(text(name).upper())


_COMMAND_ARITY = {b"COUNT": 2, b"INFO": -2, b"DOCS": -2, b"LIST": -2, b"GETKEYS": -3, b"HELP": 2}


def cmd_command(conn: Connection, args: list[bytes]) -> Any:
    specs = COMMANDS
    if len(args) == 1:
        return [command_info(s) for s in specs.values()]
    sub = _sub_check("COMMAND", args, _COMMAND_ARITY)
    if sub == b"COUNT":
        return len(specs)
    if sub == b"INFO":
        if len(args) == 2:
            return [command_info(s) for s in specs.values()]
        return [None if (s := _by_name(n)) is None else command_info(s) for n in args[2:]]
    if sub == b"DOCS":
        chosen = (
            specs.values()
            if len(args) == 2
            else [s for n in args[2:] if (s := _by_name(n)) is not None]
        )
        return {
            (s.name if s.name.startswith("FT.") else s.name.lower()).encode(): command_docs(s)
            for s in chosen
        }
    if sub == b"LIST":
        names = list(specs.values())
        if len(args) > 2:
            if len(args) != 5 or args[2].upper() != b"FILTERBY":
                raise SyntaxErr()
            kind, value = args[3].upper(), text(args[4])
            if kind == b"ACLCAT":
                names = [s for s in names if value.lower().lstrip("@") in s.categories]
            elif kind == b"PATTERN":
                names = [s for s in names if fnmatch.fnmatchcase(s.name.lower(), value.lower())]
            elif kind == b"MODULE":
                names = [s for s in names if value == "search" and s.name.startswith("FT.")]
            else:
                raise SyntaxErr()
        return [(s.name if s.name.startswith("FT.") else s.name.lower()).encode() for s in names]
    if sub == b"GETKEYS":
        target = _by_name(args[2])
        if target is None:
            raise CommandError("Invalid command specified")
        call = args[2:]
        arity = target.arity
        if (arity > 0 and len(call) != arity) or len(call) < -arity:
            raise CommandError("Invalid number of arguments specified for command")
        keys = target.keys(call)
        if not keys:
            raise CommandError("The command has no key arguments")
        return keys
    return [
        SimpleString(line)
        for line in (
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "    Return details about all commands.",
            "COUNT",
            "    Return the total number of commands in this server.",
            "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
            "    Return a list of all commands in this server.",
            "INFO [<command-name> ...]",
            "    Return details about the given commands, or all of them.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about the given commands, or all of them.",
            "GETKEYS <full-command>",
            "    Return the keys from a full command.",
            "HELP",
            "    Print this help.",
        )
    ]


# -- CONFIG ----------------------------------------------------------------------------------
_CONFIG_ARITY = {b"GET": -3, b"SET": -4, b"RESETSTAT": 2, b"REWRITE": 2, b"HELP": 2}


def cmd_config(conn: Connection, args: list[bytes]) -> Any:
    sub = _sub_check("CONFIG", args, _CONFIG_ARITY)
    server = conn.server
    if sub == b"GET":
        out: dict[bytes, bytes] = {}
        cfg = server.config
        for raw in args[2:]:
            pattern = text(raw).lower()
            for name, param in PARAMETERS.items():
                if fnmatch.fnmatchcase(name, pattern):
                    out[name.encode()] = param.get(cfg).encode()
        return out
    if sub == b"SET":
        if len(args) % 2:
            raise CommandError(
                f"Unknown option or number of arguments for CONFIG SET - '{text(args[-1])}'"
            )
        changes: dict[str, object] = {}
        for i in range(2, len(args), 2):
            name = text(args[i]).lower()
            target = PARAMETERS.get(name)
            if target is None:
                raise CommandError(
                    f"Unknown option or number of arguments for CONFIG SET - '{text(args[i])}'"
                )
            if target.parse is None:
                raise config_set_error(name, "can't set immutable config")
            try:
                changes.update(target.parse(text(args[i + 1])))
            except ValueError as exc:
                raise config_set_error(name, str(exc)) from None
        server.apply_config(changes)
        return OK
    if sub == b"RESETSTAT":
        server.reset_stats()
        return OK
    if sub == b"REWRITE":
        raise CommandError("The server is running without a config file")
    return [
        SimpleString(line)
        for line in (
            "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "HELP",
            "    Print this help.",
        )
    ]


# -- INFO ------------------------------------------------------------------------------------
def cmd_info(conn: Connection, args: list[bytes]) -> Any:
    sections = [text(a).lower() for a in args[1:]]
    return Verbatim("txt", render_info(conn.server, sections))


# -- MODULE ----------------------------------------------------------------------------------
_MODULE_ARITY = {b"LIST": 2, b"LOAD": -3, b"LOADEX": -3, b"UNLOAD": 3, b"HELP": 2}


def cmd_module(conn: Connection, args: list[bytes]) -> Any:
    sub = _sub_check("MODULE", args, _MODULE_ARITY)
    if sub == b"LIST":
        return module_list()
    if sub in (b"LOAD", b"LOADEX"):
        raise CommandError("Error loading the extension. Please check the server logs.")
    if sub == b"UNLOAD":
        raise CommandError("Error unloading module: the search module is built into memvec")
    return [
        SimpleString("MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"),
        SimpleString("LIST"),
        SimpleString("    Return a list of loaded modules."),
    ]


# -- ACL -------------------------------------------------------------------------------------
_ACL_ARITY = {
    b"WHOAMI": 2,
    b"LIST": 2,
    b"USERS": 2,
    b"SETUSER": -3,
    b"DELUSER": -3,
    b"GETUSER": 3,
    b"CAT": -2,
    b"GENPASS": -2,
    b"LOAD": 2,
    b"SAVE": 2,
    b"LOG": -2,
    b"DRYRUN": -4,
    b"HELP": 2,
}


def cmd_acl(conn: Connection, args: list[bytes]) -> Any:
    sub = _sub_check("ACL", args, _ACL_ARITY)
    server = conn.server
    acl = server.acl
    if sub == b"WHOAMI":
        return (conn.user.name if conn.user else "default").encode()
    if sub == b"LIST":
        return [u.describe().encode() for u in acl.users.values()]
    if sub == b"USERS":
        return sorted(name.encode() for name in acl.users)
    if sub == b"SETUSER":
        try:
            acl.setuser(text(args[2]), [text(a) for a in args[3:]])
        except AclError:
            raise
        server.refresh_users()
        return OK
    if sub == b"DELUSER":
        removed = acl.deluser(text(a) for a in args[2:])
        server.refresh_users()
        return removed
    if sub == b"GETUSER":
        user = acl.users.get(text(args[2]))
        if user is None:
            return None
        keys = " ".join(k.rule() for k in user.keys)
        return {
            b"flags": [f.encode() for f in user.flags()],
            b"passwords": [h.encode() for h in user.passwords],
            b"commands": " ".join(user.command_rules or ["-@all"]).encode(),
            b"keys": keys.encode(),
            b"channels": b"&*" if user.all_channels else b" ".join(b"&" + c for c in user.channels),
            b"selectors": [],
        }
    if sub == b"CAT":
        if len(args) == 2:
            return [c.encode() for c in CATEGORIES]
        cat = text(args[2]).lower()
        if cat not in CATEGORIES:
            raise CommandError(f"Unknown category '{text(args[2])}'")
        return [s.name.lower().encode() for s in COMMANDS.values() if cat in s.categories]
    if sub == b"GENPASS":
        bits = parse_int(args[2]) if len(args) > 2 else 256
        if bits <= 0 or bits > 4096:
            raise CommandError(
                "ACL GENPASS argument must be the number of bits for the output password, "
                "a positive number up to 4096"
            )
        return generate_password(bits)[: (bits + 3) // 4].encode()
    if sub == b"LOAD":
        path = server.config.aclfile
        if path is None:
            raise CommandError(_NO_ACLFILE)
        acl.load_file(path)
        server.refresh_users()
        return OK
    if sub == b"SAVE":
        path = server.config.aclfile
        if path is None:
            raise CommandError(_NO_ACLFILE)
        acl.save_file(path)
        return OK
    if sub == b"LOG":
        if len(args) > 2 and args[2].upper() == b"RESET":
            return OK
        if len(args) > 2:
            parse_int(args[2])  # the count: the log itself is always empty here
        return []
    if sub == b"DRYRUN":
        user = acl.users.get(text(args[2]))
        if user is None:
            raise CommandError(f"User '{text(args[2])}' not found")
        call = args[3:]
        spec = resolve(call)
        sub_arg = call[1] if spec.name in CONTAINERS and len(call) > 1 else None
        if not user.can_run(spec.name, sub_arg):
            return (
                f"User {user.name} has no permissions to run the '{spec.name.lower()}' command"
            ).encode()
        for key in spec.keys(call):
            if not user.can_access(key, spec.is_write):
                return (
                    f"User {user.name} has no permissions to access the '{text(key)}' key".encode()
                )
        return OK
    return [
        SimpleString(line)
        for line in (
            "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CAT [<category>]",
            "DELUSER <username> [<username> ...]",
            "DRYRUN <username> <command> [<arg> ...]",
            "GETUSER <username>",
            "GENPASS [<bits>]",
            "LIST",
            "LOAD",
            "LOG [<count> | RESET]",
            "SAVE",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "USERS",
            "WHOAMI",
            "HELP",
        )
    ]


_NO_ACLFILE = (
    "This Redis instance is not configured to use an ACL file. You may want to specify "
    "users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have "
    "a Redis configuration file set) in order to store users in the Redis configuration."
)


def admin_handlers() -> dict[str, Handler]:
    return {
        "COMMAND": cmd_command,
        "CONFIG": cmd_config,
        "INFO": cmd_info,
        "MODULE": cmd_module,
        "ACL": cmd_acl,
        **observability_handlers(),
    }
