"""Every connection-scope command of the table has a server handler, checked at start."""

from __future__ import annotations

import asyncio

import pytest

from store.commands.table import connection_commands
from store.server import Server, ServerConfig, ServerError, ServerState
from store.server.app import check_handlers


def new_server() -> Server:
    return Server(ServerConfig(port=0, bind=("127.0.0.1",), data_dir=None))


def test_every_connection_command_has_a_handler() -> None:
    server = new_server()
    try:
        assert "MODULE" in connection_commands()
        assert set(connection_commands()) <= set(server.handlers)
        check_handlers(server.handlers)
    finally:
        server.search_pool.shutdown()


def test_a_server_missing_a_handler_refuses_to_start() -> None:
    server = new_server()
    try:
        del server.handlers["MODULE"]
        with pytest.raises(ServerError, match="without a handler in the server: MODULE"):
            asyncio.run(server.start())
        assert server.state is ServerState.NEW  # nothing listened, nothing to stop
    finally:
        server.search_pool.shutdown()
