"""Value types beyond strings and hashes (:mod:`store.datatypes.base` states the contract).

Importing this package imports every type module, so that each registers its snapshot tag.
"""

from . import (  # noqa: F401
    json_doc,
    lists,
    sets,
    streams,
    zsets,
)
from .base import REGISTRY, TypedValue, from_tagged, to_tagged

__all__ = ["REGISTRY", "TypedValue", "from_tagged", "to_tagged"]
