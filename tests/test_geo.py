"""Tests of routing_engine.geo: offline destination resolution and the vectorised geodesic distance."""

from __future__ import annotations

import importlib.util
import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing_engine import geo
from routing_engine.errors import UnresolvableDestination
from routing_engine.geo import distance_km, geodesic_km, resolve
from routing_engine.model import Destination

REL_TOL = 0.005  # distance_km must agree with geopy within 0.5 %
ABS_TOL_KM = 1e-9  # one micrometre: below it float rounding of the inputs dominates

latitudes = st.floats(min_value=-90, max_value=90, allow_nan=False)
longitudes = st.floats(min_value=-180, max_value=180, allow_nan=False)
small_offsets = st.one_of(
    st.just(0.0), st.floats(min_value=-1e-3, max_value=1e-3), st.floats(min_value=-1e-7, max_value=1e-7)
)

has_postcode_package = importlib.util.find_spec("countrystatecity_postal_codes") is not None
needs_postcode_package = pytest.mark.skipif(
    not has_postcode_package, reason="countrystatecity-postal-codes is not installed"
)


def assert_close_to_geopy(lat1: float, lon1: float, lat2: float, lon2: float) -> None:
    ours = float(distance_km(lat1, lon1, lat2, lon2))
    reference = geodesic_km(lat1, lon1, lat2, lon2)
    assert math.isclose(ours, reference, rel_tol=REL_TOL, abs_tol=ABS_TOL_KM), (ours, reference)


def km_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    return geodesic_km(a[0], a[1], b[0], b[1])


def wrap_longitude(lon: float) -> float:
    return (lon + 180.0) % 360.0 - 180.0


# ----------------------------------------------------------------------------------------- distance


@settings(max_examples=400, deadline=None)
@given(latitudes, longitudes, latitudes, longitudes)
def test_distance_km_agrees_with_geopy_within_half_a_percent_for_random_point_pairs(
    lat1: float, lon1: float, lat2: float, lon2: float
) -> None:
    assert_close_to_geopy(lat1, lon1, lat2, lon2)


@settings(max_examples=300, deadline=None)
@given(latitudes, longitudes, small_offsets, small_offsets)
def test_distance_km_agrees_with_geopy_within_half_a_percent_for_near_identical_points(
    lat: float, lon: float, dlat: float, dlon: float
) -> None:
    assert_close_to_geopy(lat, lon, min(90.0, max(-90.0, lat + dlat)), wrap_longitude(lon + dlon))


@settings(max_examples=300, deadline=None)
@given(latitudes, longitudes, small_offsets, small_offsets)
def test_distance_km_agrees_with_geopy_within_half_a_percent_for_near_antipodal_points(
    lat: float, lon: float, dlat: float, dlon: float
) -> None:
    assert_close_to_geopy(lat, lon, min(90.0, max(-90.0, -lat + dlat)), wrap_longitude(lon + 180.0 + dlon))


@pytest.mark.parametrize(
    ("lat1", "lon1", "lat2", "lon2"),
    [
        (0.0, 0.0, 0.0, 180.0),  # equatorial antipodes: the longest geodesics
        (0.0, 0.0, 0.5, 179.5),  # equatorial near-antipodes, where Lambert's formula is least accurate
        (90.0, 0.0, -90.0, 0.0),  # pole to pole
        (89.9999, 0.0, 89.9999, 180.0),  # across the North Pole
        (-33.8688, 151.2093, 33.8688, -28.7907),  # exact antipode of Sydney
    ],
)
def test_distance_km_agrees_with_geopy_for_extreme_pairs_at_poles_and_antipodes(
    lat1: float, lon1: float, lat2: float, lon2: float
) -> None:
    assert_close_to_geopy(lat1, lon1, lat2, lon2)


@pytest.mark.parametrize(
    ("a", "b", "expected_km"),
    [
        ((40.7128, -74.0060), (34.0522, -118.2437), 3936.0),  # New York - Los Angeles
        ((51.5074, -0.1278), (48.8566, 2.3522), 343.9),  # London - Paris
        ((-33.8688, 151.2093), (-33.4489, -70.6693), 11350.0),  # Sydney - Santiago de Chile
        ((35.6762, 139.6503), (55.7558, 37.6173), 7480.0),  # Tokyo - Moscow
        ((52.5200, 13.4050), (52.5201, 13.4051), 0.0131),  # a dozen metres in Berlin
    ],
)
def test_distance_km_between_known_city_pairs_matches_published_figures_and_geopy(
    a: tuple[float, float], b: tuple[float, float], expected_km: float
) -> None:
    ours = float(distance_km(a[0], a[1], b[0], b[1]))
    assert ours == pytest.approx(expected_km, rel=0.01)
    assert ours == pytest.approx(geodesic_km(a[0], a[1], b[0], b[1]), rel=REL_TOL)


def test_distance_km_is_symmetric_in_its_two_points() -> None:
    rng = np.random.default_rng(7)
    lat1, lat2 = rng.uniform(-90, 90, (2, 1000))
    lon1, lon2 = rng.uniform(-180, 180, (2, 1000))
    np.testing.assert_allclose(distance_km(lat1, lon1, lat2, lon2), distance_km(lat2, lon2, lat1, lon1), rtol=1e-12)


def test_distance_km_of_identical_points_is_exactly_zero_without_nan_including_poles() -> None:
    lats = np.array([0.0, 45.0, -45.0, 90.0, -90.0, 12.345678, 89.999999])
    lons = np.array([0.0, 180.0, -180.0, 0.0, 123.0, -98.7654321, 179.999999])
    result = distance_km(lats, lons, lats, lons)
    assert not np.isnan(result).any()
    assert (result == 0.0).all()
    assert float(distance_km(0.0, 180.0, 0.0, -180.0)) == pytest.approx(0.0, abs=ABS_TOL_KM)


def test_distance_km_broadcasts_like_numpy_over_scalars_lists_and_arrays() -> None:
    assert distance_km(1.0, 2.0, 3.0, 4.0).shape == ()
    assert distance_km([1.0, 2.0], [3.0, 4.0], 0.0, 0.0).shape == (2,)
    assert distance_km(np.zeros((3, 1)), 0.0, np.ones(4), np.ones(4)).shape == (3, 4)
    assert distance_km(np.zeros((2, 3, 1)), np.zeros((1, 3, 1)), np.ones(5), 0.0).shape == (2, 3, 5)
    assert distance_km(np.zeros((0, 1)), 0.0, np.ones(4), 0.0).shape == (0, 4)
    assert distance_km(np.zeros(3), np.zeros(3), np.zeros((2, 1)), np.zeros((2, 1))).shape == (2, 3)
    with pytest.raises(ValueError, match="broadcast"):
        distance_km(np.zeros(3), np.zeros(3), np.zeros(4), np.zeros(4))


def test_distance_km_matrix_equals_the_pairwise_scalar_results_whatever_the_block_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(3)
    lat1, lon1 = rng.uniform(-90, 90, (11, 1)), rng.uniform(-180, 180, (11, 1))
    lat2, lon2 = rng.uniform(-90, 90, 7), rng.uniform(-180, 180, 7)
    expected = np.array(
        [
            [float(distance_km(a, b, c, d)) for c, d in zip(lat2, lon2, strict=True)]
            for a, b in zip(lat1[:, 0], lon1[:, 0], strict=True)
        ]
    )
    for block in (1, 5, 7, 13, 1 << 20):
        monkeypatch.setattr(geo, "_BLOCK", block)
        np.testing.assert_allclose(distance_km(lat1, lon1, lat2, lon2), expected, rtol=1e-12)


def test_distance_km_computes_a_100k_by_100_matrix_well_under_a_second() -> None:
    rng = np.random.default_rng(11)
    lat1, lon1 = rng.uniform(-90, 90, (100_000, 1)), rng.uniform(-180, 180, (100_000, 1))
    lat2, lon2 = rng.uniform(-90, 90, 100), rng.uniform(-180, 180, 100)
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        result = distance_km(lat1, lon1, lat2, lon2)
        best = min(best, time.perf_counter() - start)
    assert result.shape == (100_000, 100)
    assert best < 1.0


# ------------------------------------------------------------------------------------------ resolve


MUNICH = (48.137, 11.575)
TORONTO = (43.65, -79.38)
NEW_YORK = (40.75, -74.0)
WHERE = "orders[o-17].destination"


def test_resolve_returns_given_lat_lon_unchanged_and_ignores_postal_code_and_city() -> None:
    dest = Destination(country="US", lat=12.5, lon=-45.25, postal_code="00000", city="Nowhere")
    assert resolve(dest, WHERE) == (12.5, -45.25)


def test_resolve_us_zip_10001_lands_within_5_km_of_midtown_new_york() -> None:
    assert km_between(resolve(Destination(country="US", postal_code="10001"), WHERE), NEW_YORK) < 5.0


@pytest.mark.parametrize("zip_plus_4", ["10001-1234", "100011234", " 10001-1234 "])
def test_resolve_us_zip_plus_4_resolves_like_its_five_digit_zip(zip_plus_4: str) -> None:
    five = resolve(Destination(country="US", postal_code="10001"), WHERE)
    assert resolve(Destination(country="US", postal_code=zip_plus_4), WHERE) == five


def test_resolve_unknown_us_zip_raises_unresolvable_destination_naming_the_code_and_the_field() -> None:
    with pytest.raises(UnresolvableDestination) as caught:
        resolve(Destination(country="US", postal_code="00000"), WHERE)
    assert caught.value.field == WHERE
    assert "'00000'" in caught.value.detail
    assert "00000" in str(caught.value)
    assert caught.value.detail == "postal code '00000' not found in US"


def test_resolve_malformed_us_zip_raises_unresolvable_destination_naming_the_code() -> None:
    with pytest.raises(UnresolvableDestination, match="'NY 10001'"):
        resolve(Destination(country="US", postal_code="NY 10001"), WHERE)


def test_resolve_territory_zip_resolves_under_its_own_country_code_but_not_a_mainland_zip() -> None:
    san_juan_area = resolve(Destination(country="PR", postal_code="00601"), WHERE)
    assert 17.5 < san_juan_area[0] < 18.6
    assert -67.5 < san_juan_area[1] < -65.0
    with pytest.raises(UnresolvableDestination, match="'10001' not found in PR"):
        resolve(Destination(country="PR", postal_code="10001"), WHERE)


def test_resolve_falls_back_to_the_city_when_the_postal_code_is_unknown() -> None:
    found = resolve(Destination(country="US", postal_code="00000", city="New York"), WHERE)
    assert km_between(found, NEW_YORK) < 15.0


def test_resolve_city_toronto_in_canada_lands_near_downtown_toronto() -> None:
    assert km_between(resolve(Destination(country="CA", city="Toronto"), WHERE), TORONTO) < 10.0


@pytest.mark.parametrize("name", ["München", "Munich", "Munchen", "MÜNCHEN", "muenchen", "  munich "])
def test_resolve_city_munich_in_germany_matches_any_spelling_case_or_accent(name: str) -> None:
    assert km_between(resolve(Destination(country="DE", city=name), WHERE), MUNICH) < 10.0


def test_resolve_city_picks_the_most_populous_of_same_named_cities_in_the_country() -> None:
    frankfurt = resolve(Destination(country="DE", city="Frankfurt"), WHERE)
    assert km_between(frankfurt, (50.11, 8.68)) < 10.0  # am Main, not (Oder)
    springfield = resolve(Destination(country="US", city="springfield"), WHERE)
    assert km_between(springfield, (37.21, -93.29)) < 15.0  # Missouri, the largest Springfield


def test_resolve_city_only_searches_the_destination_country() -> None:
    toronto_au = resolve(Destination(country="AU", city="Toronto"), WHERE)
    assert toronto_au[0] < 0  # the small Toronto in New South Wales, not Toronto, Canada


def test_resolve_unknown_city_raises_unresolvable_destination_naming_city_and_country() -> None:
    with pytest.raises(UnresolvableDestination) as caught:
        resolve(Destination(country="DE", city="Atlantis-upon-Nowhere"), WHERE)
    assert caught.value.field == WHERE
    assert caught.value.detail == "city 'Atlantis-upon-Nowhere' not found in DE"


def test_resolve_reports_both_failures_when_postal_code_and_city_are_unknown() -> None:
    with pytest.raises(UnresolvableDestination) as caught:
        resolve(Destination(country="US", postal_code="00000", city="Atlantis-upon-Nowhere"), WHERE)
    assert "'00000'" in caught.value.detail
    assert "'Atlantis-upon-Nowhere'" in caught.value.detail


def test_resolve_non_us_postal_code_without_offline_data_is_unresolvable_unless_a_city_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(geo, "_postcode_table", lambda country: None)
    with pytest.raises(UnresolvableDestination, match=r"postal code '80331' .* for DE"):
        resolve(Destination(country="DE", postal_code="80331"), WHERE)
    found = resolve(Destination(country="DE", postal_code="80331", city="München"), WHERE)
    assert km_between(found, MUNICH) < 10.0


def test_resolve_postal_code_of_a_country_absent_from_every_offline_dataset_is_unresolvable() -> None:
    with pytest.raises(UnresolvableDestination, match="no postal-code data for KR"):
        resolve(Destination(country="KR", postal_code="04524"), WHERE)


@needs_postcode_package
@pytest.mark.parametrize(
    ("country", "code", "near"),
    [
        ("CA", "M5V 3L9", TORONTO),  # by its forward sortation area M5V
        ("AU", "2000", (-33.87, 151.21)),  # Sydney
        ("PL", "00-001", (52.23, 21.01)),  # Warsaw
        ("DE", "80331", MUNICH),  # no coordinates listed: via its locality, München
        ("GB", "M1 1AE", (53.48, -2.24)),  # by its postcode area M (Manchester)
    ],
)
def test_resolve_non_us_postal_codes_from_the_offline_postcode_package_land_near_their_town(
    country: str, code: str, near: tuple[float, float]
) -> None:
    assert km_between(resolve(Destination(country=country, postal_code=code), WHERE), near) < 25.0


@needs_postcode_package
def test_resolve_unknown_non_us_postal_code_raises_naming_the_code_and_country() -> None:
    with pytest.raises(UnresolvableDestination, match="postal code '99999' not found in DE"):
        resolve(Destination(country="DE", postal_code="99999"), WHERE)


def test_resolving_ten_thousand_destinations_is_fast_once_the_gazetteers_are_loaded() -> None:
    zips = ["10001", "60601", "94105", "02108", "73301", "98101", "33101", "30301"]
    cities = [("CA", "Toronto"), ("DE", "Munich"), ("US", "Chicago"), ("FR", "Paris"), ("GB", "London")]
    destinations = [Destination(country="US", postal_code=z) for z in zips] + [
        Destination(country=c, city=n) for c, n in cities
    ]
    batch = [destinations[i % len(destinations)] for i in range(10_000)]
    for dest in destinations:  # warm the caches
        resolve(dest, WHERE)
    start = time.perf_counter()
    for i, dest in enumerate(batch):
        resolve(dest, f"orders[{i}].destination")
    assert time.perf_counter() - start < 1.0
