"""FT.DEBUG: the RediSearch debug subcommands that mean something for memvec's indexes.

RediSearch's garbage collector reclaims the postings of deleted documents some time after
the delete; its tests force a pass (``GC_FORCEINVOKE``) before checking that FT.INFO's
overheads shrank. memvec removes a document's postings in the write that deletes it, so
every index is always collected: the GC subcommands answer as RediSearch's do once its pass
is over (``DONE`` / ``OK``), after checking the index exists, and change nothing but the
per-index "periodic GC stopped" flag STOP/CONTINUE_SCHEDULE report on (kept in this
process only, as RediSearch keeps it in memory).

The other subcommands (``DUMP_INVIDX``, ``VECSIM_INFO``, ``DOCINFO`` ...) expose RediSearch's
own structures, which memvec does not have: they are refused with a clear error, never
answered with made-up internals. ``HELP`` lists the subcommands memvec serves.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from ..errors import ArityError, CommandError, IndexError_, UnknownCommandError
from ..replies import SimpleString
from .table import command

if TYPE_CHECKING:
    from ..index.search_index import SearchIndex
    from .context import ExecContext

# subcommand -> (reply once done, takes an index name); only GC_FORCEINVOKE has a most
# (``index [timeout]``): RediSearch ignores extra arguments of the others
_GC: dict[bytes, tuple[str, bool]] = {
    b"GC_FORCEINVOKE": ("DONE", True),
    b"GC_FORCEBGINVOKE": ("OK", True),
    b"GC_STOP_SCHEDULE": ("OK", True),
    b"GC_CONTINUE_SCHEDULE": ("OK", True),
    b"GC_WAIT_FOR_JOBS": ("DONE", False),
}
# indexes whose (nominal) periodic GC was stopped: CONTINUE on a running one is refused
_STOPPED: weakref.WeakSet[SearchIndex] = weakref.WeakSet()
# RediSearch 2.10's other subcommands: internals memvec has no counterpart for
_INTERNALS = frozenset(
    b"DUMP_INVIDX DUMP_NUMIDX DUMP_NUMIDXTREE DUMP_TAGIDX INFO_TAGIDX DUMP_GEOMIDX "
    b"DUMP_PREFIX_TRIE IDTODOCID DOCIDTOID DOCINFO DUMP_PHONETIC_HASH DUMP_SUFFIX_TRIE "
    b"DUMP_TERMS INVIDX_SUMMARY NUMIDX_SUMMARY GC_CLEAN_NUMERIC GIT_SHA TTL TTL_PAUSE "
    b"TTL_EXPIRE VECSIM_INFO DELETE_LOCAL_CURSORS DUMP_HNSW".split()
)


@command("FT.DEBUG", -2, "readonly", "search slow")
def ft_debug(ctx: ExecContext, args: list[bytes]) -> object:
    """``FT.DEBUG GC_FORCEINVOKE index [timeout]`` and the other GC subcommands; HELP."""
    sub = args[1].upper()
    if sub == b"HELP":
        return [b"HELP", *_GC]
    if sub in _GC:
        reply, needs_index = _GC[sub]
        if (needs_index and len(args) < 3) or (sub == b"GC_FORCEINVOKE" and len(args) > 4):
            raise ArityError(f"wrong number of arguments for 'FT.DEBUG|{sub.decode()}' command")
        if needs_index:
            index = ctx.indexes.get(args[2], missing="Unknown index name")
            if sub == b"GC_STOP_SCHEDULE":
                _STOPPED.add(index)
            elif sub == b"GC_CONTINUE_SCHEDULE":
                if index not in _STOPPED:
                    raise IndexError_("GC is already running periodically")
                _STOPPED.discard(index)
        return SimpleString(reply)
    if sub in _INTERNALS:
        raise CommandError(
            f"FT.DEBUG {sub.decode()} shows RediSearch's internal structures, which memvec "
            "does not have; FT.INFO and FT.PROFILE describe memvec's indexes"
        )
    shown = args[1].decode("utf-8", "replace")
    raise UnknownCommandError(f"unknown subcommand '{shown}'. Try FT.DEBUG HELP.")
