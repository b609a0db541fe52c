"""The sorted-set type (:mod:`store.datatypes.zsets`), the blocking handlers' contract
(:mod:`store.commands.blocking`), and sorted sets through the one write path: the log
(replay on restart, blocking pops logged as their non-blocking rewrite) and snapshots."""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

import pytest

from store import Engine, EngineConfig
from store.commands.blocking import WouldBlock
from store.commands.context import ExecContext
from store.commands.table import COMMANDS
from store.datatypes import from_tagged, to_tagged
from store.datatypes.zsets import ZSet
from store.geo import decode_score, encode_score, geohash_text
from store.keyspace import Keyspace
from store.replies import NULL_ARRAY


def test_order_spans_and_encoding() -> None:
    z = ZSet()
    for score, member in [
        (2.0, b"b"),
        (1.0, b"z"),
        (2.0, b"a"),
        (-math.inf, b"m"),
        (math.inf, b"n"),
    ]:
        z.add(member, score)
    assert [m for _, m in z.items()] == [b"m", b"z", b"a", b"b", b"n"]
    assert z.rank(b"a") == 2 and z.rank(b"x") is None
    assert z.score_span(1.0, False, 2.0, False) == (1, 4)
    assert z.score_span(1.0, True, 2.0, True) == (2, 2)
    assert z.score_span(math.inf, True, math.inf, False) == (5, 5)
    assert z.score_span(-math.inf, False, math.inf, False) == (0, 5)
    assert z.score_span(3.0, False, 1.0, False)[0] >= z.score_span(3.0, False, 1.0, False)[1] - 0
    z.add(b"a", 2.0)  # unchanged
    z.add(b"a", 5.0)
    assert [m for _, m in z.items(reverse=True)][:2] == [b"n", b"a"]
    assert z.encoding() == "listpack"
    z.add(b"x" * 65, 0.0)
    assert z.encoding() == "skiplist"
    z.remove(b"x" * 65)
    assert z.encoding() == "skiplist"  # Redis never converts back on removal
    rebuilt = from_tagged(to_tagged(z))
    assert isinstance(rebuilt, ZSet) and list(rebuilt.items()) == list(z.items())
    assert rebuilt.encoding() == "listpack"  # a reload re-encodes by contents, as Redis
    copy = z.copy()
    copy.add(b"new", 1.0)
    assert b"new" not in z.scores and z.memory_usage() < copy.memory_usage()


def test_lex_spans_with_equal_scores() -> None:
    z = ZSet.build((0.0, m) for m in [b"a", b"b", b"c", b"d"])
    assert z.lex_span((b"b", False), (b"c", False)) == (1, 3)
    assert z.lex_span((b"b", True), (None, False)) == (2, 4)
    assert z.lex_span((None, True), (None, False)) == (4, 4)  # "+" as a minimum
    assert z.lex_span((None, False), (b"a", True)) == (0, 0)


def test_geohash_known_values() -> None:
    """Scores and hashes the peer gives for Palermo (Redis's documentation example)."""
    score = encode_score(13.361389, 38.115556)
    assert score == 3479099956230698
    lon, lat = decode_score(score)
    assert (lon, lat) == (13.361389338970184, 38.1155563954963)
    assert geohash_text(score) == b"sqc8b49rny0"


def _context(keyspace: Keyspace, *, may_block: bool) -> ExecContext:
    return ExecContext(
        keyspace=keyspace,
        indexes=None,  # type: ignore[arg-type]  # sorted-set handlers never touch indexes
        lock=threading.RLock(),
        snapshots=None,  # type: ignore[arg-type]
        flush=lambda: None,
        now_ms=1_000,
        may_block=may_block,
    )


def _run(ctx: ExecContext, *args: str | bytes) -> Any:
    argv = [a.encode() if isinstance(a, str) else a for a in args]
    return COMMANDS[argv[0].decode().upper()].handler(ctx, argv)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("argv", "keys", "timeout_ms"),
    [
        (("BZPOPMIN", "a", "b", "1.5"), (b"a", b"b"), 1500),
        (("BZPOPMAX", "a", "0"), (b"a",), 0),
        (("BZMPOP", "0.0001", "2", "a", "b", "MIN", "COUNT", "3"), (b"a", b"b"), 1),
    ],
)
def test_blocking_pops_park_only_when_the_server_may_block(
    argv: tuple[str, ...], keys: tuple[bytes, ...], timeout_ms: int
) -> None:
    ks = Keyspace()
    parked = _run(_context(ks, may_block=True), *argv)
    assert parked == WouldBlock(keys, timeout_ms, NULL_ARRAY, key_type="zset")
    ctx = _context(ks, may_block=False)  # MULTI, scripts, replay: the timeout reply at once
    assert _run(ctx, *argv) is NULL_ARRAY and not ctx.dirty


def test_blocking_pops_serve_at_once_and_log_the_non_blocking_rewrite() -> None:
    ks = Keyspace()
    setup = _context(ks, may_block=False)
    _run(setup, "ZADD", "b", "1", "x", "2", "y", "3", "z")
    ctx = _context(ks, may_block=True)
    assert _run(ctx, "BZPOPMAX", "a", "b", "0") == [b"b", b"z", 3.0]
    assert ctx.dirty and ctx.logged([b"BZPOPMAX", b"a", b"b", b"0"]) == [[b"ZPOPMAX", b"b"]]
    ctx = _context(ks, may_block=True)
    assert _run(ctx, "BZMPOP", "0", "2", "a", "b", "MIN", "COUNT", "5") == [
        b"b",
        [[b"x", 1.0], [b"y", 2.0]],
    ]
    assert ctx.log_args == [b"ZPOPMIN", b"b", b"2"]
    assert ks.get_typed(b"b", 0, ZSet) is None  # emptied: deleted


def test_zsets_and_geo_survive_replay_and_snapshots(tmp_path: Path) -> None:
    cfg = EngineConfig(data_dir=tmp_path)
    writes: list[tuple[object, ...]] = [
        ("ZADD", "z", "1", "a", "2.5", "b", "-inf", "c", "0.1", "d"),
        ("ZINCRBY", "z", "3", "a"),
        ("ZADD", "big", *[x for i in range(200) for x in (str(i / 7), f"m{i}")]),
        ("ZREMRANGEBYRANK", "big", "0", "9"),
        ("GEOADD", "g", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"),
        (
            "GEOSEARCHSTORE",
            "gs",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
            "STOREDIST",
        ),
        ("ZUNIONSTORE", "u", "2", "z", "gs", "WEIGHTS", "2", "1"),
        ("BZPOPMIN", "z", "0"),
        ("ZMPOP", "1", "big", "MAX", "COUNT", "3"),
        ("ZPOPMAX", "u"),
    ]
    with Engine(cfg) as e:
        for w in writes[:5]:
            e.execute(*w)
        e.execute("SAVE")  # half in the snapshot, half in the log after it
        for w in writes[5:]:
            e.execute(*w)
        before = _dump(e)
    with Engine(cfg) as e:
        assert _dump(e) == before
        big, z = (e.keyspace.get_typed(k, None, ZSet) for k in (b"big", b"z"))
        assert big is not None and big.encoding() == "skiplist"
        assert z is not None and z.encoding() == "listpack"
        assert e.execute("TYPE", "g") == "zset"


def _dump(e: Engine) -> dict[bytes, Any]:
    return {
        k: e.execute("ZRANGE", k, "0", "-1", "WITHSCORES")
        for k in sorted(e.keyspace.iter_keys(None))
    }


def test_zrandmember_picks_by_rank() -> None:
    """ZRANDMEMBER picks ranks of the sorted order (O(log n) each) instead of copying the
    members (3.9 ms a call at 500,000): picks are members with their scores, a positive
    count gives distinct ones, and every member gets picked."""
    from store import Engine, EngineConfig

    with Engine(EngineConfig(data_dir=None)) as e:
        e.execute("ZADD", "z", *[x for i in range(50) for x in (str(i / 2), f"m{i}")])
        scores = {f"m{i}".encode(): str(i / 2).encode() for i in range(50)}
        seen = set()
        # 2,000 picks miss one of 50 members with probability ~1e-16 (400 did ~1.5%)
        for _ in range(2000):
            seen.add(e.execute("ZRANDMEMBER", "z"))
        assert seen == set(scores)
        flat = e.execute("ZRANDMEMBER", "z", "20", "WITHSCORES")
        pairs = dict(zip(flat[0::2], flat[1::2], strict=True))
        assert len(pairs) == 20
        assert all(float(pairs[m]) == float(scores[m]) for m in pairs)
        repeated = e.execute("ZRANDMEMBER", "z", "-200")
        assert len(repeated) == 200 and set(repeated) <= set(scores)
        assert len(set(repeated)) < 200
