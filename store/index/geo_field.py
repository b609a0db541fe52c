"""GEO fields of FT indexes: value parsing, the per-field point index, ``geodistance``.

A GEO field's value is ``"lon,lat"`` (or ``"lon lat"``), read as RediSearch 2.10's
``parseGeo`` reads it: split at the first space or comma, each side parsed by C ``strtod``
and consumed whole (so an empty side is 0, leading blanks are skipped, trailing ones are
not). On JSON a GEO path gives strings, and an array of strings gives the document several
points. A value that does not parse, or lies outside longitude -180..180 / latitude
-85.05112878..85.05112878, rejects the whole document (counted in ``hash_indexing_failures``
as ``Invalid geo string``; never refused), as RediSearch does.

:class:`GeoPoints` keeps, as RediSearch's geo index does, a 52-bit geohash score per point
(:func:`store.geo.geohash.encode_score`, Redis's encoding), sorted. A radius filter
(:class:`~store.index.query.GeoFilter`) scans the score ranges of the centre cell and its
neighbours (:func:`store.geo.geohash.search_ranges`, both ends inclusive as RediSearch's
numeric filters are; plus the scores past 52 bits of points on the upper edges, which
RediSearch's range tree leaves still hold and test) and keeps a point when the haversine
distance from the centre to the cell centre its score decodes to is at most the radius:
the peer's precision (about 0.6 m) and boundary inclusion.

:func:`geodistance` is FT.AGGREGATE's ``geodistance()`` APPLY function (2 to 4 arguments:
``"lon,lat"`` strings, geohash numbers or lon/lat number pairs), in metres rounded to two
decimals.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator, Sequence

from ..geo.geohash import (
    LAT_MAX,
    LAT_MIN,
    LON_MAX,
    LON_MIN,
    GeoShape,
    decode_score,
    distance_m,
    encode_score,
    in_shape,
    search_ranges,
)
from .query import GEO_UNITS, GeoFilter

__all__ = [
    "INVALID_GEO",
    "GeoPoints",
    "geodistance",
    "parse_geo_value",
    "parse_lon_lat",
]

INVALID_GEO = "Invalid geo string"
"""RediSearch's indexing error for a GEO value it cannot take."""

_STRTOD = re.compile(
    rb"[ \t\n\v\f\r]*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)?",
    re.IGNORECASE,
)
_HEX = re.compile(
    rb"[ \t\n\v\f\r]*[+-]?0x(?:[0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p[+-]?\d+)?", re.IGNORECASE
)
_TOP = 1 << 52
"""Scores at or above this come from a coordinate on the upper edge (longitude 180 or
latitude 85.05112878), whose offset overflows into bit 52 as in Redis."""


def _strtod_whole(text: bytes) -> float | None:
    """C ``strtod`` that must consume ``text`` whole; ``""`` is 0 (strtod reads nothing and
    stops at the terminator), blanks alone are not."""
    if not text:
        return 0.0
    if _HEX.fullmatch(text):
        return float.fromhex(text.strip().decode())
    match = _STRTOD.fullmatch(text)
    if match is None or not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        return None


def parse_lon_lat(raw: bytes) -> tuple[float, float] | None:
    """``parseGeo``: ``(lon, lat)`` of ``"lon,lat"`` / ``"lon lat"``, no range check."""
    cut = min((i for i in (raw.find(b" "), raw.find(b",")) if i >= 0), default=-1)
    if cut < 0:
        return None
    lon = _strtod_whole(raw[:cut])
    lat = _strtod_whole(raw[cut + 1 :])
    if lon is None or lat is None:
        return None
    return lon, lat


def parse_geo_value(raw: bytes) -> tuple[float, float] | None:
    """A GEO field value as the index takes it, or None when RediSearch rejects it."""
    point = parse_lon_lat(raw)
    if point is None:
        return None
    lon, lat = point
    # the C test (``lon < min || lon > max``): NaN passes it, and the peer indexes it
    if lon < LON_MIN or lon > LON_MAX or lat < LAT_MIN or lat > LAT_MAX:
        return None
    return point


def _score(lon: float, lat: float) -> int:
    """``encodeGeo``; a NaN coordinate converts to offset 0 (x86-64's ``cvttsd2si``), the
    range's minimum."""
    return encode_score(LON_MIN if lon != lon else lon, LAT_MIN if lat != lat else lat)


class GeoPoints:
    """The points of one GEO field: ``(score, label, lon, lat)`` sorted by score (the
    position the score decodes to, kept so a query decodes nothing), and each label's
    scores."""

    def __init__(self) -> None:
        self._sorted: list[tuple[int, int, float, float]] = []
        self._held: dict[int, tuple[int, ...]] = {}

    def __len__(self) -> int:
        return len(self._held)

    def add(self, label: int, points: Sequence[tuple[float, float]]) -> int:
        """Index ``label`` at ``points`` (replacing what it had); returns the records added."""
        self.remove(label)
        scores = tuple(_score(lon, lat) for lon, lat in points)  # a repeated point: 2 records
        if not scores:
            return 0
        self._held[label] = scores
        for score in scores:
            insort(self._sorted, (score, label, *decode_score(score)))
        return len(scores)

    def remove(self, label: int) -> int:
        """Forget ``label``; returns how many points it had."""
        scores = self._held.pop(label, ())
        for score in scores:
            del self._sorted[bisect_left(self._sorted, (score, label))]
        return len(scores)

    def _candidates(self, node: GeoFilter) -> Iterator[tuple[int, int, float, float]]:
        for lo, hi in [*search_ranges(_shape(node)), (_TOP, math.inf)]:
            start = bisect_left(self._sorted, (lo, -1))
            end = bisect_right(self._sorted, (hi, math.inf))
            yield from self._sorted[start:end]

    def within(self, node: GeoFilter) -> set[int]:
        """The labels with a point inside ``node``'s circle (module docstring)."""
        lon0, lat0, radius_m = node.lon, node.lat, node.radius_m
        out: set[int] = set()
        for _, label, lon, lat in self._candidates(node):
            if label not in out and not distance_m(lon0, lat0, lon, lat) > radius_m:
                out.add(label)
        return out

    def contains(self, node: GeoFilter, label: int) -> bool:
        """Whether ``label`` has a point inside ``node``'s circle."""
        shape = _shape(node)
        return any(
            in_shape(shape, *decode_score(score)) is not None for score in self._held.get(label, ())
        )

    def estimate(self, node: GeoFilter) -> int:
        """An upper bound of ``len(within(node))``: the points in the scanned cells."""
        total = 0
        for lo, hi in [*search_ranges(_shape(node)), (_TOP, math.inf)]:
            total += bisect_right(self._sorted, (hi, math.inf)) - bisect_left(
                self._sorted, (lo, -1)
            )
        return min(total, len(self._held))


def _shape(node: GeoFilter) -> GeoShape:
    return GeoShape(node.lon, node.lat, GEO_UNITS[node.unit], radius=node.radius)


def _field_point(value: object) -> tuple[float, float] | None:
    """geodistance's ``parseField``: a ``"lon,lat"`` string (ValueError if it does not
    parse); anything else is None (the peer answers NaN, for a number too)."""
    if isinstance(value, bytes):
        point = parse_lon_lat(value)
        if point is None:
            raise ValueError(INVALID_GEO)
        return point
    return None


def _number(value: object) -> float | None:
    if isinstance(value, float):
        return value
    if isinstance(value, bytes):
        stripped = value.strip(b" \t\n\r\f\v")
        if not stripped or stripped != value.lstrip(b" \t\n\r\f\v"):
            return None
        try:
            return float(stripped)
        except ValueError:
            return None
    return None


def geodistance(args: Sequence[object]) -> float:
    """RediSearch's ``geodistance()`` over evaluated arguments (2 to 4; the caller checks
    the count): metres, rounded half away from zero to 2 decimals; NaN if a number does
    not parse. A ``"lon,lat"`` string that does not parse fails the whole request, as in
    RediSearch: ValueError ``Invalid geo string``."""
    a: tuple[float, float] | None
    b: tuple[float, float] | None
    if len(args) == 2:
        a, b = _field_point(args[0]), _field_point(args[1])
    elif len(args) == 4:
        a, b = _pair(args[0], args[1]), _pair(args[2], args[3])
    elif _number(args[0]) is not None:
        a, b = _pair(args[0], args[1]), _field_point(args[2])
    else:
        a, b = _field_point(args[0]), _pair(args[1], args[2])
    if a is None or b is None:
        return math.nan
    distance = distance_m(a[0], a[1], b[0], b[1])
    return math.floor(distance * 100 + 0.5) / 100 if math.isfinite(distance) else distance


def _pair(lon: object, lat: object) -> tuple[float, float] | None:
    x, y = _number(lon), _number(lat)
    return None if x is None or y is None else (x, y)
