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
    select: object = None,
) -> None: ...

l2_distances = dot_distances
"""The same arguments; squared L2 distances into ``out`` (see flat_scan_c.c)."""
