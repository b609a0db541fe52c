"""Simple commands run straight from ``data_received``: no task step, no future.

The connection's regular path (store.server.connection) wakes the client's task for every
batch, runs it, and awaits the durable gate with a future: two task steps and two futures
per batch, most of the ~66 us of server CPU a one-command batch cost under the 200-client
types mix (docs/decisions/0007-request-path-fixed-cost.md). A client that sends one simple
command at a time pays all of it for every command.

The inline path runs such commands in the protocol callback itself, while the client's
task is parked with nothing to do: each command through the same ``Engine.submit`` and the
same observability, its reply appended to :class:`InlineReplies`. The replies wait for the
log exactly as the regular path's do (the last record the commands wrote or could have
read, the same group-commit fsync of the durable gate), but through
:meth:`DurableGate.notify`: one callback answers the client at the durable point. Nothing
is acknowledged before it is durable; a failure hands the replies to the client's task,
whose regular path refuses what may not be durable.

Eligible (:func:`runs_inline`): an engine command that cannot run a script, and is not a
search the search pool would take now, on a connection with the fast checks
(authenticated unrestricted user, no MULTI, no pub/sub or tracking, not cluster mode),
while nothing else is special: no CLIENT PAUSE,
no busy script, no ``min-replicas-to-write``, no backpressure. A key write the task path
batches (``BATCHABLE_WRITES``: the :class:`WriteCombiner` across clients, ``submit_many``
for one client's pipelined run) always goes the regular way: run inline it would lose that
batch (a lone client's pipelined HSETs fell from 0.9x to 0.66x the peer). One exception
(:func:`combines_inline`): such a write that is the last command a client sent, while
other clients are active, is queued to the :class:`WriteCombiner` from here and answered
from its batch (docs/decisions/0015-combined-writes-from-the-inline-path.md). Likewise a
search whose query was measured long, the last command a client sent while others share
the server, runs on the :class:`SearchLane` (the server's search pool) and is answered from there
(docs/decisions/0040-long-searches-on-the-search-lane.md). The first command that
is not eligible, and everything after it, goes to the task, which sends the inline replies
first: the order of replies is the order of commands.

A blocking command (BLPOP, XREADGROUP ... BLOCK) runs here too. One that can be served now
is answered as any other; one that would wait returns ``WouldBlock`` without having
changed anything (the contract of store.commands.blocking), and goes to the task with what
follows it, which runs it again and parks the client. ``XREADGROUP`` without ``BLOCK``,
6% of the types mix's commands, took the task's steps every time before
(docs/decisions/0039-durable-rounds.md).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..engine import BATCHABLE_WRITES

if TYPE_CHECKING:
    from ..commands.table import CommandSpec

__all__ = ["NOTHING_UNSIZED", "InlineReplies", "combines_inline", "runs_inline"]

NOTHING_UNSIZED: Any = object()  # InlineReplies.unsized: every reply is counted in size

# commands whose regular path does more than submit (watchers, scripts)
_SPECIAL = frozenset({"FLUSHALL", "FLUSHDB", "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO",
                      "FCALL", "FCALL_RO", "SCRIPT", "FUNCTION"})  # fmt: skip


@dataclass
class InlineReplies:
    """Replies of inline commands not sent yet, and what they wait for."""

    rollbacks: int  # Engine.rollbacks when the first of them ran
    replies: list[Any] = field(default_factory=list)
    writes: list[tuple[int, int]] = field(default_factory=list)  # (reply index, log seq)
    need: int = 0  # the highest record written or read: durable before any reply leaves
    written: int = 0  # the highest record written
    size: int = 0  # approximate bytes of the replies, but for ``unsized``
    # the last reply while they wait, not sized yet: counted when a command joins them or
    # the task takes them (a lone command's reply is never sized; size_hint of a stream or
    # sorted-set page was ~4% of the types mix's server samples)
    unsized: Any = NOTHING_UNSIZED
    waiting: int = 0  # the seq the gate was asked for (0: not asked)
    failed: bool = False  # the log failed them: the client's task answers
    # a command answered later: a key write queued to the WriteCombiner
    # (:func:`combines_inline`) or a long search on the SearchLane; its reply's place in
    # ``replies`` is held until it is answered; resolved then (the task awaits it)
    deferred: asyncio.Future[None] | None = None
    claimed: bool = False  # the client's task took these replies: it sends them


def runs_inline(spec: CommandSpec, args: list[bytes], searches_inline: bool = False) -> bool:
    """Whether ``spec`` (called with ``args``) may run on the inline path (module docstring).

    ``searches_inline``: a ``lockfree`` command (FT.SEARCH, FT.AGGREGATE) would run on the
    loop now, not on the search pool (``Connection._offloads`` is false: the client is
    alone, or a write ran just now); it then runs inline like any other read, saving the
    task step. One that would go to the pool goes to the task."""
    if spec.scope != "engine" or spec.name in _SPECIAL:
        return False
    flags = spec.flags
    if "lockfree" in flags and not searches_inline:
        return False
    arity = spec.arity
    if (arity > 0 and len(args) != arity) or len(args) < -arity:
        return False  # the regular path answers the arity error
    # a key write the task path batches (submit_many: one lock hold, the vectors of a run
    # inserted together on every core) never runs here: one client's pipelined HSETs lost
    # that batch on this path (durable ingest, 1 client: 0.66x the peer, was 1.31x)
    return spec.name not in BATCHABLE_WRITES


def combines_inline(spec: CommandSpec, args: list[bytes]) -> bool:
    """Whether ``spec`` is a key write the inline path may queue to the server's
    :class:`WriteCombiner` (the caller checks that other clients are active, and that it is
    the last complete command its client sent: a pipelined run goes to the task, whose
    ``submit_many`` batches it). Its reply waits for the batch, then for the log, as the
    task path's does, without the task's steps: a write under the 200-client vector mix
    went through four loop iterations there."""
    return spec.name in BATCHABLE_WRITES and spec.arity_ok(len(args))
