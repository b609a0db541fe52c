"""Types of the C module built from ``hash_blobs_c.c`` (see there for the contract)."""

from collections.abc import Iterable
from typing import Any

def hash_blobs(
    labels: Iterable[int],
    label_to_key: dict[int, bytes],
    data: dict[bytes, Any],
    field: bytes,
    size: int,
    indexed: dict[int, tuple[Any, ...]] | None = None,
    at: int = -1,
) -> tuple[list[int], list[bytes]]: ...
