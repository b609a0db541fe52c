"""Types of the C module built from ``flat_scan_c.c`` (see there for the contract)."""

def dot_distances(
    matrix: object,
    rows: int,
    dim: int,
    queries: object,
    count: int,
    out: object,
    threads: int,
    isa: int = -1,
) -> None: ...
def l2_distances(
    matrix: object,
    rows: int,
    dim: int,
    queries: object,
    count: int,
    out: object,
    threads: int,
    isa: int = -1,
) -> None: ...
