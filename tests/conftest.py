"""Shared fixtures: real components on loopback and the offline embedding model.

Session-scoped, started on first use, stopped at session end even when tests fail:

- `kafka_broker` -> `KafkaBroker` (`.bootstrap`), tansu with memory storage;
- `moto_server` -> `MotoServer` (`.endpoint_url`, `.client(service)`, `.reset()`);
- `aws_client` -> `aws_client("s3")`: boto3 clients on `moto_server`, dummy credentials,
  us-east-1 (passed explicitly, the environment is not touched);
- `redis_stack` -> `RedisStack` (`.host`, `.port`, `.url`, `.client()`), valkey + RediSearch;
- `embedder` -> `pipeline.embedding.LocalEmbedder`, loaded once.

Function-scoped: `redis_stack_factory(extra_args=[...])` starts another peer with its own
config and data dir, stopped when the test ends.

A component that cannot start makes the test error (never skip) with a `ComponentError`
naming the component, the reason and its log tail. Logs live in the session's pytest tmp
dir (`components/`). Start-up times are printed in the terminal summary.
"""

from __future__ import annotations

import os
import time

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from tests.harness.components import (
    KafkaBroker,
    ManagedProcess,
    MotoServer,
    RedisStack,
    stop_all,
)

if TYPE_CHECKING:
    from pipeline.embedding import LocalEmbedder

C = TypeVar("C", bound=ManagedProcess)

_startup_times: list[tuple[str, float]] = []


def _running(component: C) -> Iterator[C]:
    try:
        component.start()
        if component.startup_s is not None:
            _startup_times.append((component.name, component.startup_s))
        yield component
    finally:
        component.stop()


@pytest.fixture(scope="session")
def component_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("components")


@pytest.fixture(scope="session")
def kafka_broker(component_dir: Path) -> Iterator[KafkaBroker]:
    yield from _running(KafkaBroker(log_dir=component_dir))


@pytest.fixture(scope="session")
def moto_server(component_dir: Path) -> Iterator[MotoServer]:
    yield from _running(MotoServer(log_dir=component_dir))


@pytest.fixture(scope="session")
def aws_client(moto_server: MotoServer) -> Callable[..., Any]:
    """`aws_client(service_name, **boto3_kwargs)` -> a boto3 client on the moto server."""
    return moto_server.client


@pytest.fixture(scope="session")
def redis_stack(component_dir: Path) -> Iterator[RedisStack]:
    yield from _running(RedisStack(log_dir=component_dir))


@pytest.fixture
def redis_stack_factory(component_dir: Path) -> Iterator[Callable[..., RedisStack]]:
    """`redis_stack_factory(extra_args=(), **kwargs)` -> a started, test-private peer."""
    started: list[RedisStack] = []

    def make(extra_args: Sequence[str] = (), **kwargs: Any) -> RedisStack:
        instance = RedisStack(extra_args=extra_args, log_dir=component_dir, **kwargs)
        started.append(instance)
        instance.start()
        if instance.startup_s is not None:
            _startup_times.append((f"{instance.name} (factory)", instance.startup_s))
        return instance

    try:
        yield make
    finally:
        for instance in started:
            instance.stop()


@pytest.fixture(scope="session")
def embedder() -> LocalEmbedder:
    from pipeline.embedding import LocalEmbedder

    began = time.monotonic()
    loaded = LocalEmbedder()
    _startup_times.append(("embedding model (import + load)", time.monotonic() - began))
    return loaded


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files holding a ``slow`` test first, the rest after, each file's tests in their
    order (a stable sort). ``./run test`` hands files to pytest's two workers in this order
    (``--dist loadfile --no-loadscope-reorder``): the long ones start first and the short
    ones fill in behind them. pytest-xdist's own order (most tests first) left the one- and
    two-test kill -9 files, the longest of the suite, for the end on one worker while the
    other sat idle (2026-12-07: the last 2% of the tests took 160 s of 542)."""
    slow = {item.path for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.path not in slow)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_all()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _startup_times:
        return
    terminalreporter.section("component start-up")
    for name, seconds in _startup_times:
        terminalreporter.write_line(f"{name}: {seconds:.2f} s")
