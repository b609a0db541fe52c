"""RedisJSON's error replies.

RedisJSON sends some errors without the usual ``ERR`` prefix (``Existing key has wrong
Redis type``, serde_json parse messages such as ``expected value at line 1 column 1``)
and others with it; :class:`JsonError` carries the whole line as RedisJSON sends it.
"""

from __future__ import annotations

from ..errors import CommandError

__all__ = ["JsonError", "path_missing", "path_missing_or", "wrong_key_type"]


class JsonError(CommandError):
    """An error whose ``message`` is the complete RESP error line (prefix included, if
    RedisJSON sends one).

    On the wire each character is sent as one byte, its code point's low byte, as the
    peer's module error path does (``é`` -> ``\xe9``, ``€`` -> ``\xac``)."""

    def resp_line(self) -> str:
        if self.message.isascii():
            return self.message
        # bytes >= 0x80 as lone surrogates: the RESP writer encodes with surrogateescape
        return "".join(
            chr(code) if code < 0x80 else chr(0xDC00 + code)
            for code in (ord(c) & 0xFF for c in self.message)
        )


def wrong_key_type() -> JsonError:
    return JsonError("Existing key has wrong Redis type")


def path_missing(path: str) -> JsonError:
    return JsonError(f"ERR Path '{path}' does not exist")


def path_missing_or(path: str, reason: str) -> JsonError:
    return JsonError(f"ERR Path '{path}' does not exist or {reason}")


NO_KEY = "ERR could not perform this operation on a key that doesn't exist"
