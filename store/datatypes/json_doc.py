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


def memory_of(value: Any) -> int:
    """JSON.DEBUG MEMORY's figure for ``value``: RedisJSON's ``get_memory`` formula
    (ijson's layout: small integers inline, strings by length, containers by slots),
    taking each container's capacity to be its length (RedisJSON's real capacity
    depends on how the container grew)."""
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
        return size + WORD_BYTES * (len(value) + 2) + sum(memory_of(v) for v in value)
    if not value:
        return size
    return (
        size
        + WORD_BYTES * (len(value) * 3 + 2)
        + sum(len(k.encode("utf-8", "surrogatepass")) + memory_of(v) for k, v in value.items())
    )


class JsonDoc(TypedValue):
    """One JSON document at a key. ``root`` is the parsed value (see the module docstring)."""

    __slots__ = ("root",)

    type_name = "ReJSON-RL"
    tag = "json"

    def __init__(self, root: Any = None) -> None:
        self.root = root

    def is_empty(self) -> bool:
        return False  # a JSON key holds a document until JSON.DEL removes the key

    def encoding(self) -> str:
        return "raw"

    def memory_usage(self) -> int:
        return 64 + memory_of(self.root)

    def to_plain(self) -> Any:
        return self.root

    @classmethod
    def from_plain(cls, plain: Any) -> JsonDoc:
        return cls(plain)

    def copy(self) -> JsonDoc:
        return JsonDoc(copy.deepcopy(self.root))
