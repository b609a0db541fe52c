"""store.json.path and store.json.codec against RedisJSON 2.8's behaviour (each expected
value below was read from the peer; tests/server/test_json_differential.py compares the
two servers live)."""

from __future__ import annotations

import pytest

from store.json import codec
from store.json.path import JsonPathError, compile, find, legacy_fixed, select

DOC = {"a": 1, "b": [1, 2.0, 3.5], "c": {"d": "x"}, "o": {"x": 1, "y": 2}}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", [DOC]),
        (".", [DOC]),
        ("a", [1]),
        ("$.b[-10]", [1]),  # below -len selects element 0
        ("$.b[10]", []),
        ("$.b[-10:1]", [1]),
        ("$.b[1:]", [2.0, 3.5]),
        ("$.b[::2]", [1, 3.5]),
        ("$.b[ 0 , 1 ]", [1, 2.0]),
        ("$.b[?@>1]", [2.0, 3.5]),
        ("$.o[?(@>1)]", [2]),
        ("$..[?(@>1)]", [2.0, 3.5, 2.0, 3.5, 2, 2]),
        ("$..*", [1, [1, 2.0, 3.5], {"d": "x"}, {"x": 1, "y": 2}, 1, 2.0, 3.5, "x", 1, 2]),
        ('$["a","c"]', [1, {"d": "x"}]),
        ('$.c[?(@=~"^x")]', ["x"]),
        ("$.b[?(@ > 1 && @ < 3 || @ == 1)]", [1, 2.0]),
        ("$.*[?(@.d)]", []),
        ("$[?(@.d=='x')]", [{"d": "x"}]),
        ("$.a ", [1]),
    ],
)
def test_select(path: str, expected: list[object]) -> None:
    assert find(DOC, path) == expected


def test_locations_and_static() -> None:
    assert [loc for _, loc in select(DOC, "$..x")] == [("o", "x")]
    # a filter over an object's values reports positions, as RedisJSON's tracker does
    assert [loc for _, loc in select(DOC, "$.o[?(@>1)]")] == [("o", 1)]
    assert compile("$.a[0]['b']").is_static
    assert not compile("$.a[0,1]").is_static
    assert not compile("$..a").is_static


def test_legacy_rewrite() -> None:
    assert [legacy_fixed(p) for p in (".", ".a", "a", "$", "$.a", "$foo", "$[0]")] == [
        "$", "$.a", "$.a", "$", "$.a", "$.$foo", "$[0]",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("$.a[", "Error occurred on position 4, \"$.a[ <<<<----\", expected one of the "
         "following: '<string>[,<string>,...]', '<number>', ['start:end:steps'], '*'."),
        ("$.x y", "Error occurred on position 4, \"$.x  ---->>>> y\", expected one of the "
         "following: EOI, '..'."),
        ("$.a..", "Error occurred on position 5, \"$.a.. <<<<----\", expected one of the "
         "following: <string>, '*'."),
    ],
)  # fmt: skip
def test_compile_errors(path: str, message: str) -> None:
    with pytest.raises(JsonPathError) as err:
        compile(path)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1.0"), (1e20, "1e20"), (1e15, "1000000000000000.0"), (1e16, "1e16"),
        (1e-5, "0.00001"), (1e-7, "1e-7"), (-0.0, "-0.0"), (1.2345678901234568e29,
        "1.2345678901234568e29"), (5e-324, "5e-324"), (123.456, "123.456"),
    ],
)  # fmt: skip
def test_doubles(value: float, text: str) -> None:
    assert codec.format_double(value) == text


def test_parse_and_dump() -> None:
    text = '[18446744073709551615, -9223372036854775809, 1.0e2, 12.50, "x\\u00e9\\n"]'
    value = codec.loads(text)
    assert codec.dumps(value) == '[18446744073709551615,-9.223372036854776e18,100.0,12.5,"xé\\n"]'
    assert codec.dumps({"a": [1, {}], "b": []}, "  ", "\n", " ") == (
        '{\n  "a": [\n    1,\n    {}\n  ],\n  "b": []\n}'
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{bad", "key must be a string at line 1 column 2"),
        ("[1,2", "EOF while parsing a list at line 1 column 4"),
        ("nul", "expected value at line 1 column 1"),
        ("1 2", "trailing characters at line 1 column 3"),
        ("[" * 128 + "]" * 128, "recursion limit exceeded at line 1 column 128"),
        ('{"a":' * 128 + "1" + "}" * 128, "recursion limit exceeded at line 1 column 636"),
        ("[1e400]", "number out of range at line 1 column 6"),
        ('"abc', "EOF while parsing a string at line 1 column 4"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(codec.JsonParseError) as err:
        codec.loads(text)
    assert str(err.value) == message
