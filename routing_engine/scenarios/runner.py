"""Run scenario specs: `run_one(spec) -> RunOutcome` is the unit of work (a process, or later a Ray task).

`run_all` fans the specs out over a local process pool and reports each finished run to a callback.
"""

from __future__ import annotations

import multiprocessing
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed

from pydantic import Field

from routing_engine.allocate import allocate
from routing_engine.model import AllocationResult, CostBreakdown, Frozen, Kpis, Problem
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
    )


def run_all(
    specs: list[RunSpec], workers: int = 2, on_done: Callable[[RunOutcome], None] | None = None
) -> list[RunOutcome]:
    """Run every spec, `workers` at a time in separate processes (in this process when 1); outcomes come
    back in the order of `specs`. A Ray runner would submit `run_one` as a task per spec instead."""
    outcomes: dict[int, RunOutcome] = {}
    if workers <= 1 or len(specs) <= 1:
        for i, spec in enumerate(specs):
            outcomes[i] = run_one(spec)
            if on_done:
                on_done(outcomes[i])
    else:
        # spawn, not fork: the solver libraries run threads that a forked child must not inherit.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(specs)), mp_context=context) as pool:
            futures: dict[Future[RunOutcome], int] = {pool.submit(run_one, spec): i for i, spec in enumerate(specs)}
            try:
                for future in as_completed(futures):
                    outcomes[futures[future]] = future.result()
                    if on_done:
                        on_done(outcomes[futures[future]])
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)  # a failed run or Ctrl-C: start nothing more
                raise
    return [outcomes[i] for i in range(len(specs))]
