"""The replication link over TLS (``--tls-replication yes``): a replica reaches a primary
that requires a password and client certificates through its TLS port and replicates;
a replica with the wrong CA, or without a client certificate, stays
``master_link_status:down`` and logs which option to fix.

Certificates are made at test time (:func:`tests.server.test_security.self_signed`);
no key is committed."""

from __future__ import annotations

from pathlib import Path

from tests.harness import free_port
from tests.harness.wait import wait_for
from tests.server.test_security import self_signed

from .nodes import Node, converged, info, keyspace

PASSWORD = "repl-secret"


def certs(tmp_path: Path, name: str) -> tuple[Path, Path]:
    d = tmp_path / name
    d.mkdir()
    return self_signed(d)


def logged(node: Node, *parts: str) -> bool:
    assert node.proc is not None
    return any(all(p in line for p in parts) for line in node.proc.stderr)


def test_replica_over_mutual_tls_with_auth(tmp_path: Path) -> None:
    server_cert, server_key = certs(tmp_path, "primary")
    client_cert, client_key = certs(tmp_path, "replica")
    other_ca, _ = certs(tmp_path, "other")
    trusted_clients = tmp_path / "clients-ca.pem"
    trusted_clients.write_bytes(client_cert.read_bytes())
    tls_port = free_port()
    nodes: list[Node] = []
    try:
        primary = Node(
            tmp_path / "p", "--tls-port", str(tls_port),
            "--tls-cert-file", str(server_cert), "--tls-key-file", str(server_key),
            "--tls-ca-cert-file", str(trusted_clients), "--tls-auth-clients", "yes",
        )  # fmt: skip
        nodes.append(primary)
        primary.r.config_set("requirepass", PASSWORD)  # after start: the harness PINGs first
        primary.r = primary.client(password=PASSWORD)
        link = ("--replicaof", f"127.0.0.1:{tls_port}", "--tls-replication", "yes",
                "--masterauth", PASSWORD)  # fmt: skip
        replica = Node(
            tmp_path / "r", *link, "--tls-ca-cert-file", str(server_cert),
            "--tls-client-cert-file", str(client_cert), "--tls-client-key-file", str(client_key),
        )  # fmt: skip
        nodes.append(replica)
        wrong_ca = Node(
            tmp_path / "wrong-ca", *link, "--tls-ca-cert-file", str(other_ca),
            "--tls-client-cert-file", str(client_cert), "--tls-client-key-file", str(client_key),
        )  # fmt: skip
        nodes.append(wrong_ca)
        no_cert = Node(tmp_path / "no-cert", *link, "--tls-ca-cert-file", str(server_cert))
        nodes.append(no_cert)

        with primary.r.pipeline(transaction=False) as p:
            for n in range(200):
                p.hset(f"doc:{n}", mapping={"n": n, "v": b"x" * 64})
            p.execute()
        wait_for(lambda: converged(primary, replica), 30, message="TLS replica caught up")
        assert keyspace(replica) == keyspace(primary)
        primary.r.set("after", "sync")
        wait_for(lambda: replica.r.get("after") == b"sync", 10, message="streamed over TLS")
        assert info(primary)["connected_slaves"] == 1

        wait_for(
            lambda: logged(wrong_ca, "not accepted", "--tls-ca-cert-file"),
            20,
            message="the wrong CA is named in the replica's log",
        )
        assert info(wrong_ca)["master_link_status"] == "down"
        assert wrong_ca.r.dbsize() == 0
        wait_for(
            lambda: logged(no_cert, "--tls-client-cert-file"),
            20,
            message="the missing client certificate is named in the replica's log",
        )
        assert info(no_cert)["master_link_status"] == "down"
        assert no_cert.r.dbsize() == 0
    finally:
        for node in nodes:
            node.stop()


def test_failover_over_tls(tmp_path: Path) -> None:
    """Nodes that share one certificate and set --tls-replication announce their TLS port,
    so FAILOVER reaches the target and the old primary follows it over TLS."""
    cert, key = certs(tmp_path, "cluster")
    tls = ("--tls-replication", "yes", "--tls-cert-file", str(cert), "--tls-key-file", str(key),
           "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "yes")  # fmt: skip
    primary_tls = free_port()
    nodes: list[Node] = []
    try:
        primary = Node(tmp_path / "p", "--tls-port", str(primary_tls), *tls)
        nodes.append(primary)
        replica_tls = free_port()
        replica = Node(tmp_path / "r", "--tls-port", str(replica_tls), *tls,
                       "--replicaof", f"127.0.0.1:{primary_tls}")  # fmt: skip
        nodes.append(replica)
        primary.r.set("before", "1")
        wait_for(lambda: converged(primary, replica), 30, message="TLS replica caught up")
        assert info(primary)["slave0"]["port"] == replica_tls  # the TLS port is announced
        primary.r.execute_command("FAILOVER")
        wait_for(lambda: info(replica)["role"] == "master", 20, message="replica promoted")
        wait_for(lambda: converged(replica, primary), 30, message="old primary follows over TLS")
        replica.r.set("after", "2")
        wait_for(lambda: primary.r.get("after") == b"2", 10, message="new primary's writes flow")
        assert info(primary)["master_port"] == replica_tls
    finally:
        for node in nodes:
            node.stop()
