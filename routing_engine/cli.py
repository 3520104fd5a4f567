"""The `routing-engine` command line: allocate a problem file, write an example, print the schema.

Bad input exits with code 2 and a message naming the field or ID at fault; nothing is written then.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table

from routing_engine.allocate import AllocateOptions, allocate
from routing_engine.errors import ProblemError
from routing_engine.model import AllocationResult, Problem

app = typer.Typer(help="Order routing and allocation engine.", no_args_is_help=True, add_completion=False)
err = Console(stderr=True)
EXIT_BAD_INPUT = 2


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(EXIT_BAD_INPUT)


def _validation_message(exc: ValidationError) -> str:
    lines = []
    for e in exc.errors()[:10]:
        loc = ".".join(str(p) for p in e["loc"]) or "(root)"
        lines.append(f"{loc}: {e['msg']}")
    return "invalid problem:\n  " + "\n  ".join(lines)


def load_problem(path: Path) -> Problem:
    """Read and validate a problem file; raises typer.Exit(2) with a clear message on bad input."""
    try:
        data: Any = json.loads(path.read_text())
    except OSError as exc:
        raise _fail(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise _fail(f"{path} is not valid JSON: {exc}") from None
    try:
        return Problem.model_validate(data)
    except ValidationError as exc:
        raise _fail(_validation_message(exc)) from None


def summary_table(result: AllocationResult) -> Table:
    """Cost by part and the headline KPIs of one allocation."""
    table = Table(title=f"Allocation ({result.solver.solver}, {result.solver.status})", show_header=True)
    table.add_column("measure")
    table.add_column("value", justify="right")
    cur = result.currency
    for part in ("shipping", "handling", "split", "backorder", "duties", "unfilled", "total"):
        table.add_row(f"cost: {part}", f"{getattr(result.cost, part):,.2f} {cur}")
    k = result.kpis
    table.add_row("orders", f"{k.orders:,}")
    table.add_row("packages / order", f"{k.packages_per_order:.3f}")
    table.add_row("fill rate (now + backordered)", f"{k.fill_rate:.1%}")
    table.add_row("fill rate now", f"{k.fill_rate_now:.1%}")
    table.add_row("units backordered / unfilled", f"{k.units_backordered:,} / {k.units_unfilled:,}")
    table.add_row("mean distance per unit", f"{k.mean_distance_km:,.0f} km")
    table.add_row("cross-border packages", f"{k.cross_border_packages:,}")
    s = result.solver
    table.add_row("bound", "-" if s.bound is None else f"{s.bound:,.2f} {cur}")
    table.add_row("gap", "-" if s.gap is None else f"{s.gap:.4%}")
    table.add_row("solve time", f"{s.runtime_s:.2f} s")
    return table


@app.command("allocate")
def allocate_cmd(
    problem_file: Annotated[Path, typer.Argument(help="Problem JSON file.")],
    solver: Annotated[str, typer.Option(help="auto, mip, large, single, shopify-default, nearest or ranked.")] = "auto",
    time_limit: Annotated[float, typer.Option("--time-limit", help="Solver deadline in seconds.")] = 60.0,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same result).")] = 0,
    backend: Annotated[str, typer.Option(help="MIP backend: highs, scip or cpsat.")] = "highs",
    out: Annotated[Path | None, typer.Option(help="Write the result JSON here.")] = None,
) -> None:
    """Allocate every open order of PROBLEM_FILE and print a summary."""
    problem = load_problem(problem_file)
    try:
        options = AllocateOptions.model_validate(
            {"solver": solver, "time_limit_s": time_limit, "seed": seed, "backend": backend}
        )
    except ValidationError as exc:
        raise _fail(_validation_message(exc).replace("invalid problem", "invalid option")) from None
    try:
        result = allocate(problem, options)
    except ProblemError as exc:
        raise _fail(str(exc)) from None
    Console().print(summary_table(result))
    if out is not None:
        out.write_text(result.model_dump_json(indent=2))


@app.command("verify")
def verify_cmd(
    problem_file: Annotated[Path, typer.Argument(help="Problem JSON file.")],
    result_file: Annotated[Path, typer.Argument(help="Result JSON file to check.")],
) -> None:
    """Check a result independently: feasibility, cost, and the certified lower bound (exit 1 if not)."""
    from routing_engine.verify import verify

    problem = load_problem(problem_file)
    try:
        result = AllocationResult.model_validate_json(result_file.read_text())
    except OSError as exc:
        raise _fail(f"cannot read {result_file}: {exc.strerror}") from None
    except ValidationError as exc:
        raise _fail(_validation_message(exc).replace("invalid problem", "invalid result")) from None
    try:
        report = verify(problem, result)
    except ProblemError as exc:
        raise _fail(str(exc)) from None
    table = Table(title="Verification", show_header=True)
    table.add_column("check")
    table.add_column("value", justify="right")
    table.add_row("cost (recomputed)", f"{report.cost:,.2f}")
    table.add_row("cost (reported)", f"{report.reported_cost:,.2f}")
    table.add_row("bound (recomputed)", "-" if report.bound is None else f"{report.bound:,.2f}")
    table.add_row("bound (reported)", "-" if report.reported_bound is None else f"{report.reported_bound:,.2f}")
    table.add_row("certified gap", "-" if report.gap is None else f"{report.gap:.4%}")
    table.add_row("verdict", "ok" if report.ok else f"{len(report.problems)} problem(s)")
    Console().print(table)
    for problem_text in report.problems[:50]:
        err.print(f"[red]-[/] {problem_text}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def example(
    orders: Annotated[int, typer.Option(min=0, help="Open orders (0: a network file for the service).")] = 200,
    nodes: Annotated[int, typer.Option(min=1, max=100, help="Stock nodes.")] = 8,
    skus: Annotated[int, typer.Option(min=1, help="SKUs.")] = 50,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    cross_border: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of foreign orders.")] = 0.0,
    scarcity: Annotated[str, typer.Option(help="abundant, tight or short.")] = "tight",
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
) -> None:
    """Write a realistic example problem (real geography, seeded)."""
    from routing_engine.examples import example_problem

    if scarcity not in ("abundant", "tight", "short"):
        raise _fail(f"--scarcity: {scarcity!r} is not one of abundant, tight, short")
    level: Literal["abundant", "tight", "short"] = scarcity  # type: ignore[assignment]
    problem = example_problem(orders, nodes, skus, seed, scarcity=level, cross_border_share=cross_border)
    text = problem.model_dump_json(indent=1)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text)


@app.command()
def schema(which: Annotated[str, typer.Argument(help="problem or result")]) -> None:
    """Print the JSON Schema of a problem or a result."""
    models: dict[str, type[BaseModel]] = {"problem": Problem, "result": AllocationResult}
    if which not in models:
        raise _fail(f"schema: {which!r} is not one of problem, result")
    typer.echo(json.dumps(models[which].model_json_schema(), indent=2))


@app.command()
def serve(
    network: Annotated[Path | None, typer.Option(help="Network JSON (default: $ROUTING_ENGINE_NETWORK).")] = None,
    db: Annotated[str | None, typer.Option(help="sqlite:///FILE or postgresql+psycopg://... DSN.")] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (PostgreSQL for several hosts).")] = 1,
) -> None:
    """Run the allocation service (HTTP API over the live stock ledger) under uvicorn."""
    import os

    from routing_engine.api import serving

    # Workers are separate processes: they read their settings from the environment.
    if network is not None:
        os.environ["ROUTING_ENGINE_NETWORK"] = str(network.resolve())
    if db is not None:
        os.environ["ROUTING_ENGINE_DATABASE_URL"] = db
    serving.run(host=host, port=port, workers=workers)


@app.command()
def bench(
    profile: Annotated[str, typer.Option(help="Benchmark profile (benchmarks/README.md).")] = "ci",
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", help="One deadline for every instance (default: the profile's).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Results folder (default benchmarks/results/PROFILE).")] = None,
) -> None:
    """Run the benchmark harness of a source checkout (benchmarks/) and write its results."""
    import sys

    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "benchmarks" / "harness.py").is_file() and str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))  # benchmarks/ ships with the source, not with the package
    try:
        from benchmarks.harness import PROFILES, run_and_report
    except ModuleNotFoundError:
        raise _fail("bench needs a source checkout of routing-engine (its benchmarks/ folder)") from None
    if profile not in PROFILES:
        raise _fail(f"--profile: {profile!r} is not one of {', '.join(sorted(PROFILES))}")
    code = run_and_report(profile, out, time_limit_s=time_limit)
    if code:
        raise typer.Exit(code)


# ---------------------------------------------------------------------------------- what-if scenarios

scenario_app = typer.Typer(help="What-if scenarios: run a scenario file, compare variants with the baseline.")
app.add_typer(scenario_app, name="scenario")


@scenario_app.command("run")
def scenario_run(
    scenario_file: Annotated[Path, typer.Argument(help="Scenario YAML file (see scenarios/).")],
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", help="Solver deadline per run in seconds (default: the file's).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for results.json and report.html.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Runs in parallel (separate processes; 1: in this one).")] = 2,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray", metavar="auto|ADDRESS", help="Run each allocation as a Ray task (auto: local or RAY_ADDRESS)."
        ),
    ] = None,
) -> None:
    """Run the baseline, every variant and every sweep point of SCENARIO_FILE; print and write the comparison."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from routing_engine.scenarios import load_scenario, run_all
    from routing_engine.scenarios.report import Comparison, tables, write_report

    if time_limit is not None and not 0 < time_limit <= 86_400:
        raise _fail(f"--time-limit: {time_limit} is not in (0, 86400]")
    try:
        scenario = load_scenario(scenario_file, time_limit)
    except ProblemError as exc:
        raise _fail(str(exc)) from None
    console = Console()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"scenario {scenario.file.name}", total=len(scenario.runs))
        try:
            outcomes = run_all(scenario.runs, workers, lambda _: progress.advance(task), ray_address=ray)
        except ProblemError as exc:
            raise _fail(str(exc)) from None
    comparison = Comparison.of(scenario.file, outcomes)
    for table in tables(comparison, console.width):
        console.print(table)
    if out is not None:
        results, report = write_report(comparison, out)
        console.print(f"wrote {results} and {report}")


# ------------------------------------------------------------------------------------------ API keys

keys_app = typer.Typer(help="API keys of the allocation service: create, list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
DbOption = Annotated[str | None, typer.Option("--db", help="Ledger DSN (default: $ROUTING_ENGINE_DATABASE_URL).")]


def _keys_engine(db: str | None) -> Any:
    """The ledger's engine, migrated (so keys can be made before the first `serve`)."""
    from routing_engine.api.settings import Settings
    from routing_engine.ledger import connect, upgrade

    engine = connect(db or Settings().database_url)
    upgrade(engine)
    return engine


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="allocator, inventory, planner or admin.")],
    name: Annotated[str | None, typer.Option(help="Who or what the key is for.")] = None,
    db: DbOption = None,
) -> None:
    """Create a key and print its token once: only a salted hash of it is stored."""
    from routing_engine.ledger import keys

    if role not in keys.ROLES:
        raise _fail(f"--role: {role!r} is not one of {', '.join(keys.ROLES)}")
    engine = _keys_engine(db)
    try:
        key, token = keys.create(engine, role, name=name)
    finally:
        engine.dispose()
    err.print(f"created {key.id} ({key.role}); the token below is shown only now", highlight=False)
    print(token)


@keys_app.command("list")
def keys_list(db: DbOption = None) -> None:
    """Every key with its role, creation and revocation time (never a token)."""
    from routing_engine.ledger import keys

    engine = _keys_engine(db)
    try:
        listed = keys.list_keys(engine)
    finally:
        engine.dispose()
    table = Table("id", "role", "name", "created", "revoked")
    for key in listed:
        revoked = key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else ""
        table.add_row(key.id, key.role, key.name or "", key.created_at.isoformat(timespec="seconds"), revoked)
    Console(width=120).print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (key_...).")], db: DbOption = None) -> None:
    """Revoke a key: requests with it get a 401 from now on."""
    from routing_engine.ledger import keys
    from routing_engine.ledger.errors import NotFound

    engine = _keys_engine(db)
    try:
        key = keys.revoke(engine, key_id)
    except NotFound as exc:
        raise _fail(str(exc)) from None
    finally:
        engine.dispose()
    err.print(f"revoked {key.id} ({key.role})", highlight=False)


if __name__ == "__main__":
    app()
