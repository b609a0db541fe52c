"""FT index definitions: what ``FT.CREATE`` declares, parsed once and rebuilt on demand.

``parse_ft_create(args)`` turns the arguments of ``FT.CREATE`` (RESP ``bytes``; ``str`` is
accepted for embedded callers; a leading ``FT.CREATE`` command name is skipped) into a frozen
:class:`IndexDefinition`. ``IndexDefinition.to_args()`` rebuilds an equivalent argument list
(without the command name) for the transaction log and snapshots, so
``parse_ft_create(d.to_args()) == d`` always holds. ``info_attributes()`` gives the
``attributes`` section of ``FT.INFO`` in RediSearch 2.10's layout.

What is accepted, following RediSearch 2.10 (keywords in any case; error texts are
RediSearch's where the situation is the same):

* index options before ``SCHEMA``, in any order: ``ON HASH``, ``PREFIX n p...``,
  ``STOPWORDS n w...`` (``0`` = none), ``LANGUAGE``, ``LANGUAGE_FIELD``, ``SCORE``,
  ``SCORE_FIELD``, ``PAYLOAD_FIELD`` (recorded, no effect), ``NOOFFSETS``, ``NOHL``,
  ``NOFIELDS``, ``NOFREQS``, ``MAXTEXTFIELDS``, ``ASYNC``, ``NOSCOREIDX`` (recorded, no
  effect), ``SKIPINITIALSCAN`` (the engine must not backfill existing keys);
* fields ``name [AS alias] TYPE [options] [SORTABLE [UNF]] [NOINDEX]`` with TYPE one of
  ``TAG [SEPARATOR c] [CASESENSITIVE] [WITHSUFFIXTRIE]``,
  ``NUMERIC``, ``TEXT [NOSTEM] [WEIGHT w] [WITHSUFFIXTRIE]`` and
  ``VECTOR FLAT|HNSW nargs attr value ...``.

Rejected with a message saying so, because memvec would otherwise silently answer
differently: ``ON JSON``, ``FILTER``, ``TEMPORARY``, ``GEO``/``GEOSHAPE`` fields,
``PHONETIC``, ``INDEXEMPTY``, ``INDEXMISSING`` and vector types other than ``FLOAT32``.
Vector limits are MemoryDB's: ``DIM`` 1..32768, ``M`` 1..512, ``EF_CONSTRUCTION`` and
``EF_RUNTIME`` 1..4096.

TEXT fields are tokenised by :func:`tokenize_text` (RediSearch's separators, case folded,
stop words dropped, no stemming) so queries can match terms, prefixes and exact phrases.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import ArityError, QuerySyntaxError

__all__ = [
    "DEFAULT_STOPWORDS",
    "MAX_DIM",
    "DistanceMetric",
    "FieldSpec",
    "FieldType",
    "IndexDefinition",
    "VectorSpec",
    "as_bytes",
    "fold_text",
    "parse_ft_create",
    "tokenize_text",
]

MAX_DIM = 32768
MAX_M = 512
MAX_EF = 4096

DEFAULT_STOPWORDS: frozenset[bytes] = frozenset(
    b"a is the an and are as at be but by for if in into it no not of on or such that their "
    b"then there these they this to was will with".split()
)
"""RediSearch's default stop word list (``src/stopwords.h``)."""

LANGUAGES: frozenset[bytes] = frozenset(
    b"arabic armenian basque catalan chinese danish dutch english finnish french german greek "
    b"hindi hungarian indonesian irish italian lithuanian nepali norwegian portuguese romanian "
    b"russian serbian spanish swedish tamil turkish yiddish".split()
)
"""Languages RediSearch 2.10 accepts for ``LANGUAGE`` (memvec does not stem, so no effect)."""

_TEXT_SEPARATORS = frozenset(b" \t\n\r\v\f,./(){}[]:;~!@#$%^&*-=+|'`\"<>?")

_AC_PARSE = "Could not convert argument to expected type"
_AC_NOARG = "Expected an argument, but none provided"
_AC_LIMIT = "Value is outside acceptable bounds"
_AC_ENOENT = "Unknown argument"


def as_bytes(value: bytes | str | int | float) -> bytes:
    """An argument as bytes: RESP sends bytes; embedded callers may pass str or numbers."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8", "surrogateescape")


def _text(value: bytes) -> str:
    return value.decode("utf-8", "surrogateescape")


def fold_text(value: bytes) -> bytes:
    """Case-fold TEXT content or a TEXT query term (Unicode lower case, bytes kept intact)."""
    if value.isascii():
        return value.lower()
    return value.decode("utf-8", "surrogateescape").lower().encode("utf-8", "surrogateescape")


def tokenize_text(value: bytes, stopwords: frozenset[bytes] = DEFAULT_STOPWORDS) -> list[bytes]:
    """The terms of a TEXT value in order: split on RediSearch's separators, folded, no stops."""
    out: list[bytes] = []
    start = 0
    n = len(value)
    for i in range(n + 1):
        if i == n or value[i] in _TEXT_SEPARATORS:
            if i > start:
                term = fold_text(value[start:i])
                if term not in stopwords:
                    out.append(term)
            start = i + 1
    return out


class FieldType(enum.Enum):
    TAG = "TAG"
    NUMERIC = "NUMERIC"
    TEXT = "TEXT"
    VECTOR = "VECTOR"


class DistanceMetric(enum.Enum):
    COSINE = "COSINE"
    L2 = "L2"
    IP = "IP"


@dataclass(frozen=True)
class VectorSpec:
    """A VECTOR field's attributes. ``algorithm``/``type``/``distance_metric`` are upper case."""

    algorithm: str
    dim: int
    distance_metric: str
    type: str = "FLOAT32"
    m: int = 16
    ef_construction: int = 200
    ef_runtime: int = 10
    epsilon: float = 0.01
    initial_cap: int | None = None
    block_size: int | None = None

    @property
    def blob_size(self) -> int:
        """Bytes in one vector blob (little-endian FLOAT32 values)."""
        return self.dim * 4

    def check_query_blob(self, blob: bytes) -> None:
        """Raise RediSearch's error if a KNN query vector has the wrong size."""
        if len(blob) != self.blob_size:
            raise QuerySyntaxError(
                f"Error parsing vector similarity query: query vector blob size ({len(blob)}) "
                f"does not match index's expected size ({self.blob_size})."
            )

    def to_args(self) -> list[bytes]:
        attrs: list[bytes] = [
            b"TYPE", self.type.encode(), b"DIM", b"%d" % self.dim,
            b"DISTANCE_METRIC", self.distance_metric.encode(),
        ]  # fmt: skip
        if self.algorithm == "HNSW":
            attrs += [b"M", b"%d" % self.m, b"EF_CONSTRUCTION", b"%d" % self.ef_construction]
            attrs += [
                b"EF_RUNTIME",
                b"%d" % self.ef_runtime,
                b"EPSILON",
                repr(self.epsilon).encode(),
            ]
        if self.initial_cap is not None:
            attrs += [b"INITIAL_CAP", b"%d" % self.initial_cap]
        if self.block_size is not None:
            attrs += [b"BLOCK_SIZE", b"%d" % self.block_size]
        return [self.algorithm.encode(), b"%d" % len(attrs), *attrs]


@dataclass(frozen=True)
class FieldSpec:
    """One schema field. ``name`` is the hash field read; ``alias`` is what queries say."""

    name: bytes
    type: FieldType
    alias: bytes = b""
    separator: bytes = b","
    case_sensitive: bool = False
    sortable: bool = False
    unf: bool = False
    no_index: bool = False
    no_stem: bool = False
    weight: float = 1.0
    with_suffix_trie: bool = False
    vector: VectorSpec | None = None

    def __post_init__(self) -> None:
        if not self.alias:
            object.__setattr__(self, "alias", self.name)

    def to_args(self) -> list[bytes]:
        out = [self.name]
        if self.alias != self.name:
            out += [b"AS", self.alias]
        out.append(self.type.value.encode())
        if self.type is FieldType.VECTOR:
            assert self.vector is not None
            return out + self.vector.to_args()
        if self.type is FieldType.TAG:
            out += [b"SEPARATOR", self.separator]
            if self.case_sensitive:
                out.append(b"CASESENSITIVE")
        if self.type is FieldType.TEXT:
            out += [b"WEIGHT", repr(self.weight).encode()]
            if self.no_stem:
                out.append(b"NOSTEM")
        if self.with_suffix_trie:
            out.append(b"WITHSUFFIXTRIE")
        if self.sortable:
            out.append(b"SORTABLE")
            if self.unf:
                out.append(b"UNF")
        if self.no_index:
            out.append(b"NOINDEX")
        return out

    def info(self, resp3: bool = False) -> list[bytes | int] | dict[bytes, object]:
        """This field's FT.INFO ``attributes`` entry, RediSearch 2.10 layout.

        RESP2: a flat list whose trailing flags are bare words; RESP3: a map whose flags
        sit under ``flags`` and whose ``WEIGHT`` is a double.
        """
        pairs: list[tuple[bytes, object]] = [
            (b"identifier", self.name),
            (b"attribute", self.alias),
            (b"type", self.type.value.encode()),
        ]
        if self.type is FieldType.TEXT:
            pairs.append((b"WEIGHT", self.weight if resp3 else _format_number(self.weight)))
        if self.type is FieldType.TAG:
            pairs.append((b"SEPARATOR", self.separator))
        if self.vector is not None:
            v = self.vector
            pairs += [(b"algorithm", v.algorithm.encode()), (b"data_type", v.type.encode())]
            pairs += [(b"dim", v.dim), (b"distance_metric", v.distance_metric.encode())]
            if v.algorithm == "HNSW":
                pairs += [(b"M", v.m), (b"ef_construction", v.ef_construction)]
        flags = [
            flag
            for flag, on in (
                (b"CASESENSITIVE", self.case_sensitive),
                (b"SORTABLE", self.sortable),
                (b"UNF", self.unf),
                (b"NOSTEM", self.no_stem),
                (b"NOINDEX", self.no_index),
                (b"WITHSUFFIXTRIE", self.with_suffix_trie),
            )
            if on
        ]
        if resp3:
            return {**dict(pairs), b"flags": flags}
        out: list[bytes | int] = []
        for key, value in pairs:
            out += [key, value]  # type: ignore[list-item]
        return out + flags


def _format_number(value: float) -> bytes:
    return (b"%d" % value) if value == int(value) else (b"%.17g" % value)


@dataclass(frozen=True)
class IndexDefinition:
    """A parsed ``FT.CREATE``. ``prefixes`` is ``(b"",)`` when none were given (all keys)."""

    name: str
    fields: tuple[FieldSpec, ...]
    prefixes: tuple[bytes, ...] = (b"",)
    on: str = "HASH"
    stopwords: frozenset[bytes] = DEFAULT_STOPWORDS
    custom_stopwords: tuple[bytes, ...] | None = None
    language: bytes | None = None
    language_field: bytes | None = None
    score: bytes | None = None
    score_field: bytes | None = None
    payload_field: bytes | None = None
    skip_initial_scan: bool = False
    options: tuple[bytes, ...] = ()

    def covers(self, key: bytes) -> bool:
        """Whether ``key`` falls under one of the index's prefixes."""
        return any(key.startswith(p) for p in self.prefixes)

    def field_by_alias(self, alias: bytes) -> FieldSpec | None:
        """The field queries call ``alias`` (the AS name, else the hash field name)."""
        for f in self.fields:
            if f.alias == alias:
                return f
        return None

    def fields_of(self, kind: FieldType) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.type is kind)

    def to_args(self) -> list[bytes]:
        """An equivalent FT.CREATE argument list, index name first, no command name."""
        out = [self.name.encode("utf-8", "surrogateescape"), b"ON", self.on.encode()]
        out += [b"PREFIX", b"%d" % len(self.prefixes), *self.prefixes]
        for keyword, value in (
            (b"LANGUAGE", self.language),
            (b"LANGUAGE_FIELD", self.language_field),
            (b"SCORE", self.score),
            (b"SCORE_FIELD", self.score_field),
            (b"PAYLOAD_FIELD", self.payload_field),
        ):
            if value is not None:
                out += [keyword, value]
        out += list(self.options)
        if self.skip_initial_scan:
            out.append(b"SKIPINITIALSCAN")
        if self.custom_stopwords is not None:
            out += [b"STOPWORDS", b"%d" % len(self.custom_stopwords), *self.custom_stopwords]
        out.append(b"SCHEMA")
        for f in self.fields:
            out += f.to_args()
        return out

    def info_attributes(self, resp3: bool = False) -> list[list[bytes | int] | dict[bytes, object]]:
        """FT.INFO ``attributes``: one entry per field (see :meth:`FieldSpec.info`)."""
        return [f.info(resp3) for f in self.fields]

    def info_definition(self) -> list[bytes | list[bytes]]:
        """FT.INFO ``index_definition`` (RESP2 flat form)."""
        out: list[bytes | list[bytes]] = [b"key_type", self.on.encode()]
        out += [b"prefixes", list(self.prefixes)]
        if self.language is not None:
            out += [b"default_language", self.language.lower()]
        if self.language_field is not None:
            out += [b"language_field", self.language_field]
        out += [b"default_score", self.score if self.score is not None else b"1"]
        if self.score_field is not None:
            out += [b"score_field", self.score_field]
        if self.payload_field is not None:
            out += [b"payload_field", self.payload_field]
        return out

    def info_options(self) -> list[bytes]:
        """FT.INFO ``index_options``: the storage flags given at creation, RediSearch's order."""
        given = set(self.options)
        out: list[bytes] = [o for o in (b"NOFREQS", b"NOFIELDS", b"NOOFFSETS") if o in given]
        if given & {b"NOOFFSETS", b"NOHL"}:
            out.append(b"NOHL")
        return out + ([b"MAXTEXTFIELDS"] if b"MAXTEXTFIELDS" in given else [])


class _Cursor:
    """Walks an argument list; keyword matching is case-insensitive."""

    def __init__(self, args: Sequence[bytes]) -> None:
        self.args = args
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.args)

    def peek(self) -> bytes | None:
        return None if self.at_end() else self.args[self.pos]

    def take(self) -> bytes | None:
        value = self.peek()
        if value is not None:
            self.pos += 1
        return value

    def match(self, *keywords: bytes) -> bytes | None:
        value = self.peek()
        if value is not None and value.upper() in keywords:
            self.pos += 1
            return value.upper()
        return None


def _bad(what: str, why: str) -> QuerySyntaxError:
    return QuerySyntaxError(f"Bad arguments for {what}: {why}")


def _take_int(cur: _Cursor, what: str, lo: int, hi: int | None = None) -> int:
    raw = cur.take()
    if raw is None:
        raise _bad(what, _AC_NOARG)
    try:
        value = int(raw)
    except ValueError:
        raise _bad(what, _AC_PARSE) from None
    if value < lo or (hi is not None and value > hi):
        raise _bad(what, _AC_LIMIT)
    return value


def _take_string(cur: _Cursor, what: str) -> bytes:
    raw = cur.take()
    if raw is None:
        raise _bad(what, _AC_NOARG)
    return raw


def _take_list(cur: _Cursor, what: str) -> tuple[bytes, ...]:
    count = _take_int(cur, what, 0)
    if len(cur.args) - cur.pos < count:
        raise _bad(what, _AC_NOARG)
    items = tuple(cur.args[cur.pos : cur.pos + count])
    cur.pos += count
    return items


_FLAG_OPTIONS = (b"NOOFFSETS", b"NOHL", b"NOFIELDS", b"NOFREQS", b"MAXTEXTFIELDS", b"ASYNC",
                 b"NOSCOREIDX")  # fmt: skip


def parse_ft_create(args: Sequence[bytes | str | int | float]) -> IndexDefinition:
    """Parse ``FT.CREATE`` arguments (index name first; a leading command name is skipped).

    Raises :class:`ArityError` when the schema is missing altogether and
    :class:`QuerySyntaxError` for every other problem, with RediSearch's message.
    """
    argv = [as_bytes(a) for a in args]
    if argv and argv[0].upper() == b"FT.CREATE":
        argv = argv[1:]
    if len(argv) < 4:
        raise ArityError("wrong number of arguments for 'FT.CREATE' command")
    name = _text(argv[0])
    cur = _Cursor(argv[1:])
    prefixes: tuple[bytes, ...] = ()
    custom_stopwords: tuple[bytes, ...] | None = None
    opts: dict[str, bytes] = {}
    flags: list[bytes] = []
    skip_scan = False
    while True:
        keyword = cur.take()
        if keyword is None:
            raise QuerySyntaxError("No schema found")
        upper = keyword.upper()
        if upper == b"SCHEMA":
            break
        if upper == b"ON":
            kind = _take_string(cur, "ON")
            if kind.upper() != b"HASH":
                raise QuerySyntaxError(
                    f"Invalid rule type: {_text(kind)} (memvec indexes HASH keys only: use ON HASH)"
                )
        elif upper == b"PREFIX":
            prefixes = _take_list(cur, "PREFIX")
        elif upper == b"STOPWORDS":
            custom_stopwords = _take_list(cur, "STOPWORDS")
        elif upper in (b"LANGUAGE", b"LANGUAGE_FIELD", b"SCORE", b"SCORE_FIELD", b"PAYLOAD_FIELD"):
            value = _take_string(cur, _text(upper))
            if upper == b"SCORE":
                _check_score(value)
            if upper == b"LANGUAGE" and value.lower() not in LANGUAGES:
                raise QuerySyntaxError("Invalid language")
            opts[_text(upper).lower()] = value
        elif upper in _FLAG_OPTIONS:
            if upper not in flags:
                flags.append(upper)
        elif upper == b"SKIPINITIALSCAN":
            skip_scan = True
        elif upper == b"FILTER":
            raise QuerySyntaxError(
                "FILTER expressions are not supported by memvec: select documents with PREFIX"
            )
        elif upper == b"TEMPORARY":
            raise QuerySyntaxError(
                "TEMPORARY indexes are not supported by memvec: drop the index with FT.DROPINDEX"
            )
        else:
            raise QuerySyntaxError(f"Unknown argument `{_text(keyword)}`")
    fields = _parse_schema(cur)
    stopwords = (
        DEFAULT_STOPWORDS
        if custom_stopwords is None
        else frozenset(w.lower() for w in custom_stopwords)
    )
    return IndexDefinition(
        name=name,
        fields=fields,
        prefixes=prefixes or (b"",),
        stopwords=stopwords,
        custom_stopwords=custom_stopwords,
        language=opts.get("language"),
        language_field=opts.get("language_field"),
        score=opts.get("score"),
        score_field=opts.get("score_field"),
        payload_field=opts.get("payload_field"),
        skip_initial_scan=skip_scan,
        options=tuple(flags),
    )


def _check_score(value: bytes) -> None:
    try:
        score = float(value)
    except ValueError:
        score = math.nan
    if not 0.0 <= score <= 1.0:
        raise QuerySyntaxError("Invalid score")


def _parse_schema(cur: _Cursor) -> tuple[FieldSpec, ...]:
    if cur.at_end():
        raise QuerySyntaxError("Fields arguments are missing")
    fields: list[FieldSpec] = []
    while not cur.at_end():
        name = cur.take()
        assert name is not None
        alias = name
        if cur.match(b"AS"):
            if cur.at_end():
                raise QuerySyntaxError("AS requires an argument")
            alias = cur.take() or b""
        if any(f.alias == alias for f in fields):
            raise QuerySyntaxError(f"Duplicate field in schema - {_text(alias)}")
        fields.append(_parse_field(cur, name, alias))
    return tuple(fields)


def _unsupported(option: str, name: bytes) -> QuerySyntaxError:
    return QuerySyntaxError(
        f"{option} not supported by memvec (field `{_text(name)}`): remove it from the schema"
    )


def _parse_field(cur: _Cursor, name: bytes, alias: bytes) -> FieldSpec:
    if cur.at_end():
        raise QuerySyntaxError(f"Field `{_text(alias)}` does not have a type")
    raw_type = cur.take()
    assert raw_type is not None
    kind = raw_type.upper()
    extra: dict[str, object] = {}
    if kind == b"VECTOR":
        return FieldSpec(name, FieldType.VECTOR, alias, vector=_parse_vector(cur))
    if kind in (b"GEO", b"GEOSHAPE"):
        raise _unsupported(f"{_text(kind)} fields are", name)
    if kind == b"TEXT":
        ftype = FieldType.TEXT
        while True:
            opt = cur.match(b"NOSTEM", b"WEIGHT", b"PHONETIC", b"WITHSUFFIXTRIE", b"INDEXEMPTY",
                            b"INDEXMISSING")  # fmt: skip
            if opt is None:
                break
            if opt == b"NOSTEM":
                extra["no_stem"] = True
            elif opt == b"WEIGHT":
                raw = _take_string(cur, "weight")
                try:
                    extra["weight"] = float(raw)
                except ValueError:
                    raise _bad("weight", _AC_PARSE) from None
            elif opt == b"WITHSUFFIXTRIE":
                extra["with_suffix_trie"] = True
            else:
                raise _unsupported(f"{_text(opt)} is", name)
    elif kind == b"TAG":
        ftype = FieldType.TAG
        while True:
            opt = cur.match(b"SEPARATOR", b"CASESENSITIVE", b"WITHSUFFIXTRIE", b"INDEXEMPTY",
                            b"INDEXMISSING")  # fmt: skip
            if opt is None:
                break
            if opt == b"SEPARATOR":
                sep = cur.take()
                if sep is None:
                    raise QuerySyntaxError("SEPARATOR requires an argument")
                if len(sep) != 1:
                    raise QuerySyntaxError(
                        f"Tag separator must be a single character. Got `{_text(sep)}`"
                    )
                extra["separator"] = sep
            elif opt == b"CASESENSITIVE":
                extra["case_sensitive"] = True
            elif opt == b"WITHSUFFIXTRIE":
                extra["with_suffix_trie"] = True
            else:
                raise _unsupported(f"{_text(opt)} is", name)
    elif kind == b"NUMERIC":
        ftype = FieldType.NUMERIC
        if cur.match(b"INDEXMISSING"):
            raise _unsupported("INDEXMISSING is", name)
    else:
        raise QuerySyntaxError(f"Invalid field type for field `{_text(alias)}`")
    while True:
        opt = cur.match(b"SORTABLE", b"NOINDEX")
        if opt is None:
            break
        if opt == b"SORTABLE":
            extra["sortable"] = True
            if cur.match(b"UNF") or ftype is FieldType.NUMERIC or extra.get("case_sensitive"):
                extra["unf"] = True
        else:
            extra["no_index"] = True
    return FieldSpec(name, ftype, alias, **extra)  # type: ignore[arg-type]


def _parse_vector(cur: _Cursor) -> VectorSpec:
    algo_raw = cur.take()
    if algo_raw is None:
        raise _bad("vector similarity algorithm", _AC_NOARG)
    algo = algo_raw.upper()
    if algo not in (b"FLAT", b"HNSW"):
        raise _bad("vector similarity algorithm", _AC_ENOENT)
    algorithm = _text(algo)
    nargs = _take_int(cur, "vector similarity number of parameters", 0)
    if nargs % 2:
        shape = (
            "expected even number as algorithm parameters (should be submitted as named arguments)"
            if algorithm == "FLAT"
            else "expected even number (as algorithm parameters should be submitted as named "
            "arguments)"
        )
        raise QuerySyntaxError(
            f"Bad number of arguments for vector similarity index: got {nargs} but {shape}"
        )
    allowed = {b"TYPE", b"DIM", b"DISTANCE_METRIC", b"INITIAL_CAP"}
    allowed |= {b"BLOCK_SIZE"} if algorithm == "FLAT" else {b"M", b"EF_CONSTRUCTION",
                                                           b"EF_RUNTIME", b"EPSILON"}  # fmt: skip
    values: dict[str, object] = {}
    seen = 0
    while seen < nargs // 2 and not cur.at_end():
        attr_raw = cur.take()
        assert attr_raw is not None
        attr = attr_raw.upper()
        if attr not in allowed:
            raise QuerySyntaxError(f"Bad arguments for algorithm {algorithm}: {_text(attr_raw)}")
        what = f"vector similarity {algorithm} index"
        if attr == b"TYPE":
            vtype = _take_string(cur, f"{what} type").upper()
            if vtype in (b"FLOAT64", b"FLOAT16", b"BFLOAT16"):
                raise _bad(
                    f"{what} type",
                    f"{_text(vtype)} vectors are not supported by memvec: use TYPE FLOAT32",
                )
            if vtype != b"FLOAT32":
                raise _bad(f"{what} type", _AC_ENOENT)
            values["type"] = "FLOAT32"
        elif attr == b"DIM":
            values["dim"] = _take_int(cur, f"{what} dim", 1, MAX_DIM)
        elif attr == b"DISTANCE_METRIC":
            metric = _take_string(cur, f"{what} metric").upper()
            if metric not in (b"COSINE", b"L2", b"IP"):
                raise _bad(f"{what} metric", _AC_ENOENT)
            values["distance_metric"] = _text(metric)
        elif attr == b"INITIAL_CAP":
            values["initial_cap"] = _take_int(cur, f"{what} initial cap", 0)
        elif attr == b"BLOCK_SIZE":
            values["block_size"] = _take_int(cur, f"{what} blocksize", 1)
        elif attr == b"M":
            values["m"] = _take_int(cur, f"{what} m", 1, MAX_M)
        elif attr == b"EF_CONSTRUCTION":
            values["ef_construction"] = _take_int(cur, f"{what} efConstruction", 1, MAX_EF)
        elif attr == b"EF_RUNTIME":
            values["ef_runtime"] = _take_int(cur, f"{what} efRuntime", 1, MAX_EF)
        else:
            raw = _take_string(cur, f"{what} epsilon")
            try:
                eps = float(raw)
            except ValueError:
                raise _bad(f"{what} epsilon", _AC_PARSE) from None
            if not eps >= 0 or math.isinf(eps):
                raise _bad(f"{what} epsilon", _AC_LIMIT)
            values["epsilon"] = eps
        seen += 1
    if seen < nargs // 2:
        raise QuerySyntaxError(f"Expected {nargs} parameters but got {seen * 2}")
    for required, key in (("TYPE", "type"), ("DIM", "dim"), ("DISTANCE_METRIC", "distance_metric")):
        if key not in values:
            raise QuerySyntaxError(
                f"Missing mandatory parameter: cannot create {algorithm} index without "
                f"specifying {required} argument"
            )
    return VectorSpec(algorithm=algorithm, **values)  # type: ignore[arg-type]
