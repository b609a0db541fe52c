"""JSONPath evaluation (interim: member, index and wildcard steps only).

:func:`find` is the interface other modules use (FT indexes ON JSON read their fields
with it); the full evaluator (filters, recursive descent, slices, the legacy ``.path``
syntax's reply rules) replaces the body, keeping the signature.
"""

from __future__ import annotations

import re
from typing import Any

_STEP = re.compile(
    r"\.([A-Za-z_][\w]*)|\[\s*(\d+|\*)\s*\]|\[\s*'([^']*)'\s*\]"
    r"|\[\s*\"([^\"]*)\"\s*\]|\.\*"
)


def find(root: Any, path: str) -> list[Any]:
    """Every value ``path`` selects in ``root`` (``$``-rooted JSONPath or a legacy path)."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    elif text and text != "." and not text.startswith("."):
        text = "." + text
    if text in ("", "."):
        return [root]
    nodes = [root]
    pos = 0
    while pos < len(text):
        m = _STEP.match(text, pos)
        if m is None:
            raise ValueError(f"JSONPath {path!r}: cannot parse at offset {pos}")
        pos = m.end()
        name, index, quoted1, quoted2 = m.groups()
        key = name if name is not None else (quoted1 if quoted1 is not None else quoted2)
        out: list[Any] = []
        for node in nodes:
            if key is not None:
                if isinstance(node, dict) and key in node:
                    out.append(node[key])
            elif index is not None and index != "*":
                if isinstance(node, list) and int(index) < len(node):
                    out.append(node[int(index)])
            elif isinstance(node, dict):
                out.extend(node.values())
            elif isinstance(node, list):
                out.extend(node)
        nodes = out
    return nodes
