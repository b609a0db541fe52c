"""store.errors is the one exception tree: every store exception is a StoreError defined
there, the modules that raised them before keep the same class under the old name, and
each class carries its RESP prefix, retriable flag and HTTP status."""

from __future__ import annotations

import inspect

import pytest

import store
from store import errors
from store.errors import StoreError


def test_every_exception_class_of_the_store_is_in_the_tree() -> None:
    import store.index.fields
    import store.replication.protocol
    import store.replication.replica
    import store.replication.tls
    import store.resp.parser
    import store.server.acl
    import store.server.app
    import store.snapshot.format
    import store.snapshot.s3

    old_sites = {
        store.server.acl: "AclError",
        store.server.app: "ServerError",
        store.snapshot.format: "SnapshotCorruptError",
        store.snapshot.s3: "SnapshotStoreError",
        store.replication.protocol: "StreamError",
        store.replication.tls: "LinkTLSError",
        store.replication: "NoReplicasError",
        store.replication.replica: "FencedError",
        store.index.fields: "DocumentRejected",
        store.resp.parser: "ProtocolError",
    }
    for module, name in old_sites.items():
        cls = getattr(module, name)
        assert cls is getattr(errors, name), f"{module.__name__}.{name} is a re-definition"
        assert cls.__module__ == "store.errors"
        assert issubclass(cls, StoreError)
    defined = [
        c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, BaseException)
    ]
    assert all(c.__module__ == "store.errors" and issubclass(c, StoreError) for c in defined)


@pytest.mark.parametrize(
    ("cls", "base", "prefix", "retriable"),
    [
        (errors.AclError, errors.CommandError, "ERR", False),
        (errors.ProtocolError, errors.CommandError, "ERR", False),
        (errors.DocumentRejected, errors.IndexError_, "ERR", False),
        (errors.SnapshotCorruptError, errors.SnapshotError, "ERR", False),
        (errors.SnapshotStoreError, errors.SnapshotError, "ERR", True),
        (errors.NoReplicasError, errors.ReplicationError, "NOREPLICAS", True),
        (errors.StreamError, errors.ReplicationError, "ERR", True),
        (errors.LinkTLSError, errors.ReplicationError, "ERR", False),
        (errors.FencedError, errors.ReplicationError, "ERR", False),
        (errors.ServerError, StoreError, "ERR", False),
    ],
)
def test_moved_classes_keep_their_behaviour(
    cls: type[StoreError], base: type[StoreError], prefix: str, retriable: bool
) -> None:
    assert issubclass(cls, base)
    assert cls.prefix == prefix and cls.retriable is retriable


def test_behaviour_of_moved_classes_is_unchanged() -> None:
    assert errors.NoReplicasError().resp_line() == "NOREPLICAS Not enough good replicas to write."
    assert errors.NoReplicasError.http_status == 500
    assert str(errors.ProtocolError("Protocol error: x")) == "Protocol error: x"
    assert errors.ProtocolError.http_status == 400
    rejected = errors.DocumentRejected("Invalid numeric value: 'x'", field=b"n")
    assert rejected.field == b"n" and rejected.http_status == 400
    corrupt = errors.SnapshotCorruptError("bad", path="/p", offset=3, section="s")
    assert (corrupt.path, corrupt.offset, corrupt.section) == ("/p", 3, "s")


def test_the_front_door_exports_what_embedded_users_catch() -> None:
    for name in ("SnapshotError", "SnapshotCorruptError", "SnapshotStoreError"):
        assert getattr(store, name) is getattr(errors, name)
