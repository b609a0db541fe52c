"""Types of the C module built from ``reply_c.c`` (see there for the contract)."""

from collections.abc import Callable
from typing import Any

def encode_into(
    buf: bytearray, value: Any, resp3: bool, fallback: Callable[[bytearray, Any, bool], None]
) -> None: ...
def register_simple_string(cls: type[str]) -> None: ...
