"""Moved to :mod:`pipeline.stores`; this re-export stays only until the branches merge
(``pipeline/demo_job.py`` imports it)."""

from ..stores import EmbeddedStore

__all__ = ["EmbeddedStore"]
