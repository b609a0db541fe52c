"""Search across shards: the FT.* commands of a cluster node, fanned out and merged.

In cluster mode (and once a topology is published) the RESP server hands these commands to
:class:`SearchCoordinator` instead of running them on its own data (the one hook:
``Connection._run_batch`` asks :meth:`SearchCoordinator.takes`). What each does:

* Index definitions (FT.CREATE, FT.DROPINDEX, FT.ALTER, FT.ALIASADD/UPDATE/DEL,
  FT.SYNUPDATE) go to every shard's primary, concurrently. The answer is the shards'
  common answer; when some shards say OK and the others refuse only because the change is
  already there (``Index already exists``, ``Unknown Index name``, ``Alias already
  exists``, ``Alias does not exist``: a call repeated after a partial one), the answer is
  OK; otherwise the first shard's error, in topology order. A definition that some shard
  accepted is recorded in the topology's ``search`` catalog (:mod:`.search_catalog`),
  published with the topology's compare-and-set; a primary applies what it lacks of the
  catalog when it starts, when its shard joins and when it is promoted (a shard added
  later gets every index).
* FT.SEARCH (:mod:`.search_merge`) and FT.AGGREGATE (:mod:`.search_aggregate`) go to one
  node per shard: a replica when the client sent READONLY (chosen by client id), else
  the primary; merged as one node holding all the data would answer.
* FT.INFO: the first shard's reply with ``num_docs``, ``num_records``,
  ``hash_indexing_failures`` and the index's ``indexing failures`` summed over the shards.
* FT._LIST and FT.TAGVALS: the union (TAGVALS sorted, as a node sorts).

Shards are called through :class:`store.cluster.fanout.PeerPool`, this node included (as
RediSearch's coordinator does: one code path, each shard's reply made durable by the
connection that served it). Everything else FT.* (EXPLAIN, PROFILE, CURSOR, CONFIG,
SYNDUMP, and FT.* inside MULTI or a script) runs on this node's data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ..commands.search_shard import encode_stats, stats_of
from ..commands.table import CommandSpec, resolve
from ..errors import ClusterDownError, CommandError, StoreError
from ..index.corpus_stats import CORPUS_SCORERS, CorpusStats
from ..replies import ErrorReply, OrderedSet, SimpleString
from .fanout import COORDINATOR_LIB, PeerError, PeerPool
from .routing import ClusterNode
from .search_aggregate import aggregate
from .search_catalog import Catalog, record_catalog
from .search_merge import (
    SearchPlan,
    as_mapping,
    first_error,
    merge_search,
    owner_in,
    plan_search,
    word,
)
from .topology import Node, Topology

if TYPE_CHECKING:
    from ..engine import Engine
    from ..index.schema import IndexDefinition
    from ..index.search_index import SearchIndex

__all__ = [
    "FANNED_OUT",
    "SearchCoordinator",
    "combine_definitions",
    "merge_info",
]

log = logging.getLogger(__name__)

_DEFINITIONS = frozenset(
    {"FT.CREATE", "FT.DROPINDEX", "FT.ALTER", "FT.ALIASADD", "FT.ALIASUPDATE", "FT.ALIASDEL",
     "FT.SYNUPDATE"}
)  # fmt: skip
FANNED_OUT = _DEFINITIONS | {"FT.SEARCH", "FT.AGGREGATE", "FT.INFO", "FT._LIST", "FT.TAGVALS"}
# a shard's refusal that means "already done": a repeated call completes a partial one
_ALREADY = ("Index already exists", "Unknown Index name", "Unknown index name",
            "Alias already exists", "Alias does not exist")  # fmt: skip
# how often a node checks whether it must apply the catalog (a no-op when its place in the
# topology did not change since the last complete run)
RECONCILE_S = 0.5


class Client(Protocol):
    """What the coordinator reads of a client connection."""

    id: int
    protocol: int
    lib_name: bytes
    cluster_readonly: bool


Handler = Callable[[Any, list[bytes]], Any]


class SearchCoordinator:
    """The FT.* commands of one cluster node (see the module docstring)."""

    def __init__(
        self,
        cluster: ClusterNode,
        engine: Engine,
        *,
        user: str | None = None,
        password: str | None = None,
        deferred: Callable[[Any], Any],
    ) -> None:
        self.cluster = cluster
        self.engine = engine
        self.pool = PeerPool(user=user, password=password)
        # wraps an awaitable as the server's "answer later" result (store.server.results)
        self._deferred = deferred
        self._task: asyncio.Task[None] | None = None
        # (this node's (shard id, role) when the catalog was last applied, complete?)
        self._reconciled: tuple[tuple[str, str] | None, bool] = (None, False)

    # -- the hook ---------------------------------------------------------------------------
    def takes(self, client: Client, spec: CommandSpec) -> bool:
        """Whether ``spec`` from ``client`` is fanned out (else it runs here, as always).

        A read on a one-shard cluster runs here when this node is the node the fan-out
        would pick (its shard's primary, or one of its replicas for a READONLY client):
        no hop for the common one-shard case. Definitions always go through the
        coordinator, so the catalog has them for shards added later."""
        if spec.name not in FANNED_OUT or client.lib_name == COORDINATOR_LIB:
            return False
        topology = self.cluster.topology
        if topology is None:
            return False
        if len(topology.shards) == 1 and spec.name not in _DEFINITIONS:
            me = self.cluster.me()
            if me is not None and (me[1].role == "primary" or client.cluster_readonly):
                return False
        return True

    def handlers(self) -> dict[str, Handler]:
        """Connection handlers for every command :meth:`takes`; each answers later."""

        def make(name: str) -> Handler:
            def handler(conn: Any, args: list[bytes]) -> Any:
                return self._deferred(self.execute(conn, name, args))

            return handler

        return {name: make(name) for name in FANNED_OUT}

    async def execute(self, client: Client, name: str, args: list[bytes]) -> Any:
        """The reply to one fanned-out command (errors as reply values)."""
        topology = self.cluster.topology
        if topology is None:  # takes() said yes; the topology cannot go away, but be exact
            return ClusterDownError("The cluster has no topology yet")
        try:
            if name in _DEFINITIONS:
                return await self._define(topology, client, name, args)
            if name == "FT.SEARCH":
                plan = plan_search(args, self.definition(args))
                if plan is None:
                    return await self._forward(topology, client, args)
                nodes = self.targets(topology, client)
                shard_args = plan.shard_args
                if self._scores_read_corpus(plan):
                    shard_args = await self.globally_scored(
                        nodes, b"_FT.SEARCH", shard_args, args[2:]
                    )
                replies = await self.ask(nodes, client.protocol, shard_args)
                return merge_search(plan, replies, client.protocol, owner_in(topology))
            if name == "FT.AGGREGATE":
                return await aggregate(self, topology, client, args)
            if name == "FT.INFO":
                return await self._info(topology, client, args)
            return await self._union(topology, client, name, args)
        except StoreError as exc:
            return exc
        except Exception as exc:  # a bug: answer it and keep serving, as the engine path does
            log.exception("%s across shards failed unexpectedly", name)
            return CommandError(f"internal error in {name} across shards: {type(exc).__name__}")

    # -- calling the shards -----------------------------------------------------------------
    def targets(self, topology: Topology, client: Client, *, primaries: bool = False) -> list[Node]:
        """One node per shard, in topology order."""
        out = []
        for shard in topology.shards:
            replicas = shard.replicas
            if client.cluster_readonly and replicas and not primaries:
                out.append(replicas[client.id % len(replicas)])
            else:
                out.append(shard.primary)
        return out

    async def ask(self, nodes: Sequence[Node], protocol: int, args: Sequence[bytes]) -> list[Any]:
        """``args`` sent to every node concurrently; the replies in ``nodes`` order."""
        try:
            async with asyncio.TaskGroup() as group:  # one node failing cancels the others
                tasks = [
                    group.create_task(self.pool.call(n.host, n.port, protocol, args)) for n in nodes
                ]
        except* PeerError as failed:
            raise failed.exceptions[0] from None
        return [task.result() for task in tasks]

    def _scores_read_corpus(self, plan: SearchPlan) -> bool:
        """Whether the answer shows or is ordered by scores that read corpus statistics."""
        request = plan.request
        if request.scorer not in CORPUS_SCORERS or request.num == 0:
            return False
        if plan.k is not None:  # KNN: ordered by distance, unless the server ranks by score
            return request.withscores or (
                request.sortby is None and self.engine.indexes.knn_order == "score"
            )
        return request.sortby is None or request.withscores

    async def globally_scored(
        self, nodes: Sequence[Node], name: bytes, args: list[bytes], query_args: list[bytes]
    ) -> list[bytes]:
        """``args`` (``FT.SEARCH``/``FT.AGGREGATE index ...`` for the shards) rewritten as
        ``name`` (``_FT.SEARCH``/``_FT.AGGREGATE``) carrying the cluster's corpus
        statistics for the query ``query_args`` (``query [FT.SEARCH options]``), asked of
        ``nodes`` first (``_FT.STATS``, :mod:`store.commands.search_shard`): every shard
        then scores TFIDF and BM25 as one node holding all the documents. A shard refusing
        the statistics request leaves ``args`` as they are (it refuses the search too)."""
        replies = await self.ask(nodes, 2, [b"_FT.STATS", args[1], *query_args])
        if first_error(replies) is not None:
            return args
        stats = CorpusStats.summed([stats_of(reply) for reply in replies])
        return [name, args[1], *encode_stats(stats), *args[2:]]

    async def _ask(self, topology: Topology, client: Client, args: Sequence[bytes]) -> list[Any]:
        return await self.ask(self.targets(topology, client), client.protocol, args)

    async def _forward(self, topology: Topology, client: Client, args: list[bytes]) -> Any:
        """Arguments this node cannot plan: the shards' first error, else the first reply."""
        replies = await self._ask(topology, client, args)
        error = first_error(replies)
        return error if error is not None else replies[0]

    def definition(self, args: list[bytes]) -> IndexDefinition | None:
        """The definition of the index ``args[1]`` names on this node, None if unknown."""
        index = self.local_index(args)
        return None if index is None else index.definition

    def local_index(self, args: list[bytes]) -> SearchIndex | None:
        """This node's index named by ``args[1]`` (an alias too), None if unknown."""
        if len(args) < 2:
            return None
        with self.engine.lock:
            try:
                return self.engine.indexes.get(args[1])
            except StoreError:
                return None

    # -- definitions ------------------------------------------------------------------------
    async def _define(
        self, topology: Topology, client: Client, name: str, args: list[bytes]
    ) -> Any:
        nodes = self.targets(topology, client, primaries=True)
        replies = await self.ask(nodes, client.protocol, args)
        reply = combine_definitions(replies)
        if any(r == "OK" and not isinstance(r, ErrorReply) for r in replies):
            try:
                await asyncio.get_running_loop().run_in_executor(
                    None, record_catalog, self.cluster.source, args
                )
            except Exception as exc:  # the shards have it; a later shard would not
                log.exception("recording %s in the topology failed", name)
                return CommandError(
                    f"{name} reached every shard but could not be recorded in the cluster "
                    f"topology ({exc}); a shard added later will lack it: repeat the command"
                )
        return reply

    # -- FT.INFO, FT._LIST, FT.TAGVALS -------------------------------------------------------
    async def _info(self, topology: Topology, client: Client, args: list[bytes]) -> Any:
        replies = await self._ask(topology, client, args)
        error = first_error(replies)
        if error is not None:
            return error
        return merge_info(replies, client.protocol)

    async def _union(self, topology: Topology, client: Client, name: str, args: list[bytes]) -> Any:
        replies = await self._ask(topology, client, args)
        error = first_error(replies)
        if error is not None:
            return error
        seen: dict[Any, None] = {}
        for reply in replies:
            for item in reply:
                seen[item] = None
        if name == "FT.TAGVALS":
            values = sorted(seen)
            return OrderedSet(values) if client.protocol == 3 else values
        return set(seen) if client.protocol == 3 else list(seen)

    # -- lifecycle and the catalog ----------------------------------------------------------
    def start(self) -> None:
        """Begin re-applying the catalog on this node when it is a primary."""
        self._task = asyncio.get_running_loop().create_task(self._reconcile_loop())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.pool.close()

    async def _reconcile_loop(self) -> None:
        while True:
            try:
                self.reconcile()
            except Exception:
                log.exception("applying the cluster's search catalog failed")
            await asyncio.sleep(RECONCILE_S)

    def reconcile(self) -> None:
        """On a primary: create the catalog's indexes (then their FT.ALTERs) and aliases
        this node lacks, never dropping anything. Once per place in the topology (this
        node's shard and role: at start, when its shard joins, when it is promoted), retried
        until it succeeded; not on every epoch, so a definition dropped by a fan-out while
        this node still read the older catalog is not made again."""
        topology = self.cluster.topology
        me = self.cluster.me()
        if topology is None or me is None or me[1].role != "primary":
            return
        place = (me[0].id, me[1].role)
        if self._reconciled == (place, True):
            return
        catalog = Catalog.from_topology(topology)
        with self.engine.lock:
            have = set(self.engine.indexes.names())
            aliases = dict(self.engine.indexes.aliases)
        complete = True
        for commands in catalog.missing(have, aliases):
            for args in commands:
                done = self.engine.submit(resolve(args), args)
                if done.error is not None:
                    complete = False
                    log.warning(
                        "re-applying %s from the cluster's catalog failed: %s",
                        args[0].decode(),
                        done.error,
                    )
                    break
        self._reconciled = (place, complete)


def combine_definitions(replies: Sequence[Any]) -> Any:
    """The answer to a definition change from the shards' answers (module docstring)."""
    if all(r == replies[0] and type(r) is type(replies[0]) for r in replies):
        return replies[0]
    errors = [r for r in replies if isinstance(r, ErrorReply)]
    ok = [r for r in replies if not isinstance(r, ErrorReply)]
    if ok and all(any(text in e for text in _ALREADY) for e in errors):
        return SimpleString("OK")
    return errors[0] if errors else replies[0]


_SUMMED = (b"num_docs", b"num_records", b"hash_indexing_failures")


def merge_info(replies: Sequence[Any], protocol: int) -> Any:
    """The first shard's FT.INFO with the counts summed over every shard (its keys kept
    as the shard spelled them: simple strings, or bulk strings from an older memvec)."""
    infos = [as_mapping(r) for r in replies]
    sums = {name: sum(int(i.get(name) or 0) for i in infos) for name in _SUMMED}
    failures = sum(int(as_mapping(i.get(b"Index Errors") or [])
                       .get(b"indexing failures") or 0) for i in infos)  # fmt: skip
    first = replies[0]
    if protocol == 3 and isinstance(first, dict):
        out = {}
        for key, value in first.items():
            name = word(key)
            if name in sums:
                value = sums[name]
            elif name == b"Index Errors" and isinstance(value, dict):
                value = {k: failures if word(k) == b"indexing failures" else v
                         for k, v in value.items()}  # fmt: skip
            out[key] = value
        return out
    flat = list(first)
    for i in range(0, len(flat) - 1, 2):
        name = word(flat[i])
        if name in sums:
            flat[i + 1] = sums[name]
        elif name == b"Index Errors" and isinstance(flat[i + 1], list):
            errors = list(flat[i + 1])
            for j in range(0, len(errors) - 1, 2):
                if word(errors[j]) == b"indexing failures":
                    errors[j + 1] = failures
            flat[i + 1] = errors
    return flat
