"""FT.SEARCH's parse reuse: a request that differs only in PARAMS values reuses a parse.

``parse_ft_search`` keeps parsed requests keyed by their arguments without the PARAMS
values. Held here: whatever the arguments (PARAMS anywhere, ``PARAMS`` as a RETURN or
SORTBY name, odd or bad counts, duplicate names, several PARAMS, none), the reused parse
equals a full parse of the same arguments, errors included; the plain KNN request is
reused; a request without PARAMS is reused under its whole arguments, never a shape's.
"""

from __future__ import annotations

import dataclasses
import random

import pytest

from store.errors import QuerySyntaxError
from store.index import search_args
from store.index.search_args import _parse_ft_search, parse_ft_search

NAMES = [b"B", b"name", b"PARAMS", b"params", b"2", b"score"]


def _clause(rng: random.Random) -> list[bytes]:
    """One option clause, mostly well formed; names that look like keywords or counts."""
    kind = rng.randrange(8)
    if kind == 0:
        return [rng.choice([b"NOCONTENT", b"WITHSCORES", b"VERBATIM"])]
    if kind == 1:
        return [b"LIMIT", b"0", rng.choice([b"10", b"2", b"x"])]
    if kind == 2:
        names = [rng.choice(NAMES) for _ in range(rng.randrange(0, 4))]
        return [b"RETURN", str(len(names)).encode(), *names]
    if kind == 3:
        return [b"SORTBY", rng.choice(NAMES), *rng.choice([[], [b"DESC"]])]
    if kind == 4:
        return [b"DIALECT", rng.choice([b"2", b"3", b"9"])]
    if kind == 5:
        return [b"TIMEOUT", b"100"]
    names = [rng.choice(NAMES) for _ in range(rng.randrange(0, 3))]
    out = [rng.choice([b"PARAMS", b"params"]), str(2 * len(names) + (rng.random() < 0.1)).encode()]
    for name in names:
        out += [name, rng.randbytes(rng.randrange(0, 8))]
    return out


def _full(argv: list[bytes]) -> object:
    try:
        return search_args._parse_ft_search(argv)[0]
    except QuerySyntaxError as exc:
        return ("error", str(exc))


def _reused(argv: list[bytes]) -> object:
    try:
        return parse_ft_search(argv)
    except QuerySyntaxError as exc:
        return ("error", str(exc))


def _random_request(rng: random.Random) -> list[bytes]:
    argv = [b"*=>[KNN 10 @vec $B AS score]"]
    for _ in range(rng.randrange(0, 5)):
        argv += _clause(rng)
    return argv


def _with_new_values(argv: list[bytes], rng: random.Random) -> list[bytes]:
    """The same request with fresh bytes wherever a PARAMS value could be."""
    out = list(argv)
    shape = search_args.params_shape(out)
    if shape is not None:
        at, end = shape[1]
        for i in range(at + 3, end, 2):
            out[i] = rng.randbytes(rng.randrange(0, 8))
    return out


def test_a_reused_parse_equals_a_full_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_args, "_shapes", {})
    monkeypatch.setattr(search_args, "_plain", {})
    full_parses = []
    full = search_args._parse_ft_search
    monkeypatch.setattr(
        search_args, "_parse_ft_search", lambda argv: full_parses.append(1) or full(argv)
    )
    rng = random.Random(5)
    reused = tricky = plain = 0
    for _ in range(4000):
        argv = _random_request(rng)
        first = _reused(argv)
        assert first == _full(argv), argv
        shape = search_args.params_shape(argv)
        keeps = not isinstance(first, tuple)  # errors are never kept
        if shape is not None:  # a shape is kept if its PARAMS span is the one parsed
            keeps = keeps and full(argv)[1] == shape[1]
        tricky += shape is not None and not keeps and not isinstance(first, tuple)
        again = _with_new_values(argv, rng)
        before = len(full_parses)
        assert _reused(again) == _full(again), again
        was_reused = len(full_parses) == before + 1  # _full's own parse only
        assert was_reused == keeps, argv
        reused += was_reused
        plain += was_reused and shape is None
    assert reused > 500 and tricky >= 3  # both paths ran, and the misleading shapes
    assert plain > 300  # and requests without PARAMS, kept under their whole arguments


def test_the_plain_knn_request_is_reused_with_its_new_vector(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(search_args, "_shapes", {})
    calls = []
    full = search_args._parse_ft_search
    monkeypatch.setattr(search_args, "_parse_ft_search", lambda argv: calls.append(1) or full(argv))
    query = [b"*=>[KNN 10 @vec $B]", b"PARAMS", b"2", b"B", b"", b"NOCONTENT", b"DIALECT", b"2"]
    for i in range(5):
        query[4] = bytes([i]) * 16
        request = parse_ft_search(query)
        assert request.params == {b"B": bytes([i]) * 16}
        assert request.nocontent and request.dialect == 2
    assert len(calls) == 1


def test_with_params_is_replace() -> None:
    request = _parse_ft_search([b"hello", b"RETURN", b"1", b"f", b"LIMIT", b"1", b"2"])[0]
    params = {b"a": b"1"}
    assert request.with_params(params) == dataclasses.replace(request, params=params)
    assert request.params == {}


def test_the_kept_shapes_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_args, "_shapes", {})
    monkeypatch.setattr(search_args, "_plain", {})
    for i in range(search_args.SHAPES_KEPT * 3):
        parse_ft_search([f"q{i}".encode(), b"PARAMS", b"2", b"B", b"v"])
        parse_ft_search([f"q{i}".encode(), b"NOCONTENT"])
    assert 0 < len(search_args._shapes) <= search_args.SHAPES_KEPT
    assert 0 < len(search_args._plain) <= search_args.SHAPES_KEPT
    long = [b"x" * search_args.PLAIN_BYTES_KEPT, b"NOCONTENT"]
    assert parse_ft_search(long) == parse_ft_search(long)
    assert tuple(long) not in search_args._plain


def test_a_malformed_params_list_never_takes_a_shapes_parse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``q PARAMS 2 B`` (a value short) spells the shape key of ``q PARAMS 2 B v``."""
    monkeypatch.setattr(search_args, "_shapes", {})
    monkeypatch.setattr(search_args, "_plain", {})
    parse_ft_search([b"q", b"PARAMS", b"2", b"B", b"v"])
    with pytest.raises(QuerySyntaxError):
        parse_ft_search([b"q", b"PARAMS", b"2", b"B"])
