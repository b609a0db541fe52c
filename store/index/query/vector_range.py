"""The ``@field:[VECTOR_RANGE radius $blob]`` leaf of a query, parsed into a :class:`VectorRange`.

Grammar (RediSearch ``src/query_parser/v2``, DIALECT 2 and later)::

    range := '@field:' '[' 'VECTOR_RANGE' (number | $radius) $blob ']' ('=>' attrs)*
    attrs := '{' $name ':' value (';' $name ':' value)* '}'

``VECTOR_RANGE`` is case-insensitive. The leaf is an ordinary filter: it may be combined
with others in any order, inside parentheses, under ``|`` and ``-``, and may precede a
``=>[KNN ...]`` clause (whose candidates it then filters). Attributes, names
case-insensitive: ``$YIELD_DISTANCE_AS`` (the last one given wins, as in RediSearch),
``$EPSILON`` (validated by the index: only HNSW takes it) and the generic ``$weight``,
``$slop``, ``$inorder``, ``$phonetic``. Errors, with RediSearch's texts: a negative radius,
``$EF_RUNTIME`` (``Invalid option``), hybrid attributes, ``$EPSILON`` twice, any other
attribute (``Invalid attribute x``).
"""

from __future__ import annotations

from typing import NoReturn

from ...errors import QuerySyntaxError
from .lexer import LATE_ITERATORS, Tok, TokenCursor
from .nodes import And, FilterNode, Not, OptionalFilter, Or, VectorRange
from .numbers import parse_numeric_param

_GENERIC_ATTRIBUTES = {b"weight", b"slop", b"inorder", b"phonetic"}
_HYBRID_ATTRIBUTES = {b"hybrid_policy", b"batch_size"}


def vector_params_error(message: str) -> QuerySyntaxError:
    return QuerySyntaxError(f"Error parsing vector similarity parameters: {message}")


class RangeParser(TokenCursor):
    """Parses a VECTOR_RANGE leaf; mixed into the query parser, which has read ``@f:[``."""

    def vector_range(self, field: bytes) -> VectorRange:
        self.take("TERM")  # VECTOR_RANGE, checked by the caller
        radius_tok = self.take("NUMBER", "ATTR")
        blob = self.take("ATTR").text
        # resolved after parsing, the blob first (RediSearch's order)
        vector = self.resolve(lambda: self.param(blob), b"")
        if radius_tok.kind == "ATTR":
            name = radius_tok.text
            radius = self.resolve(lambda: parse_numeric_param(self.param(name), name), 0.0)
        else:
            radius = radius_tok.value
        if radius < 0:
            negative = QuerySyntaxError(
                "Error parsing vector similarity query: negative radius "
                f"({_shown_radius(radius_tok, radius)}) given in a range query"
            )

            def refuse() -> NoReturn:
                raise negative

            radius = self.resolve(refuse, 0.0, late=LATE_ITERATORS)
        self.take("RSQB")
        epsilon: bytes | None = None
        yield_as: bytes | None = None
        while self.kind() == "ARROW" and self.kind(1) == "LB":
            self.i += 1
            for name, value in self.attributes():
                lowered = name.lower()
                if lowered == b"yield_distance_as":
                    yield_as = value
                elif lowered == b"epsilon":
                    if epsilon is not None:
                        raise vector_params_error("Parameter was specified twice")
                    epsilon = value
                elif lowered == b"ef_runtime":
                    raise vector_params_error("Invalid option")
                elif lowered in _HYBRID_ATTRIBUTES:
                    raise vector_params_error(
                        "hybrid query attributes were sent for a non-hybrid query"
                    )
                elif lowered not in _GENERIC_ATTRIBUTES:
                    raise QuerySyntaxError(f"Invalid attribute {name.decode('utf-8', 'replace')}")
        return VectorRange(field, radius, vector, epsilon, yield_as)


def _shown_radius(tok: Tok, radius: float) -> str:
    if tok.kind == "NUMBER":
        return tok.shown()
    return f"{radius:g}"


def distance_names(node: FilterNode) -> list[bytes]:
    """The ``$YIELD_DISTANCE_AS`` names of the range leaves of ``node``, in query order."""
    if isinstance(node, VectorRange):
        return [] if node.yield_as is None else [node.yield_as]
    if isinstance(node, Not | OptionalFilter):
        return distance_names(node.child)
    if isinstance(node, And | Or):
        return [name for child in node.children for name in distance_names(child)]
    return []
