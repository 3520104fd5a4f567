"""Run scenario specs: `run_one(spec) -> RunOutcome` is the unit of work (a local process or a Ray task).

`run_all` fans the specs out over a local process pool or a Ray cluster and reports each finished run.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed

import numpy as np
from pydantic import Field

from routing_engine import geo
from routing_engine.allocate import allocate
from routing_engine.errors import InvalidValue
from routing_engine.model import AllocationResult, CostBreakdown, Frozen, Kpis, Problem
from routing_engine.scenarios.regions import region_key
from routing_engine.scenarios.spec import RunSpec


class NodeUse(Frozen):
    """What one node shipped in a run; `stock_use` = units shipped from its stock / its available stock."""

    node: str
    packages: int
    units: int
    available: int
    stock_use: float
    capacity_use: float | None = Field(description="Packages shipped now / max_packages, when it has a cap.")


class GroupFill(Frozen):
    """Units ordered and filled (shipped now or backordered) in one channel or destination country."""

    key: str
    units: int
    filled: int

    @property
    def fill_rate(self) -> float:
        return self.filled / self.units if self.units else 1.0


class Flow(Frozen):
    """Units shipped from a node to a destination region (`US-NY`, or a country abroad), with the node's
    coordinates and the mean coordinates of the region's destinations, for a flow map."""

    node: str
    region: str
    units: int
    node_lat: float
    node_lon: float
    lat: float
    lon: float


class RunOutcome(Frozen):
    """The KPIs of one run, small enough to ship back from a worker and to write as JSON."""

    name: str
    group: str
    sweep_field: str | None
    sweep_value: float | None
    description: str
    currency: str
    status: str
    runtime_s: float
    gap: float | None
    cost: CostBreakdown
    kpis: Kpis
    nodes: list[NodeUse]
    by_channel: list[GroupFill]
    by_country: list[GroupFill]
    flows: list[Flow] = Field(default_factory=list)


def _node_use(problem: Problem, result: AllocationResult) -> list[NodeUse]:
    available: dict[str, int] = defaultdict(int)
    for s in problem.stock:
        available[s.node] += s.available
    packages: dict[str, int] = defaultdict(int)
    packages_now: dict[str, int] = defaultdict(int)
    units: dict[str, int] = defaultdict(int)
    from_stock: dict[str, int] = defaultdict(int)
    for p in result.packages:
        packages[p.node] += 1
        packages_now[p.node] += p.wait_days == 0
        for line in p.lines:
            units[p.node] += line.quantity
            from_stock[p.node] += line.from_stock
    uses = []
    for n in problem.nodes:
        cap = n.max_packages
        uses.append(
            NodeUse(
                node=n.id,
                packages=packages[n.id],
                units=units[n.id],
                available=available[n.id],
                stock_use=from_stock[n.id] / available[n.id] if available[n.id] else 0.0,
                capacity_use=(packages_now[n.id] / cap if cap else (0.0 if cap == 0 else None)),
            )
        )
    return uses


def _fill_by(problem: Problem, result: AllocationResult) -> tuple[list[GroupFill], list[GroupFill]]:
    unfilled: dict[str, int] = defaultdict(int)
    for u in result.unfilled:
        unfilled[u.order] += u.quantity
    groups: tuple[dict[str, list[int]], dict[str, list[int]]] = (
        defaultdict(lambda: [0, 0]),
        defaultdict(lambda: [0, 0]),
    )
    for o in problem.orders:
        units = sum(line.quantity for line in o.lines)
        for table, key in zip(groups, (o.channel, o.destination.country), strict=True):
            table[key][0] += units
            table[key][1] += units - unfilled[o.id]
    channel, country = ([GroupFill(key=k, units=v[0], filled=v[1]) for k, v in sorted(t.items())] for t in groups)
    return channel, country


def _flows(problem: Problem, result: AllocationResult) -> list[Flow]:
    region_of: dict[str, str] = {}
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for o in problem.orders:
        where = f"orders[{o.id}].destination"
        region_of[o.id] = region_key(o.destination, where)
        points[region_of[o.id]].append(geo.resolve(o.destination, where))
    centre = {region: np.mean(np.array(p), axis=0) for region, p in points.items()}
    nodes = {n.id: n for n in problem.nodes}
    units: dict[tuple[str, str], int] = defaultdict(int)
    for package in result.packages:
        units[package.node, region_of[package.order]] += sum(line.quantity for line in package.lines)
    return [
        Flow(
            node=node,
            region=region,
            units=count,
            node_lat=nodes[node].lat,
            node_lon=nodes[node].lon,
            lat=float(centre[region][0]),
            lon=float(centre[region][1]),
        )
        for (node, region), count in sorted(units.items())
    ]


def run_one(spec: RunSpec) -> RunOutcome:
    """Allocate one scenario run and summarise it. Pure apart from the solve: no files, no globals."""
    result = allocate(spec.problem, spec.options)
    by_channel, by_country = _fill_by(spec.problem, result)
    return RunOutcome(
        name=spec.name,
        group=spec.group,
        sweep_field=spec.sweep_field,
        sweep_value=spec.sweep_value,
        description=spec.description,
        currency=result.currency,
        status=result.solver.status,
        runtime_s=result.solver.runtime_s,
        gap=result.solver.gap,
        cost=result.cost,
        kpis=result.kpis,
        nodes=_node_use(spec.problem, result),
        by_channel=by_channel,
        by_country=by_country,
        flows=_flows(spec.problem, result),
    )


def run_all(
    specs: list[RunSpec],
    workers: int = 2,
    on_done: Callable[[RunOutcome], None] | None = None,
    ray_address: str | None = None,
) -> list[RunOutcome]:
    """Run every spec and return the outcomes in the order of `specs`, calling `on_done` as each finishes.

    Locally: `workers` at a time in separate processes (in this process when 1). With `ray_address`
    ("auto" or a cluster address): one Ray task per spec. Both submit `run_one` and collect the same way."""
    if ray_address is None and (workers <= 1 or len(specs) <= 1):
        outcomes = []
        for spec in specs:
            outcomes.append(run_one(spec))
            if on_done:
                on_done(outcomes[-1])
        return outcomes
    if ray_address is not None:
        with _ray(ray_address) as submit:
            return _collect(specs, submit, on_done)
    # spawn, not fork: the solver libraries run threads that a forked child must not inherit.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(specs)), mp_context=context) as pool:
        try:
            return _collect(specs, lambda spec: pool.submit(run_one, spec), on_done)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)  # a failed run or Ctrl-C: start nothing more
            raise


def _collect(
    specs: list[RunSpec],
    submit: Callable[[RunSpec], Future[RunOutcome]],
    on_done: Callable[[RunOutcome], None] | None,
) -> list[RunOutcome]:
    """Submit `run_one` for every spec and gather the outcomes as they finish, in the order of `specs`."""
    futures: dict[Future[RunOutcome], int] = {submit(spec): i for i, spec in enumerate(specs)}
    outcomes: dict[int, RunOutcome] = {}
    try:
        for future in as_completed(futures):
            outcomes[futures[future]] = future.result()
            if on_done:
                on_done(outcomes[futures[future]])
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return [outcomes[i] for i in range(len(specs))]


@contextlib.contextmanager
def _ray(address: str) -> Iterator[Callable[[RunSpec], Future[RunOutcome]]]:
    """A submit function that runs `run_one` as a Ray task. Joins the Ray instance this process is already
    connected to; otherwise connects to `address` ("auto": the cluster RAY_ADDRESS or `ray start` on this
    machine names, else a new local instance), and disconnects afterwards."""
    try:
        import ray
    except ImportError:
        raise InvalidValue("Ray is not installed: pip install 'routing-engine[ray]'", field="--ray") from None
    connected_here = not ray.is_initialized()
    if connected_here:
        # The workers' output would break into the progress bar; their errors still come back as exceptions.
        ray.init(address=None if address == "auto" else address, log_to_driver=False, logging_level=logging.WARNING)
    task = ray.remote(run_one)
    try:
        yield lambda spec: task.remote(spec).future()
    finally:
        if connected_here:
            ray.shutdown()
