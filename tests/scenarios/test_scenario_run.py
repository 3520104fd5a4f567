"""Scenario files end to end: parsing and expansion into runs, sweeps, the runner's unit of work, and
`routing-engine scenario run` writing its table, results.json and report.html (tiny problems, short limits)."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from routing_engine.cli import EXIT_BAD_INPUT, app
from routing_engine.errors import UnknownNode, UnknownReference
from routing_engine.model import Problem
from routing_engine.scenarios import RunSpec, UnknownChangeKind, load_scenario, parse_scenario, run_all, run_one
from routing_engine.scenarios.errors import ScenarioFileError

runner = CliRunner()
SHIPPED = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))


def scenario_doc(**extra: Any) -> dict[str, Any]:
    return {"name": "tiny", "base": {"problem": "tiny.json"}, "time_limit_s": 3, **extra}


@pytest.fixture
def tiny_folder(tmp_path: Path, tiny_problem: Problem) -> Path:
    (tmp_path / "tiny.json").write_text(tiny_problem.model_dump_json())
    return tmp_path


def test_a_scenario_expands_into_the_baseline_then_each_variant_with_its_changes_applied(
    tiny_folder: Path, tiny_problem: Problem
) -> None:
    doc = scenario_doc(
        variants=[
            {"name": "ny-closed", "changes": [{"kind": "close_node", "node": "DC-NY"}]},
            {"name": "uk-de-minimis-zero", "changes": [{"kind": "duty", "country": "GB", "de_minimis": 0}]},
        ]
    )
    scenario = parse_scenario(doc, tiny_folder)
    assert [r.name for r in scenario.runs] == ["baseline", "ny-closed", "uk-de-minimis-zero"]
    assert scenario.runs[0].problem == tiny_problem
    assert not [s for s in scenario.runs[1].problem.stock if s.node == "DC-NY"]
    assert scenario.runs[2].problem.countries["GB"].de_minimis == 0
    assert {r.options.time_limit_s for r in scenario.runs} == {3}


def test_a_sweep_produces_one_run_and_one_outcome_per_grid_value(tiny_folder: Path) -> None:
    doc = scenario_doc(
        sweeps=[
            {
                "name": "split",
                "change": {"kind": "policy"},
                "field": "split_cost",
                "range": {"start": 0, "stop": 20, "step": 10},
            }
        ]
    )
    scenario = parse_scenario(doc, tiny_folder)
    sweep = [r for r in scenario.runs if r.group == "split"]
    assert [r.sweep_value for r in sweep] == [0, 10, 20]
    assert [r.problem.policy.split_cost for r in sweep] == [0, 10, 20]
    outcomes = run_all(sweep, workers=1)
    assert [(o.name, o.sweep_value) for o in outcomes] == [("split=0", 0), ("split=10", 10), ("split=20", 20)]
    assert all(o.status == "optimal" for o in outcomes)


def test_a_sweep_over_a_field_the_change_does_not_have_is_an_error_naming_the_field(tiny_folder: Path) -> None:
    doc = scenario_doc(sweeps=[{"name": "s", "change": {"kind": "policy"}, "field": "split_kost", "values": [1, 2]}])
    with pytest.raises(Exception, match="split_kost"):
        parse_scenario(doc, tiny_folder)


def test_a_variant_with_an_unknown_change_kind_or_node_fails_before_anything_runs(tiny_folder: Path) -> None:
    with pytest.raises(UnknownChangeKind) as kind:
        parse_scenario(scenario_doc(variants=[{"name": "v", "changes": [{"kind": "teleport"}]}]), tiny_folder)
    assert kind.value.field == "variants[v].changes[0].kind"
    with pytest.raises(UnknownNode) as node:
        parse_scenario(
            scenario_doc(variants=[{"name": "v", "changes": [{"kind": "close_node", "node": "DC-RENO"}]}]), tiny_folder
        )
    assert node.value.field == "variants[v].changes[0].node"


def test_a_scenario_file_without_a_base_or_with_a_reused_name_is_a_scenario_file_error(tiny_folder: Path) -> None:
    with pytest.raises(ScenarioFileError, match="base"):
        parse_scenario({"name": "x"}, tiny_folder)
    with pytest.raises(Exception, match="baseline"):
        parse_scenario(scenario_doc(variants=[{"name": "baseline"}]), tiny_folder)


def test_run_one_takes_a_spec_that_survives_a_json_round_trip_as_a_remote_task_would_receive_it(
    tiny_folder: Path,
) -> None:
    spec = parse_scenario(scenario_doc(), tiny_folder).runs[0]
    outcome = run_one(RunSpec.model_validate_json(spec.model_dump_json()))
    assert outcome.kpis.orders == 3
    assert outcome.cost.total == pytest.approx(
        sum(getattr(outcome.cost, p) for p in ("shipping", "handling", "split", "backorder", "duties", "unfilled"))
    )
    assert {n.node for n in outcome.nodes} == {"DC-NY", "DC-LA", "ST-CHI", "DC-LON"}
    assert {g.key for g in outcome.by_country} == {"US", "GB"}


def test_scenario_run_prints_the_comparison_and_writes_json_and_an_html_report_with_charts(tiny_folder: Path) -> None:
    doc = scenario_doc(
        variants=[
            {"name": "ny-closed-a-week", "changes": [{"kind": "close_node", "node": "DC-NY", "days": 7}]},
            {"name": "boston-surge", "changes": [{"kind": "demand_surge", "factor": 2, "region": "us-northeast"}]},
        ],
        sweeps=[{"name": "split", "change": {"kind": "policy"}, "field": "split_cost", "values": [0, 8]}],
    )
    scenario_file = tiny_folder / "tiny.yaml"
    scenario_file.write_text(yaml.safe_dump(doc))
    out = tiny_folder / "out"
    result = runner.invoke(
        app,
        ["scenario", "run", str(scenario_file), "--time-limit", "3", "--out", str(out), "--workers", "2"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    for expected in (
        "cost: total",
        "packages / order",
        "fill rate",
        "ny-closed-a-week",
        "boston-surge",
        "DC-LON",
        "Sweep split",
    ):
        assert expected in result.output
    data = json.loads((out / "results.json").read_text())
    assert data["baseline"]["kpis"]["orders"] == 3
    assert [v["name"] for v in data["variants"]] == ["ny-closed-a-week", "boston-surge"]
    assert data["variants"][1]["kpis"]["orders"] == 5  # NY-1 and BOS-1 copied once
    assert data["deltas"]["boston-surge"]["orders"]["change"] == 2
    assert [p["sweep_value"] for p in data["sweeps"]["split"]] == [0, 8]
    report = (out / "report.html").read_text()
    assert report.count("<img") == 5  # cost breakdown, KPI deltas, node utilisation, flow map, one sweep curve
    for encoded in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", report):
        with Image.open(io.BytesIO(base64.b64decode(encoded))) as chart:
            assert chart.format == "PNG"
            assert chart.width > 400
    assert "http://" not in report
    assert "https://" not in report


def test_scenario_run_with_an_unknown_change_kind_exits_2_naming_it_and_writes_nothing(tiny_folder: Path) -> None:
    scenario_file = tiny_folder / "bad.yaml"
    scenario_file.write_text(yaml.safe_dump(scenario_doc(variants=[{"name": "v", "changes": [{"kind": "teleport"}]}])))
    out = tiny_folder / "out"
    result = runner.invoke(app, ["scenario", "run", str(scenario_file), "--out", str(out)])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "teleport" in result.output
    assert not out.exists()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_scenario_file_loads_and_every_variant_applies(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.runs[0].name == "baseline"
    assert len(scenario.runs) > 5
    for run in scenario.runs:
        if run.group == "variant":
            assert run.problem != scenario.runs[0].problem, run.name


def test_a_sweep_on_a_variant_starts_from_that_variant_and_an_unknown_variant_is_named(tiny_folder: Path) -> None:
    variants = [{"name": "ny-closed", "changes": [{"kind": "close_node", "node": "DC-NY"}]}]
    sweep = {"name": "gb", "variant": "ny-closed", "change": {"kind": "duty", "country": "GB"}, "field": "de_minimis"}
    scenario = parse_scenario(scenario_doc(variants=variants, sweeps=[{**sweep, "values": [0, 50]}]), tiny_folder)
    points = [r for r in scenario.runs if r.group == "gb"]
    assert [r.problem.countries["GB"].de_minimis for r in points] == [0, 50]
    assert all(not [s for s in r.problem.stock if s.node == "DC-NY"] for r in points)
    with pytest.raises(UnknownReference, match="'ny-open'"):
        parse_scenario(
            scenario_doc(variants=variants, sweeps=[{**sweep, "variant": "ny-open", "values": [0]}]), tiny_folder
        )
