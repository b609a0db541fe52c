"""Wait for a condition instead of sleeping.

Contract of `wait_for(cond, timeout_s, interval_s=0.05, message="")`:

- `cond()` is called at once, then every `interval_s` seconds, and once more at the
  deadline, until it returns a truthy value, which `wait_for` returns.
- If no call returned a truthy value within `timeout_s`, `TimeoutError` is raised; its text
  starts with `message` and names the elapsed time and the last value seen.
- An exception raised by `cond` propagates at once, unless its type is listed in `ignore`:
  then it counts as a falsy result and the last one is chained to the `TimeoutError`.

`wait_for_async` has the same contract for use inside coroutines; `cond` may be a plain
function or return an awaitable, and the wait between calls yields to the event loop.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, overload

__all__ = ["wait_for", "wait_for_async"]

T = TypeVar("T")


def _timeout_error(
    message: str, elapsed_s: float, last: object, last_exc: BaseException | None
) -> TimeoutError:
    what = message or "condition not met"
    detail = f"last exception: {last_exc!r}" if last_exc is not None else f"last value: {last!r}"
    return TimeoutError(f"{what} (waited {elapsed_s:.2f} s; {detail})")


def wait_for(
    cond: Callable[[], T | None],
    timeout_s: float,
    interval_s: float = 0.05,
    message: str = "",
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Poll `cond` until it returns a truthy value and return it; see the module contract."""
    start = time.monotonic()
    deadline = start + timeout_s
    last: object = None
    last_exc: BaseException | None = None
    while True:
        try:
            value = cond()
        except ignore as exc:
            last_exc = exc
        else:
            if value:
                return value
            last, last_exc = value, None
        now = time.monotonic()
        if now >= deadline:
            raise _timeout_error(message, now - start, last, last_exc) from last_exc
        time.sleep(min(interval_s, deadline - now))


@overload
async def wait_for_async(
    cond: Callable[[], Awaitable[T | None]],
    timeout_s: float,
    interval_s: float = ...,
    message: str = ...,
    ignore: tuple[type[BaseException], ...] = ...,
) -> T: ...


@overload
async def wait_for_async(
    cond: Callable[[], T | None],
    timeout_s: float,
    interval_s: float = ...,
    message: str = ...,
    ignore: tuple[type[BaseException], ...] = ...,
) -> T: ...


async def wait_for_async(
    cond: Callable[[], object],
    timeout_s: float,
    interval_s: float = 0.05,
    message: str = "",
    ignore: tuple[type[BaseException], ...] = (),
) -> object:
    """Like `wait_for`, awaiting `cond()` when it returns an awaitable."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    deadline = start + timeout_s
    last: object = None
    last_exc: BaseException | None = None
    while True:
        try:
            value = cond()
            if inspect.isawaitable(value):
                value = await value
        except ignore as exc:
            last_exc = exc
        else:
            if value:
                return value
            last, last_exc = value, None
        now = loop.time()
        if now >= deadline:
            raise _timeout_error(message, now - start, last, last_exc) from last_exc
        await asyncio.sleep(min(interval_s, deadline - now))
