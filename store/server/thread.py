"""Run a :class:`store.server.app.Server` on its own event loop in a background thread.

For tests and for embedding the RESP server in a synchronous program. ``start()`` returns
once the server answers commands (or raises what ``Server.start`` raised); ``stop()`` is the
server's graceful stop and joins the thread; a client's SHUTDOWN ends the thread too.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from ..engine import Engine
from .app import Server, ServerError
from .config import ServerConfig
from .event_loop import new_event_loop

__all__ = ["ServerThread"]


class ServerThread:
    """A :class:`Server` on its own event loop in a daemon thread.

    ``start()`` returns once the server answers (or raises what ``Server.start`` raised);
    ``stop()`` is the graceful stop and joins the thread. Use as a context manager.
    """

    def __init__(self, config: ServerConfig | None = None, *, engine: Engine | None = None) -> None:
        self.server = Server(config, engine=engine)
        self._loop = new_event_loop(self.server.config.event_loop)
        self._thread = threading.Thread(target=self._run, name="memvec-server", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            try:
                await self.server.start()
            except BaseException as exc:
                self._error = exc
                self._ready.set()
                return
            self._ready.set()
            await self.server.serve_forever()

        try:
            self._loop.run_until_complete(main())
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def start(self, timeout_s: float = 60) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise ServerError(f"the server did not start within {timeout_s} s")
        if self._error is not None:
            self._thread.join(timeout_s)
            raise self._error
        return self

    def stop(self, *, save: bool | None = None, timeout_s: float = 60) -> None:
        if self._thread.is_alive():
            try:
                fut = asyncio.run_coroutine_threadsafe(self.server.stop(save=save), self._loop)
                fut.result(timeout_s)
            except RuntimeError:
                pass  # the loop already finished (SHUTDOWN from a client)
            self._thread.join(timeout_s)

    def call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` on the server's loop and return its result (tests)."""

        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(30)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def tls_port(self) -> int | None:
        return self.server.tls_port

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
