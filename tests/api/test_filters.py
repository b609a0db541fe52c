"""The JSON filter compiler: escaping, validation, and a property: any tag value a user
sends parses back (with the store's own query parser) as exactly that value."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.api import compile_filter
from pipeline.api.filters import FilterError, escape_tag
from store.index.query import NumericFilter, TagFilter, parse_query

SCHEMA = {"source": "TAG", "chunk": "NUMERIC", "text": "TEXT", "vec": "VECTOR"}


def test_compile_filter_escapes_and_validates() -> None:
    schema = SCHEMA
    assert compile_filter(None, schema) == "*"
    assert compile_filter({"source": "a b-c"}, schema) == r"@source:{a\ b\-c}"
    assert compile_filter({"source": ["x|y", "é"]}, schema) == r"@source:{x\|y|é}"
    assert compile_filter({"chunk": {"gt": 1, "lte": 2.5}}, schema) == "@chunk:[(1.0 2.5]"
    assert compile_filter({"chunk": {"lt": 0}}, schema) == "@chunk:[-inf (0.0]"
    assert compile_filter({"chunk": 7}, schema) == "@chunk:[7.0 7.0]"
    assert escape_tag("}{)(@$*") == r"\}\{\)\(\@\$\*"
    bad: list[tuple[dict[str, Any], str, str]] = [
        ({"nope": "x"}, "filter.nope", "unknown field"),
        ({"text": "x"}, "filter.text", "TAG and NUMERIC"),
        ({"source": 3}, "filter.source", "TAG field"),
        ({"source": []}, "filter.source", "at least one"),
        ({"source": "a\x00"}, "filter.source", "control"),
        ({"source": " "}, "filter.source", "non-empty"),
        ({"chunk": "1"}, "filter.chunk", "number"),
        ({"chunk": True}, "filter.chunk", "number"),
        ({"chunk": {"gt": 1, "gte": 2}}, "filter.chunk", "at most one lower"),
        ({"chunk": {"between": 1}}, "filter.chunk.between", "unknown operator"),
        ({"chunk": {}}, "filter.chunk", "at least one"),
        ({"chunk": 10**400}, "filter.chunk", "finite"),
    ]
    for spec, field, rule in bad:
        with pytest.raises(FilterError) as e:
            compile_filter(spec, schema)
        assert e.value.field == field and rule in e.value.rule, (spec, e.value)


tag_values = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40
).filter(lambda v: v.strip() != "")


@settings(max_examples=300, deadline=None)
@given(values=st.lists(tag_values, min_size=1, max_size=4))
def test_any_tag_value_round_trips(values: list[str]) -> None:
    query = compile_filter({"source": values}, SCHEMA)
    parsed = parse_query(query.encode(), {})
    assert parsed.filter == TagFilter(
        b"source", frozenset(v.encode() for v in values), frozenset()
    ), query


@settings(max_examples=200, deadline=None)
@given(
    low=st.floats(allow_nan=False, allow_infinity=False),
    high=st.floats(allow_nan=False, allow_infinity=False),
)
def test_any_numeric_range_round_trips(low: float, high: float) -> None:
    query = compile_filter({"chunk": {"gt": low, "lte": high}}, SCHEMA)
    parsed = parse_query(query.encode(), {})
    assert isinstance(parsed.filter, NumericFilter)
    assert (parsed.filter.lo, parsed.filter.hi) == (low, high)
    assert (parsed.filter.lo_inclusive, parsed.filter.hi_inclusive) == (False, True)
