"""``FT.EXPLAIN`` text for a parsed query, in RediSearch 2.10's layout.

RediSearch prints its query tree one node per line, children indented two spaces:
``INTERSECT {`` / ``UNION {`` / ``NOT{`` blocks, ``TAG:@f {`` with one value per line,
``NUMERIC {lo <= @f <= hi}`` (``%f`` numbers, ``<`` for exclusive bounds), ``<WILDCARD>``,
``PREFIX{t*}`` and the KNN node's description (``VECTOR {`` filter ``} => {K=...}`` when
the KNN has a filter). memvec renders the tree it
actually runs, which is the parser's simplified one (nested intersections flattened), and
text terms without RediSearch's stemming expansions (``+word(expanded)``): memvec does not
stem. Node types this module does not know are shown by their class name, never dropped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from .query import (
    And,
    KnnClause,
    MatchAll,
    MatchNone,
    Not,
    NumericFilter,
    OptionalFilter,
    Or,
    TagFilter,
)
from .query.geo import GeoFilter
from .query.nodes import TextFilter

__all__ = ["explain_lines"]


def explain_lines(
    node: Any,
    knn: KnnClause | None = None,
    knn_param: str = "",
    fold_tag: Callable[[bytes, bytes], bytes] | None = None,
) -> list[str]:
    """The lines of ``FT.EXPLAIN`` (without the trailing empty line) for a filter tree and
    its optional KNN clause; ``knn_param`` is the query's ``$name`` for the vector.
    ``fold_tag(field, value)`` folds tag values and patterns as their field stores them
    (RediSearch's parser folds them, so its explanation shows them folded)."""
    if fold_tag is not None:
        node = _fold_tags(node, fold_tag)
    if knn is None:
        return _lines(node, 0)
    score = knn.score_alias.decode("utf-8", "replace")
    field = knn.field.decode("utf-8", "replace")
    head = (
        f"VECTOR {{K={knn.k} nearest vectors to `${knn_param}` in vector index associated "
        f"with field @{field}, yields distance as `{score}`}}"
    )
    if isinstance(node, MatchAll):
        return [head]
    return ["VECTOR {", *_lines(node, 1), "} => " + head[len("VECTOR ") :]]


def _fold_tags(node: Any, fold: Callable[[bytes, bytes], bytes]) -> Any:
    if isinstance(node, TagFilter):
        f = node.field
        return dataclasses.replace(
            node,
            values=frozenset(fold(f, v) for v in node.values),
            prefixes=frozenset(fold(f, p) for p in node.prefixes),
            patterns=tuple((k, fold(f, t)) for k, t in node.patterns),
        )
    if isinstance(node, (And, Or)):
        children = tuple(_fold_tags(c, fold) for c in node.children)
        return dataclasses.replace(node, children=children)
    if isinstance(node, (Not, OptionalFilter)):
        return type(node)(_fold_tags(node.child, fold))
    return node


def _number(value: float) -> str:
    if value == float("inf"):
        return "inf"
    if value == float("-inf"):
        return "-inf"
    return f"{value:f}"


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _lines(node: Any, depth: int) -> list[str]:
    pad = "  " * depth
    if isinstance(node, MatchAll):
        return [pad + "<WILDCARD>"]
    if isinstance(node, MatchNone):
        return [pad + "<EMPTY>"]
    if isinstance(node, (And, Or)):
        word = "INTERSECT" if isinstance(node, And) else "UNION"
        out = [f"{pad}{word} {{"]
        for child in node.children:
            out += _lines(child, depth + 1)
        if isinstance(node, And):
            return [*out, pad + "}" + _attributes(node.weight, node.slop, node.inorder)]
        return [*out, pad + "}" + _attributes(node.weight)]
    if isinstance(node, Not):
        return [pad + "NOT{", *_lines(node.child, depth + 1), pad + "}"]
    if isinstance(node, OptionalFilter):
        return [pad + "OPTIONAL{", *_lines(node.child, depth + 1), pad + "}"]
    if isinstance(node, TagFilter):
        inner = [pad + "  " + _text(v) for v in sorted(node.values)]
        inner += [f"{pad}  " + _PATTERNS[k].format(_text(t)) for k, t in node.patterns]
        inner += [f"{pad}  PREFIX{{{_text(p)}*}}" for p in sorted(node.prefixes)]
        return [f"{pad}TAG:@{_text(node.field)} {{", *inner, pad + "}" + _attributes(node.weight)]
    if isinstance(node, NumericFilter):
        lo = "<=" if node.lo_inclusive else "<"
        hi = "<=" if node.hi_inclusive else "<"
        return [
            f"{pad}NUMERIC {{{_number(node.lo)} {lo} @{_text(node.field)} {hi} {_number(node.hi)}}}"
            + _attributes(node.weight)
        ]
    if isinstance(node, TextFilter):
        return _text_lines(node, pad)
    if isinstance(node, GeoFilter):
        return [
            f"{pad}GEO {_text(node.field)}:{{{node.lon:f},{node.lat:f} --> {node.radius:f} "
            f"{node.unit.decode()}}}"
        ]
    return [pad + type(node).__name__]


_PATTERNS = {"suffix": "SUFFIX{{*{}}}", "contains": "INFIX{{*{}*}}", "wildcard": "WILDCARD{{{}}}",
             "fuzzy": "FUZZY{{{}}}"}  # fmt: skip


def _attributes(weight: float, slop: int = -1, inorder: bool = False) -> str:
    """RediSearch's suffix for a node's non-default attributes (``QueryNode_DumpSds``)."""
    if weight == 1.0 and slop == -1 and not inorder:
        return ""
    out = " => {"
    if weight != 1.0:
        out += f" $weight: {weight:g};"
    if slop != -1:
        out += f" $slop: {slop};"
    if inorder or slop != -1:
        out += f" $inorder: {'true' if inorder else 'false'};"
    return out + " }"


def _text_lines(node: TextFilter, pad: str) -> list[str]:
    lines = _text_node_lines(node, pad)
    if node.weight == 1.0:
        return lines
    if node.prefix or node.pattern or node.exact or len(node.terms) > 1:
        lines[-1] += _attributes(node.weight)
    else:  # a token: RediSearch's own spelling, on the term's line
        at = 1 if node.expansions else 0
        lines[at] += f" => {{$weight: {node.weight:g};}}"
    return lines


def _text_node_lines(node: TextFilter, pad: str) -> list[str]:
    terms = [_text(t) for t in node.terms]
    if node.prefix and terms:
        terms[-1] = f"PREFIX{{{terms[-1]}*}}"
    if node.pattern and terms:
        terms[-1] = _PATTERNS[node.pattern].format(terms[-1])
    scope = ""
    if node.fields is not None:
        scope = "|".join("@" + _text(f) for f in node.fields) + ":"
    if node.expansions:
        inner = [f"{pad}  {scope}{terms[0]}"]
        inner += [f"{pad}  {scope}{_text(t)}(expanded)" for t in node.expansions]
        return [f"{pad}{scope}UNION {{", *inner, pad + "}"]
    if node.fields is not None:
        if len(terms) == 1 and not node.exact:
            return [f"{pad}{scope}{terms[0]}"]
        inner = [f"{pad}  {scope}{t}" for t in terms]
        return [f"{pad}{scope}EXACT {{", *inner, pad + "}"]
    if len(terms) == 1 and not node.exact:
        return [pad + terms[0]]
    return [pad + "EXACT {", *[pad + "  " + t for t in terms], pad + "}"]
