"""Compare the exact MIP with every rule-chain baseline on seeded instances from real geography.

Writes results.csv, results.json and a markdown table to benchmarks/results/<name>/; see README.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from routing_engine.compile import compile_problem
from routing_engine.decode import decode
from routing_engine.examples import Scarcity, example_problem
from solvers import best_baseline, solve
from solvers.baselines import BASELINES
from solvers.mip import solve_mip
from solvers.solution import violations

RESULTS = Path(__file__).parent / "results"


@dataclass(frozen=True)
class Instance:
    name: str
    orders: int
    nodes: int
    skus: int
    seed: int
    scarcity: Scarcity
    cross_border_share: float


@dataclass(frozen=True)
class Row:
    instance: str
    orders: int
    nodes: int
    solver: str
    status: str
    cost: float
    bound: float | None
    gap: float | None
    vs_mip: float | None
    packages_per_order: float
    fill_rate: float
    mean_distance_km: float
    duties: float
    runtime_s: float


PROFILES: dict[str, list[Instance]] = {
    "smoke": [
        Instance("us-200x8-tight", 200, 8, 60, 1, "tight", 0.0),
        Instance("xb-200x8-tight", 200, 8, 60, 1, "tight", 0.3),
    ],
    "provable": [
        Instance(f"us-{o}x{n}-{s}", o, n, 400, seed, s, 0.0)
        for o, n in ((500, 10), (1000, 20), (2000, 20))
        for s in ("abundant", "tight")
        for seed in (1,)
    ]
    + [Instance("xb-1000x20-tight", 1000, 20, 400, 1, "tight", 0.3)],
}


def run(profile: str, time_limit_s: float, backend: str) -> list[Row]:
    rows: list[Row] = []
    instances = PROFILES[profile]
    with Progress(console=Console(stderr=True)) as progress:
        task = progress.add_task(f"{profile}", total=len(instances) * (1 + len(BASELINES)))
        for inst in instances:
            progress.update(task, description=f"{inst.name}: compile")
            problem = example_problem(
                inst.orders,
                inst.nodes,
                inst.skus,
                inst.seed,
                scarcity=inst.scarcity,
                cross_border_share=inst.cross_border_share,
            )
            compiled = compile_problem(problem)
            cp = compiled.cp
            sols = []
            for name in BASELINES:
                progress.update(task, description=f"{inst.name}: {name}")
                sols.append(solve(cp, name))
                progress.advance(task)
            progress.update(task, description=f"{inst.name}: mip ({backend}, {time_limit_s:.0f} s)")
            start = time.perf_counter()
            hint = best_baseline(cp)
            mip = solve_mip(cp, time_limit_s=time_limit_s, backend=backend, hint=hint)
            mip = replace(mip, runtime_s=time.perf_counter() - start)  # the warm start counts too
            sols.append(mip)
            progress.advance(task)
            for sol in sols:
                if problems := violations(cp, sol.x):
                    raise AssertionError(f"{inst.name} {sol.solver}: infeasible: {problems}")
                result = decode(compiled, sol)
                rows.append(
                    Row(
                        instance=inst.name,
                        orders=inst.orders,
                        nodes=inst.nodes,
                        solver=sol.solver,
                        status=sol.status,
                        cost=round(result.cost.total, 2),
                        bound=None if sol.bound is None else round(sol.bound, 2),
                        gap=sol.gap,
                        vs_mip=result.cost.total / mip.objective - 1.0,
                        packages_per_order=result.kpis.packages_per_order,
                        fill_rate=result.kpis.fill_rate,
                        mean_distance_km=result.kpis.mean_distance_km,
                        duties=result.kpis.duties,
                        runtime_s=sol.runtime_s,
                    )
                )
    return rows


def markdown(rows: list[Row]) -> str:
    head = (
        "| instance | solver | status | cost | vs MIP | gap | pkgs/order | fill rate | mean km | runtime s |\n"
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    body = "".join(
        f"| {r.instance} | {r.solver} | {r.status} | {r.cost:,.2f} | {r.vs_mip:+.1%} | "
        f"{'-' if r.gap is None else f'{r.gap:.3%}'} | {r.packages_per_order:.3f} | {r.fill_rate:.1%} | "
        f"{r.mean_distance_km:,.0f} | {r.runtime_s:.2f} |\n"
        for r in rows
    )
    return head + body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="smoke")
    parser.add_argument("--time-limit", type=float, default=60.0, help="MIP deadline per instance, seconds")
    parser.add_argument("--backend", default="highs", choices=("highs", "scip", "cpsat"))
    parser.add_argument("--out", type=Path, default=None, help="results folder (default results/<profile>)")
    args = parser.parse_args()
    rows = run(args.profile, args.time_limit, args.backend)
    out = args.out or RESULTS / args.profile
    out.mkdir(parents=True, exist_ok=True)
    with (out / "results.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(asdict(rows[0])))
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)
    meta = {
        "profile": args.profile,
        "time_limit_s": args.time_limit,
        "backend": args.backend,
        "machine": platform.platform(),
        "python": platform.python_version(),
    }
    (out / "results.json").write_text(json.dumps({"meta": meta, "rows": [asdict(r) for r in rows]}, indent=1))
    table = markdown(rows)
    (out / "results.md").write_text(f"# {args.profile}\n\n{json.dumps(meta)}\n\n{table}")
    Console().print(table)


if __name__ == "__main__":
    main()
