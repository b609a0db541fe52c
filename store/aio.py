"""Small asyncio helpers the stdlib gets subtly wrong on Python 3.11.

:func:`within` replaces ``asyncio.wait_for``. On 3.11, ``wait_for`` swallows a
cancellation that arrives in the same loop iteration as the awaited future's
completion (CPython gh-86296, fixed in 3.12): it returns the result and the task goes
on running, so ``task.cancel(); await task`` can hang forever. A Kinesis consumer
whose ``get_batch`` woke on new records as it was cancelled did exactly that in CI.
``asyncio.timeout`` (3.11+) runs the awaitable in the current task and delivers both
the cancellation and the timeout correctly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def within(aw: Awaitable[T], timeout_s: float | None) -> T:
    """``await aw``, raising :class:`TimeoutError` after ``timeout_s`` seconds.

    ``None`` waits without a limit. A cancellation of the caller is always delivered,
    even when ``aw`` completes in the same iteration (unlike 3.11's ``wait_for``)."""
    async with asyncio.timeout(timeout_s):
        return await aw
