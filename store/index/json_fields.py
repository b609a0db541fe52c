"""JSON documents as FT indexes ON JSON read them, and as their replies show them.

Two directions, both RediSearch 2.10's rules (checked against the peer with RedisJSON):

**Indexing.** :func:`project` turns a :class:`~store.datatypes.json_doc.JsonDoc` into the
field mapping :class:`~store.index.fields.FieldIndexes` and the vector indexes take,
keyed by each field's JSONPath (``FieldSpec.name``), values
:data:`~store.index.fields.FieldValue`. Each path is evaluated with
:func:`store.json.path.find`; its matches (an array match stands for its elements) give:

* TAG: strings, and booleans as ``true``/``false``; ``null`` is skipped. An array holding
  anything else: ``TEXT/TAG fields can only contain strings or nulls``.
* TEXT: strings (array elements are joined by a space); ``null`` skipped.
* NUMERIC: numbers (an array gives several: a range matches if any is in it); ``null``
  skipped. An array holding anything else: ``NUMERIC fields can only contain numeric or
  nulls``.
* VECTOR: an array of DIM numbers, stored as little-endian FLOAT32; a path selecting
  several arrays (``$.vecs[*]``) gives the document several vectors
  (:mod:`store.index.multi_vector`).

A value of the wrong JSON type rejects the whole document with RediSearch's message
(``Invalid JSON type: String type can represent only TEXT, TAG, GEO or GEOMETRY field``,
``Invalid vector length. Expected 2, got 3``, ...): :func:`project` raises
:class:`~store.errors.DocumentRejected` and the index counts a failure, as for hashes.
A path that matches nothing, or does not compile, leaves the field empty. Identifiers
that do not start with ``$`` select nothing, as RediSearch 2.10 indexes nothing for them.
memvec differs in one place (docs/compatibility.md): the peer's ``N/A`` message for a
vector holding booleans or arrays is ``Invalid vector element at index i`` here.

**Replies.** :func:`reply_value` formats what FT.SEARCH ``RETURN``/``SORTBY`` and
FT.AGGREGATE ``LOAD`` give for a path or a field of a JSON index: the first match, a
string as its text, a boolean as ``1``/``0``, a number or container as RedisJSON writes
it; with ``DIALECT 3`` every match, as a JSON array. ``$`` is the whole document. A JSON
``null`` is a nil value among RETURN fields and no value for SORTBY or LOAD
(:func:`reply_fields`). :class:`LoadAllRow` is FT.AGGREGATE's row under ``LOAD *``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..datatypes.json_doc import JsonDoc
from ..errors import DocumentRejected
from ..json.codec import dumps
from ..json.path import find
from .fields import FieldValue
from .schema import FieldSpec, FieldType, IndexDefinition
from .vector_types import round_to_type

__all__ = [
    "LoadAllRow",
    "format_scalar",
    "matches",
    "project",
    "reply_fields",
    "reply_names",
    "reply_value",
    "sort_value",
]

_TYPE_ERRORS = {
    str: "Invalid JSON type: String type can represent only TEXT, TAG, GEO or GEOMETRY field",
    bool: "Invalid JSON type: Boolean type can be represent only TAG field",
    float: "Invalid JSON type: Numeric type can represent only NUMERIC field",
    dict: "Invalid JSON type: Object type can represent only GEOMETRY fields",
}
_ONLY_STRINGS = "TEXT/TAG fields can only contain strings or nulls"
_ONLY_NUMBERS = "NUMERIC fields can only contain numeric or nulls"
_NUMBER_TYPES = {int, float}


def matches(root: Any, path: bytes) -> list[Any]:
    """What ``path`` selects in ``root``; nothing for a path that does not compile or does
    not start with ``$`` (see the module docstring)."""
    text = path.decode("utf-8", "surrogateescape")
    if not text.startswith("$"):
        return []
    try:
        return find(root, text)
    except ValueError:
        return []


def project(
    definition: IndexDefinition, doc: JsonDoc, only: Iterable[FieldSpec] | None = None
) -> dict[bytes, FieldValue]:
    """The document's values per indexed field (module docstring), or per field of
    ``only``; raises :class:`DocumentRejected` with RediSearch's message for a value of
    the wrong type."""
    out: dict[bytes, FieldValue] = {}
    for spec in definition.fields if only is None else only:
        found = matches(doc.root, spec.name)
        if not found:
            continue
        value = _field_value(spec, found)
        if value is not None:
            out[spec.name] = value
    return out


def _kind(value: Any) -> type:
    if isinstance(value, bool):
        return bool
    if isinstance(value, int | float):
        return float
    return type(value)


def _reject(spec: FieldSpec, message: str) -> DocumentRejected:
    return DocumentRejected(message, field=spec.name)


def _field_value(spec: FieldSpec, found: list[Any]) -> FieldValue | None:
    if spec.type is FieldType.VECTOR:
        return _vector(spec, found)
    if spec.sortable and found[0] == []:  # RediSearch fails it too (its message: "N/A")
        raise _reject(spec, "Empty array for SORTABLE field on JSON document")
    wanted = float if spec.type is FieldType.NUMERIC else str
    values: list[bytes] = []
    for match in found:
        if isinstance(match, list):
            for element in match:
                if element is None:
                    continue
                if _kind(element) is not wanted:
                    numeric = spec.type is FieldType.NUMERIC
                    raise _reject(spec, _ONLY_NUMBERS if numeric else _ONLY_STRINGS)
                values.append(_scalar_bytes(element))
            continue
        if match is None:
            continue
        kind = _kind(match)
        if kind is bool and spec.type is FieldType.TAG:
            values.append(b"true" if match else b"false")
        elif kind is wanted:
            values.append(_scalar_bytes(match))
        else:
            raise _reject(spec, _TYPE_ERRORS.get(kind, _ONLY_STRINGS))
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def _scalar_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return repr(float(value)).encode() if isinstance(value, float) else str(value).encode()


def _vector(spec: FieldSpec, found: list[Any]) -> FieldValue | None:
    assert spec.vector is not None
    present = [m for m in found if m is not None]
    if not present:
        return None
    if len(present) > 1:  # a multi-vector field (store.index.multi_vector)
        return tuple(_one_vector(spec, one) for one in present)
    return _one_vector(spec, present[0])


def _one_vector(spec: FieldSpec, value: Any) -> bytes:
    assert spec.vector is not None
    if not isinstance(value, list):
        raise _reject(spec, _TYPE_ERRORS.get(_kind(value), _ONLY_STRINGS))
    if not value:
        raise _reject(spec, "Empty array for vector field on JSON document")
    if not set(map(type, value)) <= _NUMBER_TYPES:  # one C-level pass in the common case
        for i, element in enumerate(value):
            if _kind(element) is not float:
                raise _reject(spec, f"Invalid vector element at index {i}")
    if len(value) != spec.vector.dim:
        raise _reject(spec, f"Invalid vector length. Expected {spec.vector.dim}, got {len(value)}")
    array = round_to_type(np.asarray(value, dtype="<f4"), spec.vector.type)
    if not np.isfinite(array).all():
        raise _reject(spec, f"Invalid vector element at index {int(np.argmin(np.isfinite(array)))}")
    return array.tobytes()


# -- replies ------------------------------------------------------------------------------
def format_scalar(value: Any) -> bytes:
    """One JSON value as a reply field: a string's text, a boolean ``1``/``0``, a number
    as RediSearch prints a double (``%.12g``: ``3``, ``0.3``, ``1e+20``), else JSON."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, bool):
        return b"1" if value else b"0"
    if isinstance(value, int | float):
        text = b"%.12g" % float(value)
        return b"0" if text == b"-0" else text
    return dumps(value).encode("utf-8", "surrogatepass")


def sort_value(definition: IndexDefinition, doc: JsonDoc, name: bytes) -> bytes | None:
    """What SORTBY ``name`` (a field's alias or path) sorts ``doc`` by and shows, and what
    an aggregation row holds for it: a SORTABLE field's first value (an array's first
    element, as RediSearch's sorting vector keeps it), else :func:`reply_value`."""
    spec = definition.field_by_alias(name) or next(
        (f for f in definition.fields if f.name == name), None
    )
    if spec is None or not spec.sortable:
        return reply_value(definition, doc, name)
    found = matches(doc.root, spec.name)
    first = found[0] if found else None
    if isinstance(first, list):
        first = first[0] if first else None
    return None if first is None else format_scalar(first)


def reply_value(
    definition: IndexDefinition, doc: JsonDoc, name: bytes, *, dialect: int | None = None
) -> bytes | None:
    """What a reply shows for ``name`` (``$``, a JSONPath, or a field's alias or path) of
    ``doc``; None when it selects nothing or a JSON ``null`` (see :func:`reply_fields`)."""
    found = _lookup(definition, doc, name)
    if dialect == 3:
        return dumps(found).encode("utf-8", "surrogatepass") if found else None
    if not found or found[0] is None:
        return None
    if name == b"$":
        return dumps(found[0]).encode("utf-8", "surrogatepass")
    return format_scalar(found[0])


def _lookup(definition: IndexDefinition, doc: JsonDoc, name: bytes) -> list[Any]:
    path = name
    if not name.startswith(b"$"):
        spec = definition.field_by_alias(name)
        if spec is None:
            return []
        path = spec.name
    return matches(doc.root, path)


def reply_names(request: Any) -> tuple[bytes | None, list[bytes]]:
    """The names an FT.SEARCH reply reads from a JSON document: the SORTBY field (shown
    before the rest, as RediSearch does; None without SORTBY), and the RETURN names, else
    ``$`` (nothing with NOCONTENT)."""
    sort_name = None if request.sortby is None else request.sortby[0]
    if request.nocontent:
        return sort_name, []
    if request.return_fields is None:
        return sort_name, [b"$"]
    return sort_name, [name for name, _ in request.return_fields if name != sort_name]


def reply_fields(
    definition: IndexDefinition,
    doc: JsonDoc,
    names: Iterable[bytes],
    *,
    sort_name: bytes | None = None,
    dialect: int | None = None,
) -> dict[bytes, bytes | None]:
    """The reply fields of ``doc``: ``sort_name`` first when it has a value, then each of
    ``names`` that selects something, in order. A name selecting a JSON ``null`` is a nil
    reply among ``names`` and left out as ``sort_name`` (RediSearch does both)."""
    out: dict[bytes, bytes | None] = {}
    if sort_name is not None:
        value = sort_value(definition, doc, sort_name)
        if value is not None:
            out[sort_name] = value
    for name in names:
        value = reply_value(definition, doc, name, dialect=dialect)
        if value is not None:
            out[name] = value
        elif _lookup(definition, doc, name)[:1] == [None]:
            out[name] = None
    return out


class LoadAllRow(dict[bytes, bytes]):
    """An FT.AGGREGATE source row of a JSON document under ``LOAD *``: lookups see every
    path the pipeline loads, while iterating its items gives ``$`` only, the one field
    ``LOAD *`` shows for a JSON document."""

    def items(self) -> Any:
        return {b"$": self[b"$"]}.items() if b"$" in self else {}.items()
