"""Argument parsing helpers shared by command handlers, with Redis's error texts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import CommandError
from ..numbers import INT64_MAX, INT64_MIN, parse_float64, parse_int64

NOT_INTEGER = "value is not an integer or out of range"
NOT_FLOAT = "value is not a valid float"


def parse_int(raw: bytes, message: str = NOT_INTEGER) -> int:
    """A Redis integer argument (``string2ll``: signed 64-bit, canonical text only)."""
    value = parse_int64(raw)
    if value is None:
        raise CommandError(message)
    return value


def expiry_deadline_ms(
    command: bytes, amount: int, unit_ms: int, *, absolute: bool, now_ms: int
) -> int:
    """The deadline ``amount`` units from now (or at ``amount`` units if ``absolute``).

    Raises Redis's ``invalid expire time in '<command>' command`` when the deadline in
    milliseconds leaves the signed 64-bit range, as Redis's ``expireGenericCommand`` and
    ``SET`` do: the log and snapshots store deadlines as 64-bit integers.
    """
    deadline = amount * unit_ms + (0 if absolute else now_ms)
    if not INT64_MIN <= amount * unit_ms <= INT64_MAX or not INT64_MIN <= deadline <= INT64_MAX:
        name = command.decode("utf-8", "replace").lower()
        raise CommandError(f"invalid expire time in '{name}' command")
    return deadline


def parse_float(raw: bytes, message: str = NOT_FLOAT) -> float:
    """A Redis float argument (``string2ld``); ``inf`` is accepted, NaN is not."""
    value = parse_float64(raw)
    if value is None:
        raise CommandError(message)
    return value


def format_float(value: float) -> bytes:
    """Format like Redis's ``%.17g`` with trailing zeros removed (INCRBYFLOAT style)."""
    if value == int(value) and abs(value) < 1e17:
        return str(int(value)).encode()
    return repr(value).encode()


@dataclass(frozen=True)
class ExpiryCondition:
    """EXPIRE's and HEXPIRE's ``NX | XX | GT | LT`` (Redis 7): when a new deadline applies."""

    nx: bool = False
    xx: bool = False
    gt: bool = False
    lt: bool = False

    @classmethod
    def parse(cls, flags: Sequence[bytes]) -> ExpiryCondition:
        """The flags in any case and order; Redis's errors for unknown or clashing ones."""
        seen = {b"NX": False, b"XX": False, b"GT": False, b"LT": False}
        for flag in flags:
            f = flag.upper()
            if f not in seen:
                raise CommandError(f"Unsupported option {flag.decode('utf-8', 'replace')}")
            seen[f] = True
        cond = cls(seen[b"NX"], seen[b"XX"], seen[b"GT"], seen[b"LT"])
        if cond.nx and (cond.xx or cond.gt or cond.lt):
            raise CommandError("NX and XX, GT or LT options at the same time are not compatible")
        if cond.gt and cond.lt:
            raise CommandError("GT and LT options at the same time are not compatible")
        return cond

    def allows(self, current: int | None, deadline_ms: int) -> bool:
        """Whether ``deadline_ms`` replaces ``current`` (None: no deadline, i.e. infinite)."""
        if self.nx and current is not None:
            return False
        if self.xx and current is None:
            return False
        if self.gt and (current is None or deadline_ms <= current):
            return False
        return not (self.lt and current is not None and deadline_ms >= current)


def numkeys_finder(at: int) -> Callable[[list[bytes]], list[bytes]]:
    """The keys of a ``numkeys key [key ...]`` call whose numkeys is ``args[at]``
    (LMPOP, SINTERCARD, ...): a ``find_keys`` for :func:`store.commands.table.command`.
    A malformed count finds no keys (the handler answers the error)."""

    def find(args: list[bytes]) -> list[bytes]:
        n = parse_int64(args[at]) if len(args) > at else None
        if n is None or n < 1:
            return []
        return args[at + 1 : at + 1 + n]

    return find
