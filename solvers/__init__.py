"""The solver core: pure functions from a compiled problem and a deadline to a `Solution`.

Nothing here reads files, databases or HTTP; `solve` picks a method by name.
"""

from __future__ import annotations

from solvers.baselines import BASELINES
from solvers.mip import BACKENDS, solve_mip
from solvers.problem import PARTS, CompiledProblem
from solvers.single import single_fits, solve_single
from solvers.solution import Evaluation, Solution, evaluate, violations

SOLVER_NAMES = ("auto", "mip", "single", *BASELINES)


def best_baseline(cp: CompiledProblem) -> Solution:
    """The cheapest of the rule-chain baselines (the MIP's warm start)."""
    return min((run(cp) for run in BASELINES.values()), key=lambda s: s.objective)


def solve(
    cp: CompiledProblem, solver: str = "mip", *, time_limit_s: float = 60.0, seed: int = 0, backend: str = "highs"
) -> Solution:
    """Solve `cp` with the named method within `time_limit_s` seconds.

    "auto" takes the exact single-order path for one order and the MIP otherwise.
    """
    if solver in BASELINES:
        return BASELINES[solver](cp)
    if solver == "single" or (solver == "auto" and cp.n_orders == 1 and single_fits(cp)):
        return solve_single(cp)
    if solver == "auto":
        solver = "mip"
    if solver == "mip":
        if backend not in BACKENDS:
            raise ValueError(f"unknown MIP backend {backend!r}; choose one of {sorted(BACKENDS)}")
        return solve_mip(cp, time_limit_s=time_limit_s, backend=backend, seed=seed, hint=best_baseline(cp))
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
