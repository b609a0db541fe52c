"""The value types beyond strings and hashes, and the contract each one keeps.

Strings (``bytes``) and hashes (``dict[bytes, bytes]``) are stored as plain Python values
(the hot path of a vector store). Every other Redis type (list, set, sorted set, stream,
JSON document, ...) is a subclass of :class:`TypedValue` living in its own module of this
package. A subclass:

* names itself: ``type_name`` is what ``TYPE`` and ``SCAN ... TYPE`` say (``"list"``,
  ``"zset"``, ``"ReJSON-RL"``); ``tag`` is its stable name in snapshots (never reuse one);
* is plain in memory: no locks, no clocks, no references to the engine. The keyspace owns
  it; handlers mutate it under the engine lock and then call ``Keyspace.touched(key)``;
* round-trips through :meth:`to_plain` / :meth:`from_plain`: plain data only (``bytes``,
  ``str``, ``int``, ``float``, ``bool``, ``None``, ``list``, ``tuple``, ``dict``), since
  snapshots are unpickled with every global refused (:mod:`store.persistence`);
* reports :meth:`is_empty` (an empty aggregate is deleted, as Redis deletes an empty list),
  :meth:`encoding` (``OBJECT ENCODING``, Redis's name for the same contents) and
  :meth:`memory_usage` (``MEMORY USAGE`` and ``maxmemory`` accounting, bytes, an estimate
  of what the contents cost here);
* copies itself deeply with :meth:`copy` (``COPY``).

Subclasses register themselves by ``tag`` when their module is imported;
:mod:`store.datatypes` imports every module, so a snapshot can always name its class.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from itertools import islice
from typing import Any, ClassVar, TypeVar

T = TypeVar("T", bound="TypedValue")

REGISTRY: dict[str, type[TypedValue]] = {}


SAMPLED_ABOVE = 1024
"""Values with more elements than this are sized from their first ``SAMPLED_ABOVE``."""


def sized_by_sample(elements: Collection[bytes], cost: Callable[[bytes], int]) -> int:
    """The summed ``cost`` of ``elements``: exact up to :data:`SAMPLED_ABOVE` of them,
    else the first ``SAMPLED_ABOVE``'s mean times the count. ``memory_usage`` runs in every
    dataset walk (INFO, maxmemory) and in MEMORY USAGE, where Redis samples too: summing a
    500,000-member set took 13-17 ms a call."""
    n = len(elements)
    if n <= SAMPLED_ABOVE:
        return sum(map(cost, elements))
    return sum(map(cost, islice(elements, SAMPLED_ABOVE))) * n // SAMPLED_ABOVE


class TypedValue:
    """Base of every non-string, non-hash value. See the module docstring."""

    __slots__ = ()

    type_name: ClassVar[str] = ""
    tag: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.tag:
            return  # an abstract intermediate class
        other = REGISTRY.get(cls.tag)
        if other is not None and other is not cls:
            raise RuntimeError(f"value tag {cls.tag!r} used by {other} and {cls}")
        REGISTRY[cls.tag] = cls

    def is_empty(self) -> bool:
        raise NotImplementedError

    def encoding(self) -> str:
        raise NotImplementedError

    def memory_usage(self) -> int:
        raise NotImplementedError

    def to_plain(self) -> Any:
        raise NotImplementedError

    @classmethod
    def from_plain(cls: type[T], plain: Any) -> T:
        raise NotImplementedError

    def copy(self: T) -> T:
        return self.from_plain(self.to_plain())


def to_tagged(value: TypedValue) -> tuple[str, Any]:
    """``(tag, plain)``: what a snapshot stores for ``value``."""
    return value.tag, value.to_plain()


def from_tagged(tagged: tuple[str, Any]) -> TypedValue:
    """The value a snapshot's ``(tag, plain)`` stands for; ``ValueError`` for an unknown
    tag (a snapshot written by a newer memvec)."""
    tag, plain = tagged
    cls = REGISTRY.get(tag)
    if cls is None:
        raise ValueError(
            f"snapshot holds a value of type {tag!r}, which this memvec does not know; "
            "load it with the memvec version that wrote it (or newer)"
        )
    return cls.from_plain(plain)
