"""What the client scripts share: the word-hash embedder and the run-every-flow driver.

A client script (``python -m tests.clients.<script> PREFIX URL...``, run by
:func:`tests.harness.client_venv.run_in_client_venv` inside a client virtualenv) names its
flows, each ``flow(url, prefix) -> dict``, and calls :func:`main`: every flow runs against
every server URL in one process (the client libraries' imports take seconds), and one JSON
list, a dict per server, is printed. A flow that raises is recorded as its exception's
text, so the other server has to fail the same way for the comparison to pass.

Imports only the standard library: it runs in every client virtualenv.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

DIM = 8

Flow = Callable[[str, str], dict[str, Any]]


def embed(text: str) -> list[float]:
    """A unit vector of word-hash buckets (DIM of them): texts sharing words are near."""
    vec = [0.0] * DIM
    for word in text.lower().split():
        h = hashlib.sha256(word.strip(".,?!").encode()).digest()
        vec[h[0] % DIM] += 1.0 + h[1] / 255
    norm = math.sqrt(sum(x * x for x in vec)) or 1.0
    return [x / norm for x in vec]


def run(flows: Sequence[tuple[str, Flow]], url: str, prefix: str) -> dict[str, Any]:
    """Every flow against one server: its result, or ``{"error": ...}`` if it raised."""
    result: dict[str, Any] = {}
    for name, flow in flows:
        try:
            result[name] = flow(url, prefix)
        except Exception as exc:  # the other server must fail the same way
            result[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return result


def main(flows: Sequence[tuple[str, Flow]]) -> None:
    """``PREFIX URL...`` from argv; prints the JSON list of :func:`run` per URL."""
    prefix, urls = sys.argv[1], sys.argv[2:]
    print(json.dumps([run(flows, url, prefix) for url in urls], sort_keys=True))
