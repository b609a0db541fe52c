"""``memvec stack failover`` on a local stack: promote the other store node, heal the old one.

:func:`stack_failover` promotes with :func:`pipeline.stores.failover.promote`, restarts a dead
store node as a replica of the new primary, waits until every store node follows it, then
records the new primary in ``stack.json`` and ``<dir>/data/primary``. It raises
``SystemExit`` with what to do next when there is no stack, nothing can be promoted, or a
node does not follow in time.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import StackStartError
from .health import log_tail, wait_until
from .launch import Launcher, server_argv
from .state import (
    PRIMARY_FILE,
    STORE_NODES,
    is_alive,
    load_state,
    procs_of,
    publish_text,
    write_state,
)


def stack_failover(stack_dir: Path, timeout_s: float = 60.0) -> str:
    """Make the other store node the primary; returns its name (see ``failover`` in
    :mod:`pipeline.stack`). A dead node is restarted as a replica of the new primary, and this
    returns once every store node follows it."""
    from ..stores.failover import node_info, promote

    stack_dir = stack_dir.resolve()
    state = load_state(stack_dir)
    if state is None:
        raise SystemExit(
            f"memvec stack: no stack in {stack_dir} (start one with 'memvec stack up')"
        )
    if "cluster" in state:
        raise SystemExit(
            "memvec stack failover: this stack's store is a cluster; its shards fail over "
            "on their own or by the cluster's tools (docs/cluster.md), not by swapping the "
            "two nodes of a single-primary stack"
        )
    urls = [state["endpoints"][name] for name in STORE_NODES]
    try:
        new_url = promote(urls, timeout_s=timeout_s)
    except RuntimeError as exc:
        raise SystemExit(f"memvec stack failover: {exc}") from None
    new = STORE_NODES[urls.index(new_url)]
    nodes = {p.name: p for p in procs_of(state) if p.name in STORE_NODES}
    launcher = Launcher(stack_dir, state)
    for name, proc in nodes.items():
        if name == new or is_alive(proc):
            continue
        state["processes"] = [p for p in state["processes"] if p["name"] != name]
        argv = server_argv(stack_dir, name, proc.port, nodes[new].port)
        restarted = launcher.start(name, argv, proc.port, "resp")
        try:
            launcher.wait_healthy([restarted], timeout_s)
        except StackStartError as exc:
            tail = log_tail(exc.proc.log)
            raise SystemExit(f"memvec stack failover: {exc}; log {exc.proc.log}:\n{tail}") from None
    others = [u for u in urls if u != new_url]
    if not wait_until(lambda: all(node_info(u).link_up for u in others), timeout_s):
        raise SystemExit(
            f"memvec stack failover: {new} is primary but {', '.join(others)} did not start "
            f"following it within {timeout_s:.0f} s; see {stack_dir / 'logs'}"
        )
    state["primary"] = new
    write_state(stack_dir, state)
    publish_text(stack_dir / "data" / PRIMARY_FILE, new + "\n")
    return new
