"""FT.DEBUG's GC subcommands against the peer (raw replies, RESP2 and RESP3): the answers
RediSearch gives once its garbage collection is over, the per-index schedule flag, and the
errors; the internals memvec does not have are refused (store/commands/ft_debug.py)."""

from __future__ import annotations

import uuid

from tests.server.test_differential import Pair, call


def test_gc_subcommands_answer_as_the_peer(pair: Pair) -> None:
    idx = f"gc{uuid.uuid4().hex[:8]}"
    pair.same("FT.CREATE", idx, "PREFIX", "1", f"{idx}:", "SCHEMA", "t", "TAG")
    try:
        pair.script(
            [
                ("FT.DEBUG", "GC_FORCEINVOKE", idx),
                ("FT.DEBUG", "gc_forceinvoke", idx, "100"),
                ("FT.DEBUG", "GC_FORCEINVOKE", "nope"),
                ("FT.DEBUG", "GC_FORCEINVOKE"),
                ("FT.DEBUG", "GC_FORCEINVOKE", idx, "1", "2"),
                ("FT.DEBUG", "GC_FORCEBGINVOKE", idx, "1", "2"),
                ("FT.DEBUG", "GC_FORCEBGINVOKE"),
                ("FT.DEBUG", "GC_CONTINUE_SCHEDULE", idx),
                ("FT.DEBUG", "GC_STOP_SCHEDULE", idx, "x"),
                ("FT.DEBUG", "GC_STOP_SCHEDULE", idx),
                ("FT.DEBUG", "GC_CONTINUE_SCHEDULE", idx),
                ("FT.DEBUG", "GC_CONTINUE_SCHEDULE", idx),
                ("FT.DEBUG", "GC_CONTINUE_SCHEDULE", "nope"),
                ("FT.DEBUG", "GC_WAIT_FOR_JOBS", "x"),
                ("FT.DEBUG",),
                ("FT.DEBUG", "NOPE"),
            ]
        )
        refused = call(pair.memvec, "FT.DEBUG", "VECSIM_INFO", idx, "v")
        assert isinstance(refused, tuple) and "internal structures" in refused[1]
    finally:
        pair.both("FT.DROPINDEX", idx)
