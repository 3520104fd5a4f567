"""Load benchmark of the allocation service on loopback: `routing-engine serve` (uvicorn) in a subprocess,
driven by an async httpx client in this process; throughput and p50/p99 latency of allocations.

Each run gets a fresh ledger (a SQLite file or its own PostgreSQL schema) seeded with a realistic network
from `routing_engine.examples`, stocked so that no request runs out. Every response is checked (201, the
holds equal what was decided, every unit decided or unfilled) and the ledger is checked afterwards.
Results go to benchmarks/results/load/ as JSON plus a markdown table of every result there.

    python -m benchmarks.load --db postgres --kind single --requests 20000 --concurrency 16 --duration 30
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import orjson
from sqlalchemy import func, select

from benchmarks.load_wrk import drive_wrk
from benchmarks.report import machine_info
from routing_engine.examples import example_problem
from routing_engine.ledger import check, connect, keys, schema, seed, upgrade
from routing_engine.ledger.db import reading
from routing_engine.ledger.testing import POSTGRES_DSN, postgres_schema
from routing_engine.model import Order, Problem, StockLevel

Backend = Literal["sqlite", "postgres"]
Kind = Literal["single", "batch"]
Driver = Literal["httpx", "wrk"]
RESULTS = Path(__file__).parent / "results" / "load"
#: Distinct orders the requests cycle through (each request gets fresh order ids).
ORDER_POOL = 400


@dataclass(frozen=True)
class LoadConfig:
    """One load run: which database and request kind, how many requests (or until `duration_s`), how many
    in flight at once (closed loop: each client sends its next request when the previous one is answered)."""

    db: Backend = "sqlite"
    kind: Kind = "single"
    driver: Driver = "httpx"
    requests: int = 2000
    concurrency: int = 16
    duration_s: float = 30.0
    warmup: int = 200
    workers: int = 2
    batch_size: int = 10
    nodes: int = 8
    skus: int = 50
    seed: int = 1
    postgres_dsn: str = POSTGRES_DSN
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or f"{self.db}-{self.kind}"


@dataclass
class Sample:
    latency_s: float
    status: int
    problem: str | None  # why the response is wrong, or None


@dataclass
class LoadResult:
    config: dict[str, Any]
    requests_ok: int
    errors: dict[str, int]
    wall_s: float
    throughput_rps: float
    orders_per_s: float
    latency_ms: dict[str, float]
    cpu_ms_per_request: dict[str, float]
    ledger_problems: list[str]
    held_allocations: int
    environment: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.ledger_problems


# ------------------------------------------------------------------------------------ workload


def network_and_bodies(config: LoadConfig) -> tuple[Problem, list[bytes]]:
    """The network (a seeded example without orders) and every request body, warm-up first.

    Orders come from the example's order pool with fresh ids per request; every stock row gets, on top of
    its own units, all the units of its SKU that the requests ask for, so no request can run out.
    """
    per_request = 1 if config.kind == "single" else config.batch_size
    # wrk may send up to one request per connection past its count before it stops.
    total = (config.warmup + config.requests + config.concurrency) * per_request
    problem = example_problem(
        orders=ORDER_POOL, nodes=config.nodes, skus=config.skus, seed=config.seed, scarcity="abundant"
    )
    pool = problem.orders
    orders: list[Order] = []
    for i in range(total):
        template = pool[i % len(pool)]
        orders.append(
            template.model_copy(
                update={
                    "id": f"{template.id}-r{i}",
                    "lines": [ln.model_copy(update={"id": f"{ln.id}-r{i}"}) for ln in template.lines],
                }
            )
        )
    asked: Counter[str] = Counter()
    for order in orders:
        for line in order.lines:
            asked[line.sku] += line.quantity
    stock = [StockLevel.model_validate(s.model_dump() | {"on_hand": s.on_hand + asked[s.sku]}) for s in problem.stock]
    network = problem.model_copy(update={"orders": [], "stock": stock})
    dumped = [o.model_dump(mode="json") for o in orders]
    if config.kind == "single":
        bodies = [orjson.dumps({"order": o}) for o in dumped]
    else:
        bodies = [orjson.dumps({"orders": dumped[i : i + per_request]}) for i in range(0, total, per_request)]
    return network, bodies


def check_response(status: int, content: bytes, expected_status: int = 201) -> str | None:
    """Why an allocation response is wrong, or None: it must be held, its holds must equal the units the
    result decided, and every requested unit must be decided or unfilled."""
    if status != expected_status:
        return f"HTTP {status}"
    try:
        body = orjson.loads(content)
        if body["status"] != "held":
            return f"status {body['status']}"
        (result,) = body["results"]
        decided = sum(line["quantity"] for package in result["packages"] for line in package["lines"])
        unfilled = sum(u["quantity"] for u in result["unfilled"])
        asked = sum(line["quantity"] for order in body["orders"] for line in order["lines"])
        held = sum(h["quantity"] for h in body["holds"] if h["status"] == "held")
    except (KeyError, TypeError, ValueError, orjson.JSONDecodeError) as exc:
        return f"unreadable body: {type(exc).__name__}"
    if held != decided:
        return f"holds {held} != decided {decided}"
    if decided + unfilled != asked:
        return f"decided {decided} + unfilled {unfilled} != asked {asked}"
    return None


# -------------------------------------------------------------------------------------- server


@contextlib.contextmanager
def ledger_dsn(db: Backend, directory: Path, postgres_dsn: str) -> Iterator[str]:
    """A DSN to a fresh, empty database: a SQLite file in `directory`, or a PostgreSQL schema dropped after."""
    if db == "sqlite":
        yield f"sqlite:///{directory / 'ledger.db'}"
    else:
        with postgres_schema(postgres_dsn) as dsn:
            yield dsn


def prepare_ledger(dsn: str, network: Problem) -> str:
    """Migrate and seed the ledger and make an allocator key; returns its token."""
    engine = connect(dsn)
    try:
        upgrade(engine)
        seed(engine, network)
        _, token = keys.create(engine, "allocator", name="load benchmark")
    finally:
        engine.dispose()
    return token


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def served(
    dsn: str, network_file: Path, workers: int, directory: Path, settings: Mapping[str, str] | None = None
) -> Iterator[tuple[str, int]]:
    """`routing-engine serve` on a free loopback port, with `settings` as ROUTING_ENGINE_* variables (default:
    holds live a day); yields its URL and pid once /healthz answers, and stops it afterwards."""
    port = _free_port()
    metrics_dir = directory / "prometheus"
    metrics_dir.mkdir(exist_ok=True)
    given = settings if settings is not None else {"ROUTING_ENGINE_HOLD_TTL_S": "86400"}
    env = os.environ | {**given, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    command = [sys.executable, "-m", "routing_engine.cli", "serve", "--network", str(network_file), "--db", dsn]
    log_path = directory / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--port", str(port), "--workers", str(workers)], stdout=log, stderr=subprocess.STDOUT, env=env
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                if process.poll() is not None:
                    raise RuntimeError(f"the service exited:\n{log_path.read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError("the service did not answer /healthz within 120 s")
                time.sleep(0.2)
            yield url, process.pid
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# -------------------------------------------------------------------------------------- client


async def drive(
    url: str, token: str, bodies: Sequence[bytes], concurrency: int, duration_s: float
) -> tuple[list[Sample], float]:
    """Send `bodies` from `concurrency` clients, each waiting for its answer before the next request,
    until every body is sent or `duration_s` has passed; returns every sample and the wall time."""
    path = "/v1/allocations" if orjson.loads(bodies[0]).get("order") else "/v1/allocations/batch"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    samples: list[Sample] = []
    queue = iter(bodies)
    started = time.perf_counter()
    stop = started + duration_s

    async def client(http: httpx.AsyncClient) -> None:
        for body in queue:
            sent = time.perf_counter()
            try:
                response = await http.post(path, content=body, headers=headers)
            except httpx.HTTPError as exc:
                samples.append(Sample(time.perf_counter() - sent, 0, f"transport: {type(exc).__name__}"))
            else:
                latency = time.perf_counter() - sent
                samples.append(
                    Sample(latency, response.status_code, check_response(response.status_code, response.content))
                )
            if time.perf_counter() >= stop:
                return

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as http:
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
    return samples, time.perf_counter() - started


# ------------------------------------------------------------------------------------ CPU time


def _ticks(pid: int) -> int:
    """User + system CPU ticks of one process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            todo += [int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
    return found


def _postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
    return pids


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the server (supervisor and workers), by every PostgreSQL process on this
    machine (including other clients' backends), and by the load generator (this process and the wrk runs
    it has waited for)."""
    hz = os.sysconf("SC_CLK_TCK")
    own = os.times()
    return {
        "server": sum(_ticks(p) for p in _descendants(server_pid)) / hz,
        "postgres": sum(_ticks(p) for p in _postgres_pids()) / hz,
        "client": own.user + own.system + own.children_user + own.children_system,
    }


# ----------------------------------------------------------------------------------------- run


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def _environment() -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent, check=False
    ).stdout.strip()
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "cpus": os.cpu_count(),
        "cpu_model": machine_info()["cpu_model"],
        "python": platform.python_version(),
        "load_average_before": list(os.getloadavg()),
    }


def check_ledger(dsn: str) -> tuple[list[str], int]:
    """Problems in the ledger after a run, and how many allocations it holds. Journal, stock and holds must
    agree (`check`), no stock row may be oversold, and every allocation must hold exactly the units its
    result decided, with every unit asked for decided or unfilled."""
    engine = connect(dsn)
    try:
        problems = check(engine)
        s, a, r = schema.stock, schema.allocations, schema.reservations
        with reading(engine, consistent=True) as conn:
            oversold = conn.execute(
                select(s.c.node, s.c.sku).where(s.c.reserved > s.c.on_hand - s.c.safety_stock)
            ).all()
            held = dict(
                conn.execute(
                    select(r.c.allocation_id, func.sum(r.c.quantity))
                    .where(r.c.status == "held")
                    .group_by(r.c.allocation_id)
                ).all()
            )
            allocations = conn.execute(select(a.c.id, a.c.orders, a.c.results).where(a.c.status == "held")).all()
    finally:
        engine.dispose()
    problems += [f"stock[{n}/{k}] oversold" for n, k in oversold]
    for allocation_id, orders, (result, *_) in allocations:
        decided = sum(line["quantity"] for package in result["packages"] for line in package["lines"])
        unfilled = sum(u["quantity"] for u in result["unfilled"])
        asked = sum(line["quantity"] for order in orders for line in order["lines"])
        if int(held.get(allocation_id, 0)) != decided or decided + unfilled != asked:
            problems.append(f"{allocation_id}: holds {held.get(allocation_id, 0)}, decided {decided}, asked {asked}")
    return problems, len(allocations)


@dataclass(frozen=True)
class Measured:
    """What a driver saw: good answers, errors by kind, wall time, latency percentiles (ms)."""

    answered: int
    sent: int
    errors: Counter[str]
    wall_s: float
    latency_ms: dict[str, float]


def _from_samples(samples: Sequence[Sample], wall_s: float) -> Measured:
    good = [s.latency_s * 1000 for s in samples if s.problem is None]
    nan = float("nan")
    return Measured(
        answered=len(good),
        sent=len(samples),
        errors=Counter(s.problem for s in samples if s.problem is not None),
        wall_s=wall_s,
        latency_ms={
            "p50": round(_percentile(good, 0.50), 2) if good else nan,
            "p90": round(_percentile(good, 0.90), 2) if good else nan,
            "p99": round(_percentile(good, 0.99), 2) if good else nan,
            "mean": round(statistics.fmean(good), 2) if good else nan,
            "max": round(max(good), 2) if good else nan,
        },
    )


def _measure(config: LoadConfig, url: str, token: str, bodies: Sequence[bytes], directory: Path) -> Measured:
    if config.driver == "httpx":
        return _from_samples(
            *asyncio.run(drive(url, token, bodies[: config.requests], config.concurrency, config.duration_s))
        )
    path = "/v1/allocations" if config.kind == "single" else "/v1/allocations/batch"
    out = drive_wrk(
        url,
        token,
        path,
        bodies,
        requests=config.requests,
        concurrency=config.concurrency,
        duration_s=config.duration_s,
        directory=directory,
    )
    return Measured(out.answered, out.answered + sum(out.errors.values()), out.errors, out.wall_s, out.latency_ms)


def run(config: LoadConfig, *, scratch: Path | None = None) -> LoadResult:
    """Set up a fresh ledger, serve it, warm up, measure, check the ledger; the result of the measured part."""
    environment = _environment()
    network, bodies = network_and_bodies(config)
    with contextlib.ExitStack() as stack:
        directory = scratch or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="load-")))
        network_file = directory / "network.json"
        network_file.write_text(network.model_dump_json())
        dsn = stack.enter_context(ledger_dsn(config.db, directory, config.postgres_dsn))
        token = prepare_ledger(dsn, network)
        with served(dsn, network_file, config.workers, directory) as (url, pid):
            warm = _from_samples(*asyncio.run(drive(url, token, bodies[: config.warmup], config.concurrency, 3600)))
            before = cpu_seconds(pid)
            measured = _measure(config, url, token, bodies[config.warmup :], directory)
            after = cpu_seconds(pid)
        # Once the service has stopped: requests wrk left in flight may still be committing until then.
        problems, held = check_ledger(dsn)
    errors = warm.errors + measured.errors
    per_request = 1 if config.kind == "single" else config.batch_size
    answered = warm.answered + measured.answered
    # wrk may stop with requests in flight that the server still held: at least every 201, never fewer.
    if held < answered or (config.driver == "httpx" and held != answered):
        problems.append(f"{held} allocations held in the ledger, {answered} answered 201")
    environment["load_average_after"] = list(os.getloadavg())
    return LoadResult(
        config=dataclasses.asdict(config) | {"postgres_dsn": None, "orders_per_request": per_request},
        requests_ok=measured.answered,
        errors=dict(errors),
        wall_s=round(measured.wall_s, 3),
        throughput_rps=round(measured.answered / measured.wall_s, 1),
        orders_per_s=round(measured.answered * per_request / measured.wall_s, 1),
        latency_ms=measured.latency_ms,
        cpu_ms_per_request={k: round(1000 * (after[k] - before[k]) / max(1, measured.sent), 3) for k in after},
        ledger_problems=problems,
        held_allocations=held,
        environment=environment,
    )


# -------------------------------------------------------------------------------------- report


def _row(result: dict[str, Any]) -> str:
    c, lat, cpu, env = result["config"], result["latency_ms"], result["cpu_ms_per_request"], result["environment"]
    errors = sum(result["errors"].values())
    cells = [
        c.get("name") or f"{c['db']}-{c['kind']}",
        c["db"],
        c["kind"],
        c.get("driver", "httpx"),
        c["orders_per_request"],
        c["workers"],
        c["concurrency"],
        f"{result['requests_ok']:,}",
        errors,
        f"{result['wall_s']:.1f}",
        f"{result['throughput_rps']:,.1f}",
        f"{result['orders_per_s']:,.1f}",
        f"{lat['p50']:.1f}",
        f"{lat['p99']:.1f}",
        f"{cpu['server']:.2f} / {cpu['postgres']:.2f} / {cpu['client']:.2f}",
        f"{env['load_average_before'][0]:.2f}",
        env.get("cpu_model") or "–",
        "yes" if not result["ledger_problems"] else "NO",
        env["date"][:16].replace("T", " "),
        env["commit"],
    ]
    return "| " + " | ".join(str(x) for x in cells) + " |"


def write_report(result: LoadResult, out: Path) -> Path:
    """Write `<label>.json` and redraw `results.md` from every JSON result in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    label = result.config.get("name") or f"{result.config['db']}-{result.config['kind']}"
    (out / f"{label}.json").write_text(json.dumps(dataclasses.asdict(result), indent=2) + "\n")
    rows = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    header = (
        "| run | db | kind | driver | orders/req | workers | concurrency | requests ok | errors | seconds "
        "| req/s | orders/s | p50 ms | p99 ms | CPU ms/req server / postgres / client | load before | CPU | ledger ok "
        "| date (UTC) | commit |"
    )
    lines = [
        "# Allocation service under load (loopback)",
        "",
        "Written by `python -m benchmarks.load`; the procedure is in `benchmarks/README.md`. Latency is per",
        "request as the client sees it (closed loop); CPU is per measured request, PostgreSQL counting every",
        "backend on the machine. `load before` is the 1-minute load average when the run started; `CPU` is the",
        "processor model (not recorded before 2026-12-07; the harness results of 2026-11-29 name an AMD EPYC).",
        "",
        header,
        "|" + "---|" * (header.count("|") - 1),
        *(_row(r) for r in rows),
        "",
    ]
    (out / "results.md").write_text("\n".join(lines))
    return out / f"{label}.json"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--kind", choices=["single", "batch"], default="single")
    parser.add_argument(
        "--driver", choices=["httpx", "wrk"], default="httpx", help="Load generator (warm-up is always httpx)."
    )
    parser.add_argument("--requests", type=int, default=2000, help="Measured requests (at most).")
    parser.add_argument("--concurrency", type=int, default=16, help="Requests in flight.")
    parser.add_argument("--duration", type=float, default=30.0, help="Seconds of measurement (at most).")
    parser.add_argument("--warmup", type=int, default=200, help="Requests before measuring (checked, not timed).")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes.")
    parser.add_argument("--batch-size", type=int, default=10, help="Orders per batch request.")
    parser.add_argument("--nodes", type=int, default=8)
    parser.add_argument("--skus", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres-dsn", default=POSTGRES_DSN, help="Server to make a fresh schema in.")
    parser.add_argument("--name", default=None, help="Result name (default DB-KIND).")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if min(args.requests, args.concurrency, args.workers, args.batch_size) < 1 or args.warmup < 0:
        parser.error("--requests, --concurrency, --workers and --batch-size must be >= 1, --warmup >= 0")
    config = LoadConfig(
        db=args.db,
        kind=args.kind,
        driver=args.driver,
        requests=args.requests,
        concurrency=args.concurrency,
        duration_s=args.duration,
        warmup=args.warmup,
        workers=args.workers,
        batch_size=args.batch_size,
        nodes=args.nodes,
        skus=args.skus,
        seed=args.seed,
        postgres_dsn=args.postgres_dsn,
        name=args.name,
    )
    result = run(config)
    path = write_report(result, args.out)
    print(json.dumps({k: v for k, v in dataclasses.asdict(result).items() if k != "environment"}, indent=2))
    print(f"written: {path} and {args.out / 'results.md'}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
