"""ACL key permissions on what a command names inside its arguments: FT.CREATE's PREFIX
clauses (however many, wherever they stand) and WATCH's keys. Real server, real sockets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from store.server import ServerThread
from tests.harness.components import RedisStack
from tests.server.conftest import RawClient

Start = Callable[..., ServerThread]

_SCHEMA = ["SCHEMA", "t", "TEXT"]
_NOPERM_KEY = b"-NOPERM No permissions to access a key\r\n"


def _restricted(srv: ServerThread) -> redis.Redis:
    admin = redis.Redis(port=srv.port)
    admin.acl_setuser(
        "tenant", enabled=True, passwords=["+pw"], keys=["doc:*"], commands=["+@all", "-@dangerous"]
    )
    admin.close()
    return redis.Redis(port=srv.port, username="tenant", password="pw")


@pytest.mark.parametrize(
    "clauses",
    [
        ["PREFIX", "1", "doc:", "PREFIX", "1", "secret:"],
        ["STOPWORDS", "3", "PREFIX", "1", "doc:", "PREFIX", "1", "secret:"],
        ["PREFIX", "1", "secret:"],
        ["STOPWORDS", "2", "a", "b", "PREFIX", "1", "secret:"],
    ],
)
def test_ft_create_checks_the_prefixes_the_index_gets(
    start_server: Start, clauses: list[str]
) -> None:
    srv = start_server()
    tenant = _restricted(srv)
    # RediSearch 2.10 accepts a repeated PREFIX and keeps the last: the check sees that one.
    with pytest.raises(redis.exceptions.NoPermissionError, match="No permissions to access a key"):
        tenant.execute_command("FT.CREATE", "evil", "ON", "HASH", *clauses, *_SCHEMA)
    admin = redis.Redis(port=srv.port)
    assert b"evil" not in admin.execute_command("FT._LIST")
    admin.close()
    tenant.close()


def test_ft_create_allowed_prefix_still_works(start_server: Start) -> None:
    srv = start_server()
    tenant = _restricted(srv)
    ok = tenant.execute_command("FT.CREATE", "mine", "ON", "HASH", "PREFIX", "1", "doc:", *_SCHEMA)
    assert ok in (b"OK", "OK", True)
    tenant.close()


def test_watch_forbidden_key_is_noperm(
    start_server: Start, raw: Callable[[int], RawClient]
) -> None:
    srv = start_server()
    _restricted(srv).close()
    c = raw(srv.port)
    c.send(b"AUTH tenant pw\r\nWATCH doc:1\r\nWATCH doc:2 secret:1\r\nMULTI\r\nEXEC\r\n")
    assert c.read_reply() == b"+OK\r\n"
    assert c.read_reply() == b"+OK\r\n"
    assert c.read_reply() == _NOPERM_KEY  # the bytes Redis 7.4 answers
    assert c.read_reply() == b"+OK\r\n"
    assert c.read_reply() == b"*0\r\n"


def test_recommended_restricted_users_of_docs_security(start_server: Start, tmp_path: Path) -> None:
    """The ACL lines docs/security.md recommends: work within ``doc:*``, no admin commands
    (``CONFIG GET requirepass`` would show the password to a ``+@all`` user, as in Redis)."""
    aclfile = tmp_path / "users.acl"
    aclfile.write_text(
        "user default on >admin-pw ~* &* +@all\n"
        "user ingest on >ingest-pw ~doc:* +@all -@dangerous +info\n"
        "user reader on >reader-pw %R~doc:* +@read +@search +@connection -@dangerous\n"
    )
    srv = start_server(aclfile=aclfile)
    ingest = redis.Redis(port=srv.port, username="ingest", password="ingest-pw")
    ingest.execute_command("FT.CREATE", "docs", "ON", "HASH", "PREFIX", "1", "doc:", *_SCHEMA)
    assert ingest.hset("doc:1", "t", "hello") == 1
    assert "role" in ingest.info("replication")
    for command in (
        ("CONFIG", "GET", "requirepass"),
        ("FLUSHALL",),
        ("ACL", "LIST"),
        ("KEYS", "*"),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            ingest.execute_command(*command)
    reader = redis.Redis(port=srv.port, username="reader", password="reader-pw")
    assert reader.hget("doc:1", "t") == b"hello"
    found = reader.execute_command("FT.SEARCH", "docs", "hello")
    assert (found[0] if isinstance(found, list) else found[b"total_results"]) == 1
    with pytest.raises(redis.exceptions.NoPermissionError):
        reader.hset("doc:2", "t", "x")
    with pytest.raises(redis.exceptions.NoPermissionError):
        reader.config_get("requirepass")
    ingest.close()
    reader.close()


def test_watch_noperm_bytes_match_the_peer(
    start_server: Start, raw: Callable[[int], RawClient], redis_stack: RedisStack
) -> None:
    srv = start_server()
    _restricted(srv).close()
    peer_admin = redis_stack.client()
    user = "tenant_watch_noperm"
    peer_admin.acl_setuser(
        user, enabled=True, passwords=["+pw"], keys=["doc:*"], commands=["+@all"]
    )
    try:
        c = raw(srv.port)
        c.send(b"AUTH tenant pw\r\nWATCH secret:1\r\n")
        peer = raw(redis_stack.port)
        peer.send(f"AUTH {user} pw\r\nWATCH secret:1\r\n".encode())
        assert c.read_reply() == peer.read_reply() == b"+OK\r\n"
        assert c.read_reply() == peer.read_reply() == _NOPERM_KEY
    finally:
        peer_admin.acl_deluser(user)
        peer_admin.close()
