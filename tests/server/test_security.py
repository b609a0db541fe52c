"""AUTH, ACL users and TLS: wrong password, no password, users without key access (also
through FT.SEARCH over an index whose prefixes they cannot read), a TLS client, and no
password ever shown in INFO, CLIENT LIST or ACL LIST."""

from __future__ import annotations

import datetime
import ipaddress
import logging
import ssl
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from redis.backoff import NoBackoff
from redis.retry import Retry

from store import files
from store.server import ServerThread
from store.server.acl import AclStore, hash_password, pattern_covers_prefix
from tests.server.conftest import RawClient

Start = Callable[..., ServerThread]


def test_requirepass(
    start_server: Start, raw: Callable[[int], RawClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    srv = start_server(requirepass="correct horse")
    c = raw(srv.port)
    c.send(b"GET k\r\nPING\r\nAUTH wrong\r\nAUTH correct horse\r\nAUTH a b c\r\n")
    wrongpass = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    assert c.read_reply() == b"-NOAUTH Authentication required.\r\n"
    assert c.read_reply() == b"-NOAUTH Authentication required.\r\n"
    assert c.read_reply() == wrongpass
    assert c.read_reply() == wrongpass  # two arguments: user "correct", password "horse"
    assert c.read_reply() == b"-ERR syntax error\r\n"
    c.send(b'AUTH "correct horse"\r\nPING\r\n')
    assert c.read_reply() == b"+OK\r\n"
    assert c.read_reply() == b"+PONG\r\n"

    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=srv.port, password="nope", retry=Retry(NoBackoff(), 0)).ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=srv.port, retry=Retry(NoBackoff(), 0)).ping()  # no password: NOAUTH
    good = redis.Redis(port=srv.port, password="correct horse", protocol=3)  # HELLO 3 AUTH
    assert good.set("k", "v") is True
    text = str(good.info("everything")) + str(good.client_list()) + str(good.acl_list())
    assert "correct horse" not in text
    assert "correct horse" not in caplog.text
    assert "correct horse" not in repr(srv.server.config)
    good.close()


def test_acl_users_and_key_patterns(start_server: Start, tmp_path: Path) -> None:
    aclfile = tmp_path / "users.acl"
    aclfile.write_text(
        "user default on nopass ~* &* +@all\n"
        "user alice on >alice-pw ~doc:* +@read +@connection +acl|whoami\n"
        "user bob on >bob-pw %R~shared:* +@all -@dangerous\n"
        "user off_user off >x ~* +@all\n"
    )
    srv = start_server(aclfile=aclfile)
    admin = redis.Redis(port=srv.port, protocol=3)
    admin.hset("doc:1", "a", "1")
    admin.hset("secret:1", "a", "1")
    admin.set("shared:x", "s")

    alice = redis.Redis(port=srv.port, username="alice", password="alice-pw", protocol=3)
    assert alice.hget("doc:1", "a") == b"1"
    with pytest.raises(redis.exceptions.NoPermissionError, match="No permissions to access a key"):
        alice.hget("secret:1", "a")
    with pytest.raises(
        redis.exceptions.NoPermissionError,
        match="User alice has no permissions to run the 'hset' command",
    ):
        alice.hset("doc:1", "a", "2")
    assert alice.acl_whoami() == "alice" or alice.acl_whoami() == b"alice"

    bob = redis.Redis(
        port=srv.port, username="bob", password="bob-pw", protocol=3, retry=Retry(NoBackoff(), 0)
    )
    assert bob.get("shared:x") == b"s"
    with pytest.raises(redis.exceptions.NoPermissionError):
        bob.set("shared:x", "w")  # read-only pattern
    with pytest.raises(redis.exceptions.NoPermissionError):
        bob.flushall()  # @dangerous removed

    with pytest.raises(redis.AuthenticationError):
        redis.Redis(
            port=srv.port, username="off_user", password="x", retry=Retry(NoBackoff(), 0)
        ).ping()

    # runtime changes apply to connected clients at once; deleting a user disconnects it
    admin.acl_setuser("alice", enabled=True, commands=["+hset"])
    assert alice.hset("doc:1", "a", "3") == 0
    assert admin.acl_deluser("bob") == 1
    with pytest.raises(redis.exceptions.ConnectionError):
        bob.get("shared:x")  # disconnected, and its user is gone
    assert admin.execute_command("ACL", "DRYRUN", "alice", "GET", "secret:1") != b"OK"

    admin.acl_save()
    saved = aclfile.read_text()
    assert "alice-pw" not in saved and hash_password("alice-pw") in saved
    for c in (admin, alice, bob):
        c.close()


def test_nopermission_on_ft_search_over_unreadable_prefixes(start_server: Start) -> None:
    srv = start_server()
    admin = redis.Redis(port=srv.port, protocol=3)
    admin.execute_command(
        "FT.CREATE", "secret_idx", "ON", "HASH", "PREFIX", "1", "secret:", "SCHEMA",
        "vec", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", "4", "DISTANCE_METRIC", "L2",
    )  # fmt: skip
    admin.execute_command(
        "FT.CREATE", "doc_idx", "ON", "HASH", "PREFIX", "1", "doc:", "SCHEMA",
        "vec", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", "4", "DISTANCE_METRIC", "L2",
    )  # fmt: skip
    blob = np.ones(4, np.float32).tobytes()
    admin.hset("secret:1", "vec", blob)
    admin.hset("doc:1", "vec", blob)
    admin.acl_setuser(
        "reader", enabled=True, passwords=["+r"], keys=["doc:*"], commands=["+@read", "+@search"]
    )
    reader = redis.Redis(port=srv.port, username="reader", password="r", protocol=3)
    query = ["*=>[KNN 1 @vec $B]", "PARAMS", "2", "B", blob, "DIALECT", "2"]
    res = reader.execute_command("FT.SEARCH", "doc_idx", *query)
    assert res[b"total_results"] == 1
    with pytest.raises(redis.exceptions.NoPermissionError, match="No permissions to access a key"):
        reader.execute_command("FT.SEARCH", "secret_idx", *query)
    with pytest.raises(redis.exceptions.NoPermissionError):
        reader.execute_command("FT.INFO", "secret_idx")
    admin.close()
    reader.close()


def test_acl_store_rules() -> None:
    cats = {"GET": frozenset({"read", "string", "fast"}), "SET": frozenset({"write", "string"}),
            "CONFIG": frozenset({"admin", "dangerous"})}  # fmt: skip
    store = AclStore(cats)
    u = store.setuser("u", ["on", ">p", "~a:*", "+@all", "-@write", "+config|get"])
    assert u.can_run("GET", None) and not u.can_run("SET", None)
    assert u.can_run("CONFIG", b"get")
    assert u.check_password(b"p") and not u.check_password(b"q")
    assert u.can_access(b"a:1", write=True) and not u.can_access(b"b:1", write=False)
    assert "p" not in u.describe().split()
    assert pattern_covers_prefix(b"doc:*", b"doc:") and pattern_covers_prefix(b"*", b"")
    assert not pattern_covers_prefix(b"doc:*", b"do") and not pattern_covers_prefix(
        b"d?c:*", b"doc:"
    )
    with pytest.raises(Exception, match="Syntax error"):
        store.setuser("u", ["bogus"])
    with pytest.raises(Exception, match="Unknown command or category"):
        store.setuser("u", ["+nosuch"])


def test_acl_save_file_is_atomic_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = AclStore({"GET": frozenset({"read"})})
    store.setuser("u", ["on", ">p", "~a:*", "+@all"])
    path = tmp_path / "users.acl"
    store.save_file(path)
    saved = path.read_bytes()
    loaded = AclStore({"GET": frozenset({"read"})})
    loaded.load_file(path)
    assert loaded.users["u"].describe() == store.users["u"].describe()

    def fail(*_args: object) -> None:
        raise OSError("injected: rename failed")

    store.setuser("v", ["on", "nopass"])
    monkeypatch.setattr(files.os, "replace", fail)
    with pytest.raises(OSError, match="injected"):
        store.save_file(path)
    assert path.read_bytes() == saved  # the old file, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["users.acl"]  # no temp file left


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "server.crt", tmp_path / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls_client(start_server: Start, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    srv = start_server(tls_port=0, tls_cert_file=cert, tls_key_file=key, requirepass="tls-pw")
    assert srv.tls_port and srv.tls_port != srv.port
    r = redis.Redis(
        host="127.0.0.1",
        port=srv.tls_port,
        ssl=True,
        ssl_ca_certs=str(cert),
        password="tls-pw",
        protocol=3,
    )
    assert r.set("over-tls", "yes") is True
    with r.pipeline(transaction=False) as p:
        for i in range(500):
            p.set(f"t:{i}", i)
        assert all(p.execute())
    assert r.get("over-tls") == b"yes"
    r.close()
    with pytest.raises(redis.ConnectionError):
        redis.Redis(
            host="127.0.0.1",
            port=srv.tls_port,
            ssl=True,
            ssl_cert_reqs=ssl.CERT_REQUIRED,
            ssl_ca_certs=None,
            socket_timeout=5,
            retry=Retry(NoBackoff(), 0),
        ).ping()  # fmt: skip  (an unknown CA is refused by the client)
