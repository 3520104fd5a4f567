"""The benchmark harness: every solver on every instance of a profile, each run isolated, every answer checked.

Writes results.csv, results.json, results.md and PNG charts to benchmarks/results/<profile>/; see README.md.
"""

from __future__ import annotations

import argparse
import json
import pickle
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from benchmarks.charts import write_charts
from benchmarks.instances import PROFILES, TIMED_SOLVERS, Instance, Profile
from benchmarks.isolated import RunOutcome, run_isolated
from benchmarks.report import (
    TIMING_COLUMNS,
    Row,
    SolverSummary,
    first_line,
    git_commit,
    machine_info,
    markdown,
    package_versions,
    source_digest,
    summarise,
    uncommitted_changes,
    write_csv,
    write_json,
)
from routing_engine.compile import Compiled
from routing_engine.decode import decode
from routing_engine.verify import described
from solvers import evaluate, violations
from solvers.certificate import lagrangian_bound

RESULTS = Path(__file__).parent / "results"
REPO = Path(__file__).resolve().parent.parent
OUTPUT_FILES = ("results.csv", "results.json", "results.md")
#: A cost may sit this far below a bound (absolute + relative to the cost) before the bound is called wrong.
BOUND_TOLERANCE = (1e-6, 1e-9)


def hard_timeout_s(time_limit_s: float) -> float:
    """How long a run may take before it is killed: twice its deadline plus two minutes for start-up."""
    return 2.0 * time_limit_s + 120.0


class CorrectnessError(AssertionError):
    """A solver returned an infeasible allocation, misreported its cost, or claimed a bound above a
    feasible cost. The run stops: its numbers would be meaningless."""

    def __init__(self, instance: Instance, solver: str, problems: list[str]) -> None:
        self.instance, self.solver, self.problems = instance, solver, problems
        super().__init__(f"{instance.name} / {solver}: " + "; ".join(problems))


@dataclass(frozen=True)
class BenchRun:
    """What a harness run produced, and where."""

    profile: Profile
    rows: list[Row]
    summary: list[SolverSummary]
    out: Path
    files: list[str]

    @property
    def failed(self) -> list[Row]:
        return [r for r in self.rows if not r.ok]


def _r(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def measure(inst: Instance, solver: str, compiled: Compiled, outcome: RunOutcome) -> Row:
    """The row of one run: checked for feasibility and cost, then decoded for its KPIs (best bound unset)."""
    base: dict[str, Any] = {
        "instance": inst.name,
        "orders": inst.orders,
        "nodes": inst.nodes,
        "skus": inst.skus,
        "scarcity": inst.scarcity,
        "cross_border_share": inst.cross_border_share,
        "seed": inst.seed,
        "time_limit_s": inst.time_limit_s,
        "solver": solver,
    }
    sol = outcome.solution
    if outcome.status != "ok" or sol is None:
        return Row(
            **base,
            method="",
            status=outcome.status,
            runtime_s=_r(outcome.runtime_s, 4),
            peak_mem_mb=_r(outcome.peak_mem_mb, 1),
            error=outcome.error,
        )
    cp = compiled.cp
    if problems := violations(cp, sol.x):
        raise CorrectnessError(inst, solver, [f"infeasible: {described(compiled, p)}" for p in problems])
    cost = evaluate(cp, sol.x).total
    if abs(cost - sol.objective) > 1e-6 * max(1.0, abs(cost)):
        raise CorrectnessError(inst, solver, [f"reports objective {sol.objective!r}, the evaluator prices {cost!r}"])
    if sol.bound is not None and sol.bound > cost + BOUND_TOLERANCE[0] + BOUND_TOLERANCE[1] * abs(cost):
        raise CorrectnessError(inst, solver, [f"claims bound {sol.bound!r} above its own cost {cost!r}"])
    kind = ""
    if sol.bound is not None:
        kind = "proven"
        if sol.prices is not None:
            # The certificate must reproduce the bound when anyone re-solves every order at its prices.
            again = lagrangian_bound(cp, sol.prices)
            if again is None or again < sol.bound - BOUND_TOLERANCE[0] - BOUND_TOLERANCE[1] * abs(sol.bound):
                raise CorrectnessError(inst, solver, [f"certificate gives {again!r}, not the bound {sol.bound!r}"])
            kind = "certified"
    result = decode(compiled, sol)
    k, c = result.kpis, result.cost
    return Row(
        **base,
        method=sol.solver,
        status=sol.status,
        cost=_r(cost, 4),
        bound=_r(sol.bound, 4),
        bound_kind=kind,
        gap=_r(sol.gap, 8),
        runtime_s=_r(outcome.runtime_s, 4),
        solver_runtime_s=_r(sol.runtime_s, 4),
        peak_mem_mb=_r(outcome.peak_mem_mb, 1),
        packages_per_order=_r(k.packages_per_order, 6),
        fill_rate=_r(k.fill_rate, 6),
        fill_rate_now=_r(k.fill_rate_now, 6),
        mean_distance_km=_r(k.mean_distance_km, 3),
        split_orders=k.split_orders,
        units_unfilled=k.units_unfilled,
        cost_shipping=_r(c.shipping, 4),
        cost_handling=_r(c.handling, 4),
        cost_split=_r(c.split, 4),
        cost_backorder=_r(c.backorder, 4),
        cost_duties=_r(c.duties, 4),
        cost_unfilled=_r(c.unfilled, 4),
    )


def with_best_bound(inst: Instance, rows: list[Row]) -> list[Row]:
    """Every row of one instance compared with the best bound any solver proved or certified on it.

    A feasible cost below that bound means the bound is wrong: that stops the run.
    """
    bounded = [r for r in rows if r.ok and r.bound is not None]
    if not bounded:
        return rows
    best = max(bounded, key=lambda r: r.bound or 0.0)
    bound = best.bound
    assert bound is not None
    out = []
    for r in rows:
        if r.ok and r.cost is not None and r.cost < bound - BOUND_TOLERANCE[0] - BOUND_TOLERANCE[1] * abs(r.cost):
            problem = f"bound {bound!r} is above {r.solver}'s feasible cost {r.cost!r}"
            raise CorrectnessError(inst, best.solver, [problem])
        vs = r.cost / bound - 1.0 if r.ok and r.cost is not None and bound > 0 else None
        out.append(replace(r, best_bound=bound, best_bound_by=best.solver, vs_best_bound=_r(vs, 8)))
    return out


def _progress(enabled: bool) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True, log_path=False),
        disable=not enabled,
    )


def _log_line(row: Row) -> str:
    if not row.ok:
        return f"[red]{row.instance} {row.solver}: {row.status}[/] {first_line(row.error)}"
    gap = "" if row.gap is None else f", gap {100 * row.gap:.3f} %"
    return (
        f"{row.instance} {row.solver} ({row.method}): {row.cost:,.2f} {row.status}{gap}, "
        f"{row.runtime_s:.2f} s, {row.peak_mem_mb or 0:,.0f} MB"
    )


def resolve_profile(
    profile: str | Profile, *, time_limit_s: float | None = None, instances: Sequence[str] | None = None
) -> Profile:
    """The named profile, restricted to `instances` and with one deadline `time_limit_s` if given."""
    if isinstance(profile, str):
        if profile not in PROFILES:
            raise KeyError(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)}")
        profile = PROFILES[profile]
    if instances:
        profile = profile.select(instances)
    if time_limit_s is not None:
        profile = profile.with_time_limit(time_limit_s)
    return profile


def run_profile(
    profile: str | Profile,
    out: Path | None = None,
    *,
    time_limit_s: float | None = None,
    instances: Sequence[str] | None = None,
    backend: str = "highs",
    solver_seed: int = 0,
    show_progress: bool = True,
) -> BenchRun:
    """Run every solver of `profile` on each of its instances and write the results into `out`
    (default benchmarks/results/<profile>/). Raises `CorrectnessError` on a wrong answer or bound, after
    writing failure.json there."""
    prof = resolve_profile(profile, time_limit_s=time_limit_s, instances=instances)
    out = out if out is not None else RESULTS / prof.name
    out.mkdir(parents=True, exist_ok=True)
    (out / "failure.json").unlink(missing_ok=True)
    started = time.perf_counter()
    commit, source_at_start = git_commit(REPO), source_digest(REPO)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="routing-bench-") as tmp, _progress(show_progress) as progress:
        task = progress.add_task(prof.name, total=len(prof.instances) * len(prof.solvers))
        for inst in prof.instances:
            progress.update(task, description=f"{inst.name}: generate + compile")
            compiled = inst.build()
            problem_file = Path(tmp) / "problem.pkl"
            with problem_file.open("wb") as fh:
                pickle.dump(compiled.cp, fh, protocol=pickle.HIGHEST_PROTOCOL)
            measured = []
            for solver in prof.solvers:
                deadline = f" (deadline {inst.time_limit_s:g} s)" if solver in TIMED_SOLVERS else ""
                progress.update(task, description=f"{inst.name}: {solver}{deadline}")
                outcome = run_isolated(
                    problem_file,
                    solver,
                    time_limit_s=inst.time_limit_s,
                    seed=solver_seed,
                    backend=backend,
                    hard_timeout_s=hard_timeout_s(inst.time_limit_s),
                )
                try:
                    row = measure(inst, solver, compiled, outcome)
                except CorrectnessError as exc:
                    _write_failure(out, exc, outcome)
                    raise
                measured.append(row)
                progress.log(_log_line(row))
                progress.advance(task)
            try:
                rows += with_best_bound(inst, measured)
            except CorrectnessError as exc:
                _write_failure(out, exc, None)
                raise
        progress.update(task, description=f"{prof.name}: writing results")
        summary = summarise(rows, prof.solvers)
        meta = _meta(prof, time_limit_s, backend, solver_seed, time.perf_counter() - started)
        meta |= {
            "git_commit": commit,
            "uncommitted_changes": uncommitted_changes(REPO),
            "source_digest": source_at_start,
            "source_changed_during_run": source_digest(REPO) != source_at_start,
        }
        files = write_results(rows, summary, meta, out)
    return BenchRun(prof, rows, summary, out, files)


def write_results(rows: list[Row], summary: list[SolverSummary], meta: dict[str, Any], out: Path) -> list[str]:
    """Write the CSV, JSON, markdown and charts of a run into `out`; returns the file names."""
    solvers = tuple(meta["settings"]["solvers"])
    charts = write_charts(rows, solvers, out, meta["profile"])
    write_csv(rows, out / "results.csv")
    write_json(rows, summary, meta, out / "results.json")
    (out / "results.md").write_text(markdown(rows, summary, meta, charts))
    return [*OUTPUT_FILES, *charts]


def render(out: Path) -> list[str]:
    """Rewrite the CSV, markdown and charts of the run in `out` from its results.json (no solving): for
    a change of the report or the charts."""
    doc = json.loads((out / "results.json").read_text())
    rows = [Row(**r) for r in doc.pop("rows")]
    doc.pop("summary")
    return write_results(rows, summarise(rows, tuple(doc["settings"]["solvers"])), doc, out)


def _meta(prof: Profile, override: float | None, backend: str, solver_seed: int, total_s: float) -> dict[str, Any]:
    return {
        "profile": prof.name,
        "description": prof.description,
        "settings": {
            "solvers": list(prof.solvers),
            "timed_solvers": sorted(TIMED_SOLVERS & set(prof.solvers)),
            "time_limit_override_s": override,
            "backend": backend,
            "solver_seed": solver_seed,
            "isolation": "each run in a fresh 'spawn' process; peak memory = that process's VmHWM",
            "hard_timeout": "2 x deadline + 120 s, then the run is killed",
            "bound_tolerance": {"absolute": BOUND_TOLERANCE[0], "relative": BOUND_TOLERANCE[1]},
            "timing_columns": list(TIMING_COLUMNS),
        },
        "instances": [{"name": i.name, **asdict(i)} for i in prof.instances],
        "machine": machine_info(),
        "packages": package_versions(),
        "total_runtime_s": round(total_s, 1),
    }


def _write_failure(out: Path, exc: CorrectnessError, outcome: RunOutcome | None) -> None:
    """Enough to reproduce a wrong answer: the instance recipe, solver, seed and what is wrong."""
    doc = {
        "instance": {"name": exc.instance.name, **asdict(exc.instance)},
        "solver": exc.solver,
        "problems": exc.problems,
        "method": outcome.solution.solver if outcome and outcome.solution else None,
        "solver_seed": outcome.solution.seed if outcome and outcome.solution else None,
    }
    (out / "failure.json").write_text(json.dumps(doc, indent=1) + "\n")


def summary_table(run: BenchRun) -> Table:
    """The by-solver summary of a run, for the terminal."""
    table = Table(title=f"Benchmark profile {run.profile.name} ({len(run.profile.instances)} instances)")
    for name, justify in (
        ("solver", "left"),
        ("method", "left"),
        ("proven optimal", "right"),
        ("failed", "right"),
        ("mean vs best bound", "right"),
        ("worst vs best bound", "right"),
        ("mean runtime s", "right"),
        ("max peak MB", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for s in run.summary:
        table.add_row(
            s.solver,
            s.methods or "-",
            f"{s.proven_optimal}/{s.runs}",
            str(s.failed),
            "-" if s.mean_vs_best_bound is None else f"{100 * s.mean_vs_best_bound:+.2f} %",
            "-" if s.worst_vs_best_bound is None else f"{100 * s.worst_vs_best_bound:+.2f} %",
            "-" if s.mean_runtime_s is None else f"{s.mean_runtime_s:.2f}",
            "-" if s.max_peak_mem_mb is None else f"{s.max_peak_mem_mb:,.0f}",
        )
    return table


def _exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so the run in progress is killed on the way out, not orphaned."""

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="ci")
    parser.add_argument("--time-limit", type=float, default=None, help="one deadline for every instance, s")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default results/<profile>)")
    parser.add_argument("--instance", action="append", default=None, help="run only this instance (repeatable)")
    parser.add_argument("--backend", default="highs", choices=("highs", "scip", "cpsat"), help="MIP backend")
    parser.add_argument("--seed", type=int, default=0, help="solver seed (instance seeds are in the profile)")
    parser.add_argument("--list", action="store_true", help="list the profile's instances and exit")
    parser.add_argument("--render", type=Path, metavar="DIR", help="only redraw DIR's report from its results.json")
    args = parser.parse_args(argv)
    _exit_on_sigterm()
    if args.render is not None:
        print(", ".join(render(args.render)))
        return 0
    if args.list:
        prof = PROFILES[args.profile]
        for inst in prof.instances:
            print(f"{inst.name}\tdeadline {inst.time_limit_s:g} s")
        return 0
    return run_and_report(
        args.profile,
        args.out,
        time_limit_s=args.time_limit,
        instances=args.instance,
        backend=args.backend,
        seed=args.seed,
    )


def run_and_report(
    profile: str,
    out: Path | None,
    *,
    time_limit_s: float | None = None,
    instances: Sequence[str] | None = None,
    backend: str = "highs",
    seed: int = 0,
) -> int:
    """Run a profile, print its summary, and return the exit code: 0 fine, 1 a run failed or was wrong."""
    err = Console(stderr=True)
    try:
        run = run_profile(
            profile, out, time_limit_s=time_limit_s, instances=instances, backend=backend, solver_seed=seed
        )
    except CorrectnessError as exc:
        err.print(f"[bold red]WRONG ANSWER[/] {exc}", highlight=False)
        return 1
    Console().print(summary_table(run))
    err.print(f"results: {run.out} ({', '.join(run.files)})", highlight=False)
    if run.failed:
        err.print(f"[bold red]{len(run.failed)} run(s) failed[/]: see results.md", highlight=False)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
