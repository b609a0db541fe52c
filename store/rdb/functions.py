"""FUNCTION DUMP / RESTORE payloads: every library's code in the RDB function format.

A payload is, per library, the opcode ``RDB_OPCODE_FUNCTION2`` (245) and the library's
code as an RDB string (LZF-compressed past 20 bytes, as Redis writes it), then the
2-byte RDB version and the CRC64 of everything before, as DUMP's. Redis writes libraries
in its dictionary's order; memvec by library name (byte-identical for one library).
"""

from __future__ import annotations

from .crc64 import crc64
from .payload import RDB_VERSION, verify
from .primitives import PayloadError, Reader, string_bytes

__all__ = ["FunctionPayloadError", "dump_functions", "load_functions"]

OPCODE_FUNCTION2 = 245
OPCODE_FUNCTION_PRE_GA = 246


class FunctionPayloadError(ValueError):
    """The payload is not one FUNCTION RESTORE takes; ``str()`` is the peer's text."""


def dump_functions(codes: list[bytes]) -> bytes:
    """The FUNCTION DUMP payload of these libraries' code."""
    body = b"".join(bytes([OPCODE_FUNCTION2]) + string_bytes(code) for code in codes)
    body += RDB_VERSION.to_bytes(2, "little")
    return body + crc64(body).to_bytes(8, "little")


def load_functions(payload: bytes) -> list[bytes]:
    """The libraries' code in a FUNCTION DUMP payload, checked as the peer checks it."""
    if not verify(payload):
        raise FunctionPayloadError("DUMP payload version or checksum are wrong")
    r = Reader(payload[:-10])
    codes = []
    try:
        while r.pos < len(r.data):
            opcode = r.byte()
            if opcode == OPCODE_FUNCTION_PRE_GA:
                raise FunctionPayloadError("Pre-GA function format not supported")
            if opcode != OPCODE_FUNCTION2:
                raise FunctionPayloadError("given type is not a function")
            codes.append(r.string())
    except PayloadError:
        raise FunctionPayloadError("payload is corrupted") from None
    return codes
