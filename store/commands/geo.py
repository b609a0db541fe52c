"""Geo commands: GEOADD, GEODIST, GEOHASH, GEOPOS, GEOSEARCH, GEOSEARCHSTORE, GEORADIUS,
GEORADIUSBYMEMBER and their ``_RO`` forms.

Positions live in sorted sets (the score is the 52-bit geohash of :mod:`store.geo`), so
every ``Z*`` command works on a geo key, as in Redis. GEOADD is logged as the ZADD it
turns into (Redis replicates it so). Option parsing, error texts and reply shapes are
Redis 7.4's ``georadiusGeneric``: distances are bulk strings with four decimals (in RESP3
too), coordinates are doubles, hashes are integers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..datatypes.zsets import ZSet
from ..errors import CommandError, SyntaxErr
from ..geo import (
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
from ..geo.geohash import in_shape
from ..replies import NULL_ARRAY, DoubleText
from .table import command
from .util import parse_int
from .zsets import zadd_apply
from .zsets_args import parse_score, read_zset, write_zset
from .zsets_range import store_pairs

if TYPE_CHECKING:
    from .context import ExecContext

_UNITS = {b"M": 1.0, b"KM": 1000.0, b"FT": 0.3048, b"MI": 1609.34}


def _unit(raw: bytes) -> float:
    factor = _UNITS.get(raw.upper())
    if factor is None:
        raise CommandError("unsupported unit provided. please use M, KM, FT, MI")
    return factor


def _lon_lat(raw_lon: bytes, raw_lat: bytes) -> tuple[float, float]:
    """``extractLongLatOrReply``."""
    lon, lat = parse_score(raw_lon), parse_score(raw_lat)
    if lon < LON_MIN or lon > LON_MAX or lat < LAT_MIN or lat > LAT_MAX:
        raise CommandError(f"invalid longitude,latitude pair {lon:f},{lat:f}")
    return lon, lat


def _distance_text(metres_in_unit: float) -> bytes:
    """``fixedpoint_d2string(d, 4)``: four decimals, rounded half to even as ``llrint``."""
    scaled = round(metres_in_unit * 10000.0)
    sign = "-" if scaled < 0 else ""
    whole, frac = divmod(abs(scaled), 10000)
    return f"{sign}{whole}.{frac:04d}".encode()


def _coordinate(ctx: ExecContext, value: float) -> DoubleText:
    """A coordinate as the peer spells it (``addReplyHumanLongDouble``: ``%.17Lf`` with
    trailing zeros cut): that text as a bulk string in RESP2, a double in RESP3."""
    text = f"{value:.17f}".rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    return DoubleText(text.encode())


@command("GEOADD", -5, "write denyoom", "geo slow", keys=(1, 1, 1))
def geoadd(ctx: ExecContext, args: list[bytes]) -> Any:
    """GEOADD key [NX|XX] [CH] longitude latitude member [...]."""
    nx = xx = False
    i = 2
    while i < len(args):
        opt = args[i].upper()
        if opt == b"NX":
            nx = True
        elif opt == b"XX":
            xx = True
        elif opt != b"CH":
            break
        i += 1
    if (len(args) - i) % 3 or (nx and xx) or i == len(args):
        raise SyntaxErr()
    zadd_args = [b"ZADD", *args[1:i]]
    for j in range(i, len(args), 3):
        lon, lat = _lon_lat(args[j], args[j + 1])
        zadd_args += [str(encode_score(lon, lat)).encode(), args[j + 2]]
    reply = zadd_apply(ctx, args[1], zadd_args, 2)
    ctx.log_args = zadd_args
    return reply


@command("GEODIST", -4, "readonly", "geo slow", keys=(1, 1, 1))
def geodist(ctx: ExecContext, args: list[bytes]) -> Any:
    """GEODIST key member1 member2 [M|KM|FT|MI]."""
    to_metres = 1.0
    if len(args) == 5:
        to_metres = _unit(args[4])
    elif len(args) > 5:
        raise SyntaxErr()
    z = read_zset(ctx, args[1])
    if z is None:
        return None
    s1, s2 = z.scores.get(args[2]), z.scores.get(args[3])
    if s1 is None or s2 is None:
        return None
    lon1, lat1 = decode_score(s1)
    lon2, lat2 = decode_score(s2)
    return _distance_text(distance_m(lon1, lat1, lon2, lat2) / to_metres)


@command("GEOHASH", -2, "readonly", "geo slow", keys=(1, 1, 1))
def geohash(ctx: ExecContext, args: list[bytes]) -> list[bytes | None]:
    """GEOHASH key [member ...]."""
    z = read_zset(ctx, args[1])
    out: list[bytes | None] = []
    for member in args[2:]:
        score = None if z is None else z.scores.get(member)
        out.append(None if score is None else geohash_text(score))
    return out


@command("GEOPOS", -2, "readonly", "geo slow", keys=(1, 1, 1))
def geopos(ctx: ExecContext, args: list[bytes]) -> list[Any]:
    """GEOPOS key [member ...]."""
    z = read_zset(ctx, args[1])
    out: list[Any] = []
    for member in args[2:]:
        score = None if z is None else z.scores.get(member)
        if score is None:
            out.append(NULL_ARRAY)
        else:
            lon, lat = decode_score(score)
            out.append([_coordinate(ctx, lon), _coordinate(ctx, lat)])
    return out


# georadiusGeneric's flags
_COORDS, _MEMBER, _NOSTORE, _SEARCH, _SEARCHSTORE = 1, 2, 4, 8, 16


def _search(ctx: ExecContext, args: list[bytes], src_at: int, flags: int) -> Any:
    """Redis's ``georadiusGeneric``; the comments name its steps."""
    # the forms that may STORE read as a write does: replay must see what the primary saw
    may_store = bool(flags & _SEARCHSTORE) or not flags & (_NOSTORE | _SEARCH)
    z = write_zset(ctx, args[src_at]) if may_store else read_zset(ctx, args[src_at])
    store_key: bytes | None = None
    store_dist = False
    lon = lat = 0.0
    radius: float | None = None
    width = height = 0.0
    conversion = 1.0
    if flags & _COORDS:
        base = 6
        lon, lat = _lon_lat(args[2], args[3])
        radius, conversion = _distance(args[4], args[5])
    elif flags & _MEMBER:
        base = 5
        if z is not None:
            lon, lat = _member_position(z, args[2])
            radius, conversion = _distance(args[3], args[4])
    else:
        base = 2
        if flags & _SEARCHSTORE:
            base = 3
            store_key = args[1]
    with_dist = with_hash = with_coord = any_ = False
    sort = ""
    count = 0
    from_member = from_lonlat = by_radius = by_box = False
    i = base
    n = len(args)
    while i < n:
        opt = args[i].upper()
        left = n - i - 1
        if opt == b"WITHDIST":
            with_dist = True
        elif opt == b"WITHHASH":
            with_hash = True
        elif opt == b"WITHCOORD":
            with_coord = True
        elif opt == b"ANY":
            any_ = True
        elif opt == b"ASC":
            sort = "asc"
        elif opt == b"DESC":
            sort = "desc"
        elif opt == b"COUNT" and left >= 1:
            count = parse_int(args[i + 1])
            if count <= 0:
                raise CommandError("COUNT must be > 0")
            i += 1
        elif opt in (b"STORE", b"STOREDIST") and left >= 1 and not flags & (_NOSTORE | _SEARCH):
            store_key = args[i + 1]
            store_dist = opt == b"STOREDIST"
            i += 1
        elif opt == b"STOREDIST" and flags & _SEARCH and flags & _SEARCHSTORE:
            store_dist = True
        elif opt == b"FROMMEMBER" and left >= 1 and flags & _SEARCH and not from_lonlat:
            if z is not None:
                lon, lat = _member_position(z, args[i + 1])
            from_member = True
            i += 1
        elif opt == b"FROMLONLAT" and left >= 2 and flags & _SEARCH and not from_member:
            lon, lat = _lon_lat(args[i + 1], args[i + 2])
            from_lonlat = True
            i += 2
        elif opt == b"BYRADIUS" and left >= 2 and flags & _SEARCH and not by_box:
            radius, conversion = _distance(args[i + 1], args[i + 2])
            by_radius = True
            i += 2
        elif opt == b"BYBOX" and left >= 3 and flags & _SEARCH and not by_radius:
            width = parse_score(args[i + 1], "need numeric width")
            height = parse_score(args[i + 2], "need numeric height")
            if height < 0 or width < 0:
                raise CommandError("height or width cannot be negative")
            conversion = _unit(args[i + 3])
            radius = None
            by_box = True
            i += 3
        else:
            raise SyntaxErr()
        i += 1
    if store_key is not None and (with_dist or with_hash or with_coord):
        what = "GEOSEARCHSTORE" if flags & _SEARCHSTORE else "STORE option in GEORADIUS"
        raise CommandError(
            f"{what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )
    name = args[0].decode("utf-8", "replace")
    if flags & _SEARCH and not (from_member or from_lonlat):
        raise CommandError(f"exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}")
    if flags & _SEARCH and not (by_radius or by_box):
        raise CommandError(
            f"exactly one of BYRADIUS, BYBOX and BYPOLYGON can be specified for {name}"
        )
    if any_ and not count:
        raise CommandError("the ANY argument requires COUNT argument")
    if z is None:
        if store_key is not None:
            return store_pairs(ctx, store_key, [])
        return []
    if count and not sort and not any_:
        sort = "asc"
    shape = GeoShape(lon, lat, conversion, radius, width, height)
    found = _members_in(z, shape, count if any_ else 0)
    if not found and store_key is None:
        return []
    if sort:
        found.sort(key=lambda hit: hit[0], reverse=sort == "desc")
    if count:
        found = found[:count]
    if store_key is not None:
        pairs = [(d / conversion if store_dist else s, m) for d, s, m, _, _ in found]
        return store_pairs(ctx, store_key, pairs)
    out: list[Any] = []
    for dist, score, member, plon, plat in found:
        if not (with_dist or with_hash or with_coord):
            out.append(member)
            continue
        item: list[Any] = [member]
        if with_dist:
            item.append(_distance_text(dist / conversion))
        if with_hash:
            item.append(int(score))
        if with_coord:
            item.append([_coordinate(ctx, plon), _coordinate(ctx, plat)])
        out.append(item)
    return out


def _distance(raw: bytes, unit: bytes) -> tuple[float, float]:
    """``extractDistanceOrReply``: ``(radius, metres per unit)``."""
    radius = parse_score(raw, "need numeric radius")
    if radius < 0:
        raise CommandError("radius cannot be negative")
    return radius, _unit(unit)


def _member_position(z: ZSet, member: bytes) -> tuple[float, float]:
    score = z.scores.get(member)
    if score is None:
        name = member.decode("utf-8", "replace")
        raise CommandError(f"member {name} does not exist")
    return decode_score(score)


def _members_in(
    z: ZSet, shape: GeoShape, limit: int
) -> list[tuple[float, float, bytes, float, float]]:
    """``membersOfAllNeighbors``: ``(distance m, score, member, lon, lat)`` of the members
    inside ``shape``, in scan order; stops at ``limit`` members if it is not 0 (ANY)."""
    found: list[tuple[float, float, bytes, float, float]] = []
    for low, high in search_ranges(shape):
        if found and limit and len(found) >= limit:
            break
        start, stop = z.score_span(float(low), False, float(high), True)
        for score, member in z.items(start, stop):
            plon, plat = decode_score(score)
            dist = in_shape(shape, plon, plat)
            if dist is not None:
                found.append((dist, score, member, plon, plat))
            if found and limit and len(found) >= limit:
                break
    return found


@command("GEOSEARCH", -7, "readonly", "geo slow", keys=(1, 1, 1))
def geosearch(ctx: ExecContext, args: list[bytes]) -> Any:
    """GEOSEARCH key FROMMEMBER m|FROMLONLAT lon lat BYRADIUS r unit|BYBOX w h unit
    [ASC|DESC] [COUNT n [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]."""
    return _search(ctx, args, 1, _SEARCH)


@command("GEOSEARCHSTORE", -8, "write denyoom", "geo slow", keys=(1, 2, 1))
def geosearchstore(ctx: ExecContext, args: list[bytes]) -> Any:
    """GEOSEARCHSTORE dst src FROMMEMBER m|FROMLONLAT lon lat BYRADIUS r unit|BYBOX w h
    unit [ASC|DESC] [COUNT n [ANY]] [STOREDIST]."""
    return _search(ctx, args, 2, _SEARCH | _SEARCHSTORE)


def radius_keys(options_at: int) -> Callable[[list[bytes]], list[bytes]]:
    """The keys of GEORADIUS (options from ``args[6]``) or GEORADIUSBYMEMBER (from
    ``args[5]``): the source and the destination after the last ``STORE``/``STOREDIST``
    (a ``find_keys`` for the command table, as Redis's key specs search keywords; used
    for ACL key patterns)."""

    def find(args: list[bytes]) -> list[bytes]:
        keys = args[1:2]
        for i in range(len(args) - 2, options_at - 1, -1):
            if args[i].upper() in (b"STORE", b"STOREDIST"):
                keys.append(args[i + 1])
                break
        return keys

    return find


@command(
    "GEORADIUS", -6, "write denyoom movablekeys", "geo slow", keys=(1, 1, 1),
    find_keys=radius_keys(6),
)  # fmt: skip
def georadius(ctx: ExecContext, args: list[bytes]) -> Any:
    """GEORADIUS key lon lat radius unit [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT n [ANY]]
    [ASC|DESC] [STORE key|STOREDIST key]."""
    return _search(ctx, args, 1, _COORDS)


@command("GEORADIUS_RO", -6, "readonly", "geo slow", keys=(1, 1, 1))
def georadius_ro(ctx: ExecContext, args: list[bytes]) -> Any:
    """GEORADIUS_RO key lon lat radius unit [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT n [ANY]]
    [ASC|DESC]."""
    return _search(ctx, args, 1, _COORDS | _NOSTORE)


@command(
    "GEORADIUSBYMEMBER", -5, "write denyoom movablekeys", "geo slow", keys=(1, 1, 1),
    find_keys=radius_keys(5),
)  # fmt: skip
def georadiusbymember(ctx: ExecContext, args: list[bytes]) -> Any:
    """GEORADIUSBYMEMBER key member radius unit [...] [STORE key|STOREDIST key]."""
    return _search(ctx, args, 1, _MEMBER)


@command("GEORADIUSBYMEMBER_RO", -5, "readonly", "geo slow", keys=(1, 1, 1))
def georadiusbymember_ro(ctx: ExecContext, args: list[bytes]) -> Any:
    """GEORADIUSBYMEMBER_RO key member radius unit [...]."""
    return _search(ctx, args, 1, _MEMBER | _NOSTORE)
