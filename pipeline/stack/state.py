"""What a local stack is on disk: ``<dir>/stack.json``, process identity and the primary.

``<dir>/stack.json`` (written atomically by :func:`write_state`, after every launch) is
``{"version": 1, "bucket": str, "queue_url": str, "primary": "store" | "store-replica"
| null, "endpoints": {name: url}, "processes": [{"name", "pid", "start_time", "port",
"probe", "log"}]}``, and for a cluster stack (``up --shards``; ``primary`` is null)
``"cluster": {"shards": int, "replicas": int}`` with ``endpoints["store"]`` the
``redis+cluster://`` URL of its primaries; ``start_time`` is field 22 of
``/proc/PID/stat`` so a reused pid is never mistaken for a stack process
(:func:`is_alive`). ``<dir>/data/primary`` holds the name of the store node that was
primary last (:func:`recorded_primary`; ``failover`` rewrites it with
:func:`publish_text`). The names shared by the whole topology (bucket, queue, index, store
nodes, loopback host) are defined here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from store import atomic_write

from ..defaults import DEFAULT_INDEX

BUCKET = "memvec-docs"
QUEUE = "memvec-events"
DLQ_QUEUE = "memvec-dlq"
INDEX = DEFAULT_INDEX
STATE_FILE = "stack.json"
PRIMARY_FILE = "primary"
STORE_NODES = ("store", "store-replica")
HOST = "127.0.0.1"


@dataclass
class Proc:
    """One stack process as recorded in stack.json."""

    name: str
    pid: int
    start_time: int
    port: int
    probe: str
    log: str


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat, or None when the process is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def is_alive(proc: Proc) -> bool:
    """True when the recorded process (same pid and start time) is still running."""
    return process_start_time(proc.pid) == proc.start_time


def load_state(stack_dir: Path) -> dict[str, Any] | None:
    """The parsed stack.json of `stack_dir`, or None when there is none."""
    path = stack_dir / STATE_FILE
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def procs_of(state: dict[str, Any] | None) -> list[Proc]:
    """The processes recorded in a parsed stack.json (none for no state)."""
    return [Proc(**p) for p in (state or {}).get("processes", [])]


def write_state(stack_dir: Path, state: dict[str, Any]) -> None:
    """Publish ``state`` as ``<stack_dir>/stack.json``, atomically and durably."""
    publish_text(stack_dir / STATE_FILE, json.dumps(state, indent=2) + "\n")


def publish_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) so a reader sees the old or the new file."""
    data = text.encode()

    def write(f: BinaryIO) -> None:
        f.write(data)

    atomic_write(path, write)


def recorded_primary(stack_dir: Path) -> str:
    """The store node that was primary when the stack last ran (``failover`` moves it)."""
    try:
        name = (stack_dir / "data" / PRIMARY_FILE).read_text().strip()
    except OSError:
        return STORE_NODES[0]
    return name if name in STORE_NODES else STORE_NODES[0]
