"""The JSON filter of ``POST /v1/search``, compiled safely to a RediSearch DIALECT 2 query.

Grammar (one object; its conditions are ANDed)::

    {"source": "stdlib/gzip"}                     tag equality
    {"source": ["stdlib/gzip", "stdlib/zlib"]}    tag set (any of)
    {"chunk": 3}                                  numeric equality
    {"chunk": {"gte": 1, "lt": 5}}                numeric range: gt|gte and/or lt|lte, or eq

Safety contract: no user string reaches the query unescaped. Field names must be
attributes of the index (from ``FT.INFO``) of type TAG or NUMERIC, else a
:class:`FilterError` naming the field; they and tag values are escaped the RediSearch way
(every ASCII character other than a letter or digit gets a backslash; non-ASCII letters
pass as they are); control characters and empty tag values are refused; numbers must be
finite and are printed by Python's ``repr`` of a float, which the query grammar reads back
exactly. The result is ``*`` for an empty filter, else a juxtaposition of clauses such as
``@source:{stdlib/gzip|stdlib/zlib} @chunk:[1.0 (5.0]``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..errors import FilterError

__all__ = ["FilterError", "compile_filter", "escape_field", "escape_tag"]

_RANGE_OPS = ("gt", "gte", "lt", "lte", "eq")


def _escape(text: str) -> str:
    out: list[str] = []
    for ch in text:
        if ch.isascii() and not ch.isalnum():
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def escape_field(name: str) -> str:
    return _escape(name)


def escape_tag(value: str, path: str = "filter") -> str:
    """A tag value escaped for ``@f:{...}``; raises :class:`FilterError` for unusable ones."""
    if not value.strip():
        raise FilterError(path, "a tag value must be a non-empty string")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise FilterError(path, "a tag value must not contain control characters")
    return _escape(value)


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FilterError(path, "must be a number")
    try:
        number = float(value)
    except OverflowError:
        raise FilterError(path, "must be a finite number") from None
    if not math.isfinite(number):
        raise FilterError(path, "must be a finite number")
    return number


def _range(field: str, cond: Mapping[str, Any], path: str) -> str:
    if not cond:
        raise FilterError(path, f"a range needs at least one of {', '.join(_RANGE_OPS)}")
    unknown = [op for op in cond if op not in _RANGE_OPS]
    if unknown:
        raise FilterError(f"{path}.{unknown[0]}", f"unknown operator; use {', '.join(_RANGE_OPS)}")
    if ("gt" in cond and "gte" in cond) or ("lt" in cond and "lte" in cond):
        raise FilterError(path, "give at most one lower (gt|gte) and one upper (lt|lte) bound")
    if "eq" in cond:
        if len(cond) > 1:
            raise FilterError(path, "eq cannot be combined with other operators")
        eq = repr(_number(cond["eq"], f"{path}.eq"))
        return f"@{escape_field(field)}:[{eq} {eq}]"
    low, high = "-inf", "+inf"
    for op in ("gt", "gte"):
        if op in cond:
            low = ("(" if op == "gt" else "") + repr(_number(cond[op], f"{path}.{op}"))
    for op in ("lt", "lte"):
        if op in cond:
            high = ("(" if op == "lt" else "") + repr(_number(cond[op], f"{path}.{op}"))
    return f"@{escape_field(field)}:[{low} {high}]"


def compile_filter(
    spec: Mapping[str, Any] | None,
    schema: Mapping[str, str],
    *,
    max_fields: int = 16,
    max_values: int = 100,
) -> str:
    """The query prefix for ``spec`` over an index whose attributes are ``schema``.

    ``schema`` maps attribute names to their types (``TAG``, ``NUMERIC``, ...). Raises
    :class:`FilterError` for anything it cannot compile safely.
    """
    if not spec:
        return "*"
    if not isinstance(spec, Mapping):
        raise FilterError("filter", "must be an object mapping field names to conditions")
    if len(spec) > max_fields:
        raise FilterError("filter", f"at most {max_fields} fields")
    clauses: list[str] = []
    for field, cond in spec.items():
        path = f"filter.{field}"
        kind = schema.get(field)
        if kind is None:
            filterable = sorted(n for n, t in schema.items() if t in ("TAG", "NUMERIC"))
            raise FilterError(
                path, f"unknown field {field!r}; filterable fields are {', '.join(filterable)}"
            )
        if kind == "TAG":
            values = [cond] if isinstance(cond, str) else cond
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise FilterError(path, f"{field} is a TAG field: give a string or list of strings")
            if not values:
                raise FilterError(path, "a tag set must hold at least one value")
            if len(values) > max_values:
                raise FilterError(path, f"a tag set holds at most {max_values} values")
            escaped = [escape_tag(v, path) for v in values]
            clauses.append(f"@{escape_field(field)}:{{{'|'.join(escaped)}}}")
        elif kind == "NUMERIC":
            if isinstance(cond, Mapping):
                clauses.append(_range(field, cond, path))
            else:
                eq = repr(_number(cond, path))
                clauses.append(f"@{escape_field(field)}:[{eq} {eq}]")
        else:
            raise FilterError(path, f"{field} is a {kind} field; filters apply to TAG and NUMERIC")
    return " ".join(clauses)
