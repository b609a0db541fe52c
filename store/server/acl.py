"""Users, passwords and permissions, in Redis's ACL language.

Rules (the subset of ``ACL SETUSER`` memvec understands, applied left to right)::

    on | off                 enable / disable the user
    >pass  <pass             add / remove a password (stored as its SHA-256, never in clear)
    #<sha256>  !<sha256>     add / remove a password given as its hash
    nopass | resetpass       any password works / forget every password (and nopass)
    ~pattern  allkeys        keys the user may read and write (glob; allkeys = ~*)
    %R~pattern  %W~pattern   keys the user may only read / only write (%RW~ = ~)
    resetkeys                forget every key pattern
    +cmd  -cmd               allow / deny a command (``+config|get``: one subcommand)
    +@cat  -@cat             allow / deny a category (``+@all`` / ``allcommands``,
                             ``-@all`` / ``nocommands``)
    &pattern                 a channel the user may use (glob for SUBSCRIBE/PUBLISH; a
                             PSUBSCRIBE pattern must equal one of them literally)
    allchannels | &*         every channel;  resetchannels: none
    reset                    back to a new user: off, no passwords, no keys, no commands

The ``default`` user always exists: ``on nopass ~* &* +@all`` unless ``requirepass``
gives it a password (then clients must AUTH). An ACL file holds one ``user <name>
<rules...>`` line per user, as Redis's ``aclfile`` does; ``ACL SAVE`` writes passwords as
``#<sha256>``.

Checks are cheap for the common case: a user with every command and every key
(:attr:`User.unrestricted`) skips them entirely.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AclError, CommandError, NoPermError
from ..files import atomic_write_bytes
from ..keyspace import glob_to_regex

__all__ = [
    "CATEGORIES",
    "AclError",
    "AclStore",
    "User",
    "hash_password",
    "pattern_covers_prefix",
]

# Redis's categories, plus "search" (RediSearch declares its commands in @search) and
# "json" (RedisJSON's @json on Redis 7.4).
CATEGORIES = (
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
    "search",
    "json",
)

_HASH = re.compile(r"^[0-9a-f]{64}$")
_GLOB_META = frozenset(b"*?[\\")


def hash_password(password: str | bytes) -> str:
    data = password.encode() if isinstance(password, str) else password
    return hashlib.sha256(data).hexdigest()


def pattern_covers_prefix(pattern: bytes, prefix: bytes) -> bool:
    """True if every key that starts with ``prefix`` matches the glob ``pattern``.

    Exact for ``*`` and ``<literal>*`` patterns (the ones ACLs use for key namespaces);
    any other pattern is not trusted to cover a whole prefix.
    """
    if pattern == b"*":
        return True
    if not pattern.endswith(b"*"):
        return False
    head = pattern[:-1]
    return not any(ch in _GLOB_META for ch in head) and prefix.startswith(head)


@dataclass
class _KeyPattern:
    pattern: bytes
    read: bool
    write: bool

    def __post_init__(self) -> None:
        self.regex = glob_to_regex(self.pattern)

    def rule(self) -> str:
        text = self.pattern.decode("utf-8", "surrogateescape")
        if self.read and self.write:
            return f"~{text}"
        return f"%{'R' if self.read else ''}{'W' if self.write else ''}~{text}"


@dataclass
class User:
    """One ACL user. Mutate only through :meth:`AclStore.setuser` (it keeps the caches)."""

    name: str
    enabled: bool = False
    nopass: bool = False
    passwords: list[str] = field(default_factory=list)  # sha256 hex digests
    keys: list[_KeyPattern] = field(default_factory=list)
    all_channels: bool = False
    channels: list[bytes] = field(default_factory=list)  # &patterns (without all_channels)
    command_rules: list[str] = field(default_factory=list)
    allowed: frozenset[str] = frozenset()  # upper-case command names
    allowed_sub: frozenset[str] = frozenset()  # "CONFIG|GET"
    denied_sub: frozenset[str] = frozenset()
    every_command: bool = False  # set by AclStore: ``allowed`` holds every known command

    @property
    def all_keys(self) -> bool:
        return any(k.pattern == b"*" and k.read and k.write for k in self.keys)

    @property
    def all_commands(self) -> bool:
        return self.every_command and not self.denied_sub

    @property
    def unrestricted(self) -> bool:
        """Every command on every key: permission checks can be skipped."""
        return self.all_keys and self.all_commands

    def check_password(self, password: bytes) -> bool:
        if not self.enabled:
            return False
        if self.nopass:
            return True
        digest = hash_password(password)
        return any(hmac.compare_digest(digest, h) for h in self.passwords)

    def can_run(self, name: str, sub: bytes | None) -> bool:
        """``name`` upper case; ``sub`` the first argument for commands with subcommands."""
        if sub is not None and (self.denied_sub or self.allowed_sub):
            full = f"{name}|{sub.decode('utf-8', 'replace').upper()}"
            if full in self.denied_sub:
                return False
            if full in self.allowed_sub:
                return True
        return name in self.allowed

    def can_access(self, key: bytes, write: bool) -> bool:
        return any(
            (k.write if write else k.read) and k.regex.fullmatch(key) is not None for k in self.keys
        )

    def can_use_channel(self, name: bytes, *, pattern: bool) -> bool:
        """Redis's ACLCheckChannelAgainstList: a channel is matched against the user's
        globs; a subscription pattern must be one of them literally."""
        if self.all_channels:
            return True
        if pattern:
            return name in self.channels
        return any(glob_to_regex(p).fullmatch(name) is not None for p in self.channels)

    def covers_prefixes(self, prefixes: Iterable[bytes], write: bool = False) -> bool:
        """May the user read (write) every key under every prefix? No prefix means all keys."""
        wanted = list(prefixes) or [b""]
        usable = [k.pattern for k in self.keys if (k.write if write else k.read)]
        return all(any(pattern_covers_prefix(p, prefix) for p in usable) for prefix in wanted)

    def describe(self) -> str:
        """The user as an ``ACL LIST`` / ACL file line (passwords as hashes)."""
        parts = ["user", self.name, "on" if self.enabled else "off"]
        if self.nopass:
            parts.append("nopass")
        parts += [f"#{h}" for h in self.passwords]
        parts += [k.rule() for k in self.keys] or ["resetkeys"]
        if self.all_channels:
            parts.append("&*")
        else:
            parts.append("resetchannels")
            parts += ["&" + c.decode("utf-8", "surrogateescape") for c in self.channels]
        parts += self.command_rules or ["-@all"]
        return " ".join(parts)

    def flags(self) -> list[str]:
        out = ["on" if self.enabled else "off"]
        if self.nopass:
            out.append("nopass")
        return out


class AclStore:
    """Every user of a server. Thread-safe; lookups are lock-free dict reads.

    ``categories`` maps each command name (upper case) to its ACL categories without the
    ``@``; it comes from the command table (plus the server's own commands).
    """

    def __init__(self, categories: Mapping[str, frozenset[str]]) -> None:
        self.categories = dict(categories)
        self.users: dict[str, User] = {}
        self._lock = threading.Lock()
        self.setuser("default", ["reset", "on", "nopass", "~*", "&*", "+@all"])

    @classmethod
    def build(
        cls,
        categories: Mapping[str, frozenset[str]],
        *,
        requirepass: str | None = None,
        aclfile: Path | None = None,
    ) -> AclStore:
        """The users a server starts with: the ACL file (if any), then ``requirepass``
        as the default user's only password."""
        store = cls(categories)
        if aclfile is not None and aclfile.exists():
            store.load_file(aclfile)
        if requirepass:
            store.setuser("default", ["resetpass", f">{requirepass}"])
        return store

    @property
    def default(self) -> User:
        return self.users["default"]

    @property
    def auth_required(self) -> bool:
        """New connections start unauthenticated unless ``default`` is on with nopass."""
        d = self.default
        return not (d.enabled and d.nopass)

    def authenticate(self, username: str, password: bytes) -> User | None:
        user = self.users.get(username)
        if user is None or not user.check_password(password):
            return None
        return user

    # -- rules ------------------------------------------------------------------------------
    def setuser(self, name: str, rules: Iterable[str]) -> User:
        """Create or modify a user; all rules are validated before any is applied."""
        if not name or any(c.isspace() for c in name):
            raise AclError("Usernames can't contain spaces or null characters")
        with self._lock:
            current = self.users.get(name)
            user = _copy(current) if current is not None else User(name)
            for rule in rules:
                self._apply(user, rule)
            self._compile(user)
            self.users[name] = user
            return user

    def deluser(self, names: Iterable[str]) -> int:
        removed = 0
        with self._lock:
            for name in names:
                if name == "default":
                    raise CommandError("The 'default' user cannot be removed")
                if self.users.pop(name, None) is not None:
                    removed += 1
        return removed

    def _apply(self, user: User, rule: str) -> None:
        low = rule.lower()
        if low == "on":
            user.enabled = True
        elif low == "off":
            user.enabled = False
        elif low == "nopass":
            user.nopass = True
            user.passwords = []
        elif low == "resetpass":
            user.nopass = False
            user.passwords = []
        elif rule.startswith(">"):
            digest = hash_password(rule[1:])
            if digest not in user.passwords:
                user.passwords.append(digest)
            user.nopass = False
        elif rule.startswith("<"):
            digest = hash_password(rule[1:])
            if digest not in user.passwords:
                raise AclError(_modifier_error(rule, "no such password"))
            user.passwords.remove(digest)
        elif rule.startswith("#"):
            digest = rule[1:].lower()
            if not _HASH.match(digest):
                raise AclError(
                    _modifier_error(
                        rule,
                        "The password hash must be exactly 64 characters and contain "
                        "only lowercase hexadecimal characters",
                    )
                )
            if digest not in user.passwords:
                user.passwords.append(digest)
            user.nopass = False
        elif rule.startswith("!"):
            digest = rule[1:].lower()
            if digest not in user.passwords:
                raise AclError(_modifier_error(rule, "no such password"))
            user.passwords.remove(digest)
        elif low == "allkeys":
            user.keys = [_KeyPattern(b"*", True, True)]
        elif low == "resetkeys":
            user.keys = []
        elif rule.startswith("~"):
            user.keys.append(_KeyPattern(rule[1:].encode("utf-8", "surrogateescape"), True, True))
        elif rule.startswith("%"):
            perms, sep, pattern = rule[1:].partition("~")
            perms_up = perms.upper()
            if not sep or not perms_up or set(perms_up) - {"R", "W"}:
                raise AclError(_modifier_error(rule, "Syntax error"))
            user.keys.append(
                _KeyPattern(
                    pattern.encode("utf-8", "surrogateescape"), "R" in perms_up, "W" in perms_up
                )
            )
        elif low == "allchannels" or rule == "&*":
            user.all_channels = True
            user.channels = []
        elif low == "resetchannels":
            user.all_channels = False
            user.channels = []
        elif rule.startswith("&"):
            if user.all_channels:
                raise AclError(
                    _modifier_error(
                        rule,
                        "Adding a pattern after the * pattern (or the 'allchannels' flag) is "
                        "not valid and does not have any effect. Try 'resetchannels' to start "
                        "with an empty list of channels",
                    )
                )
            channel = rule[1:].encode("utf-8", "surrogateescape")
            if channel not in user.channels:
                user.channels.append(channel)
        elif low in ("allcommands", "+@all"):
            user.command_rules = ["+@all"]
        elif low in ("nocommands", "-@all"):
            user.command_rules = []
        elif rule[:1] in ("+", "-"):
            self._check_command_rule(rule)
            user.command_rules.append(rule.lower())
        elif low == "reset":
            fresh = User(user.name)
            user.__dict__.update(fresh.__dict__)
        elif low in ("sanitize-payload", "skip-sanitize-payload"):
            pass
        else:
            raise AclError(_modifier_error(rule, "Syntax error"))

    def _check_command_rule(self, rule: str) -> None:
        body = rule[1:]
        if body.startswith("@"):
            if body[1:].lower() not in CATEGORIES and body[1:].lower() != "all":
                raise AclError(_modifier_error(rule, "Unknown command or category name in ACL"))
            return
        name = body.split("|", 1)[0].upper()
        if name not in self.categories:
            raise AclError(_modifier_error(rule, "Unknown command or category name in ACL"))

    def _compile(self, user: User) -> None:
        allowed: set[str] = set()
        allowed_sub: set[str] = set()
        denied_sub: set[str] = set()
        for rule in user.command_rules:
            add = rule[0] == "+"
            body = rule[1:]
            if body.startswith("@"):
                cat = body[1:]
                names = {n for n, cats in self.categories.items() if cat == "all" or cat in cats}
                if add:
                    allowed |= names
                else:
                    allowed -= names
                continue
            name, _, sub = body.upper().partition("|")
            if sub:
                full = f"{name}|{sub}"
                (allowed_sub if add else denied_sub).add(full)
                (denied_sub if add else allowed_sub).discard(full)
                continue
            if add:
                allowed.add(name)
            else:
                allowed.discard(name)
            allowed_sub = {s for s in allowed_sub if not s.startswith(name + "|")}
            denied_sub = {s for s in denied_sub if not s.startswith(name + "|")}
        user.allowed = frozenset(allowed)
        user.allowed_sub = frozenset(allowed_sub)
        user.denied_sub = frozenset(denied_sub)
        user.every_command = allowed >= set(self.categories)

    # -- files ------------------------------------------------------------------------------
    def load_file(self, path: Path) -> None:
        """Replace every user with the file's (``default`` is recreated if missing).

        Either the whole file applies or nothing does; the error names the line.
        """
        fresh = AclStore(self.categories)
        seen: set[str] = set()
        for lineno, raw in enumerate(path.read_text().splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            words = line.split()
            if words[0] != "user" or len(words) < 2:
                raise CommandError(f"{path}:{lineno}: should start with user keyword")
            if words[1] in seen:
                raise CommandError(f"{path}:{lineno}: Duplicate user '{words[1]}' found")
            seen.add(words[1])
            try:
                fresh.setuser(words[1], ["reset", *words[2:]])
            except CommandError as exc:
                raise CommandError(f"{path}:{lineno}: {exc.message}") from None
        with self._lock:
            self.users = fresh.users

    def save_file(self, path: Path) -> None:
        """Publish every user to ``path`` atomically (:func:`store.files.atomic_write`)."""
        text = "".join(u.describe() + "\n" for u in self.users.values())
        atomic_write_bytes(path, text.encode())

    def check_command(self, user: User, name: str, sub: bytes | None) -> None:
        if not user.can_run(name, sub):
            shown = name.lower()
            if (
                sub is not None
                and f"{name}|{sub.decode('utf-8', 'replace').upper()}" in user.denied_sub
            ):
                shown += "|" + sub.decode("utf-8", "replace").lower()
            raise NoPermError(f"User {user.name} has no permissions to run the '{shown}' command")


def no_key_permission() -> NoPermError:
    return NoPermError("No permissions to access a key")


def generate_password(bits: int = 256) -> str:
    return secrets.token_hex((bits + 7) // 8)


def _modifier_error(rule: str, reason: str) -> str:
    return f"Error in ACL SETUSER modifier '{rule}': {reason}"


def _copy(user: User) -> User:
    return User(
        name=user.name,
        enabled=user.enabled,
        nopass=user.nopass,
        passwords=list(user.passwords),
        keys=list(user.keys),
        all_channels=user.all_channels,
        channels=list(user.channels),
        command_rules=list(user.command_rules),
    )
