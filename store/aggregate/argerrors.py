"""RediSearch's argument error texts, shared by request and reducer parsing."""

from __future__ import annotations

from ..errors import QuerySyntaxError

__all__ = ["CONVERT", "EXPECTED", "bad_args"]

EXPECTED = "Expected an argument, but none provided"
CONVERT = "Could not convert argument to expected type"


def bad_args(what: str, why: str) -> QuerySyntaxError:
    """RediSearch's ``Bad arguments for <what>: <why>``."""
    return QuerySyntaxError(f"Bad arguments for {what}: {why}")
