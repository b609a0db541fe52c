"""JSON documents (RedisJSON's ``ReJSON-RL`` type): the value behind ``JSON.*`` commands.

The document is held as the Python value :func:`json.loads` gives (``dict`` with ``str``
keys in insertion order, ``list``, ``str``, ``int``, ``float``, ``bool``, ``None``), which
keeps RedisJSON's distinction between integers and doubles. Paths are evaluated by
:mod:`store.json.path`.
"""

from __future__ import annotations

import copy
from typing import Any

from .base import TypedValue

IVALUE_BYTES = 8  # RedisJSON's IValue: one tagged pointer
WORD_BYTES = 8


def capacity(length: int) -> int:
    """ijson's container capacity for ``length`` items as parsing and appending grow it
    (measured on the peer: 4, 8, 16, 32, ...). A container that shrank keeps its larger
    capacity on the peer; here it is measured by its length."""
    return 0 if length == 0 else max(4, 1 << (length - 1).bit_length())


def memory_of(value: Any) -> int:
    """JSON.DEBUG MEMORY's figure for ``value``: RedisJSON's ``get_memory`` formula
    (ijson's layout: small integers inline, strings by length, containers by slots of
    their :func:`capacity`)."""
    size = IVALUE_BYTES
    if value is None or isinstance(value, bool):
        return size
    if isinstance(value, int):
        if -128 <= value <= 383:
            return size
        if -8_388_608 < value <= 8_388_607:
            return size + 4
        return size + 16
    if isinstance(value, float):
        return size + 16
    if isinstance(value, str):
        return size + len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, list):
        if not value:
            return size
        return size + WORD_BYTES * (capacity(len(value)) + 2) + sum(memory_of(v) for v in value)
    if not value:
        return size
    return (
        size
        + WORD_BYTES * (capacity(len(value)) * 3 + 2)
        + sum(len(k.encode("utf-8", "surrogatepass")) + memory_of(v) for k, v in value.items())
    )


class JsonDoc(TypedValue):
    """One JSON document at a key. ``root`` is the parsed value (see the module docstring).

    :meth:`memory_usage` is cached (a 384-float document takes ~170 us to measure and
    INFO/maxmemory walk every key): assigning ``root`` resets it, and a handler that
    changes the document in place calls :meth:`changed`.
    """

    __slots__ = ("_memory", "_root")

    type_name = "ReJSON-RL"
    tag = "json"

    def __init__(self, root: Any = None) -> None:
        self._root = root
        self._memory: int | None = None

    @property
    def root(self) -> Any:
        return self._root

    @root.setter
    def root(self, value: Any) -> None:
        self._root = value
        self._memory = None

    def changed(self) -> None:
        """The document was changed in place: forget the cached size."""
        self._memory = None

    def is_empty(self) -> bool:
        return False  # a JSON key holds a document until JSON.DEL removes the key

    def encoding(self) -> str:
        return "raw"

    def memory_usage(self) -> int:
        if self._memory is None:
            self._memory = 64 + memory_of(self._root)
        return self._memory

    def to_plain(self) -> Any:
        return self._root

    @classmethod
    def from_plain(cls, plain: Any) -> JsonDoc:
        return cls(plain)

    def copy(self) -> JsonDoc:
        return JsonDoc(copy.deepcopy(self._root))
