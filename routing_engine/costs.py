"""The cost model: what a package or a unit costs from a node to a destination, and duties.

Tariffs price a package by distance zone x weight band plus linear terms; nodes add handling; the
destination country adds duty above its de minimis. Vectorised for compiling, scalar for checking.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from routing_engine.model import CountryRule, Tariff

FloatArray = npt.NDArray[np.float64]


def zone_index(tariff: Tariff, distance_km: FloatArray) -> npt.NDArray[np.int64]:
    """0-based rate-card zone of each distance: zone z holds distances up to zone_limits_km[z]."""
    return np.searchsorted(np.asarray(tariff.zone_limits_km, float), distance_km, side="left").astype(np.int64)


def band_caps_kg(tariff: Tariff) -> FloatArray:
    """Inclusive upper weight of each band; the last band is open-ended."""
    return np.r_[np.asarray(tariff.weight_limits_kg, float), np.inf]


def package_fixed(tariff: Tariff, distance_km: FloatArray) -> FloatArray:
    """Linear per-package carrier terms, in the tariff currency."""
    return tariff.per_package + tariff.per_package_km * np.asarray(distance_km, float)


def unit_shipping(tariff: Tariff, distance_km: FloatArray, weight_kg: FloatArray) -> FloatArray:
    """Linear per-unit carrier terms (per unit, per km, per kg, per kg-km), in the tariff currency."""
    d, w = np.asarray(distance_km, float), np.asarray(weight_kg, float)
    return tariff.per_unit + tariff.per_unit_km * d + tariff.per_kg * w + tariff.per_kg_km * w * d


def package_price(tariff: Tariff, distance_km: float, weight_kg: float) -> float:
    """Price of one package of `weight_kg` over `distance_km`: rate card plus per-package terms."""
    zone = int(zone_index(tariff, np.array([distance_km]))[0])
    band = int(np.searchsorted(band_caps_kg(tariff), weight_kg, side="left"))
    return float(tariff.prices[zone][band] + package_fixed(tariff, np.array([distance_km]))[0])


def duty(rule: CountryRule, value: float) -> float:
    """Duty and clearance fee on a consignment worth `value` (rule currency); 0 up to the de minimis."""
    return rule.duty_rate * value + rule.clearance_fee if value > rule.de_minimis else 0.0
