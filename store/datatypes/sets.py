"""Sets (Redis's ``set`` type): the value behind SADD, SMEMBERS, SINTER and friends.

Members are the keys of an insertion-ordered ``dict``. The encoding follows Redis 7.2's
rules with the default limits, because it decides the order in which Redis lists a set,
and that order is what a client sees:

* ``intset`` while every member is a 64-bit integer in canonical form and there are at
  most ``set-max-intset-entries`` (512): listed in ascending numeric order;
* ``listpack`` while there are at most ``set-max-listpack-entries`` (128) members of at
  most ``set-max-listpack-value`` (64) bytes: listed in insertion order (a removal keeps
  the order of the rest, as ``lpDelete`` does);
* ``hashtable`` otherwise, for good (Redis never converts back): Redis lists it in hash
  order, which memvec does not reproduce (it lists insertion order; docs/compatibility.md).

:meth:`SetValue.create` picks the first encoding as ``setTypeCreate`` does (from the first
member and the number of members about to be added), and :meth:`SetValue.add` converts as
``setTypeAddAux`` does.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from typing import Any

from ..numbers import parse_int64
from .base import TypedValue, sized_by_sample
from .limits import LIMITS

INTSET = "intset"
LISTPACK = "listpack"
HASHTABLE = "hashtable"
POOL_MIN = 512
"""Sets of at most this many members pick at random from a copy (cheap at that size)."""


def as_int(member: bytes) -> int | None:
    """``member`` as the integer an intset would hold, or None."""
    return parse_int64(member) if len(member) <= 20 else None


class SetValue(TypedValue):
    """One set: ``members`` (a dict used as an ordered set) and Redis's ``enc``oding."""

    __slots__ = ("_pool", "_pool_of", "enc", "members")

    type_name = "set"
    tag = "set"

    def __init__(self, members: Iterable[bytes] = (), enc: str = INTSET) -> None:
        # member -> its slot in ``_pool`` while the pool indexes this very dict, else None
        self.members: dict[bytes, int | None] = {}
        self.enc = enc
        self._pool: list[bytes] | None = None  # see random_member
        self._pool_of: dict[bytes, int | None] | None = None
        for m in members:
            self.add(m)

    @classmethod
    def create(cls, first: bytes, size_hint: int) -> SetValue:
        """An empty set encoded as Redis's ``setTypeCreate(first, size_hint)`` makes it."""
        if as_int(first) is not None and size_hint <= LIMITS.set_max_intset_entries:
            return cls(enc=INTSET)
        if size_hint <= LIMITS.set_max_listpack_entries:
            return cls(enc=LISTPACK)
        return cls(enc=HASHTABLE)

    def __len__(self) -> int:
        return len(self.members)

    def __contains__(self, member: object) -> bool:
        return member in self.members

    def __iter__(self) -> Iterator[bytes]:
        """Members in the order Redis lists them (hash order aside, see module doc)."""
        if self.enc == INTSET:
            return iter(sorted(self.members, key=int))
        return iter(list(self.members))

    def add(self, member: bytes) -> bool:
        """Add ``member``; False if it was there. Converts the encoding as Redis does."""
        members = self.members
        if member in members:
            return False
        if self.enc == INTSET:
            if as_int(member) is not None:
                self._put(member)
                if len(members) > LIMITS.set_max_intset_entries:
                    self.enc = HASHTABLE
                return True
            ordered = sorted(members, key=int)
            self.members = members = dict.fromkeys(ordered)
            if (
                len(ordered) < LIMITS.set_max_listpack_entries
                and len(member) <= LIMITS.set_max_listpack_value
            ):
                self.enc = LISTPACK
            else:
                self.enc = HASHTABLE
            self._put(member)
            return True
        if self.enc == LISTPACK and not (
            len(members) < LIMITS.set_max_listpack_entries
            and len(member) <= LIMITS.set_max_listpack_value
        ):
            self.enc = HASHTABLE
        self._put(member)
        return True

    def _put(self, member: bytes) -> None:
        pool = self._pool
        if pool is not None and self._pool_of is self.members:
            if len(pool) <= 2 * len(self.members) + 64:
                self.members[member] = len(pool)
                pool.append(member)
                return
            self._pool = self._pool_of = None  # churn without picks: rebuilt when needed
        self.members[member] = None

    def random_member(self) -> bytes:
        """A member picked uniformly at random; the set must not be empty.

        A set of more than :data:`POOL_MIN` members keeps a pool: a list of its members
        whose slots the ``members`` dict records, built on the first pick (O(n) once).
        Additions append to it; a removed member's slot stays behind, stale, until a pick
        lands on it and swaps it out. A pick retries stale slots (at most two in three:
        the pool is rebuilt past 2n + 64 slots), so it costs O(1) on average; copying the
        members for ``random.choice`` cost 3 ms a call at 500,000 and made draining a
        set with SPOP quadratic."""
        members = self.members
        if len(members) <= POOL_MIN:
            return random.choice(list(members))
        pool = self._pool
        if pool is None or self._pool_of is not members or len(pool) > 2 * len(members) + 64:
            pool = self._pool = list(members)
            self._pool_of = members
            for slot, m in enumerate(pool):
                members[m] = slot
        while True:
            slot = random.randrange(len(pool))
            member = pool[slot]
            if members.get(member, -1) == slot:
                return member
            last = pool.pop()  # a stale slot: the last one takes its place
            if slot < len(pool):
                pool[slot] = last
                if members.get(last, -1) == len(pool):
                    members[last] = slot

    def remove(self, member: bytes) -> bool:
        if member in self.members:
            del self.members[member]
            return True
        return False

    # -- the TypedValue contract ----------------------------------------------------------
    def is_empty(self) -> bool:
        return not self.members

    def encoding(self) -> str:
        return self.enc

    def memory_usage(self) -> int:
        # memvec's own heap (a dict slot and a bytes object per member: ~62 bytes + the
        # member, measured with tracemalloc), whatever Redis's encoding would be
        return 112 + sized_by_sample(self.members, lambda m: 62 + len(m))

    def to_plain(self) -> Any:
        return {"members": list(self.members), "enc": self.enc}

    @classmethod
    def from_plain(cls, plain: Any) -> SetValue:
        value = cls(enc=str(plain["enc"]))
        value.members = dict.fromkeys(plain["members"])
        return value

    def copy(self) -> SetValue:
        value = SetValue(enc=self.enc)
        value.members = dict(self.members)
        return value
