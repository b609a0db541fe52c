"""FT index definitions: what ``FT.CREATE`` declares, parsed once and rebuilt on demand.

This is the front door of the schema package; the pieces live in one module each:

- :mod:`store.index.schema.spec`: :class:`IndexDefinition`, :class:`FieldSpec` and
  :class:`FieldType`, with ``to_args()`` and the ``FT.INFO`` layouts;
- :mod:`store.index.schema.vector`: :class:`VectorSpec`, VECTOR attribute parsing and the
  MemoryDB limits (``DIM`` 1..32768, ``M`` 1..512, ``EF_CONSTRUCTION``/``EF_RUNTIME``
  1..4096);
- :mod:`store.index.schema.create`: :func:`parse_ft_create` and what it accepts or refuses;
- :mod:`store.index.schema.args`: :func:`as_bytes` and the argument cursor;
- :mod:`store.index.schema.text`: :func:`tokenize_text`, :func:`fold_text` and
  :data:`DEFAULT_STOPWORDS`.

``parse_ft_create(args)`` turns the arguments of ``FT.CREATE`` into a frozen
:class:`IndexDefinition`; ``parse_ft_create(d.to_args()) == d`` always holds. Errors are
:class:`~store.errors.ArityError` when the schema is missing altogether and
:class:`~store.errors.QuerySyntaxError` otherwise, with RediSearch 2.10's messages.
"""

from __future__ import annotations

from .args import as_bytes
from .create import LANGUAGES, parse_ft_create
from .spec import FieldSpec, FieldType, IndexDefinition
from .text import DEFAULT_STOPWORDS, fold_text, tokenize_text
from .vector import (
    MAX_DIM,
    DistanceMetric,
    VectorSpec,
    capacity_budget_bytes,
    check_capacity,
)

__all__ = [
    "DEFAULT_STOPWORDS",
    "LANGUAGES",
    "MAX_DIM",
    "DistanceMetric",
    "FieldSpec",
    "FieldType",
    "IndexDefinition",
    "VectorSpec",
    "as_bytes",
    "capacity_budget_bytes",
    "check_capacity",
    "fold_text",
    "parse_ft_create",
    "tokenize_text",
]
