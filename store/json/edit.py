"""Changing a document at a location :func:`store.json.path.select` reported.

Locations are walked as RedisJSON's ``update``/``replace`` walk them: an object is
indexed by the element's text (so a filter over an object's values, which reports
positions, addresses keys ``"0"``, ``"1"``...), an array by the element as an index.
A location that no longer leads anywhere (an earlier change in the same command removed
it) changes nothing and reports False.

Removing a key from an object moves the object's *last* key into the removed key's place
(:func:`remove_key`): RedisJSON's objects (ijson) swap-remove, and the order shows in
every later reply.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .path import Location

__all__ = ["MISSING", "delete_at", "get_at", "remove_key", "set_at", "update_at"]

MISSING: Any = object()


def _step(node: Any, elem: str | int) -> tuple[Any, Any]:
    """``(container, key)`` for ``elem`` in ``node``, or ``(None, None)``."""
    if isinstance(node, dict):
        key = elem if isinstance(elem, str) else str(elem)
        return (node, key) if key in node else (None, None)
    if isinstance(node, list):
        if isinstance(elem, str):
            if not elem.isdigit():
                return None, None
            elem = int(elem)
        return (node, elem) if 0 <= elem < len(node) else (None, None)
    return None, None


def get_at(root: Any, loc: Location) -> Any:
    """The value at ``loc``, or :data:`MISSING`."""
    node = root
    for elem in loc:
        container, key = _step(node, elem)
        if container is None:
            return MISSING
        node = container[key]
    return node


def update_at(root: Any, loc: Location, fn: Callable[[Any], Any]) -> bool:
    """Replace the value at a non-empty ``loc`` by ``fn(value)``; False if ``loc`` does
    not lead to a value."""
    parent = get_at(root, loc[:-1])
    container, key = _step(parent, loc[-1]) if parent is not MISSING else (None, None)
    if container is None:
        return False
    container[key] = fn(container[key])
    return True


def delete_at(root: Any, loc: Location) -> bool:
    """Remove the value at a non-empty ``loc``; False if there is none."""
    parent = get_at(root, loc[:-1])
    container, key = _step(parent, loc[-1]) if parent is not MISSING else (None, None)
    if container is None:
        return False
    if isinstance(container, dict):
        remove_key(container, str(key))
    else:
        del container[key]
    return True


def remove_key(obj: dict[str, Any], key: str) -> None:
    """Delete ``key`` from ``obj`` as ijson does: the last key takes its position."""
    last = next(reversed(obj))
    if last == key:
        del obj[key]
        return
    items = list(obj.items())
    at = next(i for i, (k, _) in enumerate(items) if k == key)
    items[at] = items[-1]
    items.pop()
    obj.clear()
    obj.update(items)


def set_at(root: Any, loc: Location, value: Any) -> bool:
    """Replace the value at a non-empty ``loc`` by ``value``; False if there is none."""
    return update_at(root, loc, lambda _old: value)
