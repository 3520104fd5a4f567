"""The solver core: pure functions from a compiled problem and a deadline to a `Solution`.

Nothing here reads files, databases or HTTP; `solve` picks a method by name.
"""

from __future__ import annotations

import time
from dataclasses import replace

from solvers.baselines import BASELINES
from solvers.large import solve_large
from solvers.mip import BACKENDS, solve_mip
from solvers.orders import solve_single
from solvers.problem import PARTS, CompiledProblem
from solvers.solution import Evaluation, Solution, evaluate, violations

SOLVER_NAMES = ("auto", "mip", "large", "single", *BASELINES)

#: `auto` takes the exact MIP up to this many orders (it proves optimality there, or ends within 0.1 % of
#: the bound), the large-batch method above: at 2,000 orders x 20 nodes on short stock the MIP stopped at
#: 120 s 4.8 % above its bound while the large-batch method ended 0.15 % above it (benchmarks/results/provable).
AUTO_MIP_MAX_ORDERS = 1000


def best_baseline(cp: CompiledProblem) -> Solution:
    """The cheapest of the rule-chain baselines (the MIP's warm start)."""
    return min((run(cp) for run in BASELINES.values()), key=lambda s: s.objective)


def solve(
    cp: CompiledProblem, solver: str = "mip", *, time_limit_s: float = 60.0, seed: int = 0, backend: str = "highs"
) -> Solution:
    """Solve `cp` with the named method within `time_limit_s` seconds.

    "auto" takes the exact single-order path for one order, the MIP for batches it proves optimal fast
    and the large-batch method (with a certified bound) above that.
    """
    if solver in BASELINES:
        return BASELINES[solver](cp)
    if solver == "single":
        return solve_single(cp)
    if solver == "auto" and cp.n_orders == 1:
        try:
            single = solve_single(cp)
        except ValueError:  # an order too large for the search: the MIP decides it
            return solve_mip(cp, time_limit_s=time_limit_s, backend=backend, seed=seed, hint=best_baseline(cp))
        if single.status == "optimal":
            return single
        return solve_mip(cp, time_limit_s=time_limit_s, backend=backend, seed=seed, hint=single)
    if solver == "auto":
        solver = "mip" if cp.n_orders <= AUTO_MIP_MAX_ORDERS else "large"
    if solver == "large":
        return solve_large(cp, time_limit_s=time_limit_s, seed=seed)
    if solver == "mip":
        if backend not in BACKENDS:
            raise ValueError(f"unknown MIP backend {backend!r}; choose one of {sorted(BACKENDS)}")
        start = time.perf_counter()
        hint = best_baseline(cp)  # the warm start's time counts against the deadline
        left = time_limit_s - (time.perf_counter() - start)
        if left <= 0:  # the warm start took the whole deadline: it is the answer
            return replace(hint, solver=f"mip-{backend}", status="feasible", runtime_s=time.perf_counter() - start)
        sol = solve_mip(cp, time_limit_s=left, backend=backend, seed=seed, hint=hint)
        return replace(sol, runtime_s=time.perf_counter() - start)
    raise ValueError(f"unknown solver {solver!r}; choose one of {list(SOLVER_NAMES)}")


__all__ = [
    "PARTS",
    "SOLVER_NAMES",
    "CompiledProblem",
    "Evaluation",
    "Solution",
    "best_baseline",
    "evaluate",
    "solve",
    "violations",
]
