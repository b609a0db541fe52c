"""The ``=>[KNN k @field $blob ...]`` clause of a query, parsed into a :class:`KnnClause`.

Grammar (RediSearch ``src/query_parser/v2``)::

    knn   := '[' 'KNN' (k | $k) '@field' $blob (ATTR value)* ['AS' alias] ']' ['=>' attrs]
    attrs := '{' $name ':' value (';' $name ':' value)* '}'

Options are ``EF_RUNTIME``, ``HYBRID_POLICY`` (``ADHOC_BF`` or ``BATCHES``) and
``BATCH_SIZE``, given inline or as attributes (``$yield_distance_as`` names the score like
``AS``); hybrid options need a filter before the arrow. ``EPSILON`` (range queries) and
``EF_RUNTIME`` on a FLAT field are refused by the index, which knows the algorithm
(RediSearch's texts differ by algorithm). The clause must end the query. Errors are
:class:`~store.errors.QuerySyntaxError` ``Error parsing vector similarity parameters: ...``
or ``Syntax error at offset N near X``.
"""

from __future__ import annotations

from functools import partial

from ...errors import QuerySyntaxError
from ...numbers import parse_int64
from .lexer import TokenCursor, syntax
from .nodes import FilterNode, KnnClause, MatchAll
from .numbers import parse_size_param


def _vector_error(message: str) -> QuerySyntaxError:
    return QuerySyntaxError(f"Error parsing vector similarity parameters: {message}")


MAX_KNN_K = 2**40
"""K is clamped here: no index holds more vectors, so a larger K asks for the same thing,
and the search breadth derived from K (about ``2k``) stays within hnswlib's 64-bit size."""

_KNN_ATTRIBUTES = {b"yield_distance_as", b"ef_runtime", b"epsilon", b"hybrid_policy",
                   b"batch_size"}  # fmt: skip


class KnnParser(TokenCursor):
    """Parses the KNN clause; mixed into the query parser, which reads the part before it."""

    def knn(self, node: FilterNode | None) -> KnnClause:
        self.take("ARROW")
        self.take("LSQB")
        command = self.take()
        if command.kind != "TERM" or command.text.upper() != b"KNN":
            raise syntax(command, "Syntax error: Expecting Vector Similarity command")
        k_tok = self.take("NUMBER", "ATTR")
        if k_tok.kind == "NUMBER" and not k_tok.is_size:
            raise syntax(k_tok)
        field = self.take("MODIFIER").text
        blob_name = self.take("ATTR").text
        options: dict[bytes, bytes] = {}
        option_params: list[tuple[bytes, bytes]] = []
        alias: bytes | None = None
        alias_tok = None
        while self.kind() != "RSQB":
            tok = self.take("TERM")
            if tok.text.upper() == b"AS":
                alias_tok = self.take("TERM", "NUMBER", "ATTR")
                alias = alias_tok.text
                break
            value_tok = self.take("TERM", "NUMBER", "ATTR")
            _set_option(options, tok.text.upper(), value_tok.text)
            if value_tok.kind == "ATTR":
                option_params.append((tok.text.upper(), value_tok.text))
        self.take("RSQB")
        yields: list[bytes] = []
        if self.kind() == "ARROW" and self.kind(1) == "LB":
            self.i += 1
            for name, value in self.attributes():
                lowered = name.lower()
                if lowered not in _KNN_ATTRIBUTES:
                    raise QuerySyntaxError(f"Invalid attribute {name.decode('utf-8', 'replace')}")
                if lowered == b"yield_distance_as":
                    yields.append(value)
                else:
                    _set_option(options, lowered.upper(), value)
        if self.kind() != "EOF":
            raise syntax(self.here())
        # RediSearch resolves the KNN node's parameters first (before the filter's), in
        # this order: the blob, K, the AS name, then the options' values
        self.param_rank = 0
        vector = self.resolve(lambda: self.param(blob_name), b"")
        if k_tok.kind == "ATTR":
            k_name = k_tok.text
            k = self.resolve(lambda: parse_size_param(self.param(k_name), k_name), 0)
        else:
            # RediSearch takes a literal K of any size, even past 64 bits; a long one is not
            # converted (int() of thousands of digits is slow, then refused)
            digits = k_tok.text.lstrip(b"0") or b"0"
            k = MAX_KNN_K if len(digits) > 20 else int(digits)
        if alias_tok is not None and alias_tok.kind == "ATTR":
            alias_name = alias_tok.text
            alias = self.resolve(lambda: self.param(alias_name), alias_name)
        for option, name in option_params:
            options[option] = self.resolve(partial(self.param, name), b"1")
        self.param_rank = 1
        self.raise_param_errors()
        names = ([] if alias is None else [alias]) + yields
        if len(names) > 1:  # checked with the AS name's parameter resolved
            raise QuerySyntaxError(
                "Distance field was specified twice for vector query: "
                f"{names[0].decode('utf-8', 'replace')} and {names[1].decode('utf-8', 'replace')}"
            )
        alias = names[0] if names else None
        hybrid = node is not None and not isinstance(node, MatchAll)
        return _knn_clause(min(k, MAX_KNN_K), field, vector, alias, options, hybrid)


def _set_option(options: dict[bytes, bytes], name: bytes, value: bytes) -> None:
    if name not in (b"EF_RUNTIME", b"EPSILON", b"HYBRID_POLICY", b"BATCH_SIZE"):
        raise _vector_error("Invalid option")
    if name in options:
        raise _vector_error("Parameter was specified twice")
    options[name] = value


def _positive_int(value: bytes) -> int:
    number = parse_int64(value, strict=False)
    if number is None or number < 1:
        raise _vector_error("Invalid value was given")
    return number


def _knn_clause(
    k: int,
    field: bytes,
    vector: bytes,
    alias: bytes | None,
    options: dict[bytes, bytes],
    hybrid: bool,
) -> KnnClause:
    ef = _positive_int(options[b"EF_RUNTIME"]) if b"EF_RUNTIME" in options else None
    policy = options.get(b"HYBRID_POLICY")
    batch = options.get(b"BATCH_SIZE")
    if (policy is not None or batch is not None) and not hybrid:
        raise _vector_error("hybrid query attributes were sent for a non-hybrid query")
    if policy is not None:
        policy = policy.upper()
        if policy not in (b"ADHOC_BF", b"BATCHES"):
            raise _vector_error("invalid hybrid policy was given")
    batch_size = _positive_int(batch) if batch is not None else None
    if batch_size is not None and policy == b"ADHOC_BF":
        raise _vector_error("'batch size' is irrelevant for 'ADHOC_BF' policy")
    if ef is not None and policy == b"ADHOC_BF":
        raise _vector_error("'EF_RUNTIME' is irrelevant for 'ADHOC_BF' policy")
    return KnnClause(
        k=k,
        field=field,
        vector=vector,
        ef_runtime=ef,
        score_alias=alias if alias is not None else b"__" + field + b"_score",
        hybrid_policy=policy,
        batch_size=batch_size,
        epsilon=options.get(b"EPSILON"),
    )
