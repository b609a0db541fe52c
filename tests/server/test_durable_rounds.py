"""DurableRounds: the inline replies of one loop iteration wait for the log as one waiter.

A real engine with a file log under ``appendfsync always`` and the real DurableGate; the
members are stand-ins for connections that record the gate's answer they are handed
(``Connection.inline_durable``), so the test sees exactly what each member is told and
when. The server-level behaviour (raw replies equal to the task path's, durability across
kill -9 and a full disk) is in test_inline_commands.py, test_inline_crash.py (clients
sending one command at a time) and test_disk_full.py (single SETs and HSETs among its
writers), which run through the rounds; test_types_crash.py pipelines, which the task
path runs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from store.aio import within
from store.commands.table import resolve
from store.config import EngineConfig, FsyncPolicy
from store.engine import Engine
from store.server.durable_gate import DurableGate
from store.server.durable_rounds import DurableRounds
from store.server.inline_commands import InlineReplies


class Member:
    """Records the gate answers handed to it (and whether its seq was durable then) and
    the order members were answered in; ``answered`` resolves at its first answer."""

    def __init__(self, engine: Engine, seq: int, order: list[Member]) -> None:
        self.engine, self.seq, self.order = engine, seq, order
        self.answers: list[tuple[Any, BaseException | None, bool]] = []
        self.answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def inline_durable(self, state: InlineReplies, outcome: Any, exc: BaseException | None) -> None:
        log = self.engine.transaction_log
        assert log is not None
        self.order.append(self)
        self.answers.append((outcome, exc, log.durable_position.seq > self.seq))
        if not self.answered.done():
            self.answered.set_result(None)


def _engine(tmp_path: Path) -> Engine:
    return Engine(EngineConfig(data_dir=tmp_path, appendfsync=FsyncPolicy.ALWAYS)).start()


def _write(engine: Engine, key: bytes) -> int:
    done = engine.submit(resolve([b"SET", key, b"v"]), [b"SET", key, b"v"])
    assert done.seq is not None
    return done.seq


async def _all_answered(members: list[Member]) -> None:
    await within(asyncio.gather(*(m.answered for m in members)), 10)


def test_one_iterations_members_share_one_waiter_and_one_fsync(tmp_path: Path) -> None:
    """Members that join in one iteration ask the gate once, for the highest need among
    them, and are answered after one fsync, each exactly once, in the order they joined,
    with their own seq durable; a member that joins after the round closed starts the next
    round (a second request)."""
    engine = _engine(tmp_path)
    gate = DurableGate(engine)
    asked: list[int] = []
    notify = gate.notify

    def counted(seq: int, callback: Any) -> None:
        asked.append(seq)
        notify(seq, callback)

    gate.notify = counted  # type: ignore[method-assign]
    rounds = DurableRounds(gate)
    log = engine.transaction_log
    assert log is not None
    order: list[Member] = []
    try:

        async def run() -> tuple[list[Member], Member, int]:
            loop = asyncio.get_running_loop()
            before = log.fsync_count
            members = [Member(engine, _write(engine, b"k%d" % n), order) for n in range(30)]
            for m in members:
                rounds.join(loop, m, InlineReplies(engine.rollbacks), m.seq)  # type: ignore[arg-type]
            await _all_answered(members)
            later = Member(engine, _write(engine, b"next"), order)
            rounds.join(loop, later, InlineReplies(engine.rollbacks), later.seq)  # type: ignore[arg-type]
            await _all_answered([later])
            return members, later, log.fsync_count - before

        members, later, fsyncs = asyncio.run(run())
        assert asked == [members[-1].seq, later.seq]  # one request per round, its highest need
        assert fsyncs == 2
        assert order == [*members, later]  # once each, in the order they joined
        for m in [*members, later]:
            assert m.answers == [(None, None, True)]
    finally:
        gate.close()
        engine.stop()


def test_a_round_for_a_seq_the_log_never_had_hands_each_member_the_logs_answer(
    tmp_path: Path,
) -> None:
    """A failure reaches every member as the gate's own answer for the round's seq (here
    the log's refusal of a seq it never had): each is told, none is told it is durable."""
    engine = _engine(tmp_path)
    gate = DurableGate(engine)
    rounds = DurableRounds(gate)
    try:

        async def run() -> list[Member]:
            loop = asyncio.get_running_loop()
            members = [Member(engine, _write(engine, b"k%d" % n), []) for n in range(3)]
            for m in members:
                rounds.join(loop, m, InlineReplies(engine.rollbacks), m.seq + 1000)  # type: ignore[arg-type]
            await _all_answered(members)
            return members

        members = asyncio.run(run())
        for m in members:
            ((outcome, exc, _),) = m.answers
            assert outcome is not None or exc is not None
    finally:
        gate.close()
        engine.stop()
