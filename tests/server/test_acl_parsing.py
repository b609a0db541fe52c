"""ACL key permissions on what a command names inside its arguments: FT.CREATE's PREFIX
clauses (however many, wherever they stand) and WATCH's keys. Real server, real sockets."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from store.server import ServerThread
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
