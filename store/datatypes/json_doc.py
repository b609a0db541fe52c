"""JSON documents (RedisJSON's ``ReJSON-RL`` type): the value behind ``JSON.*`` commands.

The document is held as the Python value :func:`json.loads` gives (``dict`` with ``str``
keys in insertion order, ``list``, ``str``, ``int``, ``float``, ``bool``, ``None``), which
keeps RedisJSON's distinction between integers and doubles. Paths are evaluated by
:mod:`store.json.path`.
"""

from __future__ import annotations

import json
from typing import Any

from .base import TypedValue


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
        return 64 + len(json.dumps(self.root, separators=(",", ":"), ensure_ascii=False))

    def to_plain(self) -> Any:
        return self.root

    @classmethod
    def from_plain(cls, plain: Any) -> JsonDoc:
        return cls(plain)

    def copy(self) -> JsonDoc:
        return JsonDoc(json.loads(json.dumps(self.root)))
