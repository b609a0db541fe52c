"""Types of the C module built from ``vecsim_c.c`` (see there for the contract)."""

def distances(
    blobs: list[bytes], query: bytes, dim: int, metric: int, kernel: int
) -> list[float]: ...
def nearest(
    blobs: list[bytes], query: bytes, dim: int, metric: int, kernel: int, k: int
) -> tuple[list[int], list[float]]: ...
