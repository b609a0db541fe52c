"""LINSERT, LREM, LTRIM and LPOS cost what they touch, and agree with a plain list.

They used to rebuild the whole list and recount its listpack bytes in Python (LTRIM
dropping one element of 500,000: 112 ms; LREM and LINSERT likewise), and LPOS indexed the
deque inside its loop (quadratic: 1.8 s for a miss at 500,000). Held here, on random
lists and commands: the elements equal a Python list model's, ``lp_bytes`` equals a
recount after every command (the encoding rule reads it), OBJECT ENCODING equals what a
rebuilt list reports, and LPOS equals a brute-force search.
"""

from __future__ import annotations

import random

from store import Engine, EngineConfig
from store.datatypes.lists import ListValue


def _check(e: Engine, model: list[bytes]) -> None:
    value = e.keyspace.data.get(b"l")
    if not model:
        assert value is None
        return
    assert isinstance(value, ListValue)
    assert list(value.items) == model
    rebuilt = ListValue(model)
    assert value.lp_bytes == rebuilt.lp_bytes
    if not value.quick:  # a quicklist converts back only once it fits in half a node
        assert not rebuilt.quick


def _lpos(model: list[bytes], target: bytes, rank: int, count: int | None, maxlen: int) -> object:
    indexes = list(range(len(model))) if rank > 0 else list(range(len(model) - 1, -1, -1))
    if maxlen:
        indexes = indexes[:maxlen]
    hits = [i for i in indexes if model[i] == target][abs(rank) - 1 :]
    if count is None:
        return hits[0] if hits else None
    return hits[: count or len(hits)]


def test_random_edits_agree_with_a_list() -> None:
    rng = random.Random(29)
    alphabet = [b"a", b"b", b"7", b"-300", b"x" * 70, b"y" * 5000]
    with Engine(EngineConfig(data_dir=None)) as e:
        model: list[bytes] = []
        for step in range(3000):
            op = rng.randrange(6)
            v = rng.choice(alphabet)
            if op == 0 or len(model) < 5:
                values = [rng.choice(alphabet) for _ in range(rng.randrange(1, 40))]
                e.execute("RPUSH", "l", *values)
                model += values
            elif op == 1:
                pivot, where = rng.choice(alphabet), rng.choice(["BEFORE", "AFTER"])
                got = e.execute("LINSERT", "l", where, pivot, v)
                if pivot in model:
                    i = model.index(pivot)
                    model.insert(i if where == "BEFORE" else i + 1, v)
                    assert got == len(model)
                else:
                    assert got == -1
            elif op == 2:
                count = rng.choice([0, 1, 2, 40, -1, -3, -40])
                got = e.execute("LREM", "l", str(count), v)
                idx = [i for i, x in enumerate(model) if x == v]
                if count < 0:
                    idx = idx[::-1]
                drop = set(idx[: abs(count)] if count else idx)
                model = [x for i, x in enumerate(model) if i not in drop]
                assert got == len(drop)
            elif op == 3:
                n = len(model)
                start, stop = rng.randrange(-n - 2, n + 2), rng.randrange(-n - 2, n + 2)
                e.execute("LTRIM", "l", str(start), str(stop))
                s, t = (start + n if start < 0 else start), (stop + n if stop < 0 else stop)
                s, t = max(s, 0), min(t, n - 1)
                model = model[s : t + 1] if s <= t else []
            elif op == 4:
                e.execute("LPUSH", "l", v)
                e.execute("LTRIM", "l", "0", str(rng.randrange(5, 60)))  # the capped-list idiom
                model = [v, *model][: int(e.execute("LLEN", "l"))]
            else:
                rank = rng.choice([1, 2, -1, -2])
                count = rng.choice([None, 0, 1, 3])
                maxlen = rng.choice([0, 0, 5, 50])
                args = ["RANK", str(rank), "MAXLEN", str(maxlen)]
                if count is not None:
                    args += ["COUNT", str(count)]
                got = e.execute("LPOS", "l", v, *args)
                assert got == _lpos(model, v, rank, count, maxlen), (step, args)
            _check(e, model)
            if len(model) > 400:
                e.execute("LTRIM", "l", "0", "99")
                model = model[:100]
                _check(e, model)
