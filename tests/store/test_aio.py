"""store.aio.within: a timeout that never swallows the caller's cancellation."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

import pytest

from store.aio import within

Waiter = Callable[[Awaitable[bool], float], Awaitable[bool]]


async def _cancellations_lost(wait: Waiter, rounds: int = 50) -> int:
    """Cancel a task whose awaited event fired one iteration before; count survivors.

    The shape of KinesisSource.get_batch under a consumer being stopped while records
    arrive: the event wakes the inner wait, and the cancel lands before the outer resumes.
    """
    lost = 0
    for _ in range(rounds):
        event = asyncio.Event()

        async def consume(event: asyncio.Event = event) -> None:
            while True:
                event.clear()
                try:
                    await wait(event.wait(), 10)
                except TimeoutError:
                    pass

        task = asyncio.create_task(consume())
        await asyncio.sleep(0)
        event.set()
        await asyncio.sleep(0)
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=0.5)
        if not done:
            lost += 1
            task.cancel()
            await asyncio.wait([task], timeout=1)
    return lost


async def test_within_always_delivers_a_cancellation() -> None:
    assert await _cancellations_lost(within) == 0


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="wait_for was fixed in 3.12")
async def test_the_stdlib_wait_for_it_replaces_loses_them_on_311() -> None:
    # why the ruff rule bans asyncio.wait_for: the same scenario hangs a consumer
    assert await _cancellations_lost(asyncio.wait_for, rounds=5) == 5  # noqa: TID251


async def test_within_returns_the_result_and_times_out() -> None:
    async def later(value: int, delay: float) -> int:
        await asyncio.sleep(delay)
        return value

    assert await within(later(7, 0), 5) == 7
    assert await within(later(8, 0), None) == 8
    with pytest.raises(TimeoutError):
        await within(later(9, 5), 0.05)
