"""Unique per-test resources: free loopback ports and collision-free names.

`free_port()` asks the kernel for an unused TCP port on 127.0.0.1 and never hands the same
port out twice in one process. The port is free when returned but not reserved: another
process may take it before our server binds. Launchers in `components.py` therefore retry
on "address already in use" with a fresh port instead of trusting this function alone.

`unique_name(prefix)` gives names for topics, buckets, queues and keys that no other test,
session or concurrent helper process will pick; it satisfies S3 bucket naming rules
(lowercase letters, digits and hyphens, 3-63 characters) when `prefix` does.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
import uuid

__all__ = ["free_port", "unique_name"]

LOOPBACK = "127.0.0.1"

_handed_out: set[int] = set()
_lock = threading.Lock()
_counter = itertools.count()


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port on `host` that is unbound now and not yet returned by this process."""
    with _lock:
        for _ in range(64):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((host, 0))
                port: int = sock.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise OSError(f"no free TCP port found on {host} after 64 tries; is the port range exhausted?")


def unique_name(prefix: str = "t") -> str:
    """Return `prefix-<pid>-<n>-<random>`, lowercase, at most 63 characters.

    A long `prefix` is shortened, never the unique suffix.
    """
    suffix = f"-{os.getpid()}-{next(_counter)}-{uuid.uuid4().hex[:8]}"
    return (prefix[: 63 - len(suffix)] + suffix).lower()
