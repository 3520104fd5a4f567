"""pytest-benchmark micro-benchmarks of the hot paths: compile, the exact per-order subproblem, decode, evaluate.

Run with `python -m pytest benchmarks/test_micro.py --benchmark-only` (not part of the default test run).
"""

from __future__ import annotations

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from routing_engine.compile import Compiled, compile_problem
from routing_engine.decode import decode
from routing_engine.examples import example_problem
from routing_engine.model import Problem
from solvers import Solution, evaluate, solve
from solvers.orders import solve_single

#: The batch every micro-benchmark but the single-order one works on (seeded, real geography).
ORDERS, NODES, SKUS, SEED = 2_000, 20, 400, 1


@pytest.fixture(scope="module")
def problem() -> Problem:
    return example_problem(ORDERS, NODES, SKUS, SEED, scarcity="tight")


@pytest.fixture(scope="module")
def compiled(problem: Problem) -> Compiled:
    return compile_problem(problem)


@pytest.fixture(scope="module")
def solution(compiled: Compiled) -> Solution:
    """A full allocation of the batch to decode and price (the fewest-packages rule chain: instant)."""
    return solve(compiled.cp, "shopify-default")


@pytest.fixture(scope="module")
def one_order(problem: Problem) -> Compiled:
    """The real-time call: the batch's first order with three or more lines, alone on the whole network."""
    order = next(o for o in problem.orders if len(o.lines) >= 3)
    return compile_problem(problem.model_copy(update={"orders": [order]}))


def test_compile_problem_of_2000_orders(benchmark: BenchmarkFixture, problem: Problem) -> None:
    compiled = benchmark.pedantic(compile_problem, args=(problem,), rounds=5, iterations=1, warmup_rounds=1)
    assert compiled.cp.n_orders == ORDERS


def test_solve_single_exact_per_order_subproblem(benchmark: BenchmarkFixture, one_order: Compiled) -> None:
    sol = benchmark(solve_single, one_order.cp)
    assert sol.status == "optimal"


def test_decode_of_2000_orders(benchmark: BenchmarkFixture, compiled: Compiled, solution: Solution) -> None:
    result = benchmark.pedantic(decode, args=(compiled, solution), rounds=5, iterations=1, warmup_rounds=1)
    assert result.kpis.orders == ORDERS


def test_evaluate_of_2000_orders(benchmark: BenchmarkFixture, compiled: Compiled, solution: Solution) -> None:
    ev = benchmark(evaluate, compiled.cp, solution.x)
    assert ev.total == pytest.approx(solution.objective)
