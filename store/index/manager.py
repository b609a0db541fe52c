"""The index manager: every FT index of an engine, and the routing of key changes to them.

Called by the engine under its lock. ``on_key_changed`` re-indexes a key in every index
whose prefixes cover it, from the key's current raw value (deadlines are ignored here:
an expired key leaves the indexes when its logged ``DEL`` is applied, and searches hide
logically expired keys meanwhile).

Aliases (``FT.ALIASADD/ALIASUPDATE/ALIASDEL``) live here too, so every command that takes
an index name through :meth:`IndexManager.get` accepts an alias for free, as RediSearch
does: a name is looked up as an index first, then as an alias. Dropping an index drops
its aliases; ``drop_all`` (FLUSHALL/FLUSHDB) drops every index and alias, as RediSearch
2.10 does. Aliases are saved in snapshots with the index they point at.

Indexes ON JSON take JSON documents (:mod:`store.index.json_fields`) and ignore hashes;
indexes ON HASH the reverse.

Indexing failures: a hash under an index's prefix that the index cannot take (a vector of
the wrong size, a numeric field that does not parse) is stored anyway and counted in the
index's ``FT.INFO`` (``hash_indexing_failures``, per field too), as RediSearch does. An
index created with memvec's ``STRICT`` option (see :mod:`store.index.schema.create`)
instead makes :meth:`IndexManager.check_hash_write` refuse the write.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import IndexError_
from .multi_vector import SubVectors
from .schema import IndexDefinition, parse_ft_create
from .search_index import SearchIndex
from .term_patterns import ExpansionLimits
from .vector import VectorIndex

if TYPE_CHECKING:
    from ..keyspace import Keyspace
    from ..snapshot.format import SnapshotReader

log = logging.getLogger("memvec.index")


KNN_ORDERS = ("distance", "score")

SHORT_SCAN_FLOATS = 1_000_000
"""The most vector components an index's FLAT fields may hold, together, for
:meth:`IndexManager.short_scans` (~4 MB, 2,600 x 384: a pass of ~0.1 ms on the 2-core
reference machine, shorter than the hop to a thread and back). Above it, a search may be a
scan whose pass concurrent searches share on the scan pool (:meth:`IndexManager.
long_scans`): at 20k x 384 (7.7M), 8 clients got 1,090-1,179 QPS that way against 822-986
inline, one scan at a time (docs/decisions/0034). Decision 0016 had 10M, when every
scan was its own product and pooled scans convoyed with the loop."""


class IndexManager:
    """The indexes over one keyspace. Indexes read keys from it; dropping an index with its
    documents deletes them from it."""

    def __init__(self, keyspace: Keyspace) -> None:
        self.keyspace = keyspace
        self.indexes: dict[str, SearchIndex] = {}
        self.aliases: dict[str, str] = {}
        self.limits = ExpansionLimits()
        """MINPREFIX / MAXEXPANSIONS (``FT.CONFIG SET``), shared by every index here."""
        self.vss_max_resize_bytes = 0
        """``FT.CONFIG SET VSS_MAX_RESIZE``: when not 0, what one vector index's INITIAL_CAP
        or BLOCK_SIZE may ask for (:func:`store.index.schema.capacity_budget_bytes`)."""
        self.knn_order = KNN_ORDERS[0]
        """How FT.SEARCH orders KNN hits without SORTBY (the server's ``search-knn-order``):
        ``distance`` (nearest first, as Amazon MemoryDB documents) or ``score``
        (RediSearch 2.10: scorer score descending, ties by document id)."""

    def names(self) -> list[str]:
        return list(self.indexes)

    def get(self, name: bytes | str, *, missing: str = "{name}: no such index") -> SearchIndex:
        """The index called ``name``; ``missing`` is the error text (RediSearch varies it)."""
        key = _text(name)
        index = self.indexes.get(key)
        if index is None and key in self.aliases:
            index = self.indexes.get(self.aliases[key])
        if index is None:
            raise IndexError_(missing.format(name=key))
        return index

    def _named(self, name: bytes | str) -> SearchIndex | None:
        """The index called ``name`` or aliased so, without the engine lock (a hint)."""
        key = _text(name)
        index = self.indexes.get(key)
        if index is None and key in self.aliases:
            index = self.indexes.get(self.aliases[key])
        return index

    def short_scans(self, name: bytes | str) -> bool:
        """Whether a search of index ``name`` is at most a short exact scan: it has vector
        fields, all FLAT, holding at most :data:`SHORT_SCAN_FLOATS` components together.
        False for an unknown name. The server runs such a search on its event loop even
        while other clients are active: shorter than the hop to a thread and back.
        Reads the index table without the engine lock (a hint: a concurrent FT.DROPINDEX
        or insert changes nothing a search relies on)."""
        index = self._named(name)
        if index is None or not index.vectors:
            return False
        total = 0
        for vindex in index.vectors.values():
            if vindex.kind != "FLAT":
                return False
            total += len(vindex) * vindex.dim
        return total <= SHORT_SCAN_FLOATS

    def long_scans(self, name: bytes | str, query: bytes) -> bool:
        """Whether FT.SEARCH ``query`` of index ``name`` scans a large FLAT field: it names
        (``@``) a FLAT field holding more than :data:`SHORT_SCAN_FLOATS` components. The
        server runs such a search on its scan pool while other clients share the server,
        where concurrent scans share a pass over the matrix (docs/decisions/0034), filtered
        ones too (docs/decisions/0035). A KNN of another field of the index (an HNSW one)
        is a walk, not a scan. False for an unknown name, and for a query whose last KNN
        scanned a filter's rows alone (``filtered-rows``, :meth:`SearchIndex.note_plan`):
        short, it pays the scan pool's hops and GIL hand-offs for no pass to share (20k,
        10% filter, 8 clients: 595-657 QPS there against 777-1,641 off it; docs/decisions/
        0036). A hint, read without the engine lock, as :meth:`short_scans`."""
        index = self._named(name)
        if index is None:
            return False
        return (
            any(
                b"@" + spec.alias in query
                and (vindex := index.vectors[spec.name]).kind == "FLAT"
                and len(vindex) * vindex.dim > SHORT_SCAN_FLOATS
                for spec in index.vector_fields
            )
            and query not in index.alone_scans
        )

    def create(self, definition: IndexDefinition) -> SearchIndex:
        if definition.name in self.indexes:
            raise IndexError_("Index already exists")
        index = SearchIndex(definition, self.limits)
        if not definition.skip_initial_scan:
            index.backfill(self.keyspace.data.items())
        self.indexes[definition.name] = index
        return index

    def drop(self, name: bytes | str, *, delete_documents: bool) -> None:
        index = self.get(name, missing="Unknown Index name")
        del self.indexes[index.name]
        self.aliases = {a: n for a, n in self.aliases.items() if n != index.name}
        if delete_documents:
            for key in list(index.key_to_label):
                self.keyspace.delete(key)

    def drop_all(self) -> None:
        """Drop every index and alias (FLUSHALL/FLUSHDB, as RediSearch does)."""
        self.indexes.clear()
        self.aliases.clear()

    def alter(self, name: bytes | str, fields: list[bytes], *, skip_scan: bool) -> SearchIndex:
        """``FT.ALTER name [SKIPINITIALSCAN] SCHEMA ADD fields``: the index gets the new
        fields and re-indexes the keyspace (every key under its prefixes), or, with
        ``skip_scan``, keeps the documents it had, indexed without the new fields. Field
        errors are FT.CREATE's.

        The documents keep their labels and the existing vector indexes are carried over
        (an HNSW graph is not rebuilt: re-indexing a document whose vector is unchanged
        costs a comparison); the attribute indexes are rebuilt."""
        old = self.get(name, missing="Unknown index name")
        definition = parse_ft_create([*old.definition.to_args(), *fields])
        index = SearchIndex(definition, self.limits)
        index.stats = old.stats
        index.key_to_label = dict(old.key_to_label)
        index.label_to_key = dict(old.label_to_key)
        index.next_label = old.next_label
        index.vectors.update(old.vectors)
        index.subs = old.subs
        index.adopt_indexed(old)
        data = self.keyspace.data
        if skip_scan:
            # as RediSearch: the documents stay indexed, without the new fields until
            # their next write (a snapshot restore indexes them whole: docs/compatibility.md)
            added = frozenset(f.name for f in definition.fields) - {
                f.name for f in old.definition.fields
            }
            for key in old.key_to_label:
                index.update(key, data.get(key), without=added)
        else:
            index.backfill(data.items())
        self.indexes[old.name] = index
        return index

    # -- aliases --------------------------------------------------------------------------
    def alias_add(self, alias: bytes, name: bytes, *, update: bool = False) -> None:
        """Point ``alias`` at index ``name`` (an index, not an alias). Without ``update``
        an existing alias is an error."""
        alias_name, index_name = _text(alias), _text(name)
        if index_name not in self.indexes:
            raise IndexError_("Unknown index name (or name is an alias itself)")
        if not update and alias_name in self.aliases:
            raise IndexError_("Alias already exists")
        self.aliases[alias_name] = index_name

    def alias_del(self, alias: bytes) -> None:
        if self.aliases.pop(_text(alias), None) is None:
            raise IndexError_("Alias does not exist")

    # -- write routing --------------------------------------------------------------------
    def check_hash_write(self, key: bytes, fields: dict[bytes, bytes]) -> None:
        """Refuse (raise, changing nothing) a hash write a ``STRICT`` index covering
        ``key`` could not index; other indexes take the write and count a failure."""
        for index in self.indexes.values():
            if index.definition.strict and index.covers(key):
                index.check(key, fields)

    def hash_emptied(self, key: bytes) -> None:
        """HDEL removed the last field of ``key``: every HASH index covering it counts an
        indexing failure, as RediSearch does (its ``hdel`` event re-reads the document,
        which no longer exists; a DEL counts nothing)."""
        for index in self.indexes.values():
            if index.definition.on == "HASH" and index.covers(key):
                index.count_failure(
                    key, f"Key {key.decode('utf-8', 'replace')} does not exist or is not a hash"
                )

    def on_key_changed(self, key: bytes) -> None:
        if not self.indexes:
            return
        value = self.keyspace.data.get(key)
        for index in self.indexes.values():
            if index.covers(key):
                index.update(key, value)

    @contextmanager
    def deferred_vectors(self) -> Iterator[None]:
        """Within the block, vector inserts are batched per index and field (built in
        parallel) and land at its end. The caller holds the engine lock for the whole block
        and runs only key writes in it (no FT.* command, no search)."""
        for index in self.indexes.values():
            index.defer_vectors()
        try:
            yield
        finally:
            for index in self.indexes.values():
                index.flush_vectors()

    def memory_bytes(self) -> int:
        return sum(i.memory_bytes() for i in self.indexes.values())

    # -- snapshots ------------------------------------------------------------------------
    def dump_state(self) -> list[dict[str, Any]]:
        """One entry per index: its state plus ``aliases``, the aliases pointing at it."""
        out = []
        for index in self.indexes.values():
            state = index.dump_state()
            state["aliases"] = [a for a, n in self.aliases.items() if n == index.name]
            out.append(state)
        return out

    def vector_sections(self) -> Iterator[tuple[str, Callable[[str], None]]]:
        for index in self.indexes.values():
            for field_name, vindex in index.vectors.items():
                yield (
                    f"vector/{index.name}/{field_name.hex()}",
                    vindex.save,
                )

    def restore(self, state: list[dict[str, Any]], reader: SnapshotReader, tmp_dir: Path) -> None:
        """Rebuild indexes from snapshot state: graphs are loaded, not rebuilt."""
        self.indexes.clear()
        self.aliases.clear()
        data = self.keyspace.data
        for entry in state:
            definition = parse_ft_create([b"FT.CREATE", *entry["definition"]])
            index = SearchIndex(definition, self.limits)
            index.key_to_label = dict(entry["key_to_label"])
            index.label_to_key = {v: k for k, v in index.key_to_label.items()}
            index.next_label = entry["next_label"]
            index.subs = SubVectors.from_state(entry.get("sub_vectors"))
            for field_name in list(index.vectors):
                section = f"vector/{index.name}/{field_name.hex()}"
                path = tmp_dir / f"restore-{index.name.encode().hex()}-{field_name.hex()}.bin"
                reader.extract_to(section, path)
                cls: type[VectorIndex] = type(index.vectors[field_name])
                try:
                    index.vectors[field_name] = cls.load(str(path))
                finally:
                    path.unlink(missing_ok=True)
            for key, label in list(index.key_to_label.items()):
                value = data.get(key)
                try:
                    document = index.document(value)
                    if document is None:
                        continue
                    index.fields.add(label, document)
                    index.keep_json_vectors(label, document)
                    index.note_indexed(label, document)
                    index.relink_vectors(label, document)
                except IndexError_:
                    # a document kept without a field FT.ALTER SKIPINITIALSCAN added, whose
                    # value that field cannot take: whole, it is an indexing failure
                    index.update(key, value)
            self.indexes[index.name] = index
            for alias in entry.get("aliases", ()):
                self.aliases[alias] = index.name


def _text(name: bytes | str) -> str:
    return name.decode("utf-8", "replace") if isinstance(name, bytes) else name
