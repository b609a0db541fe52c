"""pipeline.stores.failover against real ``memvec server`` processes: a primary and a
replica, both with ``--min-replicas-to-ack 1``.

A writer commits atomic writes through :class:`RespStore` over both nodes while the primary is killed
with SIGKILL, the replica is promoted with :func:`promote`, and the old primary's data
directory comes back as a replica of the new one. Every write the client acknowledged is
on the new primary; the write in flight raises :class:`PrimaryChanged` and succeeds when
retried. A second, graceful ``promote`` (``FAILOVER``) moves the primary back and the
client follows the demotion (``READONLY``) without an error for reads.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from pipeline.errors import PrimaryChanged, StoreUnavailable
from pipeline.stores import RespStore
from pipeline.stores.failover import NodeInfo, find_primary, node_info, promote, split_urls
from tests.harness.wait import wait_for
from tests.server.test_process import ServerProcess

pytestmark = pytest.mark.slow


def test_find_primary_prefers_the_newest_epoch() -> None:
    infos = [
        NodeInfo("redis://a:1", True, "master", epoch=5),
        NodeInfo("redis://b:1", True, "master", epoch=9),
        NodeInfo("redis://c:1", True, "slave", epoch=12),
        NodeInfo("redis://d:1", False),
    ]
    assert find_primary(infos) == 1
    assert find_primary(infos[2:]) is None
    assert split_urls(" redis://a:1, redis://b:2 ,") == ["redis://a:1", "redis://b:2"]


def test_one_error_family_for_a_store_that_is_gone() -> None:
    assert issubclass(PrimaryChanged, StoreUnavailable) and PrimaryChanged.retriable
    gone = RespStore(["redis://127.0.0.1:1"], socket_timeout_s=1)
    try:
        with pytest.raises(StoreUnavailable) as caught:
            gone.run([["PING"]])
        assert caught.value.retriable
        with pytest.raises(StoreUnavailable):
            gone.ping()
    finally:
        gone.close()


def _url(server: ServerProcess) -> str:
    return f"redis://127.0.0.1:{server.port}"


class Writer(threading.Thread):
    """Commits ``HSET doc:n`` one at a time; records what was acknowledged."""

    def __init__(self, client: RespStore) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.acked: list[int] = []
        self.changed = 0
        self.errors: list[BaseException] = []
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            try:
                (reply,) = self.client.run([["HSET", f"doc:{n}", "n", n]], atomic=True)
            except PrimaryChanged:
                self.changed += 1
                continue
            except BaseException as exc:  # pragma: no cover - reported by the test
                self.errors.append(exc)
                return
            if isinstance(reply, Exception):
                self.errors.append(reply)
                return
            self.acked.append(n)
            n += 1


def test_kill9_promote_rejoin_loses_no_acknowledged_write(tmp_path: Path) -> None:
    ack = ("--min-replicas-to-ack", "1")
    primary = ServerProcess(tmp_path / "a", *ack)
    replica = ServerProcess(tmp_path / "b", *ack, "--replicaof", f"127.0.0.1:{primary.port}")
    servers = [primary, replica]
    urls = [_url(primary), _url(replica)]
    client = RespStore(urls, failover_timeout_s=30, poll_interval_s=0.05)
    writer = Writer(client)
    try:
        wait_for(lambda: node_info(urls[1]).link_up, 20, message="replica never linked")
        writer.start()
        wait_for(lambda: len(writer.acked) >= 30, 20, message="no writes acknowledged")
        primary.kill9()
        assert promote(urls) == urls[1]
        rejoined = ServerProcess(tmp_path / "a", *ack, "--replicaof", f"127.0.0.1:{replica.port}")
        servers.append(rejoined)
        acked_at_kill = len(writer.acked)
        wait_for(
            lambda: len(writer.acked) >= acked_at_kill + 30, 30,
            message=f"writes stalled after the failover (errors {[str(e) for e in writer.errors]})",
        )  # fmt: skip
        assert client.primary_url == urls[1]
        assert writer.changed <= 1 and not writer.errors
        # the same client reads from the primary it followed
        assert client.get("doc:0") == {"n": b"0"}
        writer.stop.set()
        writer.join(30)
        check = replica.client()
        try:
            stored = {int(k.split(b":")[1]) for k in check.keys("doc:*")}
        finally:
            check.close()
        missing = set(writer.acked) - stored
        assert not missing, f"acknowledged writes lost in the failover: {sorted(missing)[:10]}"

        # graceful hand-over back to the rejoined node; reads follow the demotion
        new_urls = [_url(rejoined), urls[1]]
        follower = RespStore(new_urls, failover_timeout_s=30, poll_interval_s=0.05)
        try:
            assert follower.run([["EXISTS", "doc:0"]]) == [1]
            assert follower.primary_url == new_urls[1]
            wait_for(lambda: node_info(new_urls[0]).link_up, 20, message="rejoined never linked")
            assert promote(new_urls) == new_urls[0]
            assert follower.run([["HSET", "after", "x", 1], ["EXISTS", "doc:0"]]) == [1, 1]
            assert follower.primary_url == new_urls[0]
        finally:
            follower.close()
    finally:
        writer.stop.set()
        client.close()
        for server in servers:
            server.ensure_dead()
