"""The scenario API: POST /v1/scenarios/runs runs a scenario in the background, GET follows it to the KPI
table, results, charts and report; bad scenarios are 422s naming the body field at fault; planner role.

A small generated network (12 orders, 3 nodes, 6 SKUs), runs in the service's process (workers=1).
"""

from __future__ import annotations

import io
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from routing_engine.api.main import create_app
from routing_engine.api.routes.scenarios import CHECKOUT_SCENARIOS, ScenarioSettings
from routing_engine.api.settings import Settings
from routing_engine.ledger import keys
from routing_engine.ledger.testing import tiny_network
from routing_engine.scenarios.metrics import METRICS
from routing_engine.scenarios.runner import RunOutcome
from routing_engine.scenarios.service import ScenarioRuns
from routing_engine.scenarios.spec import RunSpec, parse_scenario

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette asks for httpx2 over httpx; either works
    from fastapi.testclient import TestClient

#: Baseline, variants la-closed and split-doubled, sweep split over split_cost 0 and 10 (5 allocations).
SMALL_FILE = Path(__file__).with_name("data") / "small.yaml"
SMALL: dict[str, Any] = yaml.safe_load(SMALL_FILE.read_text())


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A client without a key, and a token per role."""
    directory = tmp_path_factory.mktemp("scenario-api")
    (directory / "network.json").write_text(tiny_network().model_dump_json())
    app = create_app(
        Settings(
            database_url=f"sqlite:///{directory / 'ledger.db'}", network=directory / "network.json", sweep_interval_s=0
        )
    )
    app.state.scenario_settings = ScenarioSettings(workers=1, max_runs=20)
    with TestClient(app) as client:
        tokens = {role: keys.create(app.state.ledger.engine, role, name=role)[1] for role in keys.ROLES}
        yield client, tokens


def auth(tokens: dict[str, str], role: str = "planner") -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}"}


def wait_for(client: TestClient, url: str, headers: dict[str, str], timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        body: dict[str, Any] = client.get(url, headers=headers).json()
        if body["status"] in ("succeeded", "failed"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


def test_a_planner_posts_a_scenario_and_follows_it_to_the_kpi_table_results_charts_and_report(
    served: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = served
    response = client.post("/v1/scenarios/runs", json={"scenario": SMALL}, headers=auth(tokens))
    assert response.status_code == 202, response.text
    started = response.json()
    assert started["status"] in ("queued", "running")
    assert started["progress"]["total"] == 5  # baseline, two variants, two sweep points
    assert response.headers["Location"] == f"/v1/scenarios/runs/{started['id']}"

    done = wait_for(client, response.headers["Location"], auth(tokens))
    assert done["status"] == "succeeded", done["error"]
    assert done["progress"] == {"done": 5, "total": 5}
    assert sorted(done["finished"]) == ["baseline", "la-closed", "split-doubled", "split=0", "split=10"]
    assert done["table"]["header"] == ["measure", "baseline", "la-closed", "split-doubled"]
    assert [row[0] for row in done["table"]["rows"]] == [m.label for m in METRICS]
    assert done["results"]["baseline"]["kpis"]["orders"] == 12
    assert [p["sweep_value"] for p in done["results"]["sweeps"]["split"]] == [0, 10]
    la = done["results"]["variants"][0]
    assert la["name"] == "la-closed"
    assert next(n for n in la["nodes"] if n["node"] == "DC-002-los-angeles")["units"] == 0

    names = [c["name"] for c in done["charts"]]
    assert names[:3] == ["cost-breakdown", "kpi-deltas", "node-utilisation"]
    assert "sweep-split" in names
    for chart in done["charts"]:
        png = client.get(chart["url"], headers=auth(tokens))
        assert png.status_code == 200
        assert png.headers["content-type"] == "image/png"
        with Image.open(io.BytesIO(png.content)) as image:
            assert image.width > 300
    report = client.get(done["report_url"], headers=auth(tokens))
    assert report.status_code == 200
    assert "<h1>Scenario small</h1>" in report.text
    assert report.text.count("<img") == len(done["charts"])


def test_a_scenario_uploaded_as_yaml_text_runs_like_the_same_document(
    served: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = served
    doc = {**SMALL, "variants": SMALL["variants"][:1], "sweeps": []}
    response = client.post(
        "/v1/scenarios/runs", json={"yaml": yaml.safe_dump(doc), "time_limit_s": 3}, headers=auth(tokens)
    )
    assert response.status_code == 202, response.text
    done = wait_for(client, response.headers["Location"], auth(tokens))
    assert done["status"] == "succeeded"
    assert done["table"]["header"] == ["measure", "baseline", "la-closed"]


@pytest.mark.parametrize(
    ("body", "field", "named"),
    [
        (
            {"scenario": {**SMALL, "variants": [{"name": "v", "changes": [{"kind": "teleport"}]}]}},
            "scenario.variants[v].changes[0].kind",
            "teleport",
        ),
        (
            {
                "scenario": {
                    **SMALL,
                    "variants": [{"name": "v", "changes": [{"kind": "close_node", "node": "DC-RENO"}]}],
                }
            },
            "scenario.variants[v].changes[0].node",
            "DC-RENO",
        ),
        (
            {
                "scenario": {
                    **SMALL,
                    "variants": [{"name": "v", "changes": [{"kind": "scale_stock", "sku": "NOPE", "factor": 2}]}],
                }
            },
            "scenario.variants[v].changes[0].sku",
            "NOPE",
        ),
        (
            {"yaml": yaml.safe_dump({**SMALL, "variants": [{"name": "v", "changes": [{"kind": "teleport"}]}]})},
            "yaml.variants[v].changes[0].kind",
            "teleport",
        ),
        ({"yaml": "name: [unclosed"}, "yaml", "YAML"),
        ({"yaml": "just a line of text"}, "yaml", "valid dictionary"),
        ({"bundled": "no-such-scenario"}, "bundled", "no-such-scenario"),
        ({"scenario": {**SMALL, "base": {"problem": "/etc/passwd"}}}, "scenario.base.problem", "base.example"),
        ({"scenario": {**SMALL, "time_limit_s": 3600}}, "scenario.time_limit_s", "limit"),
        (
            {"scenario": {**SMALL, "sweeps": [{**SMALL["sweeps"][0], "values": list(range(30))}]}},
            "scenario.sweeps",
            "limit",
        ),
        ({"scenario": {k: v for k, v in SMALL.items() if k != "base"}}, "scenario.base", "Field required"),
        ({"scenario": SMALL, "bundled": "base-us"}, "body", "exactly one"),
    ],
    ids=[
        "unknown-kind",
        "missing-node",
        "missing-sku",
        "yaml-unknown-kind",
        "yaml-invalid",
        "yaml-not-a-mapping",
        "unknown-bundled",
        "file-path",
        "time-limit",
        "too-many-runs",
        "no-base",
        "two-sources",
    ],
)
def test_a_bad_scenario_is_a_422_naming_the_field_at_fault_and_nothing_runs(
    served: tuple[TestClient, dict[str, str]], body: dict[str, Any], field: str, named: str
) -> None:
    client, tokens = served
    response = client.post("/v1/scenarios/runs", json=body, headers=auth(tokens))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert named in response.json()["message"]


def test_scenarios_need_the_planner_or_admin_role(served: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = served
    assert client.post("/v1/scenarios/runs", json={"scenario": SMALL}).status_code == 401
    for role in ("allocator", "inventory"):
        assert (
            client.post("/v1/scenarios/runs", json={"scenario": SMALL}, headers=auth(tokens, role)).status_code == 403
        )
        assert client.get("/v1/scenarios", headers=auth(tokens, role)).status_code == 403
    assert client.get("/v1/scenarios", headers=auth(tokens, "admin")).status_code == 200


def test_an_unknown_run_or_chart_is_a_404_naming_it(served: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = served
    response = client.get("/v1/scenarios/runs/scn_missing", headers=auth(tokens))
    assert response.status_code == 404
    assert response.json()["field"] == "run_id"
    assert client.get("/v1/scenarios/runs/scn_missing/charts/cost-breakdown", headers=auth(tokens)).status_code == 404


def test_the_bundled_scenarios_are_listed_with_their_variants_and_run_counts(
    served: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = served
    listed = {s["name"]: s for s in client.get("/v1/scenarios", headers=auth(tokens)).json()}
    assert {p.stem for p in CHECKOUT_SCENARIOS.glob("*.yaml")} == set(listed)
    assert "los-angeles-closed-a-week" in listed["base-us"]["variants"]
    assert listed["base-us"]["runs"] == 1 + len(listed["base-us"]["variants"]) + 11  # split cost 0, 2, ..., 20


def test_the_planner_page_is_served_without_a_key_and_calls_nothing_outside_the_service(
    served: tuple[TestClient, dict[str, str]],
) -> None:
    client, _ = served
    page = client.get("/planner")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/v1/scenarios/runs" in page.text
    assert "http://" not in page.text
    assert "https://" not in page.text


def test_a_run_whose_runner_fails_is_reported_failed_with_the_error(tmp_path: Path) -> None:
    def broken(specs: list[RunSpec], workers: int, on_done: Any) -> list[RunOutcome]:
        raise RuntimeError("solver backend crashed")

    runs = ScenarioRuns(workers=1, runner=broken)
    (tmp_path / "p.json").write_text(tiny_network().model_dump_json())
    scenario = parse_scenario({"name": "t", "base": {"problem": "p.json"}}, tmp_path)
    started = runs.submit(scenario)
    deadline = time.monotonic() + 10
    while (status := runs.status(started.id)).status not in ("succeeded", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status.status == "failed"
    assert status.error is not None
    assert status.error.message == "solver backend crashed"
    assert status.charts == []
    assert status.report_url is None
