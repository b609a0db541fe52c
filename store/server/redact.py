"""Secrets kept out of MONITOR and SLOWLOG, as Redis 7.4 keeps them out.

Redis replaces the secret arguments of a command by ``(redacted)`` before it reaches
monitors or the slow log (``redactClientCommandArgument``): every argument of AUTH, the
user name and password after ``HELLO ... AUTH``, every argument after ``ACL SETUSER``, and
the value of ``CONFIG SET`` for a sensitive parameter. :func:`redact` does the same.
"""

from __future__ import annotations

__all__ = ["REDACTED", "redact"]

REDACTED = b"(redacted)"
# CONFIG SET parameters whose value is a secret (Redis's "sensitive" configs).
_SENSITIVE_CONFIGS = frozenset(
    {
        b"requirepass",
        b"masterauth",
        b"masteruser",
        b"tls-key-file-pass",
        b"tls-client-key-file-pass",
    }
)


def redact(args: list[bytes]) -> list[bytes]:
    """``args`` with secret arguments replaced (the same list when there are none)."""
    name = args[0].upper()
    if name == b"AUTH":
        return [args[0]] + [REDACTED] * (len(args) - 1)
    if name == b"HELLO":
        out = list(args)
        i = 2
        while i < len(out):
            opt = out[i].upper()
            if opt == b"AUTH":
                for j in (i + 1, i + 2):
                    if j < len(out):
                        out[j] = REDACTED
                i += 3
            elif opt == b"SETNAME":
                i += 2
            else:
                i += 1
        return out
    if len(args) > 2 and name == b"ACL" and args[1].upper() == b"SETUSER":
        return args[:2] + [REDACTED] * (len(args) - 2)
    if len(args) > 3 and name == b"CONFIG" and args[1].upper() == b"SET":
        out = list(args)
        for i in range(2, len(out) - 1, 2):
            if out[i].lower() in _SENSITIVE_CONFIGS:
                out[i + 1] = REDACTED
        return out
    return args
