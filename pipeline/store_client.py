"""One way for the pipeline to talk to a store: embedded engine or any RESP server.

:class:`StoreClient` runs a list of commands either pipelined (``atomic=False``: one round
trip, each reply or error in place) or as one MULTI/EXEC transaction (``atomic=True``: all
applied or none, one log record on memvec). The embedded client calls the engine in
process; the RESP client speaks to ``memvec server``, redis-stack-server or Amazon
MemoryDB with redis-py. Errors come back as exceptions in the reply list, never raised
half-way, so the caller decides per command.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

Command = Sequence[bytes | str | int | float]


class StoreClient(ABC):
    @abstractmethod
    def run(self, commands: Sequence[Command], *, atomic: bool = False) -> list[Any]:
        """Replies in order; an error reply is an ``Exception`` instance in its place."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class EmbeddedClient(StoreClient):
    """Over an in-process :class:`store.Engine` (durable when the engine has a data dir)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def run(self, commands: Sequence[Command], *, atomic: bool = False) -> list[Any]:
        if atomic:
            return self.engine.transaction(commands)
        return self.engine.execute_many(commands)


class RespClient(StoreClient):
    """Over redis-py: memvec server, redis-stack-server or MemoryDB (RESP2 replies)."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        import redis

        self.redis = redis.Redis.from_url(url, protocol=2, **kwargs)

    def run(self, commands: Sequence[Command], *, atomic: bool = False) -> list[Any]:
        pipe = self.redis.pipeline(transaction=atomic)
        for cmd in commands:
            pipe.execute_command(*cmd)
        return list(pipe.execute(raise_on_error=False))

    def close(self) -> None:
        self.redis.close()
