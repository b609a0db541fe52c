"""``FT.CREATE`` arguments parsed into an :class:`~store.index.schema.spec.IndexDefinition`.

``parse_ft_create(args)`` takes the arguments (RESP ``bytes``; ``str`` is accepted for
embedded callers; a leading ``FT.CREATE`` command name is skipped). What is accepted,
following RediSearch 2.10 (keywords in any case; error texts are RediSearch's where the
situation is the same):

* index options before ``SCHEMA``, in any order: ``ON HASH|JSON``, ``PREFIX n p...``,
  ``STOPWORDS n w...`` (``0`` = none), ``LANGUAGE``, ``LANGUAGE_FIELD``, ``SCORE``,
  ``SCORE_FIELD``, ``PAYLOAD_FIELD`` (recorded, no effect), ``NOOFFSETS``, ``NOHL``,
  ``NOFIELDS``, ``NOFREQS``, ``MAXTEXTFIELDS``, ``ASYNC``, ``NOSCOREIDX`` (recorded, no
  effect), ``SKIPINITIALSCAN`` (the engine must not backfill existing keys), and memvec's
  own ``STRICT`` (below);
* fields ``name [AS alias] TYPE [options] [SORTABLE [UNF]] [NOINDEX]`` with TYPE one of
  ``TAG [SEPARATOR c] [CASESENSITIVE] [WITHSUFFIXTRIE]``,
  ``NUMERIC``, ``GEO`` (:mod:`store.index.geo_field`),
  ``TEXT [NOSTEM] [WEIGHT w] [WITHSUFFIXTRIE]`` and
  ``VECTOR FLAT|HNSW nargs attr value ...`` (see :mod:`store.index.schema.vector`).

``ON JSON`` (RediSearch's rules): field names are JSONPaths read by
:mod:`store.index.json_fields` (a VECTOR field's must be a ``$`` JSONPath that compiles:
:func:`check_vector_paths`); a TAG field has no separator unless ``SEPARATOR`` is given
(FT.INFO shows ``SEPARATOR ""``) and every ``SORTABLE`` field is ``UNF``. ``STRICT`` is
refused with ``ON JSON``: it guards hash writes only.

``STRICT`` (a memvec extension, not in RediSearch): a hash write under the index's
prefixes whose fields the index cannot take (a vector blob of the wrong size or with NaN,
a numeric field or GEO point that does not parse) is refused with an error and changes
nothing.
Without it, as in RediSearch, the hash is stored, left out of the index and counted in
``FT.INFO`` ``hash_indexing_failures``. ``STRICT`` is kept in ``to_args()``, so it
survives the log, snapshots, replication and restarts.

Rejected with a message saying so, because memvec would otherwise silently answer
differently: ``FILTER``, ``TEMPORARY``, ``GEOSHAPE`` fields,
``INDEXEMPTY``, ``INDEXMISSING``. Vector types: see :mod:`store.index.vector_types`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ...errors import ArityError, QuerySyntaxError
from ...json.path import find
from ..phonetics import MATCHERS as PHONETIC_MATCHERS
from .args import AC_PARSE, Cursor, as_bytes, as_text, bad, take_list, take_string
from .spec import FieldSpec, FieldType, IndexDefinition
from .text import DEFAULT_STOPWORDS
from .vector import parse_vector


def check_vector_paths(index: str, fields: Sequence[FieldSpec]) -> None:
    """Refuse, as RediSearch does, a VECTOR field ON JSON whose path is not a JSONPath
    (``$``-rooted, one that compiles); other field types take any identifier."""
    for f in fields:
        if f.type is not FieldType.VECTOR:
            continue
        path = f.name.decode("utf-8", "replace")
        valid = path.startswith("$")
        if valid:
            try:
                find(None, path)
            except ValueError:
                valid = False
        if not valid:
            alias = f.alias.decode("utf-8", "replace")
            raise QuerySyntaxError(
                f"Invalid JSONPath '{path}' in attribute '{alias}' in index '{index}'"
            )


__all__ = ["LANGUAGES", "parse_ft_create"]

LANGUAGES: frozenset[bytes] = frozenset(
    b"arabic armenian basque catalan chinese danish dutch english finnish french german greek "
    b"hindi hungarian indonesian irish italian lithuanian nepali norwegian portuguese romanian "
    b"russian serbian spanish swedish tamil turkish yiddish".split()
)
"""Languages RediSearch 2.10 accepts for ``LANGUAGE`` (the stemmer: store/index/stemming.py)."""


_FLAG_OPTIONS = (b"NOOFFSETS", b"NOHL", b"NOFIELDS", b"NOFREQS", b"MAXTEXTFIELDS", b"ASYNC",
                 b"NOSCOREIDX", b"STRICT")  # fmt: skip


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
    name = as_text(argv[0])
    cur = Cursor(argv[1:])
    prefixes: tuple[bytes, ...] = ()
    custom_stopwords: tuple[bytes, ...] | None = None
    opts: dict[str, bytes] = {}
    flags: list[bytes] = []
    skip_scan = False
    on = "HASH"
    while True:
        keyword = cur.take()
        if keyword is None:
            raise QuerySyntaxError("No schema found")
        upper = keyword.upper()
        if upper == b"SCHEMA":
            break
        if upper == b"ON":
            kind = take_string(cur, "ON").upper()
            if kind not in (b"HASH", b"JSON"):
                raise QuerySyntaxError(f"Invalid rule type: {as_text(kind)}")
            on = as_text(kind)
        elif upper == b"PREFIX":
            prefixes = take_list(cur, "PREFIX")
        elif upper == b"STOPWORDS":
            custom_stopwords = take_list(cur, "STOPWORDS")
        elif upper in (b"LANGUAGE", b"LANGUAGE_FIELD", b"SCORE", b"SCORE_FIELD", b"PAYLOAD_FIELD"):
            value = take_string(cur, as_text(upper))
            if upper == b"SCORE":
                _check_score(value)
            if upper == b"LANGUAGE" and value.lower() not in LANGUAGES:
                raise QuerySyntaxError("Invalid language")
            opts[as_text(upper).lower()] = value
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
            raise QuerySyntaxError(f"Unknown argument `{as_text(keyword)}`")
    if on == "JSON" and b"STRICT" in flags:
        raise QuerySyntaxError("STRICT applies to ON HASH indexes only: remove it")
    fields = _parse_schema(cur, json=on == "JSON")
    if on == "JSON":
        check_vector_paths(name, fields)
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
        on=on,
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


def _parse_schema(cur: Cursor, *, json: bool) -> tuple[FieldSpec, ...]:
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
            raise QuerySyntaxError(f"Duplicate field in schema - {as_text(alias)}")
        fields.append(_parse_field(cur, name, alias, json=json))
    return tuple(fields)


def _unsupported(option: str, name: bytes) -> QuerySyntaxError:
    return QuerySyntaxError(
        f"{option} not supported by memvec (field `{as_text(name)}`): remove it from the schema"
    )


def _parse_field(cur: Cursor, name: bytes, alias: bytes, *, json: bool) -> FieldSpec:
    if cur.at_end():
        raise QuerySyntaxError(f"Field `{as_text(alias)}` does not have a type")
    raw_type = cur.take()
    assert raw_type is not None
    kind = raw_type.upper()
    extra: dict[str, object] = {}
    if kind == b"VECTOR":
        return FieldSpec(name, FieldType.VECTOR, alias, vector=parse_vector(cur, json=json))
    if kind == b"GEOSHAPE":
        raise _unsupported("GEOSHAPE fields are", name)
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
                raw = take_string(cur, "weight")
                try:
                    extra["weight"] = float(raw)
                except ValueError:
                    raise bad("weight", AC_PARSE) from None
            elif opt == b"WITHSUFFIXTRIE":
                extra["with_suffix_trie"] = True
            elif opt == b"PHONETIC":
                matcher = cur.take()
                if matcher is None:
                    raise QuerySyntaxError("PHONETIC requires an argument")
                if matcher not in PHONETIC_MATCHERS:
                    raise QuerySyntaxError(
                        "Matcher Format: <2 chars algorithm>:<2 chars language>. Support "
                        "algorithms: double metaphone (dm). Supported languages: English (en), "
                        "French (fr), Portuguese (pt) and Spanish (es)"
                    )
                extra["phonetic"] = matcher
            else:
                raise _unsupported(f"{as_text(opt)} is", name)
    elif kind == b"TAG":
        ftype = FieldType.TAG
        if json:
            extra["separator"] = b""  # RediSearch: a JSON string is one tag unless told
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
                        f"Tag separator must be a single character. Got `{as_text(sep)}`"
                    )
                extra["separator"] = sep
            elif opt == b"CASESENSITIVE":
                extra["case_sensitive"] = True
            elif opt == b"WITHSUFFIXTRIE":
                extra["with_suffix_trie"] = True
            else:
                raise _unsupported(f"{as_text(opt)} is", name)
    elif kind == b"GEO":
        ftype = FieldType.GEO
        if cur.match(b"INDEXMISSING"):
            raise _unsupported("INDEXMISSING is", name)
    elif kind == b"NUMERIC":
        ftype = FieldType.NUMERIC
        if cur.match(b"INDEXMISSING"):
            raise _unsupported("INDEXMISSING is", name)
    else:
        raise QuerySyntaxError(f"Invalid field type for field `{as_text(alias)}`")
    while True:
        opt = cur.match(b"SORTABLE", b"NOINDEX")
        if opt is None:
            break
        if opt == b"SORTABLE":
            extra["sortable"] = True
            implied = json or ftype is FieldType.NUMERIC or extra.get("case_sensitive")
            if cur.match(b"UNF") or implied:
                extra["unf"] = True
        else:
            extra["no_index"] = True
    return FieldSpec(name, ftype, alias, **extra)  # type: ignore[arg-type]
