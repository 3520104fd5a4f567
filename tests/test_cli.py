"""The command line: allocate, example and schema, and exit code 2 with nothing written on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from routing_engine.cli import EXIT_BAD_INPUT, app
from routing_engine.model import AllocationResult, Problem

runner = CliRunner()


@pytest.fixture(scope="module")
def example_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "problem.json"
    result = runner.invoke(app, ["example", "--orders", "30", "--nodes", "5", "--seed", "4", "--out", str(path)])
    assert result.exit_code == 0, result.output
    return path


def test_example_writes_a_valid_problem_with_the_requested_size(example_file: Path) -> None:
    problem = Problem.model_validate_json(example_file.read_text())
    assert len(problem.orders) == 30
    assert len(problem.nodes) == 5


def test_allocate_prints_a_summary_and_writes_a_result_that_validates(example_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    result = runner.invoke(app, ["allocate", str(example_file), "--time-limit", "20", "--out", str(out)])
    assert result.exit_code == 0, result.output
    for expected in ("cost: total", "packages / order", "fill rate", "gap"):
        assert expected in result.output
    parsed = AllocationResult.model_validate_json(out.read_text())
    assert parsed.kpis.orders == 30
    assert parsed.solver.status == "optimal"


def test_allocate_with_a_baseline_solver_reports_no_bound(example_file: Path) -> None:
    result = runner.invoke(app, ["allocate", str(example_file), "--solver", "nearest"])
    assert result.exit_code == 0, result.output
    assert "nearest" in result.output


def test_unknown_sku_exits_2_names_the_line_and_writes_nothing(example_file: Path, tmp_path: Path) -> None:
    data = json.loads(example_file.read_text())
    order = data["orders"][3]
    order["lines"][0]["sku"] = "NO-SUCH-SKU"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    out = tmp_path / "result.json"
    result = runner.invoke(app, ["allocate", str(bad), "--out", str(out)])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "NO-SUCH-SKU" in result.output
    assert f"orders[{order['id']}].lines[{order['lines'][0]['id']}].sku" in result.output
    assert not out.exists()


def test_negative_quantity_exits_2_and_names_the_field(example_file: Path, tmp_path: Path) -> None:
    data = json.loads(example_file.read_text())
    data["orders"][0]["lines"][0]["quantity"] = -1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    result = runner.invoke(app, ["allocate", str(bad)])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "orders.0.lines.0.quantity" in result.output


def test_missing_fx_rate_exits_2_and_names_the_currency(example_file: Path, tmp_path: Path) -> None:
    data = json.loads(example_file.read_text())
    data["orders"][0]["currency"] = "JPY"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    result = runner.invoke(app, ["allocate", str(bad)])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "JPY" in result.output


def test_unreadable_or_malformed_files_exit_2(tmp_path: Path) -> None:
    assert runner.invoke(app, ["allocate", str(tmp_path / "missing.json")]).exit_code == EXIT_BAD_INPUT
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = runner.invoke(app, ["allocate", str(broken)])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "not valid JSON" in result.output


def test_unknown_solver_option_exits_2(example_file: Path) -> None:
    result = runner.invoke(app, ["allocate", str(example_file), "--solver", "magic"])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "solver" in result.output


@pytest.mark.parametrize("which", ["problem", "result"])
def test_schema_prints_a_json_schema_with_a_version(which: str) -> None:
    result = runner.invoke(app, ["schema", which])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["properties"]["schema_version"]["const"] == "1"


def test_schema_of_something_unknown_exits_2() -> None:
    assert runner.invoke(app, ["schema", "widget"]).exit_code == EXIT_BAD_INPUT
