"""Geohash math for the GEO commands (Redis's ``geohash.c`` and ``geohash_helper.c``)."""

from .geohash import (
    EARTH_RADIUS_M,
    LAT_MAX,
    LAT_MIN,
    LON_MAX,
    LON_MIN,
    GeoShape,
    decode_score,
    distance_m,
    encode_score,
    geohash_text,
    search_ranges,
)

__all__ = [
    "EARTH_RADIUS_M",
    "LAT_MAX",
    "LAT_MIN",
    "LON_MAX",
    "LON_MIN",
    "GeoShape",
    "decode_score",
    "distance_m",
    "encode_score",
    "geohash_text",
    "search_ranges",
]
