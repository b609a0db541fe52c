"""A package's public names loaded on first use (PEP 562), for its ``__init__``.

``__getattr__ = lazy_names(__name__, {"Engine": "engine", ...}, globals())`` makes
``package.Engine`` (and ``from package import Engine``) import ``package.engine`` the
first time the name is read and keep it in the package's namespace; importing the package
imports nothing else. An unknown name raises ``AttributeError`` as a module would.
Standard library only, so a package whose other modules need third-party ones can still
be imported bare.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(
    package: str, homes: Mapping[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package``: each name of ``homes`` from its submodule."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        namespace[name] = value
        return value

    return __getattr__
