"""FT.SEARCH arguments: the query string and its options, parsed into a :class:`SearchRequest`.

``parse_ft_search(args)`` takes the arguments after the index name (the query string first)
as RESP ``bytes`` (``str`` accepted) and returns a frozen :class:`SearchRequest`;
``SearchRequest.parse_query()`` then parses the query string with the request's ``PARAMS``
(see :mod:`store.index.query`). Options follow RediSearch 2.10, in any order, keywords in
any case; error texts are RediSearch's.

Applied by the engine from the request: ``NOCONTENT``, ``RETURN n f [AS a]...`` (the last
one wins; ``RETURN 0`` means no fields), ``SORTBY f [ASC|DESC]``, ``LIMIT off num``
(default ``0 10``), ``WITHSCORES``, ``SCORER`` (case sensitive, as RediSearch's names
are; see :mod:`store.index.scoring`), ``EXPLAINSCORE``, ``INKEYS`` (only the named keys
can match), ``TIMEOUT ms`` (scoring stops when it passes and the documents scored so far
are returned, RediSearch's ``ON_TIMEOUT RETURN``; 0 means none). Folded into the parsed
query: ``PARAMS``, ``NOSTOPWORDS``, ``INFIELDS`` (terms without ``@field:`` search only
those fields), ``LANGUAGE`` (the stemmer of query terms), ``VERBATIM`` (no stemming),
``FILTER f min max`` (legacy numeric filter). Accepted, and with no effect
on the reply because memvec's behaviour already is what they ask or they only name a
default: ``WITHPAYLOADS`` and ``PAYLOAD`` (memvec
documents carry no payload; RediSearch too replies as if none had one), ``WITHSORTKEYS``,
``EXPANDER``, ``WITHCOUNT``, ``WITHOUTCOUNT``, ``FORMAT STRING``,
``DIALECT`` (every dialect is parsed with the DIALECT 2 grammar). ``SLOP n`` and
``INORDER`` restrict every intersection of the query but exact phrases to documents whose
terms lie within ``n`` intervening terms (in query order with INORDER), as RediSearch's
intersection iterator checks (:func:`store.index.score_tree.within_range`).
``GEOFILTER f lon lat radius unit`` is a :class:`~store.index.query.GeoFilter` and'ed to
the query like ``FILTER``; as in RediSearch 2.10, only the last GEOFILTER given applies.
Rejected with a message that says so: ``SUMMARIZE``, ``HIGHLIGHT``,
``WITHCURSOR``, ``FORMAT EXPAND``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from ..errors import QuerySyntaxError
from ..numbers import INT32_MAX, fits_int32, parse_int64
from .query import (
    GeoFilter,
    NumericFilter,
    ParsedQuery,
    make_and,
    make_geo_filter,
    parse_query,
    parse_range_bound,
)
from .schema import DEFAULT_STOPWORDS, LANGUAGES, IndexDefinition, as_bytes
from .stemming import DEFAULT_LANGUAGE

__all__ = [
    "MAX_SEARCH_RESULTS",
    "SCORERS",
    "ReturnField",
    "SearchRequest",
    "SortBy",
    "parse_ft_search",
]

MAX_SEARCH_RESULTS = 1_000_000
"""RediSearch's default MAXSEARCHRESULTS: the largest LIMIT offset and count."""

SCORERS = frozenset({b"TFIDF", b"TFIDF.DOCNORM", b"DISMAX", b"BM25", b"BM25STD", b"HAMMING",
                     b"DOCSCORE"})  # fmt: skip

_FLAGS = {
    b"NOCONTENT": "nocontent",
    b"VERBATIM": "verbatim",
    b"NOSTOPWORDS": "nostopwords",
    b"WITHSCORES": "withscores",
    b"WITHPAYLOADS": "withpayloads",
    b"WITHSORTKEYS": "withsortkeys",
    b"EXPLAINSCORE": "explainscore",
    b"INORDER": "inorder",
    b"WITHCOUNT": "",
    b"WITHOUTCOUNT": "",
}
_DOUBLE = re.compile(rb"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?)", re.I)
_UNSUPPORTED = {
    b"SUMMARIZE": "SUMMARIZE is not supported by memvec: request the fields with RETURN",
    b"HIGHLIGHT": "HIGHLIGHT is not supported by memvec: request the fields with RETURN",
    b"WITHCURSOR": "WITHCURSOR is not supported by FT.SEARCH: page with LIMIT",
}


class ReturnField(NamedTuple):
    """``RETURN`` entry: the hash field (or score alias) ``name``, replied as ``alias``."""

    name: bytes
    alias: bytes


class SortBy(NamedTuple):
    field: bytes
    ascending: bool = True


@dataclass(frozen=True)
class SearchRequest:
    """An FT.SEARCH request without its index name. ``params`` maps names (no ``$``)."""

    query: bytes
    params: Mapping[bytes, bytes] = field(default_factory=dict)
    nocontent: bool = False
    verbatim: bool = False
    nostopwords: bool = False
    withscores: bool = False
    withpayloads: bool = False
    withsortkeys: bool = False
    explainscore: bool = False
    inorder: bool = False
    return_fields: tuple[ReturnField, ...] | None = None
    sortby: SortBy | None = None
    offset: int = 0
    num: int = 10
    dialect: int | None = None
    timeout_ms: int | None = None
    slop: int | None = None
    language: bytes | None = None
    scorer: bytes | None = None
    expander: bytes | None = None
    payload: bytes | None = None
    inkeys: tuple[bytes, ...] | None = None
    infields: tuple[bytes, ...] | None = None
    numeric_filters: tuple[NumericFilter | GeoFilter, ...] = ()
    """FILTER and GEOFILTER arguments, and'ed to the query."""

    def with_params(self, params: Mapping[bytes, bytes]) -> SearchRequest:
        """This request with other PARAMS values (``dataclasses.replace`` without its
        field-by-field ``__init__``: a test holds the two equal)."""
        twin = object.__new__(SearchRequest)
        twin.__dict__.update(self.__dict__)
        twin.__dict__["params"] = params
        return twin

    @property
    def limit(self) -> tuple[int, int]:
        """``(offset, num)``: reply documents ``[offset, offset + num)`` of the results."""
        return self.offset, self.num

    def parse_query(
        self,
        stopwords: frozenset[bytes] | None = None,
        language: bytes | None = None,
        phonetic_fields: frozenset[bytes] = frozenset(),
    ) -> ParsedQuery:
        """The query string parsed with this request's PARAMS, INFIELDS and FILTERs.

        ``stopwords`` is the index's list (``IndexDefinition.stopwords``; RediSearch's
        default when omitted); NOSTOPWORDS overrides it with none. Terms are stemmed in
        the request's LANGUAGE, else ``language`` (the index's), else English; terms
        searching ``phonetic_fields`` (the index's PHONETIC aliases) expand phonetically.
        """
        if self.nostopwords:
            words: frozenset[bytes] = frozenset()
        else:
            words = DEFAULT_STOPWORDS if stopwords is None else stopwords
        parsed = parse_query(
            self.query,
            self.params,
            stopwords=words,
            text_fields=self.infields,
            language=None
            if self.verbatim
            else (self.language or language or DEFAULT_LANGUAGE).lower(),
            phonetic_fields=phonetic_fields,
        )
        if not self.numeric_filters:
            return parsed
        return ParsedQuery(make_and([parsed.filter, *self.numeric_filters]), parsed.knn)

    def check_sortby(self, definition: IndexDefinition, extra: Sequence[bytes] = ()) -> None:
        """Raise RediSearch's error if SORTBY names neither a schema field nor ``extra``.

        ``extra`` holds other sortable names, such as the KNN score alias. A name RETURN
        loads (a hash field outside the schema, an ``AS`` name) is refused too, as
        RediSearch 2.10 refuses it.
        """
        if self.sortby is None:
            return
        name = self.sortby.field
        known = {f.alias for f in definition.fields}
        if definition.on != "HASH":  # a JSON field also sorts by its path
            known |= {f.name for f in definition.fields}
        if name not in known and name not in extra:
            raise QuerySyntaxError(
                f"Property `{name.decode('utf-8', 'replace')}` not loaded nor in schema"
            )


class _Args:
    def __init__(self, args: Sequence[bytes]) -> None:
        self.args = args
        self.pos = 0

    def remaining(self) -> int:
        return len(self.args) - self.pos

    def take(self) -> bytes:
        value = self.args[self.pos]
        self.pos += 1
        return value

    def take_list(self, what: str) -> tuple[bytes, ...]:
        if not self.remaining():
            raise QuerySyntaxError(
                f"Bad arguments for {what}: Expected an argument, but none provided"
            )
        count = parse_int64(self.take(), strict=False)
        if count is None:
            raise QuerySyntaxError(
                f"Bad arguments for {what}: Could not convert argument to expected type"
            )
        if not 0 <= count <= INT32_MAX:
            raise QuerySyntaxError(f"Bad arguments for {what}: Value is outside acceptable bounds")
        if self.remaining() < count:
            raise QuerySyntaxError(
                f"Bad arguments for {what}: Expected an argument, but none provided"
            )
        items = tuple(self.args[self.pos : self.pos + count])
        self.pos += count
        return items


def _uint(raw: bytes) -> int | None:
    """A non-negative integer that fits 64 bits, or None (RediSearch refuses the rest)."""
    value = parse_int64(raw, strict=False) if raw.isdigit() else None
    return None if value is None or value < 0 else value


SHAPES_KEPT = 256
"""How many parsed request shapes :func:`parse_ft_search` keeps (cleared when full), and
how many requests without PARAMS."""
_shapes: dict[tuple[bytes, ...], SearchRequest] = {}
_plain: dict[tuple[bytes, ...], SearchRequest] = {}
PLAIN_BYTES_KEPT = 4096
"""A request without PARAMS is kept only if its arguments total at most this many bytes."""


def params_shape(argv: Sequence[bytes]) -> tuple[tuple[bytes, ...], tuple[int, int]] | None:
    """``argv`` without the values of its first ``PARAMS`` list, and that list's span (the
    keyword's position, the position after its last value); None without a well-formed
    ``PARAMS n name value ...``."""
    for at, raw in enumerate(argv):  # noqa: B007 (`at` is read after the loop; a generator costs ~0.5 us)
        if len(raw) == 6 and raw.upper() == b"PARAMS":
            break
    else:
        return None
    if at + 1 >= len(argv) or not argv[at + 1].isdigit():
        return None
    end = at + 2 + int(argv[at + 1])
    if end > len(argv):
        return None
    return (*argv[: at + 2], *argv[at + 2 : end : 2], *argv[end:]), (at, end)


def parse_ft_search(args: Sequence[bytes | str | int | float]) -> SearchRequest:
    """Parse FT.SEARCH arguments after the index name: ``query [options...]``.

    A request that differs from one parsed before only in its PARAMS values (a client
    sending the same query with a new vector each time) reuses that parse with the new
    values: parsing reads no PARAMS value, so the result is what a full parse gives. A
    parse is kept only when it took as its PARAMS list exactly the span of the first
    ``PARAMS`` token (so what the key leaves out were values; the key fixes that span),
    and a request that fails is never kept. A request without a well-formed PARAMS list
    is kept under its whole argument list (when short: ``PLAIN_BYTES_KEPT``), in a table
    of its own, so it never meets a shape.
    """
    argv = [a if type(a) is bytes else as_bytes(a) for a in args]  # RESP's are bytes already
    shape = params_shape(argv)
    if shape is None:  # no PARAMS: the same arguments give the same request
        plain = tuple(argv)
        kept = _plain.get(plain)
        if kept is None:
            kept = _parse_ft_search(argv)[0]
            if sum(map(len, argv)) <= PLAIN_BYTES_KEPT:
                if len(_plain) >= SHAPES_KEPT:
                    _plain.clear()
                _plain[plain] = kept
        return kept
    kept = _shapes.get(shape[0])
    if kept is not None:
        at, end = shape[1]
        names, values = argv[at + 2 : end : 2], argv[at + 3 : end : 2]
        return kept.with_params(dict(zip(names, values, strict=True)))
    request, params_span = _parse_ft_search(argv)
    if params_span == shape[1]:
        if len(_shapes) >= SHAPES_KEPT:
            _shapes.clear()
        _shapes[shape[0]] = request
    return request


def _parse_ft_search(argv: list[bytes]) -> tuple[SearchRequest, tuple[int, int] | None]:
    """The request, and the span of the PARAMS list it took (keyword to after its last
    value; None without PARAMS)."""
    params_span: tuple[int, int] | None = None
    if not argv:
        raise QuerySyntaxError("No query string provided")
    cur = _Args(argv)
    values: dict[str, object] = {"query": cur.take()}
    sortby: SortBy | None = None
    params: dict[bytes, bytes] | None = None
    filters: list[NumericFilter | GeoFilter] = []
    while cur.remaining():
        position = cur.pos
        raw = cur.take()
        keyword = raw.upper()
        if keyword in _FLAGS:
            if _FLAGS[keyword]:
                values[_FLAGS[keyword]] = True
        elif keyword == b"LIMIT":
            if cur.remaining() < 2:
                raise QuerySyntaxError("LIMIT requires two arguments")
            offset, num = _uint(cur.take()), _uint(cur.take())
            if offset is None or num is None:
                raise QuerySyntaxError("LIMIT needs two numeric arguments")
            if num > MAX_SEARCH_RESULTS:
                raise QuerySyntaxError(f"LIMIT exceeds maximum of {MAX_SEARCH_RESULTS}")
            if offset > MAX_SEARCH_RESULTS:
                raise QuerySyntaxError(f"OFFSET exceeds maximum of {MAX_SEARCH_RESULTS}")
            values["offset"], values["num"] = offset, num
        elif keyword == b"SORTBY":
            if sortby is not None:
                raise QuerySyntaxError("Multiple SORTBY steps are not allowed")
            if not cur.remaining():
                raise QuerySyntaxError("Bad SORTBY arguments")
            name = cur.take()
            ascending = True
            if cur.remaining() and cur.args[cur.pos].upper() in (b"ASC", b"DESC"):
                ascending = cur.take().upper() == b"ASC"
            sortby = SortBy(name[1:] if name.startswith(b"@") else name, ascending)
        elif keyword == b"RETURN":
            values["return_fields"] = _return_fields(cur.take_list("RETURN"))
        elif keyword == b"PARAMS":
            if params is not None:
                raise QuerySyntaxError(
                    "Multiple PARAMS are not allowed. Parameters can be defined only once"
                )
            params = _params(cur.take_list("PARAMS"))
            params_span = (position, cur.pos)
        elif keyword == b"DIALECT":
            if not cur.remaining():
                raise QuerySyntaxError("Need an argument for DIALECT")
            dialect = _uint(cur.take())
            if dialect is None or not 1 <= dialect <= 4:
                raise QuerySyntaxError("DIALECT requires a non negative integer >=1 and <= 4")
            values["dialect"] = dialect
        elif keyword == b"TIMEOUT":
            if not cur.remaining():
                raise QuerySyntaxError("Need argument for TIMEOUT")
            timeout = _uint(cur.take())
            if timeout is None:
                raise QuerySyntaxError("TIMEOUT requires a non negative integer")
            values["timeout_ms"] = timeout
        elif keyword == b"SLOP":
            slop = _int_arg(cur, "SLOP")
            values["slop"] = slop
        elif keyword in (b"LANGUAGE", b"SCORER", b"EXPANDER", b"PAYLOAD"):
            if not cur.remaining():
                raise QuerySyntaxError(
                    f"Bad arguments for {keyword.decode()}: Expected an argument, but none provided"
                )
            value = cur.take()
            if keyword == b"LANGUAGE" and value.lower() not in LANGUAGES:
                raise QuerySyntaxError("No such language")
            if keyword == b"SCORER" and value not in SCORERS:
                raise QuerySyntaxError(f"No such scorer {value.decode('utf-8', 'replace')}")
            values[keyword.decode().lower()] = value
        elif keyword in (b"INKEYS", b"INFIELDS"):
            values[keyword.decode().lower()] = cur.take_list(keyword.decode())
        elif keyword == b"FILTER":
            if cur.remaining() < 3:
                raise QuerySyntaxError("FILTER requires 3 arguments")
            name, lo_raw, hi_raw = cur.take(), cur.take(), cur.take()
            lo, lo_incl = parse_range_bound(lo_raw, is_min=True)
            hi, hi_incl = parse_range_bound(hi_raw, is_min=False)
            filters.append(NumericFilter(name, lo, hi, lo_incl, hi_incl))
        elif keyword == b"GEOFILTER":
            # RediSearch 2.10 keeps one GEOFILTER: a later one replaces an earlier one,
            # whatever their fields
            filters = [f for f in filters if not isinstance(f, GeoFilter)]
            filters.append(_geofilter(cur))
        elif keyword == b"FORMAT":
            if not cur.remaining():
                raise QuerySyntaxError("Need an argument for FORMAT")
            fmt = cur.take().upper()
            if fmt == b"EXPAND":
                raise QuerySyntaxError("EXPAND format is only supported with JSON")
            if fmt != b"STRING":
                raise QuerySyntaxError(
                    f"Bad arguments for FORMAT {fmt.decode('utf-8', 'replace')} is not supported"
                )
        elif keyword == b"ADDSCORES":
            raise QuerySyntaxError("ADDSCORES is not supported on FT.SEARCH")
        elif keyword in _UNSUPPORTED:
            raise QuerySyntaxError(_UNSUPPORTED[keyword])
        else:
            raise QuerySyntaxError(
                f"Unknown argument `{raw.decode('utf-8', 'replace')}` at position {position} "
                "for <main>"
            )
    if values.get("explainscore") and not values.get("withscores"):
        raise QuerySyntaxError("EXPLAINSCORE must be accompanied with WITHSCORES")
    if values.get("return_fields") == ():
        values["nocontent"] = True
    request = SearchRequest(
        params=params or {},
        sortby=sortby,
        numeric_filters=tuple(filters),
        **values,  # type: ignore[arg-type]
    )
    return request, params_span


def _geofilter(cur: _Args) -> GeoFilter:
    """``GEOFILTER field lon lat radius unit`` (RediSearch's ``GeoFilter_Parse``)."""
    if cur.remaining() < 5:
        raise QuerySyntaxError("GEOFILTER requires 5 arguments")
    name = cur.take()
    numbers = []
    for what in ("lon", "lat", "radius"):
        raw = cur.take()
        try:
            numbers.append(float(raw) if _DOUBLE.fullmatch(raw) else float("nan"))
        except ValueError:
            numbers.append(float("nan"))
        if numbers[-1] != numbers[-1]:
            raise QuerySyntaxError(
                f"Bad arguments for <{what}>: Could not convert argument to expected type"
            )
    unit = cur.take()
    lon, lat, radius = numbers
    unit_error = f"Unknown distance unit {unit.decode('utf-8', 'replace')}"
    return make_geo_filter(name, lon, lat, radius, unit, unit_error=unit_error)


def _int_arg(cur: _Args, what: str) -> int:
    if not cur.remaining():
        raise QuerySyntaxError(f"Bad arguments for {what}: Expected an argument, but none provided")
    raw = cur.take()
    value = parse_int64(raw, strict=False)
    if value is None and not raw.strip().lstrip(b"+-").isdigit():
        raise QuerySyntaxError(
            f"Bad arguments for {what}: Could not convert argument to expected type"
        )
    # RediSearch reads an int: a whole number past 32 bits (even past 64) is out of bounds
    if value is None or not fits_int32(value):
        raise QuerySyntaxError(f"Bad arguments for {what}: Value is outside acceptable bounds")
    return value


def _return_fields(items: tuple[bytes, ...]) -> tuple[ReturnField, ...]:
    out: list[ReturnField] = []
    i = 0
    while i < len(items):
        name = items[i]
        alias = name
        i += 1
        if i < len(items) and items[i].upper() == b"AS":
            if i + 1 >= len(items):
                raise QuerySyntaxError("RETURN path AS name - must be accompanied with NAME")
            alias = items[i + 1]
            if alias.upper() == b"AS":
                raise QuerySyntaxError("Alias for RETURN cannot be `AS`")
            i += 2
        out = [r for r in out if r.alias != alias]
        out.append(ReturnField(name, alias))
    return tuple(out)


def _params(items: tuple[bytes, ...]) -> dict[bytes, bytes]:
    if not items or len(items) % 2:
        raise QuerySyntaxError("Parameters must be specified in PARAM VALUE pairs")
    out: dict[bytes, bytes] = {}
    for name, value in zip(items[::2], items[1::2], strict=True):
        if name in out:
            raise QuerySyntaxError(f"Duplicate parameter `{name.decode('utf-8', 'replace')}`")
        out[name] = value
    return out
