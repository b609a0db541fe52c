"""CLIENT TRACKING (client-side caching) against the peer, raw bytes compared: option
errors, TRACKINGINFO/GETREDIR, default mode (one invalidation per read), NOLOOP, BCAST
with prefixes, OPTIN/OPTOUT with CLIENT CACHING, REDIRECT to a RESP2 subscriber of
``__redis__:invalidate`` and to a RESP3 client, and a broken redirect."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from store.config import FsyncPolicy
from store.server import ServerConfig, ServerThread
from tests.harness.components import RedisStack
from tests.server.test_pubsub import Session, Step, differential, encode


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    data = Path(tmp_path_factory.mktemp("tracking"))
    thread = ServerThread(ServerConfig(port=0, data_dir=data, appendfsync=FsyncPolicy.NO)).start()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture
def p() -> str:
    return f"tr{uuid.uuid4().hex[:8]}:"


def with_ids(
    port: int, peer: RedisStack, connections: int, build: Callable[[list[str]], Sequence[Step]]
) -> None:
    """:func:`differential` for scripts that name client ids (REDIRECT): each server's
    script is built from its own connections' ids."""
    transcripts = []
    for target in (port, peer.port):
        session = Session(target, connections)
        try:
            ids = []
            for client in session.clients:
                client.send(encode(["CLIENT", "ID"]))
                ids.append(client.read_reply()[1:-2].decode())
            transcripts.append(session.run(build(ids)))
        finally:
            session.close()
    for (label, got), (_, want) in zip(*transcripts, strict=True):
        assert got == want, f"{label}: memvec {got!r} != peer {want!r}"


def test_options_and_info(server: ServerThread, redis_stack: RedisStack, p: str) -> None:
    steps: list[Step] = []
    for command in [
        "CLIENT TRACKING on",
        "CLIENT TRACKINGINFO",
        "CLIENT GETREDIR",
        "CLIENT TRACKING on BCAST",
        "CLIENT TRACKING off",
        "CLIENT GETREDIR",
        "CLIENT TRACKING on PREFIX a",
        "CLIENT TRACKING on OPTIN OPTOUT",
        "CLIENT TRACKING on BCAST OPTIN",
        "CLIENT TRACKING on REDIRECT 999999",
        "CLIENT TRACKING on BCAST PREFIX ab PREFIX a",
        "CLIENT TRACKING on FOO",
        "CLIENT TRACKING maybe",
        "CLIENT TRACKING",
        "CLIENT CACHING",
        "CLIENT CACHING yes",
        "CLIENT TRACKING on OPTIN",
        "CLIENT CACHING no",
        "CLIENT CACHING maybe",
        "CLIENT CACHING yes",
        "CLIENT TRACKINGINFO",
        "CLIENT TRACKINGINFO",
        "CLIENT TRACKING off",
        f"CLIENT TRACKING on BCAST PREFIX {p}a PREFIX {p}b NOLOOP",
        "CLIENT TRACKINGINFO",
        "CLIENT TRACKING off",
        "CLIENT TRACKINGINFO",
    ]:
        steps.append((0, command.split(), 1))
    differential(server.port, redis_stack, 1, steps)


def test_default_mode_resp3(server: ServerThread, redis_stack: RedisStack, p: str) -> None:
    k, k2 = f"{p}k", f"{p}k2"
    differential(
        server.port,
        redis_stack,
        2,
        [
            (0, ["HELLO", "3"], 1, False),
            (0, ["CLIENT", "TRACKING", "on"], 1),
            (0, ["SET", k, "1"], 1),  # a write does not track
            (1, ["SET", k, "2"], 1),
            (0, ["GET", k], 1),
            (1, ["SET", k, "3"], 1),
            (0, None, 1),  # invalidated once
            (1, ["SET", k, "4"], 1),
            (0, ["MGET", k, k2], 1),  # nothing pending: only the reply
            (0, ["SET", k, "5"], 2),  # its own write: reply, then the invalidation
            (0, ["HSET", k2, "f", "v"], 2),
            (0, ["CLIENT", "TRACKING", "on", "NOLOOP"], 1),
            (0, ["GET", k], 1),
            (0, ["SET", k, "6"], 1),  # NOLOOP: not told of its own write
            (1, ["DEL", k, k2], 1),
            (0, ["GET", k], 1),
            (0, ["CLIENT", "TRACKING", "off"], 1),
            (1, ["SET", k, "7"], 1),
            (0, ["DEL", k], 1),
        ],
    )


def test_bcast_and_optin_optout(server: ServerThread, redis_stack: RedisStack, p: str) -> None:
    differential(
        server.port,
        redis_stack,
        2,
        [
            (0, ["HELLO", "3"], 1, False),
            (0, ["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", f"{p}a"], 1),
            (1, ["SET", f"{p}a1", "1"], 1),
            (0, None, 1),
            (1, ["SET", f"{p}b1", "1"], 1),
            (1, ["SET", f"{p}a2", "1"], 1),
            (0, None, 1),
            (0, ["CLIENT", "TRACKING", "off"], 1),
            (0, ["CLIENT", "TRACKING", "on", "OPTIN"], 1),
            (0, ["GET", f"{p}a1"], 1),
            (1, ["SET", f"{p}a1", "2"], 1),  # not cached without CACHING yes
            (0, ["CLIENT", "CACHING", "yes"], 1),
            (0, ["GET", f"{p}a1"], 1),
            (0, ["GET", f"{p}b1"], 1),  # only the command right after CACHING yes
            (1, ["SET", f"{p}b1", "2"], 1),
            (1, ["SET", f"{p}a1", "3"], 1),
            (0, None, 1),
            (0, ["CLIENT", "TRACKING", "off"], 1),
            (0, ["CLIENT", "TRACKING", "on", "OPTOUT"], 1),
            (0, ["CLIENT", "CACHING", "no"], 1),
            (0, ["GET", f"{p}a1"], 1),
            (0, ["GET", f"{p}b1"], 1),
            (1, ["SET", f"{p}a1", "4"], 1),
            (1, ["SET", f"{p}b1", "4"], 1),
            (0, None, 1),
            (0, ["CLIENT", "TRACKING", "off"], 1),
            (1, ["DEL", f"{p}a1", f"{p}a2", f"{p}b1"], 1),
        ],
    )


def test_redirect(server: ServerThread, redis_stack: RedisStack, p: str) -> None:
    k = f"{p}k"

    def build(ids: list[str]) -> list[Step]:
        return [
            (1, ["SUBSCRIBE", "__redis__:invalidate"], 1),  # RESP2 receiver
            (0, ["CLIENT", "TRACKING", "on", "REDIRECT", ids[1]], 1),
            (0, ["GET", k], 1),
            (0, ["SET", k, "1"], 1),
            (1, None, 1),
            (0, ["CLIENT", "GETREDIR"], 1, False),  # the ids differ
            (2, ["HELLO", "3"], 1, False),  # RESP3 receiver
            (0, ["CLIENT", "TRACKING", "on", "REDIRECT", ids[2]], 1),
            (0, ["GET", k], 1),
            (0, ["SET", k, "2"], 1),
            (2, None, 1),
            (2, ["QUIT"], 1),
            (0, ["HELLO", "3"], 1, False),
            (0, ["GET", k], 1),
            (0, ["SET", k, "3"], 1),
            (0, None, 1, False),  # tracking-redir-broken <id>: after the reply
            (0, ["CLIENT", "TRACKINGINFO"], 1, False),
            (0, ["CLIENT", "TRACKING", "off"], 1),
            (0, ["DEL", k], 1),
            (1, ["RESET"], 1),
        ]

    with_ids(server.port, redis_stack, 3, build)
