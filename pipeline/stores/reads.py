"""The :class:`~pipeline.stores.base.SearchStore` operations written as store commands.

:class:`CommandReads` implements ``search``/``get``/``index_info``/``indexes``/``ping``
over one ``call(*args)`` that each backend provides (run one command, raise the
:mod:`pipeline.errors` store family). The ``FT.SEARCH``/``FT.INFO`` argument building
and RESP2 reply parsing live here too, shared with the benchmarks.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import IndexNotFound, StoreClientError, StoreRejected, StoreUnavailable
from .base import IndexInfo, SearchHit
from .text_query import text_clause

__all__ = [
    "DISTANCE_ALIAS",
    "CommandReads",
    "build_search_args",
    "build_text_search_args",
    "parse_index_info",
    "parse_search_reply",
    "parse_text_search_reply",
    "translate_message",
]

DISTANCE_ALIAS = "__distance"


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _pairs(flat: Sequence[Any]) -> dict[str, Any]:
    return {_text(flat[i]): flat[i + 1] for i in range(0, len(flat) - 1, 2)}


def _int(value: object) -> int | None:
    try:
        return int(float(_text(value)))
    except (TypeError, ValueError):
        return None


def parse_index_info(name: str, reply: Sequence[Any]) -> IndexInfo:
    """An :class:`IndexInfo` from a RESP2 ``FT.INFO`` reply (memvec or RediSearch 2.x)."""
    info = _pairs(reply)
    fields: dict[str, str] = {}
    vectors: dict[str, tuple[int | None, str | None]] = {}
    for attr in info.get("attributes") or []:
        spec = _pairs(attr)
        attr_name = _text(spec.get("attribute", spec.get("identifier", "")))
        kind = _text(spec.get("type", "")).upper()
        fields[attr_name] = kind
        if kind == "VECTOR":
            metric = spec.get("distance_metric")
            vectors[attr_name] = (_int(spec.get("dim")), _text(metric) if metric else None)
    definition = _pairs(info.get("index_definition") or [])
    prefixes = tuple(_text(p) for p in definition.get("prefixes") or [])
    first_vec = next(iter(vectors), None)
    dims, metric = vectors[first_vec] if first_vec else (None, None)
    lag = _int(info["lag_records"]) if "lag_records" in info else None
    return IndexInfo(
        name=name,
        num_docs=_int(info.get("num_docs")) or 0,
        fields=fields,
        prefixes=prefixes,
        vector_field=first_vec,
        dims=dims,
        metric=metric,
        lag=lag,
        vectors=vectors,
    )


def build_search_args(
    index: str,
    vector_bytes: bytes,
    k: int,
    filter_expr: str,
    ef_runtime: int | None,
    return_fields: Sequence[str] | None,
    vector_field: str,
) -> list[str | bytes | int]:
    """``FT.SEARCH`` arguments of a KNN query; the distance comes back as ``__distance``."""
    knn = f"KNN {int(k)} @{vector_field} $B"
    params: list[str | bytes | int] = ["B", vector_bytes]
    if ef_runtime is not None:
        knn += " EF_RUNTIME $EF"
        params += ["EF", int(ef_runtime)]
    where = "*" if filter_expr.strip() in ("", "*") else f"({filter_expr})"
    query = f"{where}=>[{knn} AS {DISTANCE_ALIAS}]"
    args: list[str | bytes | int] = ["FT.SEARCH", index, query, "PARAMS", len(params), *params]
    if return_fields is not None:
        names = [DISTANCE_ALIAS, *dict.fromkeys(return_fields)]
        args += ["RETURN", len(names), *names]
    args += ["SORTBY", DISTANCE_ALIAS, "ASC", "LIMIT", 0, int(k), "DIALECT", 2]
    return args


def parse_search_reply(reply: Sequence[Any]) -> list[SearchHit]:
    """The hits of a RESP2 ``FT.SEARCH`` reply built by :func:`build_search_args`."""
    hits: list[SearchHit] = []
    for i in range(1, len(reply) - 1, 2):
        flat = reply[i + 1] or []
        fields = {_text(flat[j]): flat[j + 1] for j in range(0, len(flat) - 1, 2)}
        raw = fields.pop(DISTANCE_ALIAS, b"nan")
        try:
            distance = float(_text(raw))
        except ValueError:
            distance = float("nan")
        hits.append(SearchHit(_text(reply[i]), distance, fields))
    return hits


def build_text_search_args(
    index: str,
    terms: Sequence[str],
    k: int,
    filter_expr: str,
    return_fields: Sequence[str] | None,
    text_field: str,
) -> list[str | bytes | int]:
    """``FT.SEARCH`` arguments of a BM25 query: documents whose ``text_field`` holds any
    of ``terms`` (tokenised by :func:`~pipeline.stores.text_query.query_terms`), best
    ``k`` by RediSearch's ``BM25STD`` scorer, each with its score (``WITHSCORES``)."""
    query = text_clause(text_field, terms)
    if filter_expr.strip() not in ("", "*"):
        query = f"{query} ({filter_expr})"
    args: list[str | bytes | int] = ["FT.SEARCH", index, query, "WITHSCORES", "SCORER", "BM25STD"]
    if return_fields is not None:
        names = list(dict.fromkeys(return_fields))
        args += ["RETURN", len(names), *names]
    args += ["LIMIT", 0, int(k), "DIALECT", 2]
    return args


def parse_text_search_reply(reply: Sequence[Any]) -> list[SearchHit]:
    """The hits of a RESP2 ``FT.SEARCH ... WITHSCORES`` reply (``[total, id, score,
    fields, ...]``), best first; ``distance`` is NaN and ``score`` the text score."""
    hits: list[SearchHit] = []
    for i in range(1, len(reply) - 2, 3):
        flat = reply[i + 2] or []
        fields = {_text(flat[j]): flat[j + 1] for j in range(0, len(flat) - 1, 2)}
        try:
            text_score = float(_text(reply[i + 1]))
        except ValueError:
            text_score = float("nan")
        hits.append(SearchHit(_text(reply[i]), float("nan"), fields, text_score))
    return hits


def translate_message(message: str) -> StoreClientError:
    """The store-family error for an error reply's text (memvec and RediSearch wording)."""
    lowered = message.lower()
    if "no such index" in lowered or "unknown index" in lowered:
        return IndexNotFound(message)
    if lowered.startswith("loading"):
        return StoreUnavailable(f"the store is loading its data, retry shortly ({message})")
    if lowered.startswith(("noauth", "noperm", "wrongpass")):
        return StoreUnavailable(f"the store refused the client's credentials ({message})")
    return StoreRejected(message)


class CommandReads:
    """The :class:`~pipeline.stores.base.SearchStore` operations over ``call(*args)``,
    which a backend implements: run one command, return its reply, raise the store
    family of :mod:`pipeline.errors`."""

    def call(self, *args: Any) -> Any:
        raise NotImplementedError

    def search(
        self,
        index: str,
        vector_bytes: bytes,
        k: int,
        filter_expr: str = "*",
        ef_runtime: int | None = None,
        return_fields: Sequence[str] | None = None,
        *,
        vector_field: str = "vec",
    ) -> list[SearchHit]:
        args = build_search_args(
            index, vector_bytes, k, filter_expr, ef_runtime, return_fields, vector_field
        )
        return parse_search_reply(self.call(*args))

    def text_search(
        self,
        index: str,
        terms: Sequence[str],
        k: int,
        filter_expr: str = "*",
        return_fields: Sequence[str] | None = None,
        *,
        text_field: str = "text",
    ) -> list[SearchHit]:
        args = build_text_search_args(index, terms, k, filter_expr, return_fields, text_field)
        return parse_text_search_reply(self.call(*args))

    def get(self, doc_id: str) -> dict[str, bytes] | None:
        try:
            reply = self.call("HGETALL", doc_id)
        except StoreRejected as exc:
            if "wrong kind of value" not in str(exc):  # WRONGTYPE: not a hash
                raise
            return self._get_json(doc_id)
        if not reply:
            return None
        items = reply.items() if isinstance(reply, dict) else _pairs(reply).items()
        return {_text(k): v for k, v in items}

    def _get_json(self, doc_id: str) -> dict[str, bytes] | None:
        """A JSON chunk document (``storage="json"``) as hash-like fields: strings as
        UTF-8, a list of numbers as a FLOAT32 blob (the vector), other values as JSON."""
        reply = self.call("JSON.GET", doc_id)
        doc = json.loads(reply) if reply else None
        if not isinstance(doc, dict):
            return None
        out: dict[str, bytes] = {}
        for name, value in doc.items():
            if isinstance(value, str):
                out[name] = value.encode()
            elif isinstance(value, list) and value and all(_is_number(v) for v in value):
                out[name] = np.asarray(value, dtype="<f4").tobytes()
            else:
                out[name] = json.dumps(value, ensure_ascii=False).encode()
        return out

    def index_info(self, index: str) -> IndexInfo:
        return parse_index_info(index, self.call("FT.INFO", index))

    def indexes(self) -> list[IndexInfo]:
        names = sorted(_text(n) for n in self.call("FT._LIST"))
        return [self.index_info(n) for n in names]

    def ping(self) -> None:
        self.call("PING")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
