"""Types of the C module built from ``doc_rows_c.c`` (see there for the contract)."""

from collections.abc import Sequence

def rows(row_of: dict[int, int], labels: Sequence[int]) -> bytearray: ...
