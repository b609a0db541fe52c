"""GEO radius filters: the ``@f:[lon lat radius unit]`` query node and its parsing.

:class:`GeoFilter` is the filter node (a member of
:data:`~store.index.query.nodes.FilterNode`) for both the query syntax and FT.SEARCH's
``GEOFILTER field lon lat radius unit`` argument (:func:`make_geo_filter`). It matches a
document whose stored position lies at most ``radius`` (inclusive) from the centre:
RediSearch 2.10 keeps a geohash score per document and tests the haversine distance from
the cell centre the score decodes to, so :class:`store.index.geo_field.GeoPoints` does the
same with :mod:`store.geo.geohash`.

Units are RediSearch's (``m``, ``km``, ``mi``, ``ft``, any case). Errors, with RediSearch's
texts: an unknown unit in a query is ``Invalid GeoFilter unit`` (in GEOFILTER,
``Unknown distance unit xx``); a centre outside longitude -180..180 / latitude
-85.05112878..85.05112878 is ``Invalid GeoFilter lat/lon``; a radius that is not positive
is ``Invalid GeoFilter radius``.

In a query, a ``[...]`` range is a GEO filter when it holds more than two values (a numeric
range holds one or two): :func:`is_geo_range` looks ahead, :func:`parse_geo_range` reads
it; each of the four values may be a ``$param`` (DIALECT 2).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import QuerySyntaxError
from ...geo.geohash import LAT_MAX, LAT_MIN, LON_MAX, LON_MIN
from .lexer import LATE_ITERATORS, TokenCursor, unescape
from .numbers import parse_numeric_param

__all__ = [
    "GEO_UNITS",
    "GeoFilter",
    "is_geo_range",
    "make_geo_filter",
    "parse_geo_range",
]

GEO_UNITS: dict[bytes, float] = {b"m": 1.0, b"km": 1000.0, b"mi": 1609.34, b"ft": 0.3048}
"""Metres per unit (RediSearch's ``extractUnitFactor``)."""


@dataclass(frozen=True)
class GeoFilter:
    """Documents whose GEO field ``field`` is within ``radius`` ``unit`` of (lon, lat)."""

    field: bytes
    lon: float
    lat: float
    radius: float
    unit: bytes = b"m"

    @property
    def radius_m(self) -> float:
        return self.radius * GEO_UNITS[self.unit]


def make_geo_filter(
    field: bytes, lon: float, lat: float, radius: float, unit: bytes, *, unit_error: str
) -> GeoFilter:
    """A validated :class:`GeoFilter`; ``unit_error`` is the message for an unknown unit
    (the query and GEOFILTER word it differently)."""
    folded = unit.lower()
    if folded not in GEO_UNITS:
        raise QuerySyntaxError(unit_error)
    if not (LON_MIN <= lon <= LON_MAX and LAT_MIN <= lat <= LAT_MAX):
        raise QuerySyntaxError("Invalid GeoFilter lat/lon")
    if not radius > 0:
        raise QuerySyntaxError("Invalid GeoFilter radius")
    return GeoFilter(field, lon, lat, radius, folded)


_VALUE_KINDS = ("NUMBER", "ATTR", "TERM")


def is_geo_range(cur: TokenCursor) -> bool:
    """Whether the ``[...]`` just opened (the cursor is past ``[``) holds a GEO filter."""
    values = 0
    ahead = 0
    while True:
        kind = cur.kind(ahead)
        if kind in ("RSQB", "EOF"):
            return values > 2
        if kind in _VALUE_KINDS:
            values += 1
        ahead += 1


def parse_geo_range(cur: TokenCursor, field: bytes) -> GeoFilter:
    """Read ``lon lat radius unit]`` (the cursor is past ``[``)."""
    errors = len(cur.param_errors)
    lon = _number(cur)
    lat = _number(cur)
    radius = _number(cur, fallback=1.0)
    tok = cur.take("TERM", "NUMBER", "ATTR")
    if tok.kind == "NUMBER":  # RediSearch's parser takes it, then refuses it as a unit
        raise QuerySyntaxError("Invalid GeoFilter unit")
    if tok.kind == "ATTR":
        name = tok.text
        unit = cur.resolve(lambda: cur.param(name), b"m")
    else:
        unit = unescape(tok.text)
    cur.take("RSQB")
    unchecked = GeoFilter(field, lon, lat, radius)
    if len(cur.param_errors) > errors:  # the query fails on a parameter
        return unchecked

    def checked() -> GeoFilter:
        return make_geo_filter(field, lon, lat, radius, unit, unit_error="Invalid GeoFilter unit")

    return cur.resolve(checked, unchecked, late=LATE_ITERATORS)


def _number(cur: TokenCursor, fallback: float = 0.0) -> float:
    tok, sign = cur.param_num()
    if tok.kind == "ATTR":
        name = tok.text
        return cur.resolve(lambda: parse_numeric_param(cur.param(name), name, sign), fallback)
    return sign * tok.value
