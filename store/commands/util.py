"""Argument parsing helpers shared by command handlers, with Redis's error texts."""

from __future__ import annotations

import math

from ..errors import CommandError

NOT_INTEGER = "value is not an integer or out of range"
NOT_FLOAT = "value is not a valid float"


def parse_int(raw: bytes, message: str = NOT_INTEGER) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise CommandError(message) from None
    if raw != str(value).encode() or not -(2**63) <= value < 2**63:
        raise CommandError(message)
    return value


def parse_float(raw: bytes, message: str = NOT_FLOAT) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise CommandError(message) from None
    if math.isnan(value):
        raise CommandError(message)
    return value


def format_float(value: float) -> bytes:
    """Format like Redis's ``%.17g`` with trailing zeros removed (INCRBYFLOAT style)."""
    if value == int(value) and abs(value) < 1e17:
        return str(int(value)).encode()
    return repr(value).encode()
