"""``memvec server``: the asyncio RESP2/RESP3 server over the store engine.

Public names: :class:`Server` (async ``start``/``stop``/``serve_forever``, ``async with``),
:class:`ServerThread` (the same on a background thread), :class:`ServerConfig`,
:class:`ServerState`, :class:`ServerError`. The codec is :mod:`store.resp`; the command
table is :mod:`store.commands.table`.
"""

from .app import Server, ServerError, ServerState
from .config import ServerConfig
from .thread import ServerThread

__all__ = ["Server", "ServerConfig", "ServerError", "ServerState", "ServerThread"]
