"""Types of the C module built from ``request_c.c`` (see there for the contract)."""

def complete_commands(
    data: bytes, pos: int, limit: int, max_count: int, max_bulk: int
) -> tuple[list[list[bytes]], int]: ...
