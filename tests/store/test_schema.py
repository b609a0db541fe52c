"""FT.CREATE parsing, its round trip through to_args(), and the FT.INFO attribute layout.

Expected error texts and FT.INFO layouts were read off RediSearch 2.10.5 (the peer).
"""

from __future__ import annotations

import pytest

from store.errors import ArityError, QuerySyntaxError
from store.index.schema import (
    DEFAULT_STOPWORDS,
    FieldSpec,
    FieldType,
    IndexDefinition,
    VectorSpec,
    parse_ft_create,
    tokenize_text,
)


def create(line: str) -> IndexDefinition:
    return parse_ft_create(line.split())


def test_redisvl_style_schema() -> None:
    d = create(
        "FT.CREATE idx ON HASH PREFIX 1 doc: SCHEMA genre TAG rating NUMERIC SORTABLE "
        "title TEXT embedding VECTOR HNSW 10 TYPE FLOAT32 DIM 384 DISTANCE_METRIC COSINE "
        "M 32 EF_CONSTRUCTION 400"
    )
    assert d.name == "idx"
    assert d.prefixes == (b"doc:",)
    assert [f.type for f in d.fields] == [
        FieldType.TAG,
        FieldType.NUMERIC,
        FieldType.TEXT,
        FieldType.VECTOR,
    ]
    genre, rating, title, embedding = d.fields
    assert (genre.name, genre.alias, genre.separator, genre.case_sensitive) == (
        b"genre",
        b"genre",
        b",",
        False,
    )
    assert rating.sortable and rating.unf  # numeric SORTABLE is implicitly UNF
    assert title.weight == 1.0
    assert embedding.vector == VectorSpec(
        algorithm="HNSW", dim=384, distance_metric="COSINE", m=32, ef_construction=400
    )
    assert embedding.vector.blob_size == 384 * 4
    assert d.field_by_alias(b"title") is title
    assert d.covers(b"doc:1") and not d.covers(b"other:1")


def test_defaults_and_str_arguments() -> None:
    d = parse_ft_create(["i", "SCHEMA", "v", "VECTOR", "FLAT", "6", "type", "float32", "dim", 4,
                         "distance_metric", "l2"])  # fmt: skip
    assert d.prefixes == (b"",)
    assert d.covers(b"anything")
    assert d.on == "HASH"
    assert d.stopwords == DEFAULT_STOPWORDS
    v = d.fields[0].vector
    assert v == VectorSpec(algorithm="FLAT", dim=4, distance_metric="L2")
    assert (v.m, v.ef_construction, v.ef_runtime, v.initial_cap) == (16, 200, None, None)


def test_command_name_is_optional() -> None:
    with_name = parse_ft_create([b"FT.CREATE", b"i", b"SCHEMA", b"a", b"TAG"])
    without = parse_ft_create([b"i", b"SCHEMA", b"a", b"TAG"])
    assert with_name == without


def test_alias_tag_options_and_flags() -> None:
    d = create(
        "FT.CREATE i NOOFFSETS SKIPINITIALSCAN STOPWORDS 2 Foo bar LANGUAGE french SCORE 0.5 "
        "SCHEMA $.x AS x TAG SEPARATOR ; CASESENSITIVE SORTABLE n NUMERIC NOINDEX "
        "t TEXT NOSTEM WEIGHT 2.5 WITHSUFFIXTRIE"
    )
    x, n, t = d.fields
    assert (x.name, x.alias, x.separator, x.case_sensitive, x.unf) == (
        b"$.x",
        b"x",
        b";",
        True,
        True,
    )
    assert n.no_index
    assert (t.no_stem, t.weight, t.with_suffix_trie) == (True, 2.5, True)
    assert d.skip_initial_scan
    assert d.stopwords == frozenset({b"foo", b"bar"})
    assert d.custom_stopwords == (b"Foo", b"bar")
    assert d.language == b"french"
    assert d.info_options() == [b"NOOFFSETS", b"NOHL"]


def test_stopwords_zero_means_none() -> None:
    assert create("FT.CREATE i STOPWORDS 0 SCHEMA t TEXT").stopwords == frozenset()


def test_last_prefix_option_wins() -> None:
    d = create("FT.CREATE i PREFIX 1 a: PREFIX 2 b: c: SCHEMA t TEXT")
    assert d.prefixes == (b"b:", b"c:")


ROUND_TRIP = [
    "FT.CREATE i SCHEMA a TAG",
    "FT.CREATE i ON HASH PREFIX 2 a: b: SCHEMA a TAG SEPARATOR | CASESENSITIVE b NUMERIC",
    "FT.CREATE i STOPWORDS 0 SCHEMA t TEXT NOSTEM WEIGHT 0.5 SORTABLE UNF",
    "FT.CREATE i STOPWORDS 3 x y z NOFREQS MAXTEXTFIELDS SCHEMA t TEXT NOINDEX",
    "FT.CREATE i LANGUAGE english LANGUAGE_FIELD l SCORE 0.3 SCORE_FIELD s PAYLOAD_FIELD p "
    "SCHEMA t TEXT",
    "FT.CREATE i SKIPINITIALSCAN SCHEMA v AS vec VECTOR FLAT 10 TYPE FLOAT32 DIM 3 "
    "DISTANCE_METRIC IP INITIAL_CAP 5 BLOCK_SIZE 7",
    "FT.CREATE i SCHEMA v VECTOR HNSW 14 TYPE FLOAT32 DIM 32768 DISTANCE_METRIC L2 M 512 "
    "EF_CONSTRUCTION 4096 EF_RUNTIME 4096 EPSILON 0.25",
    "FT.CREATE i SCHEMA n NUMERIC SORTABLE g TAG SORTABLE UNF t TEXT WITHSUFFIXTRIE",
    "FT.CREATE i SCHEMA t TEXT PHONETIC dm:fr NOSTEM SORTABLE",
    "FT.CREATE i SCHEMA loc GEO SORTABLE far AS f GEO NOINDEX",
    "FT.CREATE i ON JSON SCHEMA $.loc AS loc GEO SORTABLE",
]


@pytest.mark.parametrize("line", ROUND_TRIP)
def test_to_args_round_trips(line: str) -> None:
    d = create(line)
    args = d.to_args()
    assert all(isinstance(a, bytes) for a in args)
    assert args[0] == b"i"
    assert parse_ft_create(args) == d
    assert parse_ft_create([b"FT.CREATE", *args]) == d


def test_to_args_golden() -> None:
    d = create(
        "FT.CREATE idx PREFIX 1 doc: SCHEMA g TAG v VECTOR HNSW 6 TYPE FLOAT32 DIM 4 "
        "DISTANCE_METRIC COSINE"
    )
    assert d.to_args() == [
        b"idx", b"ON", b"HASH", b"PREFIX", b"1", b"doc:", b"SCHEMA",
        b"g", b"TAG", b"SEPARATOR", b",",
        b"v", b"VECTOR", b"HNSW", b"12", b"TYPE", b"FLOAT32", b"DIM", b"4",
        b"DISTANCE_METRIC", b"COSINE", b"M", b"16", b"EF_CONSTRUCTION", b"200",
        b"EPSILON", b"0.01",
    ]  # fmt: skip
    # an EF_RUNTIME the creator gave is kept, so replay and snapshots keep it too
    explicit = create(
        "FT.CREATE idx SCHEMA v VECTOR HNSW 8 TYPE FLOAT32 DIM 4 DISTANCE_METRIC COSINE "
        "EF_RUNTIME 10"
    )
    assert explicit.to_args()[-4:] == [b"EF_RUNTIME", b"10", b"EPSILON", b"0.01"]
    assert parse_ft_create(explicit.to_args()) == explicit


def test_info_attributes_match_redisearch_2_10() -> None:
    d = create(
        "FT.CREATE idx ON HASH PREFIX 1 doc: SCHEMA genre TAG rating NUMERIC "
        "embedding VECTOR HNSW 6 TYPE FLOAT32 DIM 4 DISTANCE_METRIC COSINE title TEXT "
        "f AS flat VECTOR FLAT 6 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 "
        "c TAG SEPARATOR ; CASESENSITIVE SORTABLE t2 TEXT WEIGHT 2 NOSTEM SORTABLE "
        "n2 NUMERIC SORTABLE UNF NOINDEX w TEXT WITHSUFFIXTRIE WEIGHT 0.5"
    )
    assert d.info_attributes() == [
        [b"identifier", b"genre", b"attribute", b"genre", b"type", b"TAG", b"SEPARATOR", b","],
        [b"identifier", b"rating", b"attribute", b"rating", b"type", b"NUMERIC"],
        [b"identifier", b"embedding", b"attribute", b"embedding", b"type", b"VECTOR",
         b"algorithm", b"HNSW", b"data_type", b"FLOAT32", b"dim", 4, b"distance_metric",
         b"COSINE", b"M", 16, b"ef_construction", 200],
        [b"identifier", b"title", b"attribute", b"title", b"type", b"TEXT", b"WEIGHT", 1.0],
        [b"identifier", b"f", b"attribute", b"flat", b"type", b"VECTOR", b"algorithm", b"FLAT",
         b"data_type", b"FLOAT32", b"dim", 4, b"distance_metric", b"L2"],
        [b"identifier", b"c", b"attribute", b"c", b"type", b"TAG", b"SEPARATOR", b";",
         b"CASESENSITIVE", b"SORTABLE", b"UNF"],
        [b"identifier", b"t2", b"attribute", b"t2", b"type", b"TEXT", b"WEIGHT", 2.0,
         b"SORTABLE", b"NOSTEM"],
        [b"identifier", b"n2", b"attribute", b"n2", b"type", b"NUMERIC", b"SORTABLE", b"UNF",
         b"NOINDEX"],
        [b"identifier", b"w", b"attribute", b"w", b"type", b"TEXT", b"WEIGHT", 0.5,
         b"WITHSUFFIXTRIE"],
    ]  # fmt: skip
    assert d.info_definition() == [
        b"key_type", b"HASH", b"prefixes", [b"doc:"], b"default_score", b"1"
    ]  # fmt: skip


def test_info_attributes_resp3_are_maps_with_flags() -> None:
    d = create("FT.CREATE i SCHEMA c TAG CASESENSITIVE t TEXT")
    assert d.info_attributes(resp3=True) == [
        {b"identifier": b"c", b"attribute": b"c", b"type": b"TAG", b"SEPARATOR": b",",
         b"flags": [b"CASESENSITIVE"]},
        {b"identifier": b"t", b"attribute": b"t", b"type": b"TEXT", b"WEIGHT": 1.0,
         b"flags": []},
    ]  # fmt: skip


ERRORS = [
    ("FT.CREATE i1 SCHEMA", ArityError, "wrong number of arguments for 'FT.CREATE' command"),
    ("FT.CREATE i1 SCHEMA a", ArityError, "wrong number of arguments"),
    ("FT.CREATE i1 ON FOO SCHEMA a TAG", QuerySyntaxError, "Invalid rule type: FOO"),
    ("FT.CREATE i1 ON JSON STRICT SCHEMA $.a TAG", QuerySyntaxError, "STRICT applies to ON HASH indexes only: remove it"),
    ("FT.CREATE i1 PREFIX 2 a: SCHEMA a TAG", QuerySyntaxError, "Unknown argument `a`"),
    ("FT.CREATE i1 PREFIX x a: SCHEMA a TAG", QuerySyntaxError,
     "Bad arguments for PREFIX: Could not convert argument to expected type"),
    ("FT.CREATE i1 PREFIX 5 a: b: SCHEMA a TEXT", QuerySyntaxError, "No schema found"),
    ("FT.CREATE i1 PREFIX 1 a: NOOFFSETS", QuerySyntaxError, "No schema found"),
    ("FT.CREATE i1 FOO SCHEMA a TAG", QuerySyntaxError, "Unknown argument `FOO`"),
    ("FT.CREATE i1 PREFIX 1 a: SCHEMA", QuerySyntaxError, "Fields arguments are missing"),
    ("FT.CREATE i1 SCHEMA a FOO", QuerySyntaxError, "Invalid field type for field `a`"),
    ("FT.CREATE i1 SCHEMA a TAG b", QuerySyntaxError, "Field `b` does not have a type"),
    ("FT.CREATE i1 SCHEMA a TAG SEPARATOR", QuerySyntaxError, "SEPARATOR requires an argument"),
    ("FT.CREATE i1 SCHEMA a TAG SEPARATOR ab", QuerySyntaxError,
     "Tag separator must be a single character. Got `ab`"),
    ("FT.CREATE i1 SCHEMA a TAG a NUMERIC", QuerySyntaxError, "Duplicate field in schema - a"),
    ("FT.CREATE i1 SCHEMA a TAG b AS a NUMERIC", QuerySyntaxError,
     "Duplicate field in schema - a"),
    ("FT.CREATE i1 SCHEMA a AS", QuerySyntaxError, "AS requires an argument"),
    ("FT.CREATE i1 SCHEMA a NUMERIC CASESENSITIVE", QuerySyntaxError,
     "Field `CASESENSITIVE` does not have a type"),
    ("FT.CREATE i1 SCORE 2 SCHEMA a TEXT", QuerySyntaxError, "Invalid score"),
    ("FT.CREATE i1 LANGUAGE klingon SCHEMA a TEXT", QuerySyntaxError, "Invalid language"),
    ("FT.CREATE i1 FILTER @a>1 SCHEMA a TAG", QuerySyntaxError, "FILTER expressions are not"),
    ("FT.CREATE i1 TEMPORARY 100 SCHEMA a TAG", QuerySyntaxError, "TEMPORARY indexes are not"),
    ("FT.CREATE i1 SCHEMA a TEXT PHONETIC dm:EN", QuerySyntaxError, "Matcher Format: <2 chars"),
    ("FT.CREATE i1 SCHEMA a GEOSHAPE", QuerySyntaxError, "GEOSHAPE fields are not supported"),
    ("FT.CREATE i1 SCHEMA a GEO INDEXMISSING", QuerySyntaxError, "INDEXMISSING is not supported"),
    ("FT.CREATE i1 SCHEMA a TAG INDEXMISSING", QuerySyntaxError, "INDEXMISSING is not supported"),
    ("FT.CREATE i1 SCHEMA a VECTOR", QuerySyntaxError,
     "Bad arguments for vector similarity algorithm: Expected an argument, but none provided"),
    ("FT.CREATE i1 SCHEMA a VECTOR FOO 6 TYPE FLOAT32 DIM 4 DISTANCE_METRIC COSINE",
     QuerySyntaxError, "Bad arguments for vector similarity algorithm: Unknown argument"),
    ("FT.CREATE i1 SCHEMA a VECTOR FLAT 5 TYPE FLOAT32 DIM 4 DISTANCE_METRIC", QuerySyntaxError,
     "Bad number of arguments for vector similarity index: got 5 but expected even number as "
     "algorithm parameters (should be submitted as named arguments)"),
    ("FT.CREATE i1 SCHEMA a VECTOR FLAT 8 TYPE FLOAT32 DIM 4 DISTANCE_METRIC COSINE",
     QuerySyntaxError, "Expected 8 parameters but got 6"),
    ("FT.CREATE i1 SCHEMA a VECTOR FLAT 4 TYPE FLOAT32 DIM 4", QuerySyntaxError,
     "Missing mandatory parameter: cannot create FLAT index without specifying DISTANCE_METRIC "
     "argument"),
    ("FT.CREATE i1 SCHEMA a VECTOR HNSW 4 TYPE FLOAT32 DISTANCE_METRIC L2", QuerySyntaxError,
     "Missing mandatory parameter: cannot create HNSW index without specifying DIM argument"),
    ("FT.CREATE i1 SCHEMA a VECTOR FLAT 4 DIM 4 DISTANCE_METRIC L2", QuerySyntaxError,
     "Missing mandatory parameter: cannot create FLAT index without specifying TYPE argument"),
    ("FT.CREATE i1 SCHEMA a VECTOR FLAT 6 TYPE INT8 DIM 4 DISTANCE_METRIC L2", QuerySyntaxError,
     "Bad arguments for vector similarity FLAT index type: Unknown argument"),
    ("FT.CREATE i1 SCHEMA a VECTOR FLAT 6 TYPE FLOAT32 DIM 0 DISTANCE_METRIC L2",
     QuerySyntaxError,
     "Bad arguments for vector similarity FLAT index dim: Value is outside acceptable bounds"),
    ("FT.CREATE i1 SCHEMA a VECTOR FLAT 6 TYPE FLOAT32 DIM 32769 DISTANCE_METRIC L2",
     QuerySyntaxError, "index dim: Value is outside acceptable bounds"),
    ("FT.CREATE i1 SCHEMA a VECTOR FLAT 6 TYPE FLOAT32 DIM x DISTANCE_METRIC L2",
     QuerySyntaxError,
     "Bad arguments for vector similarity FLAT index dim: Could not convert argument to "
     "expected type"),
    ("FT.CREATE i1 SCHEMA a VECTOR FLAT 6 TYPE FLOAT32 DIM 4 DISTANCE_METRIC FOO",
     QuerySyntaxError, "Bad arguments for vector similarity FLAT index metric: Unknown argument"),
    ("FT.CREATE i1 SCHEMA a VECTOR FLAT 8 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 M 1",
     QuerySyntaxError, "Bad arguments for algorithm FLAT: M"),
    ("FT.CREATE i1 SCHEMA a VECTOR HNSW 8 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 BLOCK_SIZE 5",
     QuerySyntaxError, "Bad arguments for algorithm HNSW: BLOCK_SIZE"),
    ("FT.CREATE i1 SCHEMA a VECTOR HNSW 8 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 M 0",
     QuerySyntaxError,
     "Bad arguments for vector similarity HNSW index m: Value is outside acceptable bounds"),
    ("FT.CREATE i1 SCHEMA a VECTOR HNSW 8 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 M 513",
     QuerySyntaxError, "index m: Value is outside acceptable bounds"),
    ("FT.CREATE i1 SCHEMA a VECTOR HNSW 8 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 "
     "EF_CONSTRUCTION 0", QuerySyntaxError,
     "Bad arguments for vector similarity HNSW index efConstruction: Value is outside "
     "acceptable bounds"),
    ("FT.CREATE i1 SCHEMA a VECTOR HNSW 8 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 EF_RUNTIME 0",
     QuerySyntaxError,
     "Bad arguments for vector similarity HNSW index efRuntime: Value is outside acceptable "
     "bounds"),
    ("FT.CREATE i1 SCHEMA a VECTOR HNSW 8 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 EPSILON -1",
     QuerySyntaxError,
     "Bad arguments for vector similarity HNSW index epsilon: Value is outside acceptable "
     "bounds"),
    ("FT.CREATE i1 SCHEMA a VECTOR FLAT 8 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 BLOCK_SIZE 0",
     QuerySyntaxError,
     "Bad arguments for vector similarity FLAT index blocksize: Value is outside acceptable "
     "bounds"),
    ("FT.CREATE i1 SCHEMA a VECTOR FLAT 6 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 SORTABLE",
     QuerySyntaxError, "Field `SORTABLE` does not have a type"),
]  # fmt: skip


@pytest.mark.parametrize(("line", "error", "message"), ERRORS)
def test_errors(line: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as caught:
        create(line)
    assert message in str(caught.value)
    assert isinstance(caught.value, ArityError | QuerySyntaxError)


def test_query_blob_size_error() -> None:
    spec = VectorSpec(algorithm="FLAT", dim=4, distance_metric="L2")
    spec.check_query_blob(b"\0" * 16)
    with pytest.raises(QuerySyntaxError) as caught:
        spec.check_query_blob(b"\0" * 8)
    assert str(caught.value) == (
        "Error parsing vector similarity query: query vector blob size (8) does not match "
        "index's expected size (16)."
    )


def test_field_spec_alias_defaults_to_name() -> None:
    assert FieldSpec(b"x", FieldType.TAG).alias == b"x"


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        (b"hello world", [b"hello", b"world"]),
        (b"Hello, World! It's the NEW-age e-mail: foo@bar.com 3.14", [
            b"hello", b"world", b"s", b"new", b"age", b"e", b"mail", b"foo", b"bar", b"com",
            b"3", b"14"]),
        # a new line is no separator: RediSearch drops it inside the token (checked on it)
        (b"  under_score\tand\nlines  ", [b"under_score", b"andlines"]),
        ("Ünïcode naïve".encode(), ["ünïcode".encode(), "naïve".encode()]),
        (b"", []),
    ],
)  # fmt: skip
def test_tokenize_text(text: bytes, tokens: list[bytes]) -> None:
    assert tokenize_text(text) == tokens
