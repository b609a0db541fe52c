"""Argument parsing helpers shared by command handlers, with Redis's error texts."""

from __future__ import annotations

import math

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


def add_float(current: float, increment: float) -> float:
    """``current + increment``, refused as Redis does when the sum is not finite.

    memvec keeps doubles where Redis keeps long doubles, so an increment such as ``1e400``
    (finite for Redis) is refused here too.
    """
    result = current + increment
    if not math.isfinite(result):
        raise CommandError("increment would produce NaN or Infinity")
    return result


def format_float(value: float) -> bytes:
    """Format like Redis's ``%.17g`` with trailing zeros removed (INCRBYFLOAT style)."""
    if value == int(value) and abs(value) < 1e17:
        return str(int(value)).encode()
    return repr(value).encode()
