"""Moved to :mod:`pipeline.stores.failover`; this re-export stays only until the branches
merge (``pipeline/stack*.py`` import it)."""

from .stores.failover import find_primary, node_info, promote, split_urls

__all__ = ["find_primary", "node_info", "promote", "split_urls"]
