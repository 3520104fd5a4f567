"""Destination regions of scenarios: the US state of a destination, named groups of states, and the region key
(`US-NY`, or the country code abroad) that flow maps aggregate by. Offline, from the zipcodes package.

A ZIP code gives its state exactly; coordinates and cities take the state of the nearest ZIP code centroid,
which is right except within a few km of a state line.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import numpy.typing as npt
import zipcodes
from scipy.spatial import cKDTree

from routing_engine import geo
from routing_engine.model import Destination


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Named US regions as sets of USPS state codes: a partition of the 50 states and DC (the census regions, with
#: the South split into its southeast and Texas, Oklahoma, New Mexico and Arizona as the southwest).
REGION_STATES: dict[str, frozenset[str]] = {
    "us-northeast": _codes("CT ME MA NH RI VT NJ NY PA"),
    "us-midwest": _codes("IL IN MI OH WI IA KS MN MO NE ND SD"),
    "us-southeast": _codes("DE DC FL GA MD NC SC VA WV AL KY MS TN AR LA"),
    "us-southwest": _codes("AZ NM OK TX"),
    "us-west": _codes("CO ID MT NV UT WY CA OR WA AK HI"),
}
#: USPS codes of the 50 states and DC.
US_STATES = frozenset().union(*REGION_STATES.values())
_ZIP5 = re.compile(r"(\d{5})(?:[-\s]?\d{4})?")


def _unit_vectors(lat: npt.ArrayLike, lon: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Points on the unit sphere: nearest in this space is nearest on the globe."""
    phi, lam = np.radians(np.asarray(lat, dtype=float)), np.radians(np.asarray(lon, dtype=float))
    return np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], axis=-1)


@cache
def _zip_states() -> tuple[dict[str, str], cKDTree, list[str]]:
    """ZIP5 -> state, and a KD-tree over the ZIP centroids of the states and DC with their states."""
    by_zip: dict[str, str] = {}
    states: list[str] = []
    lat: list[float] = []
    lon: list[float] = []
    for z in zipcodes.list_all():  # type: ignore[no-untyped-call, unused-ignore]
        if z["state"] not in US_STATES:
            continue
        by_zip[z["zip_code"]] = z["state"]
        if z["lat"] and z["long"]:
            states.append(z["state"])
            lat.append(float(z["lat"]))
            lon.append(float(z["long"]))
    return by_zip, cKDTree(_unit_vectors(lat, lon)), states


def us_state(destination: Destination, where: str) -> str | None:
    """The USPS state code of a US destination; None abroad."""
    if destination.country != "US":
        return None
    by_zip, tree, states = _zip_states()
    match = _ZIP5.fullmatch(destination.postal_code or "")
    if match is not None and match.group(1) in by_zip:
        return by_zip[match.group(1)]
    lat, lon = geo.resolve(destination, where)
    _, nearest = tree.query(_unit_vectors(lat, lon))
    return states[int(nearest)]


def region_key(destination: Destination, where: str) -> str:
    """`US-<state>` at home, the country code abroad: the destination regions of a flow map."""
    state = us_state(destination, where)
    return f"US-{state}" if state is not None else destination.country
