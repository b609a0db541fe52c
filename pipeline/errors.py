"""The pipeline's exceptions: one tree, and what each one tells a retry loop.

::

    PipelineError                 retriable: class attribute, read by the handler/runner
    ├── ParseError                an object that cannot become documents (never retriable)
    └── StackStartError           a local-stack process did not become healthy

Connector failures keep their own tree (:mod:`connectors.errors`, ``ConnectorError``),
because connectors sit below the pipeline; they carry ``retriable`` the same way, so a
retry loop reads ``exc.retriable`` whatever the family and never tests types.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ParseError", "PipelineError", "StackStartError"]


class PipelineError(Exception):
    """Base of the pipeline's errors. ``retriable``: the same input may succeed later."""

    retriable: bool = False


class ParseError(PipelineError):
    """An object that cannot become documents; ``reason`` says why and what to do."""

    retriable = False

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


class StackStartError(PipelineError):
    """A process of the local stack exited or did not become healthy in time."""

    def __init__(self, proc: Any, reason: str) -> None:
        super().__init__(f"{proc.name} (pid {proc.pid}, port {proc.port}) {reason}")
        self.proc = proc
