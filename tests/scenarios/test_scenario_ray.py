"""Scenario runs on Ray: one task per run through the same `run_one`, the same outcomes as the local runner.

One local Ray instance (2 CPUs, no dashboard) for the whole module: starting Ray takes seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
import yaml
from typer.testing import CliRunner

from routing_engine.cli import app
from routing_engine.model import Problem
from routing_engine.scenarios import RunOutcome, parse_scenario, run_all

VARIANTS = [
    {"name": "ny-closed-a-week", "changes": [{"kind": "close_node", "node": "DC-NY", "days": 7}]},
    {"name": "uk-de-minimis-zero", "changes": [{"kind": "duty", "country": "GB", "de_minimis": 0}]},
]
SWEEPS = [{"name": "split", "change": {"kind": "policy"}, "field": "split_cost", "values": [0, 8]}]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    # The smallest object store Ray takes: outcomes are a few kB, and the machine is shared.
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=80 * 1024**2)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture
def tiny_doc(tmp_path: Path, tiny_problem: Problem) -> dict[str, Any]:
    (tmp_path / "tiny.json").write_text(tiny_problem.model_dump_json())
    return {"name": "tiny", "base": {"problem": "tiny.json"}, "time_limit_s": 5, "variants": VARIANTS, "sweeps": SWEEPS}


def comparable(outcome: RunOutcome) -> dict[str, Any]:
    """Everything but the wall-clock time."""
    return outcome.model_dump(exclude={"runtime_s"})


def test_ray_runs_give_the_same_outcomes_in_the_same_order_as_the_local_runner(
    local_ray: None, tiny_doc: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = parse_scenario(tiny_doc, tmp_path).runs
    local = run_all(specs, workers=1)
    # Count what is submitted to Ray as tasks: one per run, or the runs did not go through Ray.
    submitted: list[str] = []
    real_remote = ray.remote

    class CountingTask:
        def __init__(self, fn: Any) -> None:
            self.task = real_remote(fn)

        def remote(self, spec: Any) -> Any:
            submitted.append(spec.name)
            return self.task.remote(spec)

    monkeypatch.setattr(ray, "remote", CountingTask)
    finished: list[str] = []
    on_ray = run_all(specs, on_done=lambda o: finished.append(o.name), ray_address="auto")
    assert sorted(submitted) == sorted(o.name for o in local)
    assert [o.name for o in on_ray] == ["baseline", "ny-closed-a-week", "uk-de-minimis-zero", "split=0", "split=8"]
    assert [comparable(o) for o in on_ray] == [comparable(o) for o in local]
    assert sorted(finished) == sorted(o.name for o in local)
    assert ray.is_initialized(), "a Ray instance the caller started stays up"


def test_scenario_run_with_ray_prints_the_same_comparison_as_the_local_run(
    local_ray: None, tiny_doc: dict[str, Any], tmp_path: Path
) -> None:
    scenario_file = tmp_path / "tiny.yaml"
    scenario_file.write_text(yaml.safe_dump(tiny_doc))
    runner = CliRunner()
    command = ["scenario", "run", str(scenario_file)]
    local = runner.invoke(app, [*command, "--workers", "1"], env={"COLUMNS": "200"})
    on_ray = runner.invoke(app, [*command, "--ray", "auto"], env={"COLUMNS": "200"})
    assert local.exit_code == 0, local.output
    assert on_ray.exit_code == 0, on_ray.output
    assert "uk-de-minimis-zero" in on_ray.output
    assert on_ray.output == local.output
