"""Kept ids-page plans by their requests' RESP bytes (docs/decisions/0045).

Once :mod:`store.commands.knn_plans` keeps a plan whose page is the ids alone
(``IDS_PAGE``: ``FT.SEARCH idx "*=>[KNN k @v $B ...]" PARAMS 2 B <blob> NOCONTENT ...``),
its request is fixed bytes around the vector's value: the arguments before it encoded as a
client sends them (an array of bulk strings), the value's ``$size`` header, then the value,
then the rest. :class:`KeptPages` keeps those bytes by the request's whole size and
recognises a request that is exactly them around some vector (:meth:`KeptPages.match`: a
dict lookup, ``startswith``, ``endswith``), so the connection can answer it with
:mod:`store.commands.plan_bytes` without parsing it.

Contract: :meth:`KeptPages.match` gives a plan only while it is the one kept for its
request's shape (``knn_plans.current``); what the plan's index and the server decide since
(a dropped index, another KNN order) ``plan_bytes`` checks on every request. A client that
spells a request another way (lower-case options, lengths with leading zeros) is parsed as
any request: the bytes differ.
"""

from __future__ import annotations

from typing import NamedTuple

from ..commands import knn_plans
from ..commands.knn_plans import Plan
from ..resp import encode_command

__all__ = ["KeptPages", "Match"]


class _Shape(NamedTuple):
    prefix: bytes
    suffix: bytes
    key: tuple[bytes, tuple[bytes, ...]]
    plan: Plan


class Match(NamedTuple):
    """A request recognised: the plan kept for it, and where its vector's value starts."""

    plan: Plan
    at: int


class KeptPages:
    """The server's table of kept ids-page requests (see the module docstring). On the
    event loop only."""

    def __init__(self) -> None:
        self._generation = -1
        self._seen = 0
        self._by_size: dict[int, list[_Shape]] = {}

    def match(self, request: bytes) -> Match | None:
        """The kept plan ``request`` (a client's whole request) is the bytes of, or None."""
        generation, log = knn_plans.ids_plans()
        if generation != self._generation or len(log) != self._seen:
            self._catch_up(generation, log)
        kept = self._by_size.get(len(request))
        if kept is None:
            return None
        for shape in kept:
            if request.startswith(shape.prefix) and request.endswith(shape.suffix):
                if knn_plans.current(shape.key) is not shape.plan:
                    continue  # replaced or dropped since
                return Match(shape.plan, len(shape.prefix))
        return None

    def _catch_up(
        self, generation: int, log: list[tuple[tuple[bytes, tuple[bytes, ...]], Plan]]
    ) -> None:
        """Take the plans made since: all of a new generation's, else those past the
        ones seen."""
        if generation != self._generation:
            self._generation, self._seen = generation, 0
            self._by_size = {}
        for key, plan in log[self._seen :]:
            request = plan.request_args
            assert request is not None  # an ids plan's
            prefix = encode_command(*request.before)
            # the whole request's array header, and the vector's value's bulk header
            prefix = (
                b"*%d" % (len(request.before) + 1 + len(request.after))
                + prefix[prefix.index(b"\r\n") :]
            )
            prefix += b"$%d\r\n" % request.size
            suffix = b"\r\n" + encode_command(*request.after).split(b"\r\n", 1)[1]
            size = len(prefix) + request.size + len(suffix)
            same = self._by_size.setdefault(size, [])
            same[:] = [s for s in same if s.key != key and knn_plans.current(s.key) is s.plan]
            same.append(_Shape(prefix, suffix, key, plan))
        self._seen = len(log)
