"""INFO: the server's state as Redis-style ``field:value`` lines grouped in sections.

Sections: server, clients, memory, persistence, stats, replication, cpu, modules,
errorstats, cluster, keyspace (``INFO`` / ``default`` / ``all``) and RediSearch's
``search_*`` sections (with ``everything``, ``modules`` or ``search``, as a module's
sections are in Redis). Field names follow Redis 7.4 where Redis has the field;
memvec-only fields start with ``memvec_``. Passwords never appear here.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..engine import STARTUP_MEMORY_BYTES
from .config import format_memory
from .event_loop import kind_of

if TYPE_CHECKING:
    from .app import Server

Fields = list[tuple[str, object]]

DEFAULT_SECTIONS = (
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
)
# ``all`` / ``everything``: the defaults plus the per-command sections, in Redis's order.
ALL_SECTIONS = (
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
)


def _server(server: Server) -> Fields:
    from .handlers import SERVER_VERSION

    now = time.time()
    uptime = int(time.monotonic() - server.started_monotonic)
    return [
        ("redis_version", SERVER_VERSION),
        ("memvec_version", server.version),
        ("redis_mode", "standalone"),
        ("os", f"{platform.system()} {platform.release()} {platform.machine()}"),
        ("arch_bits", 64 if sys.maxsize > 2**32 else 32),
        ("multiplexing_api", kind_of(server.loop)),
        ("python_version", platform.python_version()),
        ("process_id", os.getpid()),
        ("run_id", server.run_id),
        ("tcp_port", server.port),
        ("server_time_usec", int(now * 1_000_000)),
        ("uptime_in_seconds", uptime),
        ("uptime_in_days", uptime // 86400),
        ("executable", sys.argv[0] if sys.argv else ""),
        ("config_file", ""),
    ]


def _clients(server: Server) -> Fields:
    clients = list(server.clients.values())
    max_in = max((c.parser.buffered for c in clients), default=0)
    max_out = max(
        (c.transport.get_write_buffer_size() for c in clients if c.transport is not None),
        default=0,
    )
    return [
        ("connected_clients", len(clients)),
        ("cluster_connections", 0),
        ("maxclients", server.config.maxclients),
        ("client_recent_max_input_buffer", max_in),
        ("client_recent_max_output_buffer", max_out),
        ("blocked_clients", len(server.blocking)),
        ("tracking_clients", 0),
        ("pubsub_clients", 0),
        ("watching_clients", len({c for conns in server.watchers.values() for c in conns})),
        ("clients_in_timeout_table", 0),
        ("total_watched_keys", len(server.watchers)),
        ("total_blocking_keys", len(server.blocking.waiting)),
        ("total_blocking_keys_on_nokey", 0),
    ]


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def total_system_memory() -> int:
    """Physical memory of the machine (Redis's ``total_system_memory``), 0 if unknown."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _memory(server: Server) -> Fields:
    used = server.engine.reported_memory()
    server.stats.peak_memory = max(server.stats.peak_memory, used)
    maxmemory = server.engine.config.maxmemory_bytes
    rss = rss_bytes()
    return [
        ("used_memory", used),
        ("used_memory_human", format_memory(used)),
        ("used_memory_rss", rss),
        ("used_memory_rss_human", format_memory(rss)),
        ("used_memory_peak", server.stats.peak_memory),
        ("used_memory_peak_human", format_memory(server.stats.peak_memory)),
        ("used_memory_startup", STARTUP_MEMORY_BYTES),
        ("used_memory_dataset", used - STARTUP_MEMORY_BYTES),
        ("total_system_memory", total_system_memory()),
        ("total_system_memory_human", format_memory(total_system_memory())),
        ("maxmemory", maxmemory),
        ("maxmemory_human", format_memory(maxmemory)),
        ("maxmemory_policy", server.engine.evictor.policy.value),
        ("mem_fragmentation_ratio", f"{rss / used:.2f}" if used else "0.00"),
        ("number_of_cached_scripts", len(server.engine.scripting.scripts)),
    ]


def _persistence(server: Server) -> Fields:
    engine = server.engine
    stats = engine.stats
    tlog = engine.transaction_log
    loading = 0 if server.engine_ready else 1
    fields: Fields = [
        ("loading", loading),
        ("async_loading", 0),
        ("rdb_changes_since_last_save", stats.writes_since_snapshot),
        ("rdb_bgsave_in_progress", 1 if engine.persistence.in_progress else 0),
        ("rdb_last_save_time", stats.last_snapshot_ms // 1000),
        ("rdb_last_bgsave_status", "ok" if stats.last_snapshot_ok else "err"),
        (
            "rdb_last_bgsave_time_sec",
            stats.last_snapshot_duration_ms // 1000 if stats.snapshots_taken else -1,
        ),
        ("rdb_saves", stats.snapshots_taken),
        ("rdb_last_fork_usec", int(stats.last_fork_ms * 1000)),
        ("aof_enabled", 1 if tlog is not None else 0),
        ("aof_rewrite_in_progress", 0),
        ("aof_last_write_status", "err" if engine.state.value == "failed" else "ok"),
        ("memvec_appendfsync", engine.config.appendfsync.value),
        ("memvec_engine_state", engine.state.value),
        ("memvec_writes_logged", stats.writes_logged),
        ("memvec_log_rollbacks", stats.log_rollbacks),
    ]
    if tlog is not None:
        fields += [
            ("memvec_log_next_seq", tlog.next_position.seq),
            ("memvec_log_durable_seq", tlog.durable_position.seq - 1),
        ]
    if stats.recovery is not None:
        fields.append(("memvec_recovery_outcome", stats.recovery.outcome.value))
    if stats.loaded_snapshot:
        fields.append(("memvec_loaded_snapshot", os.path.basename(stats.loaded_snapshot)))
    return fields


def _stats(server: Server) -> Fields:
    s = server.stats
    e = server.engine.stats
    return [
        ("total_connections_received", s.connections_received),
        ("total_commands_processed", s.commands),
        ("instantaneous_ops_per_sec", int(s.ops_per_sec)),
        ("total_net_input_bytes", s.net_input_bytes),
        ("total_net_output_bytes", s.net_output_bytes),
        ("rejected_connections", s.rejected_connections),
        ("expired_keys", e.expired_keys),
        ("expired_subkeys", e.expired_fields),  # hash fields (Redis 7.4's name)
        ("evicted_keys", e.evicted_keys),
        ("evicted_clients", s.evicted_clients),
        ("evicted_scripts", server.engine.scripting.evicted_scripts),
        ("client_query_buffer_limit_disconnections", s.query_limit_disconnections),
        ("client_output_buffer_limit_disconnections", s.output_limit_disconnections),
        ("memvec_idle_timeout_disconnections", s.idle_timeouts),
        ("total_error_replies", server.observe.stats.total_error_replies),
        ("keyspace_hits", e.keyspace_hits),
        ("keyspace_misses", e.keyspace_misses),
        ("memvec_engine_commands_processed", e.commands_processed),
        ("memvec_searches_running_on_pool", server.searches_in_pool),
        ("memvec_searches_offloaded", s.searches_offloaded),
        ("memvec_lane_searches", server.search_lane.searches),
        ("memvec_walker_searches", server.search_walker.searches),
        ("memvec_inline_commands", s.inline_commands),
        ("memvec_kept_page_bytes", s.kept_page_bytes),
        ("memvec_combined_write_batches", server.write_combiner.batches),
        ("memvec_combined_writes", server.write_combiner.combined),
    ]


def _replication(server: Server) -> Fields:
    return server.replication.info_fields()


def _cpu(server: Server) -> Fields:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return [
        ("used_cpu_sys", f"{ru.ru_stime:.6f}"),
        ("used_cpu_user", f"{ru.ru_utime:.6f}"),
    ]


def _modules(server: Server) -> Fields:
    from .handlers import SEARCH_MODULE_VERSION

    return [
        (
            "module",
            f"name=search,ver={SEARCH_MODULE_VERSION},api=1,filters=0,usedby=[],using=[],"
            "options=[handle-io-errors]",
        )
    ]


def _keyspace(server: Server) -> Fields:
    ks = server.engine.keyspace
    n = len(ks)
    if not n:
        return []
    subexpiry = len(ks.field_expires)  # hashes with a field TTL (Redis 7.4)
    return [("db0", f"keys={n},expires={len(ks.expires)},avg_ttl=0,subexpiry={subexpiry}")]


def _search_blocks(server: Server) -> list[tuple[str, Fields]]:
    """RediSearch 2.10's INFO sections (the fields memvec has), then memvec's per-index lines."""
    from .handlers import SERVER_VERSION

    indexes = server.engine.indexes
    names = indexes.names()
    total_mem = 0
    per_index: Fields = []
    for name in names:
        try:
            index = indexes.get(name)
        except Exception:
            continue
        mem = index.memory_bytes()
        total_mem += mem
        per_index.append((f"memvec_index_{name}", f"num_docs={index.num_docs},memory_bytes={mem}"))
    return [
        (
            "search_version",
            [("search_version", "2.10.5"), ("search_redis_version", f"{SERVER_VERSION} - oss")],
        ),
        ("search_index", [("search_number_of_indexes", len(names))]),
        (
            "search_memory",
            [
                ("search_used_memory_indexes", total_mem),
                ("search_used_memory_indexes_human", format_memory(total_mem)),
                ("search_total_indexing_time", 0),
            ],
        ),
        ("search_memvec_indexes", per_index),
    ]


def _cluster(server: Server) -> Fields:
    return [("cluster_enabled", int(server.cluster is not None))]


_SECTIONS: dict[str, tuple[str, Callable[[Server], Fields]]] = {
    "server": ("Server", _server),
    "clients": ("Clients", _clients),
    "memory": ("Memory", _memory),
    "persistence": ("Persistence", _persistence),
    "stats": ("Stats", _stats),
    "replication": ("Replication", _replication),
    "cpu": ("CPU", _cpu),
    "modules": ("Modules", _modules),
    "commandstats": ("Commandstats", lambda server: server.observe.stats.commandstats_fields()),
    "errorstats": ("Errorstats", lambda server: server.observe.stats.errorstats_fields()),
    "latencystats": ("Latencystats", lambda server: server.observe.stats.latencystats_fields()),
    "cluster": ("Cluster", _cluster),
    "keyspace": ("Keyspace", _keyspace),
}


def render_info(server: Server, wanted: list[str]) -> str:
    """The INFO text for the requested section names (Redis's defaults when empty).

    As in Redis, module sections (search) come with ``everything``, ``modules`` or
    their own name, not with the default set.
    """
    names: list[str] = []
    search = False
    if not wanted or "default" in wanted:
        names = list(DEFAULT_SECTIONS)
    if "all" in wanted or "everything" in wanted:
        names = list(ALL_SECTIONS)
        search = search or "everything" in wanted
    for w in wanted:
        if w in _SECTIONS and w not in names:
            names.append(w)
        if w in ("modules", "search") or w.startswith("search_"):
            search = True
    blocks: list[tuple[str, Fields]] = [
        (_SECTIONS[name][0], _SECTIONS[name][1](server)) for name in names
    ]
    if search:
        blocks += _search_blocks(server)
    out: list[str] = []
    for title, fields in blocks:
        if out:
            out.append("")
        out.append(f"# {title}")
        out += [f"{k}:{v}" for k, v in fields]
    return "\r\n".join(out) + "\r\n"
