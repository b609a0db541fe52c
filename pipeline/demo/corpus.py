"""A real sample corpus with no download: the standard library's own module documentation.

Every Python install carries it, so the demo and the tests have real English text to embed
and query. Documents are ``(doc_id, title, text)``; ``doc_id`` is ``stdlib/<module>``.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

# modules whose import has side effects (opens windows, prints, starts things) or is slow
_SKIP = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "lib2to3"}


@dataclass(frozen=True)
class Document:
    doc_id: str
    title: str
    text: str


def stdlib_documents(
    limit: int = 200, min_chars: int = 200, names: list[str] | None = None
) -> Iterator[Document]:
    """Module docstrings of the standard library (``names``, or all in name order)."""
    if names is None:
        names = sorted(
            m.name
            for m in pkgutil.iter_modules()
            if m.name in sys.stdlib_module_names
            and not m.name.startswith("_")
            and m.name not in _SKIP
        )
    produced = 0
    for name in names:
        if produced >= limit:
            return
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = importlib.import_module(name)
        except Exception:
            continue
        doc = (module.__doc__ or "").strip()
        if not doc or len(doc) < min_chars:
            continue
        title = doc.splitlines()[0].strip()
        produced += 1
        yield Document(doc_id=f"stdlib/{name}", title=title, text=doc)
