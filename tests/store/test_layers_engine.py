"""The store's layers import one way: server -> replication -> engine -> durability.

An AST walk over the source (imports under ``TYPE_CHECKING`` count too): replication
never imports the server; the engine, its commands, indexes, persistence, keyspace, the
logs and snapshots import neither the server nor replication, and the engine and its
command handlers speak the reply vocabulary (``store.replies``), not the RESP codec.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

STORE = Path(__file__).resolve().parents[2] / "store"


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    package = ".".join(path.relative_to(STORE.parent).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            # "from . import x" / "from .. import server" name modules too
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def sources(*parts: str) -> list[Path]:
    out: list[Path] = []
    for part in parts:
        path = STORE / part
        out += sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]
    return out


def offenders(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in files:
        for name in sorted(imported_modules(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(STORE.parent)} imports {name}")
    return found


def test_the_walk_sees_relative_and_type_checking_imports() -> None:
    names = imported_modules(STORE / "server" / "app.py")
    assert "store.replication" in names
    assert "store.engine" in names


def test_replication_does_not_import_the_server() -> None:
    assert offenders(sources("replication"), ("store.server",)) == []


@pytest.mark.parametrize(
    "part",
    [
        "engine",
        "persistence",
        "keyspace",
        "commands",
        "index",
        "wal",
        "snapshot",
    ],
)
def test_engine_and_durability_import_neither_server_nor_replication(part: str) -> None:
    assert offenders(sources(part), ("store.server", "store.replication")) == []


@pytest.mark.parametrize("part", ["engine", "commands", "index", "replies"])
def test_engine_and_commands_do_not_import_the_codec(part: str) -> None:
    assert offenders(sources(part), ("store.resp", "store.server")) == []
