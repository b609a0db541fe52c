"""Imports point one way, and no ``_`` name crosses a module boundary.

The layer map (:data:`LAYERS`, highest rank first). A module may import its own layer and
the layers ranked below it, never one ranked above:

    rank  layer        modules
    7     pipeline     pipeline/**
    6     connectors   connectors/**
    5     store        store/__init__.py: the front door, may import anything in store
    4     server       store/server/**, store/cluster/**, store/cli.py, store/__main__.py
    3     replication  store/replication/**
    2     engine       store/engine.py, store/persistence.py, store/keyspace.py,
                       store/key_order.py, store/commands/**, store/index/**,
                       store/aggregate/**, store/datatypes/**, store/json/**,
                       store/scripting/**, store/geo/**
    1     durability   store/wal/**, store/snapshot/**, store/files.py
    0     leaf         store/errors.py, store/config.py, store/replies.py,
                       store/numbers.py, store/aio.py, store/blas_env.py,
                       store/cpus.py, store/lazy_names.py: shared by every layer,
                       they import only other leaves
    0     resp         store/resp/**: the RESP codec, a leaf that only server,
                       replication and the front door may import (the engine may not)

Every module under ``store/`` must have a layer: a new one that fits no pattern fails
:func:`test_every_store_module_has_a_layer` until it is added here. ``bench/`` has no layer;
it is walked for the ``_`` rule only.

What counts as an import: every ``import``/``from ... import`` statement anywhere in a
module (inside functions too). Imports under ``if TYPE_CHECKING:`` count (a type-only
upward import is still a loop in the design) but are reported as ``[type-only]``. The
``_`` rule flags ``from m import _x`` (relative or absolute, any ``m``) for every
``_``-prefixed name that is not a dunder; an ``as _alias`` of a public name is fine.

``python tests/test_layering.py [root]`` prints the report and exits 1 when it is not
empty.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("store", "connectors", "pipeline", "bench")

# (layer, rank, path patterns relative to the root); first match wins.
LAYERS: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("pipeline", 7, ("pipeline/*",)),
    ("connectors", 6, ("connectors/*",)),
    ("store", 5, ("store/__init__.py",)),
    ("server", 4, ("store/server/*", "store/cluster/*", "store/cli.py", "store/__main__.py")),
    ("replication", 3, ("store/replication/*",)),
    (
        "engine",
        2,
        (
            "store/engine.py",
            "store/persistence.py",
            "store/keyspace.py",
            "store/key_order.py",
            "store/eviction.py",
            "store/datatypes/*",
            "store/json/*",
            "store/commands/*",
            "store/index/*",
            "store/aggregate/*",
            "store/datatypes/*",
            "store/json/*",
            "store/scripting/*",
            "store/geo/*",
            "store/rdb/*",  # encodes the engine's value types (store/datatypes)
        ),
    ),
    ("durability", 1, ("store/wal/*", "store/snapshot/*", "store/files.py")),
    (
        "leaf",
        0,
        (
            "store/errors.py",
            "store/config.py",
            "store/replies.py",
            "store/numbers.py",
            "store/aio.py",
            "store/blas_env.py",
            "store/cpus.py",
            "store/lazy_names.py",
            "store/hll/*",
        ),
    ),
    ("resp", 0, ("store/resp/*",)),
    ("bench", -1, ("bench/*",)),
)
RANK = {name: rank for name, rank, _ in LAYERS}
CODEC_IMPORTERS = frozenset({"server", "replication", "store", "resp"})


def layer_of(rel: str) -> str | None:
    """The layer of the module at ``rel`` (a root-relative posix path), None if unmapped."""
    for name, _, patterns in LAYERS:
        if any(fnmatchcase(rel, pattern) for pattern in patterns):
            return name
    return None


@dataclass(frozen=True)
class Import:
    file: str  # root-relative posix path of the importing module
    line: int
    target: str  # dotted module name the statement reaches
    names: tuple[str, ...]  # the names a ``from`` import takes, () for ``import m``
    type_only: bool


@dataclass(frozen=True)
class Violation:
    kind: str  # "upward", "codec", "private" or "unmapped"
    file: str
    line: int
    detail: str
    type_only: bool = False

    def __str__(self) -> str:
        tail = " [type-only]" if self.type_only else ""
        return f"{self.file}:{self.line}: {self.detail}{tail}"


class Tree:
    """The ``.py`` files of :data:`PACKAGES` under ``root`` and the imports in them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = sorted(
            path.relative_to(root).as_posix()
            for package in PACKAGES
            if (root / package).is_dir()
            for path in (root / package).rglob("*.py")
            if "__pycache__" not in path.parts
        )
        self.modules = {module_name(rel): rel for rel in self.files}

    def imports(self, rel: str) -> list[Import]:
        tree = ast.parse((self.root / rel).read_text(encoding="utf-8"), filename=rel)
        found: list[Import] = []
        self._collect(tree.body, rel, False, found)
        return found

    def _collect(self, body: list[ast.stmt], rel: str, type_only: bool, out: list[Import]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    out.append(Import(rel, node.lineno, alias.name, (), type_only))
            elif isinstance(node, ast.ImportFrom):
                base = self._from_base(rel, node)
                names = tuple(alias.name for alias in node.names)
                out.append(Import(rel, node.lineno, base, names, type_only))
            elif isinstance(node, ast.If) and is_type_checking(node.test):
                self._collect(node.body, rel, True, out)
                self._collect(node.orelse, rel, type_only, out)
                continue
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                for child in getattr(node, field, ()):
                    # statements, or except/case clauses that hold statements
                    stmts = [child] if isinstance(child, ast.stmt) else child.body
                    self._collect(stmts, rel, type_only, out)

    def _from_base(self, rel: str, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        package = module_name(rel).split(".")
        if not rel.endswith("__init__.py"):
            package = package[:-1]
        package = package[: len(package) - (node.level - 1)]
        return ".".join([*package, node.module] if node.module else package)

    def targets(self, imp: Import) -> list[str]:
        """The modules of this tree the import reaches (submodules named by ``from`` too)."""
        if not imp.names:
            return [m] if (m := self.module_prefix(imp.target)) else []
        reached = []
        for name in imp.names:
            sub = f"{imp.target}.{name}"
            module = sub if sub in self.modules else self.module_prefix(imp.target)
            if module and module not in reached:
                reached.append(module)
        return reached

    def module_prefix(self, dotted: str) -> str | None:
        parts = dotted.split(".")
        for end in range(len(parts), 0, -1):
            candidate = ".".join(parts[:end])
            if candidate in self.modules:
                return candidate
        return None


def module_name(rel: str) -> str:
    parts = rel[: -len(".py")].split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def check(root: Path) -> list[Violation]:
    """Every layering and ``_`` violation under ``root``, in file and line order."""
    tree = Tree(root)
    found: list[Violation] = []
    for rel in tree.files:
        layer = layer_of(rel)
        if layer is None:
            if rel.startswith("store/"):
                found.append(Violation("unmapped", rel, 1, "store module with no layer"))
            continue
        for imp in tree.imports(rel):
            private = [name for name in imp.names if is_private(name)]
            if private:
                detail = f"imports {', '.join(private)} from {imp.target}"
                found.append(Violation("private", rel, imp.line, detail, imp.type_only))
            if layer == "bench":
                continue
            for target in tree.targets(imp):
                to = layer_of(tree.modules[target])
                if to is None or to == "bench":
                    continue
                if RANK[to] > RANK[layer]:
                    detail = f"{layer} -> {to}: {target}"
                    found.append(Violation("upward", rel, imp.line, detail, imp.type_only))
                elif to == "resp" and layer not in CODEC_IMPORTERS:
                    detail = f"{layer} -> resp (the codec): {target}"
                    found.append(Violation("codec", rel, imp.line, detail, imp.type_only))
    return found


TITLES = {
    "upward": "Imports from a lower layer to a higher one",
    "codec": "Imports of the RESP codec outside server/replication",
    "private": "`_` names imported across modules",
    "unmapped": "store modules missing from the layer map",
}


def report(violations: list[Violation], kinds: tuple[str, ...] = tuple(TITLES)) -> str:
    lines = []
    for kind in kinds:
        title = TITLES[kind]
        of_kind = [v for v in violations if v.kind == kind]
        typed = sum(v.type_only for v in of_kind)
        lines.append(f"{title}: {len(of_kind)} ({typed} type-only)")
        lines.extend(f"  {v}" for v in of_kind)
    return "\n".join(lines)


def assert_none(violations: list[Violation], *kinds: str) -> None:
    if any(v.kind in kinds for v in violations):
        pytest.fail(report(violations, kinds), pytrace=False)


@pytest.fixture(scope="module")
def violations() -> list[Violation]:
    return check(ROOT)


def test_imports_point_down_the_layers(violations: list[Violation]) -> None:
    assert_none(violations, "upward")


def test_only_server_and_replication_use_the_resp_codec(violations: list[Violation]) -> None:
    assert_none(violations, "codec")


def test_no_private_name_is_imported_across_modules(violations: list[Violation]) -> None:
    assert_none(violations, "private")


def test_every_store_module_has_a_layer(violations: list[Violation]) -> None:
    assert_none(violations, "unmapped")


# The checker itself, on synthetic trees.


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


CLEAN = {
    "store/__init__.py": "from .engine import Engine\nfrom .server.app import serve\n",
    "store/errors.py": "class StoreError(Exception): ...\n",
    "store/config.py": "from .errors import StoreError\n",
    "store/replies.py": "OK = b'OK'\n",
    "store/resp/__init__.py": "",
    "store/resp/writer.py": "from store.replies import OK\n",
    "store/files.py": "import os\n",
    "store/wal/__init__.py": "",
    "store/wal/log.py": "from ..files import fsync_dir\nfrom ..errors import StoreError\n",
    "store/engine.py": (
        "from typing import TYPE_CHECKING\n"
        "from .wal.log import Log\nfrom . import replies, config\n"
        "if TYPE_CHECKING:\n    from .wal import log\n"
    ),
    "store/index/__init__.py": "from .hnsw import HnswIndex\n",
    "store/index/hnsw.py": "from ..errors import StoreError\n",
    "store/replication/__init__.py": "",
    "store/replication/primary.py": "from ..engine import Engine\nfrom ..resp import writer\n",
    "store/server/__init__.py": "",
    "store/server/app.py": (
        "from ..replication.primary import Primary\nfrom store.resp.writer import write\n"
        "from .conn import Connection\n"
    ),
    "store/server/conn.py": "from __future__ import annotations\nfrom .app import __all__\n",
    "store/cli.py": "from .server.app import serve\n",
    "connectors/__init__.py": "from store import Engine\nfrom store.wal.log import Log\n",
    "pipeline/__init__.py": "import connectors\nfrom store import Engine\n",
    "pipeline/worker.py": "from .. import x\nfrom prometheus_client import start as _start\n",
    "bench/__init__.py": "from pipeline import worker\n",
}


def test_checker_passes_a_clean_tree(tmp_path: Path) -> None:
    assert check(write(tmp_path, CLEAN)) == []


@pytest.mark.parametrize(
    ("rel", "text", "want"),
    [
        (
            "store/engine.py",
            "from .server.app import serve\n",
            "engine -> server: store.server.app",
        ),
        ("store/files.py", "from . import engine\n", "durability -> engine: store.engine"),
        ("store/wal/log.py", "import store.index.hnsw\n", "durability -> engine: store.index.hnsw"),
        ("store/errors.py", "from .wal import log\n", "leaf -> durability: store.wal.log"),
        ("store/replication/primary.py", "from ..server import app\n", "replication -> server"),
        ("store/index/hnsw.py", "from store import Engine\n", "engine -> store: store"),
        ("store/server/app.py", "import connectors\n", "server -> connectors: connectors"),
        ("store/__init__.py", "from pipeline import worker\n", "store -> pipeline"),
        ("connectors/__init__.py", "from pipeline.worker import run\n", "connectors -> pipeline"),
        ("store/engine.py", "from .resp.writer import OK\n", "engine -> resp (the codec)"),
        ("store/replies.py", "from .resp import writer\n", "leaf -> resp (the codec)"),
    ],
)
def test_checker_flags_an_upward_import(tmp_path: Path, rel: str, text: str, want: str) -> None:
    root = write(tmp_path, CLEAN)
    (root / rel).write_text((root / rel).read_text() + "\n\n" + text)
    line = (root / rel).read_text().count("\n")
    [found] = check(root)
    assert found.file == rel and found.line == line
    assert want in str(found)
    assert not found.type_only


def test_checker_reports_type_only_and_lazy_imports_distinctly(tmp_path: Path) -> None:
    root = write(tmp_path, CLEAN)
    (root / "store/engine.py").write_text(
        "import typing\n"
        "if typing.TYPE_CHECKING:\n    from .server.app import Server\n"
        "else:\n    Server = None\n"
        "def run():\n    try:\n        from .replication import primary\n"
        "    finally:\n        pass\n"
    )
    found = check(root)
    assert [str(v) for v in found] == [
        "store/engine.py:3: engine -> server: store.server.app [type-only]",
        "store/engine.py:8: engine -> replication: store.replication.primary",
    ]
    assert "(1 type-only)" in report(found)


def test_checker_flags_private_names_but_not_dunders(tmp_path: Path) -> None:
    root = write(tmp_path, CLEAN)
    (root / "store/index/hnsw.py").write_text(
        "from ..errors import _Hidden, StoreError, __all__\nfrom ._x import y\n"
    )
    (root / "bench/__init__.py").write_text("from pipeline.worker import _run as run\n")
    (root / "pipeline/worker.py").write_text("from collections import _chain_map\n")
    found = sorted(str(v) for v in check(root))
    assert found == [
        "bench/__init__.py:1: imports _run from pipeline.worker",
        "pipeline/worker.py:1: imports _chain_map from collections",
        "store/index/hnsw.py:1: imports _Hidden from store.errors",
    ]


def test_checker_flags_an_unmapped_store_module(tmp_path: Path) -> None:
    root = write(tmp_path, {**CLEAN, "store/clock.py": ""})
    assert [str(v) for v in check(root)] == ["store/clock.py:1: store module with no layer"]


if __name__ == "__main__":
    found = check(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT)
    print(report(found))
    sys.exit(1 if found else 0)
