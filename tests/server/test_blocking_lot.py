"""The parking lot (store.server.blocking) on an engine without a server: what wakes a
parked call (replication apply, a transaction, an expiry delete), FIFO order across keys,
``resume`` handed back on re-run, and unblocking."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from store import Engine
from store.commands.blocking import WouldBlock
from store.commands.table import resolve
from store.replies import NULL_ARRAY
from store.server.blocking import ParkingLot, UnblockedError
from store.wal.base import LogRecord
from store.wal.payload import encode_commands


@dataclass
class FakeConn:
    """What the lot reads of a connection."""

    id: int
    protocol: int = 2
    closing: bool = False


def _park(lot: ParkingLot, conn: FakeConn, *args: bytes) -> asyncio.Future[object]:
    call = list(args)
    spec = resolve(call)
    done = lot.engine.submit(spec, call, may_block=True)
    assert isinstance(done.reply, WouldBlock)
    return asyncio.ensure_future(lot.wait(conn, spec, call, done.reply))  # type: ignore[arg-type]


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_wake_ups_from_every_write_path() -> None:
    async def main() -> None:
        with Engine() as engine:
            lot = ParkingLot(engine)
            lot.start(asyncio.get_running_loop())
            a = _park(lot, FakeConn(1), b"BLPOP", b"k1", b"k2", b"0")
            b = _park(lot, FakeConn(2), b"BRPOP", b"k2", b"0")
            c = _park(lot, FakeConn(3), b"BLMOVE", b"k3", b"k2", b"LEFT", b"LEFT", b"0")
            await _settle()
            assert len(lot) == 3 and not a.done()
            # a replicated record (the path a replica's apply takes)
            engine.apply(LogRecord(1, 0, encode_commands([[b"RPUSH", b"k2", b"x", b"y"]])))
            await _settle()
            assert a.result().reply == [b"k2", b"x"]  # first in line on k2
            assert b.result().reply == [b"k2", b"y"]
            # a transaction: the move into k2 is served, and its push is seen in the same pass
            d = _park(lot, FakeConn(4), b"BLPOP", b"k2", b"0")
            engine.transaction([[b"RPUSH", b"k3", b"m"], [b"SET", b"other", b"1"]])
            await _settle()
            assert c.result().reply == b"m"
            assert d.result().reply == [b"k2", b"m"]
            assert len(lot) == 0 and not lot.waiting
            # unblocking, and timeouts
            e = _park(lot, FakeConn(5), b"BLPOP", b"k9", b"0")
            f = _park(lot, FakeConn(6), b"BLPOP", b"k9", b"0.01")
            await _settle()
            assert lot.unblock(5, error=True) and not lot.unblock(5, error=False)
            assert isinstance((await e).error, UnblockedError)
            assert (await f).reply == NULL_ARRAY
            lot.stop()

    asyncio.run(main())


def test_resume_is_handed_back_and_disconnects_leave() -> None:
    async def main() -> None:
        with Engine() as engine:
            lot = ParkingLot(engine)
            lot.start(asyncio.get_running_loop())
            conn = FakeConn(1)
            fut = _park(lot, conn, b"BLPOP", b"r", b"0")
            await _settle()
            parked = lot.by_client[1]
            seen: list[object] = []
            original = engine.submit

            def spy(*args: object, **kwargs: object) -> object:
                if kwargs.get("may_block"):  # the lot's re-runs, not this test's writes
                    seen.append(kwargs.get("resume"))
                return original(*args, **kwargs)  # type: ignore[arg-type]

            engine.submit = spy  # type: ignore[method-assign]
            parked.blocked = WouldBlock((b"r",), 0, NULL_ARRAY, {"ids": [1]}, "list")
            engine.execute("SET", "r", "string")  # another type: no re-run
            engine.execute("DEL", "r")
            engine.execute("LPUSH", "r", "v")
            await _settle()
            assert seen == [{"ids": [1]}]
            assert fut.result().reply == [b"r", b"v"]
            fut2 = _park(lot, conn, b"BLPOP", b"r", b"0")
            await _settle()
            lot.disconnected(conn)  # type: ignore[arg-type]
            assert (await fut2).reply is None and len(lot) == 0 and not lot.waiting

    asyncio.run(main())
