"""The engine's one pure entry point: problem and options in, allocation result out.

It touches no file, database or network; the CLI, the API and the ledger all call it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from routing_engine.compile import compile_problem
from routing_engine.decode import decode
from routing_engine.model import AllocationResult, Frozen, Problem
from solvers import SOLVER_NAMES, solve

SolverName = Literal["auto", "mip", "large", "single", "shopify-default", "nearest", "ranked"]
assert set(SolverName.__args__) == set(SOLVER_NAMES)  # type: ignore[attr-defined]


class AllocateOptions(Frozen):
    """How to solve: method, deadline (seconds, compile and decode excluded), seed, MIP backend.

    "auto" is the single-order search for one order, the MIP for batches up to 1,000 orders and the
    large-batch method (certified bound) above.
    """

    solver: SolverName = "auto"
    time_limit_s: Annotated[float, Field(gt=0, le=86_400)] = 60.0
    seed: Annotated[int, Field(ge=0)] = 0
    backend: Literal["highs", "scip", "cpsat"] = "highs"


def allocate(problem: Problem, options: AllocateOptions | None = None) -> AllocationResult:
    """Allocate every open order of `problem`; raises a `ProblemError` naming bad input."""
    opts = options or AllocateOptions()
    compiled = compile_problem(problem)
    solution = solve(compiled.cp, opts.solver, time_limit_s=opts.time_limit_s, seed=opts.seed, backend=opts.backend)
    return decode(compiled, solution)
