"""Benchmark instances and profiles: seeded families by size, stock scarcity, cross-border share and nodes.

An `Instance` is a recipe for `routing_engine.examples.example_problem` (real geography), so it is rebuilt
from its seed alone; a `Profile` is a named list of instances with the solvers to run on each.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from routing_engine.compile import Compiled, compile_problem
from routing_engine.examples import Scarcity, example_problem
from solvers.baselines import BASELINES

#: Every rule-chain baseline, in the registry's order.
BASELINE_NAMES: tuple[str, ...] = tuple(BASELINES)
#: The engine's default, the plain MIP with the same deadline, the large-batch method, and every baseline.
ALL_SOLVERS: tuple[str, ...] = ("auto", "mip", "large", *BASELINE_NAMES)
#: Solvers that take a deadline; the baselines run to completion (they are fast and deterministic).
TIMED_SOLVERS = frozenset({"auto", "mip", "large"})


@dataclass(frozen=True)
class Instance:
    """One seeded problem of the example generator, and the deadline each timed solver gets on it."""

    orders: int
    nodes: int
    skus: int
    scarcity: Scarcity
    cross_border_share: float
    seed: int
    time_limit_s: float

    @property
    def name(self) -> str:
        """E.g. `us-1000x20x400-tight-s1` (US only) or `xb30-1000x20x400-tight-s1` (30 % cross-border)."""
        region = f"xb{round(100 * self.cross_border_share)}" if self.cross_border_share > 0 else "us"
        return f"{region}-{self.orders}x{self.nodes}x{self.skus}-{self.scarcity}-s{self.seed}"

    def build(self) -> Compiled:
        """Generate the problem from its seed and compile it."""
        problem = example_problem(
            self.orders,
            self.nodes,
            self.skus,
            self.seed,
            scarcity=self.scarcity,
            cross_border_share=self.cross_border_share,
        )
        return compile_problem(problem)


@dataclass(frozen=True)
class Profile:
    """A named set of instances and the solvers compared on each of them."""

    name: str
    description: str
    instances: tuple[Instance, ...]
    solvers: tuple[str, ...] = ALL_SOLVERS

    def select(self, names: Iterable[str]) -> Profile:
        """The same profile restricted to the named instances (unknown names raise `KeyError`)."""
        wanted = list(names)
        known = {inst.name: inst for inst in self.instances}
        if missing := [n for n in wanted if n not in known]:
            raise KeyError(f"no instance {missing} in profile {self.name!r}; it has {sorted(known)}")
        return Profile(self.name, self.description, tuple(known[n] for n in wanted), self.solvers)

    def with_time_limit(self, time_limit_s: float) -> Profile:
        """The same profile with one deadline for every instance."""
        instances = tuple(
            Instance(i.orders, i.nodes, i.skus, i.scarcity, i.cross_border_share, i.seed, time_limit_s)
            for i in self.instances
        )
        return Profile(self.name, self.description, instances, self.solvers)

    @property
    def smallest(self) -> Instance:
        return min(self.instances, key=lambda i: (i.orders, i.nodes, i.skus, i.name))


def family(
    sizes: Iterable[tuple[int, int, int]],
    *,
    scarcity: Iterable[Scarcity] = ("tight",),
    cross_border_share: Iterable[float] = (0.0,),
    seeds: Iterable[int] = (1,),
    time_limit_s: float,
) -> list[Instance]:
    """Every combination of (orders, nodes, SKUs) size, scarcity, cross-border share and seed."""
    return [
        Instance(orders, nodes, skus, level, share, seed, time_limit_s)
        for (orders, nodes, skus), level, share, seed in itertools.product(sizes, scarcity, cross_border_share, seeds)
    ]


PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile(
            "ci",
            "Tiny instances (100-400 orders) that CI runs in under two minutes on 2 cores.",
            (
                *family([(100, 5, 40)], scarcity=("tight",), time_limit_s=15.0),
                *family([(200, 8, 80)], scarcity=("abundant",), time_limit_s=15.0),
                *family([(200, 8, 80)], scarcity=("short",), cross_border_share=(0.3,), time_limit_s=15.0),
                *family([(400, 10, 150)], scarcity=("tight",), time_limit_s=15.0),
            ),
        ),
        Profile(
            "provable",
            "Up to 2,000 orders x 20 nodes, where the exact MIP proves optimality: the reference optimum.",
            (
                *family(
                    [(500, 10, 200), (1000, 20, 400), (2000, 20, 400)],
                    scarcity=("abundant", "tight", "short"),
                    time_limit_s=120.0,
                ),
                *family([(1000, 20, 400)], cross_border_share=(0.3,), time_limit_s=120.0),
                *family([(1000, 40, 400)], time_limit_s=120.0),  # node count: twice the nodes
            ),
        ),
        Profile(
            "large",
            "10,000 orders x 50 nodes x 5,000 SKUs at 60 s; 100,000 orders x 100 nodes at 600 s.",
            (
                *family([(10_000, 50, 5_000)], scarcity=("abundant", "tight", "short"), time_limit_s=60.0),
                *family([(10_000, 50, 5_000)], cross_border_share=(0.3,), time_limit_s=60.0),
                *family([(100_000, 100, 20_000)], time_limit_s=600.0),
            ),
            # At this size `auto` is the large-batch method: running `large` again would only repeat it.
            solvers=("auto", "mip", *BASELINE_NAMES),
        ),
        Profile(
            "large-vs-mip",
            "1,000 and 2,000 orders x 20 nodes: the large-batch method against the plain MIP with the same "
            "60 s deadline, and the rule chains.",
            tuple(
                family([(1000, 20, 400), (2000, 20, 400)], scarcity=("abundant", "tight", "short"), time_limit_s=60.0)
            ),
            solvers=("mip", "large", *BASELINE_NAMES),
        ),
        Profile(
            "large-100k",
            "100,000 orders x 100 nodes x 20,000 SKUs at 600 s: the engine's default (the large-batch method), "
            "the plain MIP with the same deadline, and the rule chains.",
            tuple(family([(100_000, 100, 20_000)], time_limit_s=600.0)),
            solvers=("auto", "mip", *BASELINE_NAMES),
        ),
        Profile(
            "large-10k",
            "10,000 orders x 50 nodes x 5,000 SKUs at 60 s: the engine's default (the large-batch method), "
            "the plain MIP with the same deadline, and the rule chains.",
            (
                *family([(10_000, 50, 5_000)], scarcity=("abundant", "tight", "short"), time_limit_s=60.0),
                *family([(10_000, 50, 5_000)], cross_border_share=(0.3,), time_limit_s=60.0),
            ),
            solvers=("auto", "mip", *BASELINE_NAMES),
        ),
    )
}
