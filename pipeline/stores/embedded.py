"""The store in this process: :class:`EmbeddedStore` over a ``store.Engine``.

Writes (:meth:`EmbeddedStore.run`) call ``Engine.execute_many`` or, atomically,
``Engine.transaction`` (one log record; durable when the engine has a data dir). Reads
(the :class:`~pipeline.stores.base.SearchStore` operations) call ``Engine.execute``.
The engine belongs to the caller, who starts and stops it; :meth:`close` releases
nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from store.errors import LoadingError, StoreError

from ..errors import StoreUnavailable
from .base import Command, StoreClient
from .reads import CommandReads, translate_message

if TYPE_CHECKING:
    from store import Engine

__all__ = ["EmbeddedStore"]


class EmbeddedStore(CommandReads, StoreClient):
    """A :class:`StoreClient` and :class:`SearchStore` over an in-process engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def run(self, commands: Sequence[Command], *, atomic: bool = False) -> list[Any]:
        if atomic:
            return list(self.engine.transaction(commands))
        return list(self.engine.execute_many(commands))

    def call(self, *args: Any) -> Any:
        try:
            return self.engine.execute(*args)
        except LoadingError as exc:
            raise StoreUnavailable(f"the store is loading its data, retry shortly ({exc})") from exc
        except StoreError as exc:
            raise translate_message(str(exc)) from exc
        except RuntimeError as exc:  # engine stopped or not started
            raise StoreUnavailable(f"the embedded store is not running: {exc}") from exc

    def close(self) -> None:
        """The engine belongs to the caller; nothing to release."""
