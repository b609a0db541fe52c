"""Test harness: real components on loopback, condition waits, unique ports and names.

Usable outside pytest (benchmarks): `from tests.harness import RedisStack, wait_for`.
"""

from __future__ import annotations

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
