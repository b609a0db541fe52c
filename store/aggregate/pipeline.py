"""Running an FT.AGGREGATE request: its steps compiled over a lookup, then pulled lazily.

:func:`compile_plan` checks every property a step reads against what is available at that
point, RediSearch's rules: a LOADed name, an earlier APPLY/reducer output, a SORTABLE
schema field (APPLY/FILTER read those from the sorting vector), or, for GROUPBY, REDUCE
and SORTBY, any schema field (loaded implicitly). ``LOAD *`` makes every hash field
available. Rows are dicts of values; the reply lists a row's fields in the lookup's order
(the order names became known), which is RediSearch's.

:class:`Execution` pulls rows through generator stages, like RediSearch's result
processors, so the reply's total is what RediSearch counts: documents read from the index
by the time the first row was produced (all of them once a GROUPBY or SORTBY consumed its
input; the group count after a GROUPBY). A row whose expression fails stops the pipeline:
an error reply if it was the first row, else the rows so far (RESP3 adds the error to
``warning``). Ties in SORTBY are broken by document order, reversed when the last key is
descending, as RediSearch's sorter does.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import QuerySyntaxError
from ..index.schema import FieldType, IndexDefinition, fold_text
from .evaluate import compile_expr
from .functions import EvalError, RowInfo
from .reducers import Accumulator
from .request import DEFAULT_SORT_LIMIT, AggregateRequest, Apply, Arrange, Filter, GroupBy, Load
from .values import Value, bool_test, compare, format_number, to_bytes, to_number

__all__ = ["Execution", "Plan", "SourceDoc", "compile_plan"]

Row = dict[bytes, Value]
Item = tuple[Row, "SourceDoc | None"]
Stream = Iterator[Item]
Stage = Callable[[Stream, "RunState"], Stream]


@dataclass(slots=True)
class SourceDoc:
    """One matching document, in index order: ``fields`` is its hash (None if gone)."""

    doc_id: int
    key: bytes
    fields: dict[bytes, bytes] | None
    distance: float | None = None
    score: float | None = None
    terms: tuple[bytes, ...] = ()


@dataclass
class _Loader:
    name: bytes
    path: bytes
    kind: str  # "hash" | "sortvector" | "key"
    numeric: bool = False
    fold: bool = False


@dataclass
class Plan:
    root: list[_Loader]
    output: list[bytes]  # the last lookup's names, reply order
    stages: list[Stage]
    load_all: bool = False
    knn_alias: bytes | None = None
    addscores: bool = False
    hidden: set[bytes] = field(default_factory=set)


class _Lookup:
    def __init__(self, definition: IndexDefinition, root: list[_Loader] | None) -> None:
        self.definition = definition
        self.names: list[bytes] = []
        self.root = root  # None after a GROUPBY: nothing more can be loaded
        self.load_all = False

    def has(self, name: bytes) -> bool:
        return name in self.names

    def add(self, name: bytes) -> None:
        if name not in self.names:
            self.names.append(name)

    def schema_field(self, name: bytes) -> object | None:
        for f in self.definition.fields:
            if name == f.alias:
                return f
        return None

    def load(self, name: bytes, path: bytes, implicit_sortable: bool = False) -> None:
        assert self.root is not None
        spec = self.schema_field(path)
        if path == b"__key":
            loader = _Loader(name, path, "key")
        elif spec is not None:
            ftype = spec.type  # type: ignore[attr-defined]
            sortvector = implicit_sortable and spec.sortable  # type: ignore[attr-defined]
            fold = sortvector and not spec.unf and ftype in (FieldType.TEXT, FieldType.TAG)  # type: ignore[attr-defined]
            loader = _Loader(name, spec.name, "hash", ftype is FieldType.NUMERIC, fold)  # type: ignore[attr-defined]
        else:
            loader = _Loader(name, path, "hash")
        self.root.append(loader)
        self.add(name)

    def need(self, name: bytes, mode: str) -> None:
        """Make ``name`` readable or raise. ``mode``: "expr" (APPLY/FILTER), "group", "sort"."""
        if self.has(name):
            return
        if self.root is not None:
            spec = self.schema_field(name)
            if self.load_all:
                self.load(name, name)
                return
            if spec is not None and (mode != "expr" or spec.sortable):  # type: ignore[attr-defined]
                self.load(name, name, implicit_sortable=True)
                return
        text = name.decode("utf-8", "replace")
        if mode == "expr":
            raise QuerySyntaxError(f"Property `{text}` not loaded nor in pipeline")
        if mode == "sort":
            raise QuerySyntaxError(f"Property `{text}` not loaded nor in schema")
        if mode == "reduce":
            raise QuerySyntaxError(f"Property `{text}` not present in document or pipeline")
        raise QuerySyntaxError(f"No such property `{text}`")


def compile_plan(
    request: AggregateRequest, definition: IndexDefinition, knn_alias: bytes | None
) -> Plan:
    """Check the request's steps against the schema; raises RediSearch's errors."""
    root: list[_Loader] = []
    lookup = _Lookup(definition, root)
    if knn_alias is not None:
        if lookup.schema_field(knn_alias) is not None:
            raise QuerySyntaxError(
                f"Property `{knn_alias.decode('utf-8', 'replace')}` already exists in schema"
            )
        lookup.add(knn_alias)
    if request.addscores:
        lookup.add(b"__score")
    stages: list[Stage] = []
    load_all = False
    for step in request.steps:
        if isinstance(step, Load):
            if lookup.root is None:
                raise QuerySyntaxError("LOAD cannot be applied after projectors or reducers")
            if step.everything:
                load_all = lookup.load_all = True
            for name, path in step.fields:
                if not lookup.has(name):
                    lookup.load(name, path)
        elif isinstance(step, Apply):
            for prop in _expr_props(step.tree):
                lookup.need(prop, "expr")
            lookup.add(step.alias)
            stages.append(_apply_stage(step))
        elif isinstance(step, Filter):
            for prop in _expr_props(step.tree):
                lookup.need(prop, "expr")
            stages.append(_filter_stage(step))
        elif isinstance(step, GroupBy):
            for prop in step.properties:
                lookup.need(prop, "group")
            for reducer in step.reducers:
                for prop in reducer.spec.properties:
                    lookup.need(prop, "reduce")
            new = _Lookup(definition, None)
            for prop in step.properties:
                if new.has(prop):
                    raise QuerySyntaxError(
                        f"Property `{prop.decode('utf-8', 'replace')}` specified more than once"
                    )
                new.add(prop)
            for reducer in step.reducers:
                if new.has(reducer.alias):
                    raise QuerySyntaxError(
                        f"Property `{reducer.alias.decode('utf-8', 'replace')}` specified more "
                        "than once"
                    )
                new.add(reducer.alias)
            lookup = new
            stages.append(_group_stage(step))
        else:
            assert isinstance(step, Arrange)
            for name, _ in step.keys:
                lookup.need(name, "sort")
            stages.append(_arrange_stage(step))
    return Plan(root, lookup.names, stages, load_all, knn_alias, request.addscores)


def _expr_props(tree: object) -> list[bytes]:
    from .expr import properties

    return properties(tree)  # type: ignore[arg-type]


_NO_INFO = RowInfo()


def _info(doc: SourceDoc | None) -> RowInfo:
    return RowInfo(doc.terms) if doc is not None and doc.terms else _NO_INFO


def _apply_stage(step: Apply) -> Stage:
    expr, alias = compile_expr(step.tree), step.alias

    def run(rows: Stream, state: RunState) -> Stream:
        for row, doc in rows:
            row[alias] = expr(row, _info(doc))
            yield row, doc

    return run


def _filter_stage(step: Filter) -> Stage:
    expr = compile_expr(step.tree)

    def run(rows: Stream, state: RunState) -> Stream:
        for row, doc in rows:
            if bool_test(expr(row, _info(doc))):
                yield row, doc

    return run


def _group_key(value: Value) -> object:
    """A hashable key equal for the values one group holds: a string as itself (the
    common case, no wrapper), a number, null and an array tagged apart from strings."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, float):
        return ("n", value)
    if isinstance(value, list):
        return ("a", tuple(to_bytes(v) for v in value))
    return ("s", value)


class RunState:
    """What one execution's stages share: a GROUPBY's group count replaces the total."""

    def __init__(self) -> None:
        self.groups: int | None = None


def _expand(values: list[Value]) -> Iterator[list[Value]]:
    """RediSearch's ``extractGroups``: an array puts the row in one group per element (an
    empty array counts as null)."""
    if not values:
        yield []
        return
    head, rest = values[0], values[1:]
    options = (head or [None]) if isinstance(head, list) else [head]
    for option in options:
        for tail in _expand(rest):
            yield [option, *tail]


def _group_stage(step: GroupBy) -> Stage:
    properties = step.properties
    factories = [r.spec.factory for r in step.reducers]
    only = properties[0] if len(properties) == 1 else None

    def run(rows: Stream, state: RunState) -> Stream:
        groups: dict[object, tuple[list[Value], list[Accumulator]]] = {}
        group_of = groups.get
        for row, _doc in rows:
            if only is not None:  # one property (the common GROUPBY): no expansion tuple
                value = row.get(only)
                if type(value) is not list:
                    key = value if type(value) is bytes else _group_key(value)
                    entry = group_of(key)
                    if entry is None:
                        entry = groups[key] = ([value], [factory() for factory in factories])
                    for acc in entry[1]:
                        acc.add(row)
                    continue
            for values in _expand([row.get(p) for p in properties]):
                key = _group_key(values[0]) if only is not None else tuple(map(_group_key, values))
                entry = group_of(key)
                if entry is None:
                    entry = groups[key] = (values, [factory() for factory in factories])
                for acc in entry[1]:
                    acc.add(row)
        state.groups = len(groups)
        for values, accs in groups.values():
            out: Row = {}
            for prop, value in zip(properties, values, strict=True):
                out[prop] = value
            for reducer, acc in zip(step.reducers, accs, strict=True):
                out[reducer.alias] = acc.result()
            yield out, None

    return run


def _arrange_stage(step: Arrange) -> Stage:
    def run(rows: Stream, state: RunState) -> Stream:
        if step.keys:
            if step.limit is not None:
                cap = step.offset + step.limit
            elif step.max is not None:
                cap = step.max
            else:
                cap = DEFAULT_SORT_LIMIT
            ordered = _sorted_rows(step, list(enumerate(rows)))
            selected: Iterator[tuple[Row, SourceDoc | None]] = (item for _, item in ordered[:cap])
        else:
            selected = rows
        if step.limit is None:
            yield from selected
            return
        if step.limit == 0:
            for _ in selected:  # RediSearch still reads (and counts) every row
                pass
            return
        yield from itertools.islice(selected, step.offset, step.offset + step.limit)

    return run


def _sorted_rows(step: Arrange, items: list[tuple[int, Item]]) -> list[tuple[int, Item]]:
    """The rows in SORTBY order: stable sorts by plain keys, one pass per sort key (last
    key first), when every present value of a key is a number or every one a string;
    RediSearch's comparison (:func:`_cmp_rows`) for mixed types and NaN."""
    keyfuncs = []
    for name, asc in step.keys:
        present = [row[name] for _, (row, _) in items if name in row and row[name] is not None]
        if all(isinstance(v, float) and not math.isnan(v) for v in present):
            dummy: float | bytes = 0.0
        elif all(isinstance(v, bytes) for v in present):
            dummy = b""
        else:

            def order(a: tuple[int, Item], b: tuple[int, Item]) -> int:
                return _cmp_rows(step, a, b)

            return sorted(items, key=functools.cmp_to_key(order))
        keyfuncs.append((name, asc, dummy))
    ascending = step.keys[-1][1] if step.keys else True
    ordered = sorted(items, key=lambda it: _doc_order(it), reverse=not ascending)
    for name, asc, dummy in reversed(keyfuncs):
        # a row without the key sorts last in both directions; null sorts as the smallest
        missing = (1 if asc else 0, 0, dummy)
        null = (1 - missing[0], 0, dummy)

        def key(
            it: tuple[int, Item], name: bytes = name, missing: Any = missing, null: Any = null
        ) -> tuple[Any, ...]:
            row = it[1][0]
            if name not in row:
                return missing
            value = row[name]
            return null if value is None else (null[0], 1, value)

        ordered.sort(key=key, reverse=not asc)
    return ordered


def _doc_order(item: tuple[int, Item]) -> int:
    doc = item[1][1]
    return doc.doc_id if doc is not None else item[0]


def _cmp_rows(
    step: Arrange,
    a: tuple[int, tuple[Row, SourceDoc | None]],
    b: tuple[int, tuple[Row, SourceDoc | None]],
) -> int:
    """Negative when ``a`` comes first (RediSearch's ``cmpByFields``, inverted)."""
    ascending = True
    for name, asc in step.keys:
        ascending = asc
        row_a, row_b = a[1][0], b[1][0]
        if name not in row_a or name not in row_b:
            # a row without the key sorts last whatever the direction
            if name in row_a:
                return -1
            if name in row_b:
                return 1
            continue
        va, vb = row_a[name], row_b[name]
        c = compare(va, vb, strict=False)
        if c:
            return c if asc else -c
    da = a[1][1].doc_id if a[1][1] is not None else a[0]
    db = b[1][1].doc_id if b[1][1] is not None else b[0]
    c = -1 if da < db else 1
    return c if ascending else -c


def _hash_value(loader: _Loader, raw: bytes) -> Value:
    if loader.numeric:
        number = to_number(raw)
        if number is not None:
            return number
    if loader.fold:
        return fold_text(raw)
    return raw


class Execution:
    """One running aggregation: pull rows in chunks (a whole reply, or cursor reads)."""

    def __init__(self, plan: Plan, docs: Iterator[SourceDoc]) -> None:
        self.plan = plan
        self.pulled = 0
        self.output = list(plan.output)
        self.state = RunState()
        self.done = False
        self.warning: str | None = None
        stream: Stream = self._source(docs)
        for stage in plan.stages:
            stream = stage(stream, self.state)
        self.stream = stream

    def _source(self, docs: Iterator[SourceDoc]) -> Stream:
        plan = self.plan
        knn_alias, addscores, load_all = plan.knn_alias, plan.addscores, plan.load_all
        loaders = [(loader.kind == "key", loader.name, loader.path, loader.numeric or loader.fold,
                    loader) for loader in plan.root]  # fmt: skip
        for doc in docs:
            fields = doc.fields
            if fields is None:
                continue
            self.pulled += 1
            row: Row = {}
            if knn_alias is not None and doc.distance is not None:
                row[knn_alias] = doc.distance
            if addscores:
                row[b"__score"] = doc.score if doc.score is not None else 0.0
            for is_key, name, path, converts, loader in loaders:
                if is_key:
                    row[name] = doc.key
                    continue
                raw = fields.get(path)
                if raw is not None:
                    row[name] = _hash_value(loader, raw) if converts else raw
            if load_all:
                for name, raw in fields.items():
                    if name not in row:
                        row[name] = raw
                        if name not in self.output:
                            self.output.append(name)
            yield row, doc

    def total(self) -> int:
        return self.state.groups if self.state.groups is not None else self.pulled

    def chunk(self, count: int | None) -> tuple[int, list[Row]]:
        """Up to ``count`` rows (None: all); raises EvalError if the first row fails.

        Returns ``(total, rows)``; sets :attr:`done` when nothing is left.
        """
        self.pulled = 0
        self.state.groups = None
        rows: list[Row] = []
        total = 0
        while count is None or len(rows) < count:
            try:
                item = next(self.stream)
            except StopIteration:
                self.done = True
                break
            except EvalError as exc:
                self.done = True
                if not rows:
                    raise
                self.warning = str(exc)
                break
            if not rows:
                total = self.total()
            rows.append(item[0])
        if not rows:
            total = self.total()
        return total, rows

    def fields(self, row: Row) -> list[tuple[bytes, Value]]:
        return [(name, row[name]) for name in self.output if name in row]


def reply_value(value: Value) -> object:
    """A row value as RESP: numbers as RediSearch prints them, arrays as arrays."""
    if isinstance(value, float):
        return format_number(value)
    if isinstance(value, list):
        return [reply_value(v) for v in value]
    return value
