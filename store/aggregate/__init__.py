"""FT.AGGREGATE: request parsing, the expression language, reducers, pipelines and cursors.

Modules: :mod:`.values` (row values and RediSearch's comparison/printing rules),
:mod:`.expr` (APPLY/FILTER lexer and parser), :mod:`.functions` and :mod:`.evaluate`
(evaluation), :mod:`.reducers` (GROUPBY reducers), :mod:`.request` (argument parsing),
:mod:`.pipeline` (compiling and running steps), :mod:`.cursors` (WITHCURSOR state). The
commands are in :mod:`store.commands.aggregate`.
"""

from .cursors import CursorRegistry, registry_for
from .pipeline import Execution, SourceDoc, compile_plan, reply_value
from .request import AggregateRequest, parse_aggregate

__all__ = [
    "AggregateRequest",
    "CursorRegistry",
    "Execution",
    "SourceDoc",
    "compile_plan",
    "parse_aggregate",
    "registry_for",
    "reply_value",
]
