"""FT.SEARCH query strings (RediSearch DIALECT 2) parsed into a filter tree and a KNN clause.

This is the front door of the query package; the pieces live in one module each:

- :mod:`store.index.query.nodes`: the filter tree (:data:`FilterNode`), :class:`KnnClause`,
  :class:`ParsedQuery` and the ``make_and``/``make_or``/``make_not`` builders;
- :mod:`store.index.query.lexer`: tokens, :func:`unescape` and the token cursor;
- :mod:`store.index.query.parser`: the grammar and :func:`parse_query`;
- :mod:`store.index.query.knn`: the ``=>[KNN ...]`` clause;
- :mod:`store.index.query.vector_range`: the ``@f:[VECTOR_RANGE r $blob]`` leaf;
- :mod:`store.index.query.numbers`: ``$param`` values and range bounds read as numbers.

``parse_query(query, params)`` returns a :class:`ParsedQuery`: ``filter`` is a tree of
:data:`FilterNode` values with every ``$param`` substituted, and ``knn`` the
``=>[KNN ...]`` clause or ``None``. The tree is schema-agnostic: a filter naming a field the
index lacks, or a field of another type, simply matches nothing when evaluated (RediSearch
2.10 does the same). :class:`store.index.fields.FieldIndexes` evaluates it. Errors are
:class:`~store.errors.QuerySyntaxError` with RediSearch's texts.
"""

from __future__ import annotations

from .geo import GEO_UNITS, GeoFilter, make_geo_filter
from .lexer import unescape
from .nodes import (
    And,
    FilterNode,
    KnnClause,
    MatchAll,
    MatchNone,
    Not,
    NumericFilter,
    OptionalFilter,
    Or,
    ParsedQuery,
    TagFilter,
    TextFilter,
    VectorRange,
    has_window,
    make_and,
    make_not,
    make_or,
)
from .numbers import parse_numeric_param, parse_range_bound
from .parser import parse_query

__all__ = [
    "GEO_UNITS",
    "And",
    "FilterNode",
    "GeoFilter",
    "KnnClause",
    "MatchAll",
    "MatchNone",
    "Not",
    "NumericFilter",
    "OptionalFilter",
    "Or",
    "ParsedQuery",
    "TagFilter",
    "TextFilter",
    "VectorRange",
    "has_window",
    "make_and",
    "make_geo_filter",
    "make_not",
    "make_or",
    "parse_numeric_param",
    "parse_query",
    "parse_range_bound",
    "unescape",
]
