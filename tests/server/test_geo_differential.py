"""Geo commands against the peer, RESP2 and RESP3: scores (the 52-bit geohash), GEOPOS,
GEODIST, GEOHASH and searches, raw replies compared byte for byte (through redis-py
without response callbacks), including random points and random searches."""

from __future__ import annotations

import random

import pytest

from tests.server.test_differential import Pair

PLACES = [
    (13.361389, 38.115556, "Palermo"),
    (15.087269, 37.502669, "Catania"),
    (12.758489, 38.788135, "edge2"),
    (12.496366, 41.902782, "Rome"),
    (-0.127758, 51.507351, "London"),
    (2.352222, 48.856613, "Paris"),
    (-180, -85.05112878, "corner_sw"),
    (180, 85.05112878, "corner_ne"),
    (0, 0, "origin"),
    (179.9999, 0.0001, "dateline"),
]


def test_add_pos_dist_hash(pair: Pair, p: str) -> None:
    k = f"{p}:g"
    names = [name for _, _, name in PLACES]
    pair.script(
        [
            ("GEOADD", k, *[x for lon, lat, name in PLACES for x in (lon, lat, name)]),
            ("ZRANGE", k, 0, -1, "WITHSCORES"),
            ("GEOPOS", k, *names, "missing"),
            ("GEOPOS", f"{p}:none", "a"),
            ("GEOPOS", k),
            ("GEOHASH", k, *names, "missing"),
            ("GEOHASH", f"{p}:none", "a"),
            ("GEODIST", k, "Palermo", "Catania"),
            ("GEODIST", k, "Palermo", "Catania", "km"),
            ("GEODIST", k, "Palermo", "Catania", "MI"),
            ("GEODIST", k, "Palermo", "Catania", "ft"),
            ("GEODIST", k, "Palermo", "Palermo"),
            ("GEODIST", k, "London", "Paris", "km"),
            ("GEODIST", k, "corner_sw", "corner_ne"),
            ("GEODIST", k, "Palermo", "missing"),
            ("GEODIST", f"{p}:none", "a", "b"),
            ("GEODIST", k, "Palermo", "Catania", "yards"),
            ("GEODIST", k, "Palermo", "Catania", "km", "x"),
            ("GEOADD", k, "NX", 13.4, 38.2, "Palermo", 1, 1, "new"),
            ("GEOADD", k, "XX", "CH", 13.4, 38.2, "Palermo", 2, 2, "new2"),
            ("GEOADD", k, "CH", 13.4, 38.2, "Palermo"),
            ("GEOADD", k, "NX", "XX", 1, 1, "a"),
            ("GEOADD", k, 1, 1),
            ("GEOADD", k, 181, 1, "a"),
            ("GEOADD", k, 1, 86, "a"),
            ("GEOADD", k, "x", 1, "a"),
            ("GEOADD", k, "NX", "CH", "XX"),
            ("GEOPOS", k, "Palermo", "new", "new2"),
        ]
    )


def test_searches(pair: Pair, p: str) -> None:
    k, dst = f"{p}:g", f"{p}:dst"
    pair.same("GEOADD", k, *[x for lon, lat, name in PLACES for x in (lon, lat, name)])
    cases: list[tuple[object, ...]] = [
        ("GEOSEARCH", k, "FROMLONLAT", 15, 37, "BYRADIUS", 200, "km"),
        ("GEOSEARCH", k, "FROMLONLAT", 15, 37, "BYRADIUS", 200, "km", "ASC"),
        ("GEOSEARCH", k, "FROMLONLAT", 15, 37, "BYRADIUS", 400, "km", "DESC", "WITHDIST"),
        (
            "GEOSEARCH",
            k,
            "FROMLONLAT",
            15,
            37,
            "BYRADIUS",
            400,
            "km",
            "WITHCOORD",
            "WITHDIST",
            "WITHHASH",
        ),
        ("GEOSEARCH", k, "FROMMEMBER", "Palermo", "BYBOX", 400, 400, "km", "ASC", "WITHDIST"),
        ("GEOSEARCH", k, "FROMMEMBER", "Rome", "BYRADIUS", 2000, "km", "COUNT", 3),
        ("GEOSEARCH", k, "FROMMEMBER", "Rome", "BYRADIUS", 2000, "km", "COUNT", 2, "ANY"),
        ("GEOSEARCH", k, "FROMMEMBER", "Rome", "BYRADIUS", 2000, "km", "COUNT", 2, "DESC"),
        ("GEOSEARCH", k, "FROMMEMBER", "Rome", "BYRADIUS", 5000, "mi", "WITHHASH"),
        ("GEOSEARCH", k, "FROMLONLAT", 0, 0, "BYRADIUS", 20000, "km"),
        ("GEOSEARCH", k, "FROMLONLAT", 0, 0, "BYBOX", 40000, 40000, "km", "ASC"),
        ("GEOSEARCH", k, "FROMLONLAT", 179, 0, "BYRADIUS", 500, "km", "WITHCOORD"),
        ("GEOSEARCH", k, "FROMLONLAT", 0, 0, "BYRADIUS", 0, "m"),
        ("GEOSEARCH", k, "FROMMEMBER", "missing", "BYRADIUS", 1, "km"),
        ("GEOSEARCH", f"{p}:none", "FROMMEMBER", "missing", "BYRADIUS", 1, "km"),
        ("GEOSEARCH", k, "FROMLONLAT", 15, 37, "BYRADIUS", -1, "km"),
        ("GEOSEARCH", k, "FROMLONLAT", 15, 37, "BYRADIUS", "x", "km"),
        ("GEOSEARCH", k, "FROMLONLAT", 15, 37, "BYRADIUS", 1, "parsec"),
        ("GEOSEARCH", k, "FROMLONLAT", 15, 37, "BYBOX", -1, 1, "km"),
        ("GEOSEARCH", k, "FROMLONLAT", 15, 37, "BYBOX", "x", 1, "km"),
        ("GEOSEARCH", k, "FROMLONLAT", 15, 37, "BYBOX", 1, "y", "km"),
        ("GEOSEARCH", k, "FROMLONLAT", 15, 37, "FROMMEMBER", "Rome", "BYRADIUS", 1, "km"),
        ("GEOSEARCH", k, "BYRADIUS", 1, "km", "ASC"),
        ("geosearch", k, "FROMLONLAT", 15, 37, "WITHDIST", "ASC"),
        ("GEOSEARCH", k, "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km", "BYBOX", 1, 1, "km"),
        ("GEOSEARCH", k, "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km", "ANY"),
        ("GEOSEARCH", k, "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km", "COUNT", 0),
        ("GEOSEARCH", k, "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km", "COUNT", "x"),
        ("GEOSEARCH", k, "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km", "STORE", dst),
        ("GEOSEARCH", k, "FROMLONLAT", 200, 37, "BYRADIUS", 1, "km"),
        ("GEOSEARCHSTORE", dst, k, "FROMLONLAT", 15, 37, "BYRADIUS", 400, "km"),
        ("ZRANGE", dst, 0, -1, "WITHSCORES"),
        (
            "GEOSEARCHSTORE",
            dst,
            k,
            "FROMLONLAT",
            15,
            37,
            "BYRADIUS",
            400,
            "km",
            "STOREDIST",
            "COUNT",
            2,
        ),
        ("ZRANGE", dst, 0, -1, "WITHSCORES"),
        ("GEOSEARCHSTORE", dst, k, "FROMLONLAT", 15, 37, "BYRADIUS", 400, "km", "WITHDIST"),
        ("GEOSEARCHSTORE", dst, k, "FROMLONLAT", 15, 37, "BYRADIUS", 1, "m"),
        ("EXISTS", dst),
        ("GEORADIUS", k, 15, 37, 200, "km", "WITHDIST", "ASC"),
        ("GEORADIUS", k, 15, 37, 200, "km", "WITHCOORD", "COUNT", 1),
        ("GEORADIUS", k, 15, 37, 200, "km", "STORE", dst),
        ("ZRANGE", dst, 0, -1, "WITHSCORES"),
        ("GEORADIUS", k, 15, 37, 200, "km", "STOREDIST", dst),
        ("ZRANGE", dst, 0, -1, "WITHSCORES"),
        ("GEORADIUS", k, 15, 37, 200, "km", "STORE", dst, "WITHDIST"),
        ("GEORADIUS", k, 15, 37, 200, "km", "FROMMEMBER", "x"),
        ("GEORADIUS_RO", k, 15, 37, 200, "km", "WITHDIST"),
        ("GEORADIUS_RO", k, 15, 37, 200, "km", "STORE", dst),
        ("GEORADIUSBYMEMBER", k, "Palermo", 300, "km", "WITHDIST", "DESC"),
        ("GEORADIUSBYMEMBER", k, "missing", 300, "km"),
        ("GEORADIUSBYMEMBER", f"{p}:none", "missing", "x", "y"),
        ("GEORADIUSBYMEMBER_RO", k, "Palermo", 300, "km", "COUNT", 1, "ANY"),
        ("GEORADIUS", f"{p}:none", 15, 37, 200, "km", "STORE", dst),
        ("EXISTS", dst),
    ]
    pair.script(cases)


@pytest.mark.parametrize("seed", range(2))
def test_random_points_and_searches(pair: Pair, p: str, seed: int) -> None:
    """Random points (scores, positions, hashes compared) and random searches around them:
    the cells scanned and the order found must be the peer's for unsorted results."""
    rng = random.Random(seed)
    k = f"{p}:g"
    center_lon, center_lat = rng.uniform(-170, 170), rng.uniform(-80, 80)
    points = []
    for i in range(120):
        lon = max(-180.0, min(180.0, center_lon + rng.gauss(0, 3)))
        lat = max(-85.0, min(85.0, center_lat + rng.gauss(0, 3)))
        points += [repr(lon), repr(lat), f"p{i}"]
    pair.same("GEOADD", k, *points)
    pair.same("ZRANGE", k, 0, -1, "WITHSCORES")
    pair.same("GEOPOS", k, *[f"p{i}" for i in range(0, 120, 7)])
    pair.same("GEOHASH", k, *[f"p{i}" for i in range(0, 120, 7)])
    for _ in range(25):
        lon = repr(center_lon + rng.uniform(-4, 4))
        lat = repr(max(-85.0, min(85.0, center_lat + rng.uniform(-4, 4))))
        unit = rng.choice(["m", "km", "mi", "ft"])
        scale = {"m": 1000.0, "km": 1.0, "mi": 0.62, "ft": 3280.0}[unit]
        if rng.random() < 0.5:
            by: list[object] = ["BYRADIUS", repr(rng.uniform(10, 500) * scale), unit]
        else:
            by = [
                "BYBOX",
                repr(rng.uniform(10, 900) * scale),
                repr(rng.uniform(10, 900) * scale),
                unit,
            ]
        extra: list[object] = rng.sample(["WITHDIST", "WITHCOORD", "WITHHASH"], rng.randrange(4))
        if rng.random() < 0.3:
            extra += ["COUNT", rng.randrange(1, 10)] + (["ANY"] if rng.random() < 0.5 else [])
        pair.same("GEOSEARCH", k, "FROMLONLAT", lon, lat, *by, *extra)
        pair.same("GEODIST", k, f"p{rng.randrange(120)}", f"p{rng.randrange(120)}", unit)


@pytest.mark.parametrize("radius", ["inf", "1e400", "1e308", "nan", "-inf", "-1"])
def test_extreme_radii_answer_like_the_peer(pair: Pair, p: str, radius: str) -> None:
    """Found by the numeric-argument fuzzer: an infinite radius made the bounding box's
    cosine raise (C's cos gives NaN); the server must answer what the peer answers."""
    k = f"{p}:g"
    pair.same("GEOADD", k, *[x for lon, lat, name in PLACES[:6] for x in (lon, lat, name)])
    pair.same("GEOSEARCH", k, "FROMLONLAT", "0", "0", "BYRADIUS", radius, "m", "ASC")
    pair.same("GEOSEARCH", k, "FROMLONLAT", "13", "38", "BYBOX", radius, "1", "km", "ASC")
    pair.same("GEORADIUS", k, "13", "38", radius, "km", "ASC")


def test_georadius_store_keys_are_found(pair: Pair, p: str) -> None:
    """COMMAND GETKEYS (what ACL key patterns are checked against) finds GEORADIUS's and
    GEORADIUSBYMEMBER's STORE / STOREDIST destination, the last one when repeated."""
    k = f"{p}:g"
    pair.script(
        [
            ("COMMAND", "GETKEYS", "GEORADIUS", k, 0, 0, 1, "km", "STORE", f"{p}:d"),
            ("COMMAND", "GETKEYS", "GEORADIUS", k, 0, 0, 1, "km", "storedist", f"{p}:d"),
            ("COMMAND", "GETKEYS", "GEORADIUS", k, 0, 0, 1, "km", "STORE", "a", "STOREDIST", "b"),
            ("COMMAND", "GETKEYS", "GEORADIUS", k, 0, 0, 1, "km", "COUNT", 3),
            ("COMMAND", "GETKEYS", "GEORADIUSBYMEMBER", k, "m", 1, "km", "STORE", f"{p}:d"),
            ("COMMAND", "GETKEYS", "GEORADIUSBYMEMBER", k, "m", 1, "km"),
        ]
    )
