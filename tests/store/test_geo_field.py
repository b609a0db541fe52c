"""GEO field values and the point index (store/index/geo_field.py), without a server.

The differential tests (tests/server/test_geo_fields_differential.py) compare replies with
the peer; these pin the parsing rules and check the cell scan against a brute-force scan
of every point, so a point the geohash cells miss is found here.
"""

from __future__ import annotations

import math
import random

import pytest

from store.geo.geohash import decode_score, distance_m, encode_score
from store.index.geo_field import GeoPoints, geodistance, parse_geo_value, parse_lon_lat
from store.index.query import GeoFilter

PARSED = [
    (b"2.35,48.85", (2.35, 48.85)),
    (b"2.35 48.85", (2.35, 48.85)),
    (b",10", (0.0, 10.0)),  # strtod of "" reads nothing and stops at the end: 0
    (b" 1,2", None),  # split at the leading blank: "1,2" is not a number
    (b"1,  2", (1.0, 2.0)),  # strtod skips the blanks before 2
    (b"0x1,2", (1.0, 2.0)),
    (b"+1.,-.5", (1.0, -0.5)),
    (b"1e1,2", (10.0, 2.0)),
    (b"bad", None),
    (b"1,2,3", None),
    (b"1, 2", (1.0, 2.0)),  # split at the comma; the blank before 2 is skipped
    (b"1 ,2", None),  # split at the blank: ",2" is not a number
    (b"1,2 ", None),  # trailing blank left unread
    (b"200,10", None),
    (b"10,86", None),
    (b"inf,1", None),
    (b"180,85.05112878", (180.0, 85.05112878)),
]


@pytest.mark.parametrize(("raw", "expected"), PARSED)
def test_parse_geo_value(raw: bytes, expected: tuple[float, float] | None) -> None:
    assert parse_geo_value(raw) == expected


def test_nan_passes_the_range_check_as_in_c() -> None:
    point = parse_geo_value(b"nan,1")
    assert point is not None and math.isnan(point[0])
    assert parse_lon_lat(b"200,10") == (200.0, 10.0)  # geodistance takes it unchecked


def test_within_matches_a_brute_force_scan() -> None:
    rnd = random.Random(7)
    points = GeoPoints()
    where: dict[int, tuple[float, float]] = {}
    for label in range(3000):
        lon, lat = rnd.uniform(-180, 180), rnd.uniform(-85, 85)
        if label % 10 == 0:  # a cluster, so small radii find something
            lon, lat = rnd.uniform(2.0, 2.7), rnd.uniform(48.6, 49.1)
        points.add(label, [(lon, lat)])
        where[label] = decode_score(encode_score(lon, lat))
    for label in range(0, 3000, 7):  # removed points are never found
        points.remove(label)
        del where[label]
    for _ in range(60):
        lon, lat = rnd.uniform(-180, 180), rnd.uniform(-85, 85)
        if rnd.random() < 0.5:
            lon, lat = rnd.uniform(2.0, 2.7), rnd.uniform(48.6, 49.1)
        radius = 10 ** rnd.uniform(0, 4.3)
        node = GeoFilter(b"loc", lon, lat, radius, b"km")
        expected = {
            label for label, (x, y) in where.items() if distance_m(lon, lat, x, y) <= radius * 1000
        }
        assert points.within(node) == expected
        assert points.estimate(node) >= len(expected)
        sample = list(where)[:50]
        assert {label for label in sample if points.contains(node, label)} == expected & set(sample)


def test_several_points_per_label_and_replacement() -> None:
    points = GeoPoints()
    assert points.add(1, [(2.35, 48.85), (13.4, 52.5)]) == 2
    paris = GeoFilter(b"loc", 2.35, 48.85, 1, b"km")
    berlin = GeoFilter(b"loc", 13.4, 52.5, 1, b"km")
    assert points.within(paris) == points.within(berlin) == {1}
    points.add(1, [(13.4, 52.5)])  # replaces the Paris point
    assert points.within(paris) == set() and points.within(berlin) == {1}
    assert points.remove(1) == 1 and len(points) == 0


def test_geodistance_forms() -> None:
    d = geodistance([b"1,2", b"3,4"])
    assert d == geodistance([1.0, 2.0, 3.0, 4.0]) == geodistance([1.0, 2.0, b"3,4"])
    assert d == 314371.93  # the peer's value
    assert math.isnan(geodistance([b"1,2", 3.0]))
    with pytest.raises(ValueError, match="Invalid geo string"):
        geodistance([b"a", 2.0, 3.0])


def test_a_repeated_point_is_added_and_removed_whole() -> None:
    points = GeoPoints()
    assert points.add(1, [(1.0, 2.0), (1.0, 2.0)]) == 2
    assert points.within(GeoFilter(b"loc", 1.0, 2.0, 1, b"m")) == {1}
    assert points.remove(1) == 2
    assert points.within(GeoFilter(b"loc", 1.0, 2.0, 1, b"m")) == set()
