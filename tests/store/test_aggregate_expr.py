"""The FT.AGGREGATE expression language, values and reducers, without a server.

The grammar's precedence is RediSearch's lemon grammar (checked against the peer in
tests/server/test_aggregate_differential.py); here the parser is checked against a small
reference evaluator over random arithmetic trees, and each function and reducer against
hand-worked cases taken from RediSearch 2.10's replies.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.aggregate.evaluate import MissingValue, evaluate
from store.aggregate.expr import (
    Call,
    ExpressionSyntaxError,
    Literal,
    Operation,
    Predicate,
    Property,
    parse_expression,
    properties,
)
from store.aggregate.functions import EvalError, RowInfo
from store.aggregate.reducers import make_reducer
from store.aggregate.request import Apply, Arrange, GroupBy, Load, parse_aggregate
from store.aggregate.values import compare, equal, format_number, to_number
from store.errors import QuerySyntaxError

INFO = RowInfo()


def ev(text: str, **row: object) -> object:
    values = {k.encode(): (v.encode() if isinstance(v, str) else v) for k, v in row.items()}
    return evaluate(parse_expression(text.encode()), values, INFO)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.0, b"3"),
        (-0.0, b"0"),
        (2.5, b"2.5"),
        (1 / 3, b"0.333333333333"),
        (1e20, b"1e+20"),  # past 64 bits: %.12g
        (1e300, b"1e+300"),
        (math.inf, b"inf"),
        (-math.inf, b"-inf"),
        (math.nan, b"nan"),
        (-math.nan, b"-nan"),
        (123456789012345.0, b"123456789012345"),
        (0.1 + 0.2, b"0.3"),
    ],
)
def test_number_formatting(value: float, text: bytes) -> None:
    assert format_number(value) == text


def test_precedence_is_redisearch_s() -> None:
    # * and ^ share a level, left associative: (2*3)^2
    assert ev("2*3^2") == 36.0
    assert ev("2^3^2") == 64.0
    assert ev("1 + 2 * 3") == 7.0
    assert ev("(1 + 2) * 3") == 9.0
    # ! binds looser than comparisons: !(1 == 0)
    assert ev("!1 == 0") == 1.0
    # && and || share the lowest level, left associative: (1 || 0) && 0
    assert ev("1 || 0 && 0") == 0.0
    assert ev("-7 % 3") == -1.0
    assert ev("7 % -1") == 0.0
    assert math.isnan(ev("1 / 0"))  # type: ignore[arg-type]
    assert math.isnan(ev("1 % 0"))  # type: ignore[arg-type]


def test_literals_and_lexing() -> None:
    assert parse_expression(b"'a\\'b'") == Literal(b"a'b")
    assert parse_expression(b'"x"') == Literal(b"x")
    assert parse_expression(b"NULL") == Literal(None)
    assert parse_expression(b"-inf") == Literal(-math.inf)
    assert parse_expression(b"@a_b") == Property(b"a_b")
    assert parse_expression(b"upper(@t)") == Call("upper", (Property(b"t"),))
    assert parse_expression(b"@x - 1") == Operation("-", Property(b"x"), Literal(1.0))
    assert parse_expression(b"@x > 1") == Predicate(">", Property(b"x"), Literal(1.0))
    assert properties(parse_expression(b"@a + upper(@b)")) == [b"a", b"b"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"1 +", "Syntax error at offset 2 near '1'"),
        (b"@year+", "Syntax error at offset 5 near 'year'"),
        (b"foo(1)", "Unknown function name 'foo'"),
        (b"bar", "Unknown symbol 'bar'"),
        (b"inf", "Unknown symbol 'inf'"),
    ],
)
def test_syntax_errors(text: bytes, message: str) -> None:
    with pytest.raises(ExpressionSyntaxError) as info:
        parse_expression(text)
    assert str(info.value) == message


def test_adjacent_minus_lexes_as_a_negative_number() -> None:
    """RediSearch's longest-match lexer reads ``@x-1`` as ``@x`` then ``-1``: an error."""
    with pytest.raises(ExpressionSyntaxError):
        parse_expression(b"@x-1")


def test_functions() -> None:
    assert ev("upper(@t)", t="Heat") == b"HEAT"
    assert ev("lower(@t)", t="HeAt") == b"heat"
    assert ev("upper(3)") is None
    assert ev("substr(@t, 1, 3)", t="heat wave") == b"eat"
    assert ev("substr(@t, -3, 2)", t="heat wave") == b"av"
    assert ev("substr(@t, 2, -1)", t="heat wave") == b"at wav"
    assert ev("substr(@t, 100, 2)", t="abc") == b""
    assert ev('format("%s-%s|%%", @t, 3)', t="a") == b"a-3|%"
    assert ev('split(@t, " ")', t=" a b  c ") == [b"a", b"b", b"c"]
    assert ev("split(@t)", t="a, b,,c") == [b"a", b"b", b"c"]
    assert ev('startswith(@t, "he")', t="heat") == 1.0
    assert ev('contains(@t, "a")', t="banana") == 3.0
    assert ev('contains(@t, "")', t="abc") == 4.0
    assert ev("strlen(@t)", t="héat") == 5.0  # bytes, as in C
    assert ev('to_number("12.5")') == 12.5
    assert ev("to_str(3.5)") == b"3.5"
    assert ev("exists(@nope)") == 0.0
    assert ev("exists(@t)", t="x") == 1.0
    assert ev("abs(-2)") == 2.0
    assert ev("ceil(2.1)") == 3.0
    assert ev("floor(-2.1)") == -3.0
    assert ev("log(0)") == -math.inf
    assert math.copysign(1.0, ev("sqrt(-1)")) < 0  # type: ignore[arg-type]  # -nan, like glibc
    assert ev("year(0)") == 1970.0
    assert ev("hour(3700)") == 3600.0
    assert ev("timefmt(0)") == b"1970-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("@nope + 1", "nope: has no value, consider using EXISTS if applicable"),
        ("@t + 1", "Could not convert value to a number"),
        ("@t > 3", "Error converting string 'abc' to number"),
        ("upper(@t, 2)", "Invalid arguments for function 'upper'"),
        (
            "strlen(3)",
            "Invalid type (1) for argument 0 in function 'strlen'. "
            "VALIDATE_ARG__STRING(v, 0) was false.",
        ),
        ('format("%d", 1)', "Unknown format specifier passed"),
        ('format("%s")', "Not enough arguments for format"),
        ('to_number("x")', "to_number: cannot convert string 'x'"),
    ],
)
def test_evaluation_errors(text: str, message: str) -> None:
    with pytest.raises(EvalError) as info:
        ev(text, t="abc")
    assert str(info.value) == message


def test_missing_value_is_its_own_error() -> None:
    with pytest.raises(MissingValue):
        ev("@nope")


def test_comparisons() -> None:
    assert compare(1.0, b"2") < 0
    assert compare(b"b", b"a") > 0
    assert compare(None, b"a") < 0
    assert equal(3.0, b"3")
    assert not equal(3.0, b"x")
    assert ev('"a" == "a"') == 1.0
    assert ev("@t == 10", t="10") == 1.0
    assert to_number(b" 12") == 12.0
    assert to_number(b"12 ") is None
    assert to_number(b"x") is None


# -- random arithmetic against a reference evaluator --------------------------------------

_LEAVES = st.integers(min_value=0, max_value=9).map(float)


def _trees(depth: int) -> st.SearchStrategy[tuple[str, float]]:
    if depth == 0:
        return _LEAVES.map(lambda v: (format_number(v).decode(), v))
    sub = _trees(depth - 1)
    return st.one_of(
        sub,
        st.tuples(sub, st.sampled_from(["+", "-", "*"]), sub).map(
            lambda t: (f"({t[0][0]}) {t[1]} ({t[2][0]})", _ref(t[1], t[0][1], t[2][1]))
        ),
    )


def _ref(op: str, a: float, b: float) -> float:
    return {"+": a + b, "-": a - b, "*": a * b}[op]


@settings(max_examples=80, deadline=None)
@given(_trees(3))
def test_parenthesised_arithmetic_matches_reference(case: tuple[str, float]) -> None:
    text, expected = case
    assert ev(text) == expected


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["+", "-"]), _LEAVES), min_size=1, max_size=6), _LEAVES)
def test_same_level_operators_associate_left(ops: list[tuple[str, float]], first: float) -> None:
    text = format_number(first).decode()
    expected = first
    for op, value in ops:
        text += f" {op} {format_number(value).decode()}"
        expected = expected + value if op == "+" else expected - value
    assert ev(text) == expected


# -- reducers and request parsing --------------------------------------------------------


def _reduce(name: bytes, args: list[bytes], rows: list[dict[bytes, object]]) -> object:
    spec = make_reducer(name, args)
    acc = spec.factory()
    for row in rows:
        acc.add(row)  # type: ignore[arg-type]
    return acc.result()


def test_reducers() -> None:
    rows: list[dict[bytes, object]] = [
        {b"p": 10.5, b"y": 1995.0, b"t": b"a"},
        {b"p": 7.25, b"y": 2010.0, b"t": b"b"},
        {b"y": 1967.0, b"t": b"c"},
    ]
    assert _reduce(b"COUNT", [], rows) == 3.0
    assert _reduce(b"sum", [b"@p"], rows) == 17.75
    assert _reduce(b"AVG", [b"p"], rows) == 8.875
    assert _reduce(b"MIN", [b"@p"], rows) == 7.25
    assert _reduce(b"MAX", [b"@p"], []) == 0.0
    assert format_number(_reduce(b"STDDEV", [b"@p"], rows)) == b"2.29809703886"  # type: ignore[arg-type]
    assert _reduce(b"QUANTILE", [b"@p", b"0.5"], rows) == 7.25
    assert _reduce(b"COUNT_DISTINCT", [b"@y"], rows + rows) == 3.0
    assert _reduce(b"TOLIST", [b"@t"], rows + rows) == [b"a", b"b", b"c"]
    assert _reduce(b"FIRST_VALUE", [b"@t", b"BY", b"@y"], rows) == b"c"
    assert _reduce(b"FIRST_VALUE", [b"@t", b"BY", b"@y", b"DESC"], rows) == b"b"
    assert len(_reduce(b"RANDOM_SAMPLE", [b"@t", b"2"], rows)) == 2  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        (b"NOPE", [], "No such reducer: NOPE"),
        (b"COUNT", [b"@x"], "Count accepts 0 values only"),
        (b"SUM", [], "Missing arguments for SUM"),
        (b"QUANTILE", [b"@p", b"2"], "Percentage must be between 0.0 and 1.0"),
        (b"RANDOM_SAMPLE", [b"@p", b"2000"], "Sample size too large"),
        (
            b"FIRST_VALUE",
            [b"@t", b"BY", b"@y", b"UP"],
            "Unknown argument `UP` at position 3 for FIRST_VALUE",
        ),
    ],
)
def test_reducer_errors(name: bytes, args: list[bytes], message: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        make_reducer(name, args)
    assert str(info.value) == message


def test_request_steps() -> None:
    req = parse_aggregate(
        [b"*", b"LOAD", b"3", b"@t", b"AS", b"x", b"LIMIT", b"0", b"5", b"APPLY", b"1", b"AS", b"o",
         b"SORTBY", b"2", b"@o", b"DESC", b"GROUPBY", b"1", b"@x", b"REDUCE", b"COUNT", b"0",
         b"WITHCURSOR", b"COUNT", b"7", b"MAXIDLE", b"100"]
    )  # fmt: skip
    load, arrange, apply, group = req.steps
    assert load == Load(((b"x", b"t"),))
    # the SORTBY joins the LIMIT's step, as RediSearch merges them per segment
    assert arrange == Arrange(keys=((b"o", False),), offset=0, limit=5)
    assert isinstance(apply, Apply) and apply.alias == b"o"
    assert isinstance(group, GroupBy) and group.reducers[0].alias == b"__generated_aliascount"
    assert (req.cursor, req.cursor_count, req.maxidle_ms) == (True, 7, 100)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "No query string provided"),
        ([b"*", b"FOO"], "Unknown argument `FOO` at position 1 for <main>"),
        ([b"*", b"LOAD", b"x"], "Bad arguments for LOAD: SUCCESS"),
        ([b"*", b"SORTBY", b"2", b"@a", b"UP"], "MISSING ASC or DESC after sort field (UP)"),
        (
            [b"*", b"GROUPBY", b"1", b"g"],
            "Bad arguments for GROUPBY: Unknown property `g`. Did you mean `@g`?",
        ),
        (
            [b"*", b"WITHCURSOR", b"COUNT", b"0"],
            "Bad arguments for COUNT: Value is outside acceptable bounds",
        ),
        ([b"*", b"APPLY", b"1 +"], "Syntax error at offset 2 near '1'"),
    ],
)
def test_request_errors(args: list[bytes], message: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_aggregate(args)
    assert str(info.value) == message
