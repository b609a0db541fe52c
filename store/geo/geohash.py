"""Redis's geohash, bit for bit: positions as sorted-set scores, distances, search cells.

A position is stored as the score of a sorted-set member: a 52-bit integer interleaving
26 bits of latitude (even bits) and 26 bits of longitude (odd bits), each the fixed-point
offset of the coordinate in its range (longitude -180..180, latitude
-85.05112878..85.05112878, Web Mercator's limits). Decoding gives the centre of the cell,
so GEOPOS answers a coordinate within about 0.6 m of what GEOADD was given, exactly the
peer's. Distances are haversine on a sphere of radius 6372797.560856 m.

A radius or box search covers the query with the cell of the centre and its eight
neighbours at a step chosen from the radius (``search_ranges``), then tests every member
of those cells; the cells' order and pruning are Redis's, so results come back in the
peer's order when no sorting is asked for (and ANY stops at the same members).

Every function mirrors the C function named in its docstring, including the order of
floating-point operations, so results match the peer's to the last bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    "in_shape",
    "search_ranges",
]

STEP_MAX = 26
LAT_MIN = -85.05112878
LAT_MAX = 85.05112878
LON_MIN = -180.0
LON_MAX = 180.0
EARTH_RADIUS_M = 6372797.560856
MERCATOR_MAX = 20037726.37
_D_R = math.pi / 180.0
_MASK64 = (1 << 64) - 1
_ALPHABET = b"0123456789bcdefghjkmnpqrstuvwxyz"


def _deg_rad(angle: float) -> float:
    return angle * _D_R


def _rad_deg(angle: float) -> float:
    return angle / _D_R


def _interleave(lat_bits: int, lon_bits: int) -> int:
    """``interleave64``: latitude in the even bits, longitude in the odd bits."""
    x, y = lat_bits & 0xFFFFFFFF, lon_bits & 0xFFFFFFFF
    for shift, mask in (
        (16, 0x0000FFFF0000FFFF),
        (8, 0x00FF00FF00FF00FF),
        (4, 0x0F0F0F0F0F0F0F0F),
        (2, 0x3333333333333333),
        (1, 0x5555555555555555),
    ):
        x = (x | (x << shift)) & mask
        y = (y | (y << shift)) & mask
    return x | (y << 1)


def _deinterleave(bits: int) -> tuple[int, int]:
    """``deinterleave64``: ``(latitude bits, longitude bits)``."""
    x, y = bits, bits >> 1
    for shift, mask in (
        (0, 0x5555555555555555),
        (1, 0x3333333333333333),
        (2, 0x0F0F0F0F0F0F0F0F),
        (4, 0x00FF00FF00FF00FF),
        (8, 0x0000FFFF0000FFFF),
        (16, 0x00000000FFFFFFFF),
    ):
        x = (x | (x >> shift)) & mask
        y = (y | (y >> shift)) & mask
    return x, y


def _encode(
    lon: float,
    lat: float,
    step: int,
    lon_range: tuple[float, float] = (LON_MIN, LON_MAX),
    lat_range: tuple[float, float] = (LAT_MIN, LAT_MAX),
) -> int:
    """``geohashEncode``: the ``2*step``-bit hash (the caller checked the coordinates)."""
    lat_offset = (lat - lat_range[0]) / (lat_range[1] - lat_range[0])
    lon_offset = (lon - lon_range[0]) / (lon_range[1] - lon_range[0])
    lat_offset *= 1 << step
    lon_offset *= 1 << step
    return _interleave(int(lat_offset), int(lon_offset))


def encode_score(lon: float, lat: float) -> int:
    """GEOADD's score for a valid coordinate pair (``geohashAlign52Bits`` at step 26)."""
    return _encode(lon, lat, STEP_MAX)


def _area(bits: int, step: int) -> tuple[float, float, float, float]:
    """``geohashDecode``: ``(lon min, lon max, lat min, lat max)`` of a cell."""
    ilat, ilon = _deinterleave(bits)
    scale = float(1 << step)
    lat_scale = LAT_MAX - LAT_MIN
    lon_scale = LON_MAX - LON_MIN
    return (
        LON_MIN + (ilon * 1.0 / scale) * lon_scale,
        LON_MIN + ((ilon + 1) * 1.0 / scale) * lon_scale,
        LAT_MIN + (ilat * 1.0 / scale) * lat_scale,
        LAT_MIN + ((ilat + 1) * 1.0 / scale) * lat_scale,
    )


def decode_score(score: float) -> tuple[float, float]:
    """``decodeGeohash``: the ``(longitude, latitude)`` a score stands for (cell centre,
    clamped to the valid ranges)."""
    bits = int(score) & _MASK64 if math.isfinite(score) else 0
    lon_min, lon_max, lat_min, lat_max = _area(bits, STEP_MAX)
    lon = min(max((lon_min + lon_max) / 2, LON_MIN), LON_MAX)
    lat = min(max((lat_min + lat_max) / 2, LAT_MIN), LAT_MAX)
    return lon, lat


def geohash_text(score: float) -> bytes:
    """GEOHASH's 11-character standard geohash (latitude range -90..90) of a score."""
    lon, lat = decode_score(score)
    bits = _encode(lon, lat, STEP_MAX, (-180.0, 180.0), (-90.0, 90.0))
    out = bytearray()
    for i in range(11):
        idx = 0 if i == 10 else (bits >> (52 - (i + 1) * 5)) & 0x1F
        out.append(_ALPHABET[idx])
    return bytes(out)


def lat_distance_m(lat1: float, lat2: float) -> float:
    """``geohashGetLatDistance``."""
    return EARTH_RADIUS_M * abs(_deg_rad(lat2) - _deg_rad(lat1))


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """``geohashGetDistance``: haversine distance in metres."""
    lon1r = _deg_rad(lon1)
    lon2r = _deg_rad(lon2)
    v = math.sin((lon2r - lon1r) / 2)
    if v == 0.0:
        return lat_distance_m(lat1, lat2)
    lat1r = _deg_rad(lat1)
    lat2r = _deg_rad(lat2)
    u = math.sin((lat2r - lat1r) / 2)
    a = u * u + math.cos(lat1r) * math.cos(lat2r) * v * v
    return 2.0 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


@dataclass(frozen=True)
class GeoShape:
    """A search area: a circle (``radius``) or a box (``width`` x ``height``) around
    ``(lon, lat)``, its sizes in the unit ``conversion`` metres long."""

    lon: float
    lat: float
    conversion: float
    radius: float | None = None
    width: float = 0.0
    height: float = 0.0


def in_shape(shape: GeoShape, lon: float, lat: float) -> float | None:
    """``geoWithinShape``: the distance in metres from the centre if the point is inside."""
    if shape.radius is not None:
        d = distance_m(shape.lon, shape.lat, lon, lat)
        return None if d > shape.radius * shape.conversion else d
    width_m = shape.width * shape.conversion
    height_m = shape.height * shape.conversion
    if lat_distance_m(lat, shape.lat) > height_m / 2:
        return None
    if distance_m(lon, lat, shape.lon, lat) > width_m / 2:
        return None
    return distance_m(shape.lon, shape.lat, lon, lat)


def _steps_for(range_m: float, lat: float) -> int:
    """``geohashEstimateStepsByRadius``."""
    if range_m == 0:
        return 26
    step = 1
    while range_m < MERCATOR_MAX:
        range_m *= 2
        step += 1
    step -= 2
    if lat > 66 or lat < -66:
        step -= 1
        if lat > 80 or lat < -80:
            step -= 1
    return min(max(step, 1), 26)


def c_cos(x: float) -> float:
    """C's ``cos``: NaN for an infinite argument (an infinite radius), where Python's
    raises; the C code this ports carries the NaN on."""
    return math.cos(x) if math.isfinite(x) else math.nan


def _bounding_box(shape: GeoShape) -> tuple[float, float, float, float]:
    """``geohashBoundingBox``: ``(min lon, min lat, max lon, max lat)``."""
    height = shape.conversion * (shape.radius if shape.radius is not None else shape.height / 2)
    width = shape.conversion * (shape.radius if shape.radius is not None else shape.width / 2)
    lat_delta = _rad_deg(height / EARTH_RADIUS_M)
    lon_delta_top = _rad_deg(width / EARTH_RADIUS_M / c_cos(_deg_rad(shape.lat + lat_delta)))
    lon_delta_bottom = _rad_deg(width / EARTH_RADIUS_M / c_cos(_deg_rad(shape.lat - lat_delta)))
    southern = shape.lat < 0
    delta = lon_delta_bottom if southern else lon_delta_top
    return shape.lon - delta, shape.lat - lat_delta, shape.lon + delta, shape.lat + lat_delta


def _move_x(bits: int, step: int, d: int) -> int:
    x = bits & 0xAAAAAAAAAAAAAAAA
    y = bits & 0x5555555555555555
    zz = 0x5555555555555555 >> (64 - step * 2)
    if d > 0:
        x = (x + (zz + 1)) & _MASK64
    else:
        x = ((x | zz) - (zz + 1)) & _MASK64
    x &= 0xAAAAAAAAAAAAAAAA >> (64 - step * 2)
    return x | y


def _move_y(bits: int, step: int, d: int) -> int:
    x = bits & 0xAAAAAAAAAAAAAAAA
    y = bits & 0x5555555555555555
    zz = 0xAAAAAAAAAAAAAAAA >> (64 - step * 2)
    if d > 0:
        y = (y + (zz + 1)) & _MASK64
    else:
        y = ((y | zz) - (zz + 1)) & _MASK64
    y &= 0x5555555555555555 >> (64 - step * 2)
    return x | y


def _neighbours(bits: int, step: int) -> dict[str, int]:
    """``geohashNeighbors``."""

    def moved(dx: int, dy: int) -> int:
        b = _move_x(bits, step, dx) if dx else bits
        return _move_y(b, step, dy) if dy else b

    return {
        "north": moved(0, 1),
        "south": moved(0, -1),
        "east": moved(1, 0),
        "west": moved(-1, 0),
        "north_east": moved(1, 1),
        "north_west": moved(-1, 1),
        "south_east": moved(1, -1),
        "south_west": moved(-1, -1),
    }


def search_ranges(shape: GeoShape) -> list[tuple[int, int]]:
    """The score ranges ``[min, max)`` to scan, in Redis's order (centre, N, S, E, W, NE,
    NW, SE, SW), skipping pruned cells and a cell equal to the one scanned before it
    (``geohashCalculateAreasByShapeWGS84`` and ``membersOfAllNeighbors``)."""
    min_lon, min_lat, max_lon, max_lat = _bounding_box(shape)
    if shape.radius is not None:
        radius_m = shape.radius
    else:
        radius_m = math.sqrt(
            (shape.width / 2) * (shape.width / 2) + (shape.height / 2) * (shape.height / 2)
        )
    radius_m *= shape.conversion
    steps = _steps_for(radius_m, shape.lat)
    bits = _encode(shape.lon, shape.lat, steps)
    near = _neighbours(bits, steps)
    north = _area(near["north"], steps)
    south = _area(near["south"], steps)
    east = _area(near["east"], steps)
    west = _area(near["west"], steps)
    decrease = north[3] < max_lat or south[2] > min_lat or east[1] < max_lon or west[0] > min_lon
    if steps > 1 and decrease:
        steps -= 1
        bits = _encode(shape.lon, shape.lat, steps)
        near = _neighbours(bits, steps)
    area = _area(bits, steps)
    cells: list[int | None] = [
        bits,
        near["north"],
        near["south"],
        near["east"],
        near["west"],
        near["north_east"],
        near["north_west"],
        near["south_east"],
        near["south_west"],
    ]
    if steps >= 2:
        if area[2] < min_lat:
            cells[2] = cells[8] = cells[7] = None  # south, south west, south east
        if area[3] > max_lat:
            cells[1] = cells[5] = cells[6] = None  # north, north east, north west
        if area[0] < min_lon:
            cells[4] = cells[8] = cells[6] = None  # west, south west, north west
        if area[1] > max_lon:
            cells[3] = cells[7] = cells[5] = None  # east, south east, north east
    out: list[tuple[int, int]] = []
    last: int | None = None
    shift = 52 - steps * 2
    for i, cell in enumerate(cells):
        if cell is None:
            continue
        if last is not None and last != 0 and cell == cells[last]:
            continue
        out.append((cell << shift, (cell + 1) << shift))
        last = i
    return out
