"""Moved to :mod:`pipeline.stores`; this re-export stays only until the branches merge
(``pipeline/demo*.py`` import it). ``EmbeddedClient`` is now ``EmbeddedStore``."""

from .stores import EmbeddedStore as EmbeddedClient
from .stores import StoreClient

__all__ = ["EmbeddedClient", "StoreClient"]
