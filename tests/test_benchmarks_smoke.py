"""The benchmark harness end to end on the ci profile's smallest instance: every file, row, bound and chart.

Tiny deadlines keep it well under a minute; the full profiles are run by hand (see benchmarks/README.md).
"""

from __future__ import annotations

import csv
import json
import pickle
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from benchmarks.harness import (
    OUTPUT_FILES,
    BenchRun,
    CorrectnessError,
    measure,
    render,
    run_profile,
    with_best_bound,
)
from benchmarks.instances import PROFILES, Instance
from benchmarks.isolated import RunOutcome, run_isolated
from routing_engine.cli import EXIT_BAD_INPUT, app
from solvers import Solution, evaluate, solve

CHARTS = ("cost_vs_bound.png", "runtime.png", "cost_breakdown.png")


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> BenchRun:
    """The ci profile's smallest instance, every solver at a 5 s deadline, into a fresh folder."""
    out = tmp_path_factory.mktemp("bench")
    smallest = PROFILES["ci"].smallest
    return run_profile("ci", out, time_limit_s=5.0, instances=[smallest.name], show_progress=False)


@pytest.fixture(scope="module")
def csv_rows(bench_run: BenchRun) -> list[dict[str, str]]:
    with (bench_run.out / "results.csv").open() as fh:
        return list(csv.DictReader(fh))


def test_harness_writes_csv_json_markdown_and_the_three_charts(bench_run: BenchRun) -> None:
    for name in (*OUTPUT_FILES, *CHARTS):
        path = bench_run.out / name
        assert path.is_file(), name
        assert path.stat().st_size > 0, name
    markdown = (bench_run.out / "results.md").read_text()
    assert "| instance | solver |" in markdown
    for chart in CHARTS:
        assert f"({chart})" in markdown


def test_csv_has_one_row_per_instance_and_solver(bench_run: BenchRun, csv_rows: list[dict[str, str]]) -> None:
    profile = bench_run.profile
    assert len(csv_rows) == len(profile.instances) * len(profile.solvers)
    assert {(r["instance"], r["solver"]) for r in csv_rows} == {
        (i.name, s) for i in profile.instances for s in profile.solvers
    }


def test_every_run_succeeds_in_its_own_process_with_runtime_and_peak_memory(csv_rows: list[dict[str, str]]) -> None:
    for r in csv_rows:
        assert r["status"] in ("optimal", "feasible", "heuristic"), (r["solver"], r["status"], r["error"])
        assert float(r["runtime_s"]) >= 0.0
        assert float(r["peak_mem_mb"]) > 10.0  # a Python process with numpy loaded


def test_every_solver_costs_at_least_the_best_bound_of_its_instance(csv_rows: list[dict[str, str]]) -> None:
    for r in csv_rows:
        assert r["best_bound"], "the MIP proves a bound on the smallest ci instance"
        assert float(r["cost"]) >= float(r["best_bound"]) - 1e-6, r["solver"]
        assert float(r["vs_best_bound"]) >= -1e-9


def test_the_exact_mip_reaches_the_best_bound_on_the_smallest_instance(csv_rows: list[dict[str, str]]) -> None:
    mip = next(r for r in csv_rows if r["solver"] == "mip")
    assert mip["status"] == "optimal"
    assert mip["bound_kind"] == "proven"
    assert float(mip["vs_best_bound"]) <= 1e-4


def test_the_large_methods_bound_is_re_certified_by_the_harness(csv_rows: list[dict[str, str]]) -> None:
    large = next(r for r in csv_rows if r["solver"] == "large")
    assert large["bound_kind"] == "certified"
    assert float(large["bound"]) <= float(large["best_bound"]) + 1e-6


def test_charts_are_valid_png_images(bench_run: BenchRun) -> None:
    for name in CHARTS:
        with Image.open(bench_run.out / name) as image:
            image.verify()
            assert image.format == "PNG"
            width, height = image.size
        assert width >= 600
        assert height >= 200
        with Image.open(bench_run.out / name) as image:
            pixels = image.convert("RGB")  # decodes every pixel, not only the header and checksums
        colours = pixels.getcolors(maxcolors=width * height)
        assert colours is not None
        assert len(colours) > 8, f"{name} looks blank"  # axes, text and data, not an empty canvas


def test_json_records_machine_settings_seeds_and_package_versions(bench_run: BenchRun) -> None:
    doc = json.loads((bench_run.out / "results.json").read_text())
    assert doc["profile"] == "ci"
    assert doc["machine"]["cpus_usable"] >= 1
    assert doc["settings"]["solvers"] == list(bench_run.profile.solvers)
    assert doc["settings"]["time_limit_override_s"] == 5.0
    assert [i["seed"] for i in doc["instances"]] == [i.seed for i in bench_run.profile.instances]
    assert doc["packages"]["numpy"]
    assert isinstance(doc["source_changed_during_run"], bool)
    assert len(doc["rows"]) == len(bench_run.rows)


def test_render_redraws_the_report_from_results_json_without_changing_the_numbers(
    bench_run: BenchRun, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(bench_run.out, copy)
    (copy / "results.md").unlink()
    (copy / "runtime.png").unlink()
    assert render(copy) == [*OUTPUT_FILES, *CHARTS]
    assert (copy / "results.csv").read_text() == (bench_run.out / "results.csv").read_text()
    assert (copy / "results.json").read_text() == (bench_run.out / "results.json").read_text()
    assert (copy / "results.md").read_text() == (bench_run.out / "results.md").read_text()
    with Image.open(copy / "runtime.png") as redrawn, Image.open(bench_run.out / "runtime.png") as first:
        assert redrawn.size == first.size
        assert redrawn.convert("RGB").getcolors(maxcolors=redrawn.width * redrawn.height) is not None


# ----------------------------------------------------------------------- wrong answers stop the harness


@pytest.fixture(scope="module")
def tiny() -> tuple[Instance, Solution]:
    inst = Instance(orders=12, nodes=3, skus=6, scarcity="tight", cross_border_share=0.0, seed=5, time_limit_s=5.0)
    return inst, solve(inst.build().cp, "shopify-default")


def test_an_infeasible_allocation_aborts_the_run(tiny: tuple[Instance, Solution]) -> None:
    inst, sol = tiny
    compiled = inst.build()
    x = sol.x.copy()
    x[0] = compiled.cp.line_qty[compiled.cp.arc_line[0]] + 1  # ships more than the line ordered
    bad = replace(sol, x=x, objective=evaluate(compiled.cp, x).total)
    with pytest.raises(CorrectnessError, match="infeasible"):
        measure(inst, "shopify-default", compiled, RunOutcome("ok", bad, 0.0, 100.0))


def test_a_misreported_objective_aborts_the_run(tiny: tuple[Instance, Solution]) -> None:
    inst, sol = tiny
    with pytest.raises(CorrectnessError, match="evaluator prices"):
        measure(inst, "nearest", inst.build(), RunOutcome("ok", replace(sol, objective=sol.objective - 1.0), 0.0, 1.0))


def test_a_bound_above_another_solvers_feasible_cost_aborts_the_run(tiny: tuple[Instance, Solution]) -> None:
    inst, sol = tiny
    compiled = inst.build()
    honest = measure(inst, "shopify-default", compiled, RunOutcome("ok", sol, 0.0, 1.0))
    claims = measure(inst, "mip", compiled, RunOutcome("ok", replace(sol, bound=sol.objective), 0.0, 1.0))
    too_high = replace(claims, bound=(honest.cost or 0.0) + 1.0)
    with pytest.raises(CorrectnessError, match="above shopify-default's feasible cost"):
        with_best_bound(inst, [honest, too_high])


def test_a_run_past_its_hard_timeout_is_killed_and_reported(tiny: tuple[Instance, Solution], tmp_path: Path) -> None:
    inst, _ = tiny
    problem_file = tmp_path / "problem.pkl"
    problem_file.write_bytes(pickle.dumps(inst.build().cp))
    outcome = run_isolated(problem_file, "mip", time_limit_s=5.0, seed=0, backend="highs", hard_timeout_s=0.01)
    assert outcome.status == "timeout"
    assert outcome.solution is None


def test_a_crashed_run_is_recorded_without_numbers_and_does_not_abort(tiny: tuple[Instance, Solution]) -> None:
    inst, _ = tiny
    row = measure(inst, "mip", inst.build(), RunOutcome("crashed", None, 3.0, None, "process exited with code -9"))
    assert not row.ok
    assert row.cost is None
    assert with_best_bound(inst, [row]) == [row]


def test_bench_command_rejects_an_unknown_profile_with_exit_code_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bench", "--profile", "nope", "--out", str(tmp_path)])
    assert result.exit_code == EXIT_BAD_INPUT
    assert not any(tmp_path.iterdir())
