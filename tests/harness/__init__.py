"""Test harness: real components on loopback, condition waits, unique ports and names.

Usable outside pytest (benchmarks): `from tests.harness import RedisStack, wait_for`.

The names below load on first use (PEP 562), so a submodule that needs only the standard
library (`tests.harness.client_venv`, `tests.harness.node_clients`, `tests.harness.prebuild`)
imports without memvec's dependencies: `./run test` builds the client environments with
the system Python while it installs `.venv`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from store.lazy_names import lazy_names

if TYPE_CHECKING:
    from tests.harness.components import (
        FAST_GROUP_TIMEOUTS,
        ComponentError,
        ComponentState,
        KafkaBroker,
        ManagedProcess,
        MotoServer,
        RedisStack,
        stop_all,
    )
    from tests.harness.ports import free_port, unique_name
    from tests.harness.wait import wait_for, wait_for_async

_HOME = {
    "FAST_GROUP_TIMEOUTS": "components",
    "ComponentError": "components",
    "ComponentState": "components",
    "KafkaBroker": "components",
    "ManagedProcess": "components",
    "MotoServer": "components",
    "RedisStack": "components",
    "stop_all": "components",
    "free_port": "ports",
    "unique_name": "ports",
    "wait_for": "wait",
    "wait_for_async": "wait",
}

__all__ = [
    "FAST_GROUP_TIMEOUTS",
    "ComponentError",
    "ComponentState",
    "KafkaBroker",
    "ManagedProcess",
    "MotoServer",
    "RedisStack",
    "free_port",
    "stop_all",
    "unique_name",
    "wait_for",
    "wait_for_async",
]


__getattr__ = lazy_names(__name__, _HOME, globals())
