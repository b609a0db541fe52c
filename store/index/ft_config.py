# ruff: noqa: E501  (RediSearch's descriptions, verbatim)
"""RediSearch's run-time parameters as ``FT.CONFIG GET/HELP`` shows them, with memvec's values.

RediSearch 2.10 lists these parameters, in this order, with a one-line description each
(its texts). ``MINPREFIX`` and ``MAXEXPANSIONS`` are settable (their current values live
in the server's ``IndexManager.limits``; the values here are the defaults). memvec has no
run-time knobs for the rest: the ones it honours are fixed by its
design (``MAXSEARCHRESULTS`` 1000000,
``DEFAULT_DIALECT`` 2: memvec parses every query with the DIALECT 2 grammar) and the
rest concern RediSearch internals memvec does not have (the fork GC, memory pools,
Chinese tokenization). ``FT.CONFIG GET`` reports every one with the value memvec behaves
by (RediSearch's default for internals); ``FT.CONFIG SET`` to that same value is
accepted (nothing to change), any other value is refused with an error naming the
parameter and its fixed value, because accepting a value that changes nothing would
answer differently from RediSearch silently. docs/compatibility.md lists this.

``VSS_MAX_RESIZE`` is settable too: when not 0 it replaces a tenth of the memory limit as
the bytes one vector index's ``INITIAL_CAP`` or ``BLOCK_SIZE`` may ask for
(:func:`store.index.schema.capacity_budget_bytes`), which is what it bounds in
RediSearch 2.10 (``BLOCK_MEMORY_LIMIT`` in its ``spec.c``). RediSearch keeps it in a
32-bit ``unsigned int``, so a value is stored modulo 2^32, as there. A refused value
leaves the setting unchanged (RediSearch stores an uninitialised value then).
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

from ..errors import QuerySyntaxError

__all__ = ["PARAMETERS", "Parameter", "lookup", "parse_config_integer"]


class Parameter(NamedTuple):
    name: str
    description: str
    value: bytes | None


PARAMETERS: tuple[Parameter, ...] = tuple(
    Parameter(name, description, value)
    for name, description, value in (
        ("EXTLOAD", "Load extension scoring/expansion module", None),
        ("NOGC", "Disable garbage collection (for this process)", b"false"),
        ("MINPREFIX", "Set the minimum prefix for expansions (`*`)", b"2"),
        ("MINSTEMLEN", "Set the minimum word length to stem (default 4)", b"4"),
        (
            "FORKGC_SLEEP_BEFORE_EXIT",
            "set the amount of seconds for the fork GC to sleep before exists, should always be set to 0 (other then on tests).",
            b"0",
        ),
        ("MAXDOCTABLESIZE", "Maximum runtime document table size (for this process)", b"1000000"),
        ("MAXSEARCHRESULTS", "Maximum number of results from ft.search command", b"1000000"),
        (
            "MAXAGGREGATERESULTS",
            "Maximum number of results from ft.aggregate command",
            b"unlimited",
        ),
        ("MAXEXPANSIONS", "Maximum prefix expansions to be used in a query", b"200"),
        ("MAXPREFIXEXPANSIONS", "Maximum prefix expansions to be used in a query", b"200"),
        ("TIMEOUT", "Query (search) timeout", b"500"),
        (
            "FRISOINI",
            "Path to Chinese dictionary configuration file (for Chinese tokenization)",
            None,
        ),
        (
            "ON_TIMEOUT",
            "Action to perform when search timeout is exceeded (choose RETURN or FAIL)",
            b"return",
        ),
        ("GCSCANSIZE", "Scan this many documents at a time during every GC iteration", b"100"),
        (
            "MIN_PHONETIC_TERM_LEN",
            "Minumum length of term to be considered for phonetic matching",
            b"3",
        ),
        ("GC_POLICY", "gc policy to use (DEFAULT/LEGACY)", b"fork"),
        (
            "FORK_GC_RUN_INTERVAL",
            "interval (in seconds) in which to run the fork gc (relevant only when fork gc is used)",
            b"30",
        ),
        (
            "FORK_GC_CLEAN_THRESHOLD",
            "the fork gc will only start to clean when the number of not cleaned document will exceed this threshold",
            b"100",
        ),
        (
            "FORK_GC_RETRY_INTERVAL",
            "interval (in seconds) in which to retry running the forkgc after failure.",
            b"5",
        ),
        ("FORK_GC_CLEAN_NUMERIC_EMPTY_NODES", "clean empty nodes from numeric tree", b"true"),
        ("_FORK_GC_CLEAN_NUMERIC_EMPTY_NODES", "clean empty nodes from numeric tree", b"true"),
        (
            "UNION_ITERATOR_HEAP",
            "minimum number of iterators in a union from which the interator willswitch to heap based implementation.",
            b"20",
        ),
        (
            "CURSOR_MAX_IDLE",
            "max idle time allowed to be set for cursor, setting it hight might cause high memory consumption.",
            b"300000",
        ),
        ("NO_MEM_POOLS", "Set RediSearch to run without memory pools", b"false"),
        (
            "PARTIAL_INDEXED_DOCS",
            "Enable commands filter which optimize indexing on partial hash updates",
            b"false",
        ),
        (
            "UPGRADE_INDEX",
            "Relevant only when loading an v1.x rdb, specify argument for upgrading the index.",
            b"Upgrade config for upgrading",
        ),
        ("_NUMERIC_COMPRESS", "Enable legacy compression of double to float.", b"false"),
        (
            "_FREE_RESOURCE_ON_THREAD",
            "Determine whether some index resources are free on a second thread.",
            b"true",
        ),
        (
            "_PRINT_PROFILE_CLOCK",
            "Disable print of time for ft.profile. For testing only.",
            b"true",
        ),
        (
            "RAW_DOCID_ENCODING",
            "Disable compression for DocID inverted index. Boost CPU performance.",
            b"false",
        ),
        (
            "_NUMERIC_RANGES_PARENTS",
            "Keep numeric ranges in numeric tree parent nodes of leafs for `x` generations.",
            b"0",
        ),
        (
            "DEFAULT_DIALECT",
            "Set RediSearch default dialect version throught the lifetime of the server.",
            b"2",
        ),
        ("VSS_MAX_RESIZE", "Set RediSearch vector indexes max resize (in bytes).", b"0"),
        (
            "MULTI_TEXT_SLOP",
            "Set RediSearch delta used to increase positional offsets between array slots for multi text values.Can control the level of separation between phrases in different array slots (related to the SLOP parameter of ft.search command)",
            b"100",
        ),
        (
            "BG_INDEX_SLEEP_GAP",
            "The number of iterations to run while performing background indexing before we call usleep(1) (sleep for 1 micro-second) and make sure that we allow redis process other commands.",
            b"100",
        ),
        (
            "_PRIORITIZE_INTERSECT_UNION_CHILDREN",
            "Intersection iterator orders the children iterators by their relative estimated number of results in ascending order, so that if we see first iterators with a lower count of results we will skip a larger number of results, which translates into faster iteration. If this flag is set, we use this optimization in a way where union iterators are being factorize by the number of their own children, so that we sort by the number of children times the overall estimated number of results instead.",
            b"false",
        ),
    )
)


def lookup(pattern: bytes) -> list[Parameter]:
    """The parameters ``pattern`` names: ``*`` is all of them, else one by exact name
    (case-insensitive), or none."""
    if pattern == b"*":
        return list(PARAMETERS)
    name = pattern.decode("utf-8", "replace").upper()
    return [p for p in PARAMETERS if p.name == name]


_INT64 = re.compile(rb"-?(0|[1-9][0-9]*)")
_INT64_MAX = (1 << 63) - 1


def parse_config_integer(raw: bytes, minimum: int) -> int:
    """RediSearch's ``AC_GetLongLong`` on a config argument, then its ``AC_F_GE0`` (``minimum``
    0) or ``AC_F_GE1`` (1) bound: a 64-bit integer in Redis's strict form, else a number
    ``strtod`` reads whose value is a whole 64-bit integer (``3.0``, ``1e3``, ``+5``).
    Anything else is ``Could not convert argument to expected type``; below ``minimum``,
    ``Value is outside acceptable bounds`` (RediSearch's texts)."""
    value: int | None = None
    if _INT64.fullmatch(raw) and -_INT64_MAX - 1 <= int(raw) <= _INT64_MAX:
        value = int(raw)
    elif raw and not raw[:1].isspace() and not raw[-1:].isspace() and b"_" not in raw:
        try:
            number = float(raw.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            number = math.nan
        if math.isfinite(number) and number == int(number) and abs(number) < 2.0**63:
            value = int(number)
    if value is None:
        raise QuerySyntaxError("Could not convert argument to expected type")
    if value < minimum:
        raise QuerySyntaxError("Value is outside acceptable bounds")
    return value
