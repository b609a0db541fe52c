"""The ``types`` mix of :mod:`bench.concurrency`: what a MemoryDB application does besides
vectors, on lists, sorted sets, streams, sets and counters.

Four small apps share the keyspace, each over :data:`KEYS` keys of its own prefix:

* **queue** (lists): ``LPUSH`` a 64-byte job, ``RPOP`` one, ``LRANGE 0 9`` to peek;
* **leaderboard** (sorted sets): ``ZADD`` a player's score, ``ZINCRBY 1``, the top ten
  (``ZRANGE 0 9 REV WITHSCORES``) and a player's ``ZREVRANK``;
* **event stream** (streams): ``XADD MAXLEN ~ 1000``, then ``XREADGROUP COUNT 10 ... >``
  by one consumer per client, whose reply's ids are acknowledged by the client's next
  request (``XACK``, a follow-up: its own operation in the counts);
* **dedup set** (sets): ``SADD`` and ``SISMEMBER`` of ids;
* **rate limiter** (strings): ``INCR`` of a per-user window counter, followed by its
  ``EXPIRE 60`` (the usual two-call limiter).

:func:`setup` creates each stream's group (``XGROUP CREATE ... MKSTREAM``) and seeds the
leaderboards, so reads hit data from the first request.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import redis

KEYS = 50
PLAYERS = 1000
MIX: tuple[tuple[str, int], ...] = (
    ("lpush", 9), ("rpop", 7), ("lrange", 4),
    ("zadd", 6), ("zincrby", 9), ("zrange", 6), ("zrevrank", 6),
    ("xadd", 9), ("xreadgroup", 6),
    ("sadd", 8), ("sismember", 10),
    ("incr", 10),
)  # fmt: skip
# follow-ups: requests a client sends next, decided by a reply; never chosen by weight
FOLLOW_UPS = ("xack", "expire")
PAYLOAD = b"j" * 64

Encode = Callable[[list[Any]], bytes]
Builder = Callable[[random.Random, int], bytes]
FollowUp = Callable[[Any, bytes], bytes | None]


def builders(encode: Encode) -> dict[str, Builder]:
    """One request per operation of :data:`MIX`, from ``(rng, client number)``."""

    def key(prefix: str, rng: random.Random) -> str:
        return f"{prefix}:{rng.randrange(KEYS)}"

    def player(rng: random.Random) -> str:
        return f"p{rng.randrange(PLAYERS)}"

    return {
        "lpush": lambda rng, k: encode(["LPUSH", key("q", rng), PAYLOAD]),
        "rpop": lambda rng, k: encode(["RPOP", key("q", rng)]),
        "lrange": lambda rng, k: encode(["LRANGE", key("q", rng), 0, 9]),
        "zadd": lambda rng, k: encode(["ZADD", key("lb", rng), rng.randrange(10**6), player(rng)]),
        "zincrby": lambda rng, k: encode(["ZINCRBY", key("lb", rng), 1, player(rng)]),
        "zrange": lambda rng, k: encode(["ZRANGE", key("lb", rng), 0, 9, "REV", "WITHSCORES"]),
        "zrevrank": lambda rng, k: encode(["ZREVRANK", key("lb", rng), player(rng)]),
        "xadd": lambda rng, k: encode(
            ["XADD", key("ev", rng), "MAXLEN", "~", 1000, "*", "kind", "click", "user", player(rng)]
        ),
        "xreadgroup": lambda rng, k: encode(
            ["XREADGROUP", "GROUP", "g", f"c{k}", "COUNT", 10, "STREAMS", key("ev", rng), ">"]
        ),
        "sadd": lambda rng, k: encode(["SADD", key("seen", rng), rng.randrange(10**5)]),
        "sismember": lambda rng, k: encode(["SISMEMBER", key("seen", rng), rng.randrange(10**5)]),
        "incr": lambda rng, k: encode(["INCR", f"rl:{player(rng)}:{k % 6}"]),
    }  # fmt: skip


def follow_ups(encode: Encode) -> dict[str, tuple[str, FollowUp]]:
    """Operation -> (follow-up name, the follow-up request from the reply and the request
    that got it; None: nothing to send)."""

    def xack(reply: Any, request: bytes) -> bytes | None:
        if not reply:
            return None
        stream, entries = reply[0][0], reply[0][1]
        ids = [entry[0] for entry in entries]
        return encode(["XACK", stream, "g", *ids]) if ids else None

    def expire(reply: Any, request: bytes) -> bytes | None:
        counter = request.split(b"\r\n")[4]  # *2 $4 INCR $n <key>
        return encode(["EXPIRE", counter, 60])

    return {"xreadgroup": ("xack", xack), "incr": ("expire", expire)}


def setup(client: redis.Redis) -> None:
    """Create every stream's consumer group and seed every leaderboard."""
    pipe = client.pipeline(transaction=False)
    for i in range(KEYS):
        pipe.execute_command("XGROUP", "CREATE", f"ev:{i}", "g", "$", "MKSTREAM")
        pipe.execute_command("ZADD", f"lb:{i}", *(x for p in range(100) for x in (p, f"p{p}")))
    pipe.execute()
