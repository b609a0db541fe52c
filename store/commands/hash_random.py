"""HRANDFIELD: random fields of a hash (Redis's ``hrandfieldCommand``). Random, read-only:
nothing is logged.

With a count >= 0, distinct fields (the whole hash, in its order, when the count reaches
its size); with a negative count, |count| independent picks that may repeat. WITHVALUES
pairs each field with its value: flat in RESP2, two-element arrays in RESP3.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from ..errors import CommandError, SyntaxErr
from .table import command
from .util import parse_int

if TYPE_CHECKING:
    from .context import ExecContext

LONG_MAX = 2**63 - 1


@command("HRANDFIELD", -2, "readonly", "hash slow", keys=(1, 1, 1))
def hrandfield(ctx: ExecContext, args: list[bytes]) -> object:
    """HRANDFIELD key [count [WITHVALUES]]."""
    if len(args) == 2:
        value = ctx.keyspace.get_hash(args[1], ctx.read_now)
        return None if not value else random.choice(list(value))
    count = parse_int(args[2])
    if count < -LONG_MAX:
        raise CommandError(f"value is out of range, value must between {-LONG_MAX} and {LONG_MAX}")
    if len(args) > 4 or (len(args) == 4 and args[3].upper() != b"WITHVALUES"):
        raise SyntaxErr()
    withvalues = len(args) == 4
    if withvalues and not -LONG_MAX // 2 <= count <= LONG_MAX // 2:
        raise CommandError("value is out of range")
    value = ctx.keyspace.get_hash(args[1], ctx.read_now)
    if not value or count == 0:
        return []
    fields = list(value)
    if count < 0:
        picked = [random.choice(fields) for _ in range(-count)]
    elif count >= len(fields):
        picked = fields
    else:
        picked = random.sample(fields, count)
    if not withvalues:
        return picked
    if ctx.protocol >= 3:
        return [[f, value[f]] for f in picked]
    return [x for f in picked for x in (f, value[f])]
