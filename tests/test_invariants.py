"""Contract invariants on realistic medium problems from `routing_engine.examples`, for every solver.

Too big for the brute force, so these check what holds whatever the optimum: every hard constraint,
the breakdown summing to the total, the total recomputed from the packages by the independent oracle,
and no baseline beating a proven-optimal MIP.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from oracle import check_result, costs_close

from routing_engine import AllocateOptions, AllocationResult, Problem, allocate
from routing_engine.examples import example_problem

SOLVERS = ("mip", "shopify-default", "nearest", "ranked")
BASELINES = SOLVERS[1:]
TIME_LIMIT_S = 60.0

#: (orders, nodes, seed, scarcity, cross_border_share)
Case = tuple[int, int, int, str, float]
CASES: list[Case] = [
    (60, 4, 0, "tight", 0.0),
    (60, 4, 1, "short", 0.3),
    (80, 5, 2, "abundant", 0.0),
    (80, 5, 3, "short", 0.3),
    (100, 6, 4, "tight", 0.3),
    (100, 6, 5, "short", 0.0),
    (120, 7, 6, "abundant", 0.3),
    (150, 8, 7, "tight", 0.0),
    (150, 8, 8, "short", 0.3),
]
#: A spread of sizes, scarcities and networks, seeded apart from CASES.
MORE_CASES: list[Case] = [
    (60 + 5 * i, 4 + i % 5, 100 + i, ("abundant", "tight", "short")[i % 3], (0.0, 0.3)[(i // 3) % 2]) for i in range(19)
]

#: Policy changes applied to an example problem's (otherwise default) policy.
POLICY_VARIANTS: dict[str, dict[str, Any]] = {
    "ship_complete": {"ship_complete": True},
    "no_partial_shipments": {"allow_partial": False},
    "no_backorders": {"backorders": False},
    "backorders_within_7_days": {"max_backorder_days": 7, "backorder_cost_per_unit_day": 2.0},
    "one_package_per_order": {"max_packages_per_order": 1, "split_cost": 0.0},
    "free_splits_unlimited_packages": {"max_packages_per_order": None, "split_cost": 0.0},
    "cheap_unfilled_units": {"unfilled_penalty_per_unit": 5.0},
}
VARIANT_CASES: list[Case] = [(60, 4, 20, "tight", 0.3), (100, 6, 21, "short", 0.0), (150, 8, 22, "tight", 0.3)]


def case_id(case: Case) -> str:
    orders, nodes, seed, scarcity, share = case
    return f"{orders}orders-{nodes}nodes-seed{seed}-{scarcity}-{'xborder' if share else 'us'}"


@functools.cache
def problem_for(case: Case, variant: str | None = None) -> Problem:
    orders, nodes, seed, scarcity, share = case
    p = example_problem(orders=orders, nodes=nodes, seed=seed, scarcity=scarcity, cross_border_share=share)  # type: ignore[arg-type]
    if variant is not None:
        p = p.model_copy(update={"policy": p.policy.model_copy(update=POLICY_VARIANTS[variant])})
    return p


@functools.cache
def result_for(case: Case, solver: str, variant: str | None = None) -> AllocationResult:
    return allocate(problem_for(case, variant), AllocateOptions(solver=solver, time_limit_s=TIME_LIMIT_S))  # type: ignore[arg-type]


def assert_valid(case: Case, solver: str, variant: str | None = None) -> None:
    errors = check_result(problem_for(case, variant), result_for(case, solver, variant))
    assert not errors, f"{solver} on {case_id(case)} {variant or ''}: {len(errors)} violations, first: {errors[:10]}"


def assert_no_baseline_beats_optimal_mip(case: Case, variant: str | None = None) -> None:
    mip = result_for(case, "mip", variant)
    if mip.solver.status != "optimal":
        pytest.skip(f"MIP not proven optimal on {case_id(case)} ({mip.solver.status})")
    for name in BASELINES:
        total = result_for(case, name, variant).cost.total
        assert total >= mip.cost.total - 1e-6 * max(1.0, mip.cost.total), (
            f"{name} {total} < optimal MIP {mip.cost.total}"
        )


def assert_mip_report_consistent(case: Case, variant: str | None = None) -> None:
    mip = result_for(case, "mip", variant)
    report = mip.solver
    assert costs_close(report.objective, mip.cost.total), f"objective {report.objective} != total {mip.cost.total}"
    if report.bound is not None:
        assert report.bound <= report.objective + 1e-6 * max(1.0, abs(report.objective))
    if report.status == "optimal" and report.gap is not None:
        assert report.gap <= 1e-4


# ------------------------------------------------------------------------------------------- core cases


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_every_solver_result_on_example_problems_satisfies_constraints_and_recomputed_costs(
    case: Case, solver: str
) -> None:
    assert_valid(case, solver)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_no_baseline_is_cheaper_than_a_proven_optimal_mip_on_example_problems(case: Case) -> None:
    assert_no_baseline_beats_optimal_mip(case)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_mip_solver_report_objective_equals_total_and_bound_does_not_exceed_it(case: Case) -> None:
    assert_mip_report_consistent(case)


def test_same_problem_and_seed_give_the_same_allocation_for_every_solver() -> None:
    case = CASES[1]
    for solver in SOLVERS:
        again = allocate(problem_for(case), AllocateOptions(solver=solver, time_limit_s=TIME_LIMIT_S))  # type: ignore[arg-type]
        first = result_for(case, solver)
        assert again.packages == first.packages, solver
        assert again.unfilled == first.unfilled, solver
        assert again.cost == first.cost, solver


# ---------------------------------------------------------------------------------------- heavier cases


@pytest.mark.slow
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("case", MORE_CASES, ids=case_id)
def test_every_solver_result_on_more_example_problems_satisfies_the_contract(case: Case, solver: str) -> None:
    assert_valid(case, solver)


@pytest.mark.slow
@pytest.mark.parametrize("case", MORE_CASES, ids=case_id)
def test_no_baseline_is_cheaper_than_a_proven_optimal_mip_on_more_example_problems(case: Case) -> None:
    assert_no_baseline_beats_optimal_mip(case)
    assert_mip_report_consistent(case)


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(POLICY_VARIANTS))
@pytest.mark.parametrize("case", VARIANT_CASES, ids=case_id)
def test_every_solver_honours_policy_variants_on_example_problems(case: Case, variant: str) -> None:
    for solver in SOLVERS:
        assert_valid(case, solver, variant)
    assert_no_baseline_beats_optimal_mip(case, variant)
    assert_mip_report_consistent(case, variant)


def test_every_solver_honours_node_unit_capacity_on_an_example_problem() -> None:
    case = (60, 4, 0, "tight", 0.0)
    base = problem_for(case)
    problem = base.model_copy(update={"nodes": [n.model_copy(update={"max_units": 10}) for n in base.nodes]})
    errors = {
        solver: check_result(problem, allocate(problem, AllocateOptions(solver=solver, time_limit_s=TIME_LIMIT_S)))  # type: ignore[arg-type]
        for solver in SOLVERS
    }
    assert not any(errors.values()), {s: e[:3] for s, e in errors.items() if e}


# ------------------------------------------------------------------------------ the checker is not vacuous


def test_check_result_flags_tampered_results() -> None:
    case = CASES[1]
    problem, result = problem_for(case), result_for(case, "mip")
    assert check_result(problem, result) == []
    assert result.packages, "the example should ship some units"
    assert result.unfilled, "the example should leave some units unfilled"
    cost = result.cost
    pkg = result.packages[0]
    line = pkg.lines[0]
    order = next(o for o in problem.orders if o.id == pkg.order)
    others = [n.id for n in problem.nodes if n.id != pkg.node]
    tampered = {
        "total off by one": result.model_copy(update={"cost": cost.model_copy(update={"total": cost.total + 1.0})}),
        "package cost off": result.model_copy(
            update={
                "packages": [
                    pkg.model_copy(update={"cost": pkg.cost.model_copy(update={"shipping": 0.0})}),
                    *result.packages[1:],
                ]
            }
        ),
        "package shipped twice": result.model_copy(update={"packages": [pkg, *result.packages]}),
        "unfilled line dropped": result.model_copy(update={"unfilled": result.unfilled[1:]}),
        "one more unit": result.model_copy(
            update={
                "packages": [
                    pkg.model_copy(
                        update={"lines": [line.model_copy(update={"quantity": line.quantity + 1}), *pkg.lines[1:]]}
                    ),
                    *result.packages[1:],
                ]
            }
        ),
        "another node": result.model_copy(
            update={"packages": [pkg.model_copy(update={"node": others[0]}), *result.packages[1:]]}
        ),
        "unknown wait": result.model_copy(
            update={"packages": [pkg.model_copy(update={"wait_days": 999}), *result.packages[1:]]}
        ),
    }
    for name, bad in tampered.items():
        assert check_result(problem, bad), f"check_result missed: {name} ({order.id})"
