"""Types of the C++ module built from ``hnsw_graph.cpp`` (see there for the contract)."""

from collections.abc import Callable, Sequence
from typing import Any

class Graph:
    def __init__(
        self, dim: int, metric: str, max_elements: int, m: int, ef_construction: int, seed: int
    ) -> None: ...
    @property
    def dim(self) -> int: ...
    @property
    def element_count(self) -> int: ...
    @property
    def max_elements(self) -> int: ...
    @property
    def metric(self) -> int: ...
    @property
    def code_bytes(self) -> int:
        """Bytes of a slot's codes block, the int8 copy of its values the walk reads."""
    def resize(self, max_elements: int) -> None: ...
    def add(
        self,
        labels: Sequence[int],
        values: list[bytes],
        threads: int = 1,
        replace_deleted: bool = False,
    ) -> None: ...
    def mark_deleted(self, label: int) -> None: ...
    def unmark_deleted(self, label: int) -> None: ...
    def is_deleted(self, label: int) -> bool: ...
    def ids(self) -> list[int]: ...
    def vector(self, label: int) -> bytes: ...
    def relink(self, label: int, values: bytes) -> bool: ...
    def search(
        self,
        query: bytes,
        k: int,
        ef: int,
        allowed: Callable[[int], bool] | None = None,
    ) -> list[tuple[int, float]]: ...
    def owned_bytes(self) -> int: ...
    def code_distance(self, label: int, query: bytes) -> float:
        """The walk's distance from ``query`` to ``label`` (its codes block)."""
    def save(self, path: str) -> None: ...
    def slot_values(self) -> list[bytes]: ...
    def load(self, path: str, values: list[bytes], max_elements: int) -> None: ...

class Walker:
    """Walks graphs on a thread of its own (see ``hnsw_graph.cpp``)."""

    def __init__(self, threads: int = 1) -> None: ...
    @property
    def fd(self) -> int: ...
    def submit(self, graph: Graph, query: bytes, k: int, ef: int, token: object) -> None: ...
    def take(self) -> list[tuple[object, list[tuple[int, float]], int]]: ...
    def pending(self) -> int: ...
    def stop(self) -> None: ...

def kept_ids_page(
    graph: Graph,
    request: bytes,
    at: int,
    want: int,
    ef: int,
    offset: int,
    num: int,
    resp3: bool,
    to_key: dict[int, bytes],
    data: dict[bytes, Any],
    expires: dict[bytes, int],
    field_expires: dict[bytes, Any],
    now_ms: int,
    lock: Any,
) -> bytes | list[tuple[int, float]] | None:
    """A kept plan's ids page walked from the vector at ``request[at:]`` (see
    ``hnsw_graph.cpp``, ``store.commands.plan_bytes``)."""

def walked_ids_page(
    graph: Graph,
    pairs: list[tuple[int, float]],
    want: int,
    offset: int,
    num: int,
    resp3: bool,
    to_key: dict[int, bytes],
    data: dict[bytes, Any],
    expires: dict[bytes, int],
    field_expires: dict[bytes, Any],
    now_ms: int,
    lock: Any,
) -> bytes | list[tuple[int, float]] | None:
    """``kept_ids_page`` for the pairs of a ``Walker``'s walk of ``want`` hits."""

def ids_page(
    pairs: list[tuple[int, float]],
    offset: int,
    num: int,
    resp3: bool,
    to_key: dict[int, bytes],
    data: dict[bytes, Any],
    expires: dict[bytes, int],
    field_expires: dict[bytes, Any],
    now_ms: int,
    lock: Any,
) -> bytes | None:
    """The ids page of ``pairs`` in their order (see ``hnsw_graph.cpp``)."""
