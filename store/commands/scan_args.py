"""Parsing shared by SCAN and HSCAN: the cursor and the MATCH / COUNT / TYPE / NOVALUES
options, with Redis's error texts (``scanGenericCommand``, ``parseScanCursorOrReply``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import CommandError, SyntaxErr
from ..keyspace import glob_to_regex
from .util import parse_int

UINT64_MAX = 2**64 - 1
_DIGITS = re.compile(rb"[0-9]+")
# every Redis type name: TYPE accepts them all, even those memvec never holds
KNOWN_TYPES = frozenset({"string", "list", "set", "zset", "hash", "stream"})


def typed_names() -> set[str]:
    """TYPE names of the registered value types, lower case (``rejson-rl``)."""
    from ..datatypes import REGISTRY

    return {cls.type_name.lower() for cls in REGISTRY.values()}


@dataclass
class ScanArgs:
    """What one SCAN/HSCAN call asked for. ``pattern`` None matches everything."""

    count: int = 10
    pattern: re.Pattern[bytes] | None = None
    want_type: str | None = None
    novalues: bool = False

    def matches(self, name: bytes) -> bool:
        return self.pattern is None or self.pattern.fullmatch(name) is not None


def parse_cursor(raw: bytes) -> int:
    """An unsigned 64-bit decimal cursor; anything else is ``ERR invalid cursor``."""
    if not _DIGITS.fullmatch(raw) or int(raw) > UINT64_MAX:
        raise CommandError("invalid cursor")
    return int(raw)


def parse_scan_options(args: list[bytes], start: int, *, hash_scan: bool) -> ScanArgs:
    """The options from ``args[start:]``. TYPE is SCAN's, NOVALUES is HSCAN's."""
    out = ScanArgs()
    i = start
    while i < len(args):
        opt = args[i].upper()
        has_value = i + 1 < len(args)
        if opt == b"COUNT" and has_value:
            out.count = parse_int(args[i + 1])
            if out.count < 1:
                raise SyntaxErr()
            i += 2
        elif opt == b"MATCH" and has_value:
            out.pattern = None if args[i + 1] == b"*" else glob_to_regex(args[i + 1])
            i += 2
        elif opt == b"TYPE" and has_value and not hash_scan:
            name = args[i + 1].decode("utf-8", "replace")
            if name.lower() not in KNOWN_TYPES and name.lower() not in typed_names():
                raise CommandError(f"unknown type name '{name}'")
            out.want_type = name.lower()
            i += 2
        elif opt == b"NOVALUES":
            if not hash_scan:
                raise CommandError("NOVALUES option can only be used in HSCAN")
            out.novalues = True
            i += 1
        else:
            raise SyntaxErr()
    return out
