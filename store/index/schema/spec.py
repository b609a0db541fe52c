"""The parsed form of ``FT.CREATE``: :class:`IndexDefinition` and its :class:`FieldSpec` list.

Both are frozen. ``IndexDefinition.to_args()`` rebuilds an equivalent argument list
(without the command name) for the transaction log and snapshots, so
``parse_ft_create(d.to_args()) == d`` always holds. ``info_attributes()``,
``info_definition()`` and ``info_options()`` give the matching ``FT.INFO`` sections in
RediSearch 2.10's layout. VECTOR attributes live in
:class:`~store.index.schema.vector.VectorSpec`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .text import DEFAULT_STOPWORDS
from .vector import VectorSpec

__all__ = ["FieldSpec", "FieldType", "IndexDefinition"]


class FieldType(enum.Enum):
    TAG = "TAG"
    NUMERIC = "NUMERIC"
    TEXT = "TEXT"
    VECTOR = "VECTOR"
    GEO = "GEO"


@dataclass(frozen=True)
class FieldSpec:
    """One schema field. ``name`` is the hash field (or, ON JSON, the JSONPath) read;
    ``alias`` is what queries say. ``separator`` is empty for a JSON TAG field that splits
    nothing."""

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
    phonetic: bytes | None = None
    """A TEXT field's ``PHONETIC`` matcher (``dm:en``...; :mod:`store.index.phonetics`)."""

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
        if self.type is FieldType.TAG and self.separator:  # none: a JSON field's default
            out += [b"SEPARATOR", self.separator]
            if self.case_sensitive:
                out.append(b"CASESENSITIVE")
        if self.type is FieldType.TEXT:
            out += [b"WEIGHT", repr(self.weight).encode()]
            if self.no_stem:
                out.append(b"NOSTEM")
            if self.phonetic is not None:
                out += [b"PHONETIC", self.phonetic]
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
        sit under ``flags``. ``WEIGHT`` is a float (a double in RESP3; FT.INFO spells it
        as RediSearch's RESP2 number text).
        """
        pairs: list[tuple[bytes, object]] = [
            (b"identifier", self.name),
            (b"attribute", self.alias),
            (b"type", self.type.value.encode()),
        ]
        if self.type is FieldType.TEXT:
            pairs.append((b"WEIGHT", self.weight))
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

    @property
    def strict(self) -> bool:
        """memvec's ``STRICT`` option: refuse hash writes the index cannot take."""
        return b"STRICT" in self.options

    def covers(self, key: bytes) -> bool:
        """Whether ``key`` falls under one of the index's prefixes."""
        return any(key.startswith(p) for p in self.prefixes)

    @property
    def phonetic_fields(self) -> frozenset[bytes]:
        """The aliases of the TEXT fields declared PHONETIC."""
        return frozenset(f.alias for f in self.fields if f.phonetic is not None)

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
        """FT.INFO ``index_options``: the storage flags given at creation, RediSearch's order,
        then memvec's ``STRICT``."""
        given = set(self.options)
        out: list[bytes] = [o for o in (b"NOFREQS", b"NOFIELDS", b"NOOFFSETS") if o in given]
        if given & {b"NOOFFSETS", b"NOHL"}:
            out.append(b"NOHL")
        out += [b"MAXTEXTFIELDS"] if b"MAXTEXTFIELDS" in given else []
        return out + ([b"STRICT"] if self.strict else [])  # memvec's own option, last
