"""Scenario files (YAML): a base problem, named variants (lists of changes) and sweeps over one change field.

`load_scenario(path)` reads and checks a file and expands it into `RunSpec`s: the baseline, each variant,
and one run per sweep value. Every change is applied here, so a bad reference fails before anything runs.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from routing_engine.allocate import AllocateOptions, SolverName
from routing_engine.errors import InvalidValue, UnknownReference
from routing_engine.model import Frozen, Id, Problem
from routing_engine.scenarios.changes import Change, apply_changes, parse_change
from routing_engine.scenarios.errors import ScenarioFileError

BASELINE = "baseline"
#: Most points one sweep may have: a typo in a range (step 0.001 for 1) must not expand into millions of runs.
MAX_SWEEP_POINTS = 1000


class ExampleBase(Frozen):
    """Arguments of `routing_engine.examples.example_problem`: a seeded problem on real geography."""

    orders: Annotated[int, Field(ge=0, le=100_000)] = 200
    nodes: Annotated[int, Field(ge=1, le=100)] = 8
    skus: Annotated[int, Field(ge=1, le=100_000)] = 50
    seed: int = 0
    scarcity: Literal["abundant", "tight", "short"] = "tight"
    cross_border_share: Annotated[float, Field(ge=0, le=1)] = 0.0
    as_of: dt.date = dt.date(2026, 11, 30)


class BaseSpec(Frozen):
    """The baseline problem: an inline example spec, or a problem JSON file (relative to the scenario file)."""

    example: ExampleBase | None = None
    problem: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> BaseSpec:
        if (self.example is None) == (self.problem is None):
            raise ValueError("give exactly one of `example` or `problem`")
        return self


class Variant(Frozen):
    name: Id
    description: str = ""
    changes: list[dict[str, Any]] = Field(default_factory=list)


class SweepRange(Frozen):
    """start, start + step, ... up to and including stop."""

    start: float
    stop: float
    step: Annotated[float, Field(gt=0)]


class Sweep(Frozen):
    """One run per value of `field` in `change` (the other fields of the change stay as given), applied to
    the baseline or, with `variant`, to that variant."""

    name: Id
    description: str = ""
    variant: Id | None = Field(default=None, description="The variant to sweep on; None: the baseline.")
    change: dict[str, Any]
    field: str
    values: list[float] | None = None
    range: SweepRange | None = None

    @model_validator(mode="after")
    def _values_or_range(self) -> Sweep:
        if (self.values is None) == (self.range is None):
            raise ValueError("give exactly one of `values` or `range`")
        return self

    def grid(self) -> list[float]:
        if self.values is not None:
            return list(self.values)
        assert self.range is not None
        r = self.range
        return [round(r.start + i * r.step, 10) for i in range(self.grid_size())]

    @model_validator(mode="after")
    def _grid_size(self) -> Sweep:
        count = len(self.values) if self.values is not None else self.grid_size()
        if count > MAX_SWEEP_POINTS:
            raise ValueError(f"{count} sweep points is over the limit of {MAX_SWEEP_POINTS}")
        return self

    def grid_size(self) -> int:
        """Number of points, without building the grid."""
        if self.values is not None:
            return len(self.values)
        assert self.range is not None
        r = self.range
        return max(0, int((r.stop - r.start) / r.step + 1e-9) + 1)


class ScenarioFile(Frozen):
    """The YAML document as written."""

    name: Id
    description: str = ""
    base: BaseSpec
    solver: SolverName = "auto"
    time_limit_s: Annotated[float, Field(gt=0, le=86_400)] = 10.0
    seed: Annotated[int, Field(ge=0)] = 0
    variants: list[Variant] = Field(default_factory=list)
    sweeps: list[Sweep] = Field(default_factory=list)


@dataclass(frozen=True)
class Limits:
    """Bounds on what one scenario may ask for, for scenarios that come from outside (the API); the CLI
    runs whatever its user's file says."""

    max_runs: int = 200
    max_orders: int = 20_000
    max_time_limit_s: float = 600.0


class RunSpec(Frozen):
    """One allocation to run: everything a worker process (or a Ray task) needs, and nothing else."""

    name: str
    group: str = Field(description='"baseline", "variant" or the name of the sweep it belongs to.')
    sweep_field: str | None = None
    sweep_value: float | None = None
    description: str = ""
    problem: Problem
    options: AllocateOptions


class Scenario(Frozen):
    file: ScenarioFile
    runs: list[RunSpec]


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ScenarioFileError(f"cannot read it: {exc.strerror}", field=str(path)) from None
    except yaml.YAMLError as exc:
        raise ScenarioFileError(f"not valid YAML: {exc}", field=str(path)) from None


def _base_problem(base: BaseSpec, folder: Path | None) -> Problem:
    if base.example is not None:
        from routing_engine.examples import example_problem

        e = base.example
        return example_problem(
            e.orders,
            e.nodes,
            e.skus,
            e.seed,
            scarcity=e.scarcity,
            cross_border_share=e.cross_border_share,
            as_of=e.as_of,
        )
    assert base.problem is not None
    if folder is None:
        raise ScenarioFileError(
            "a scenario sent over the API cannot read files; use `base.example`", field="base.problem"
        )
    path = folder / base.problem
    try:
        return Problem.model_validate(json.loads(path.read_text()))
    except OSError as exc:
        raise ScenarioFileError(f"cannot read {path}: {exc.strerror}", field="base.problem") from None
    except (json.JSONDecodeError, ValidationError) as exc:
        raise ScenarioFileError(f"{path} is not a valid problem: {exc}", field="base.problem") from None


def _check_limits(spec: ScenarioFile, time_limit_s: float | None, limits: Limits) -> None:
    """Refuse an oversized scenario before its problems are generated."""
    if (time_limit_s or spec.time_limit_s) > limits.max_time_limit_s:
        field = "time_limit_s"
        raise InvalidValue(f"over the limit of {limits.max_time_limit_s:g} s per run", field=field)
    runs = 1 + len(spec.variants) + sum(s.grid_size() for s in spec.sweeps)
    if runs > limits.max_runs:
        raise InvalidValue(f"{runs} runs is over the limit of {limits.max_runs}", field="sweeps")
    if spec.base.example is not None and spec.base.example.orders > limits.max_orders:
        raise InvalidValue(f"over the limit of {limits.max_orders} orders", field="base.example.orders")


def parse_scenario(
    data: Any, folder: Path | None, time_limit_s: float | None = None, limits: Limits | None = None
) -> Scenario:
    """Check a scenario document and expand it into runs; raises a `ProblemError` naming what is wrong.

    `folder` is where `base.problem` files are read from (None: nowhere, for documents sent over the API);
    `limits` bounds the runs, orders and time limit (None: no bounds)."""
    try:
        spec = ScenarioFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise ScenarioFileError(first["msg"], field=loc) from None
    if limits is not None:
        _check_limits(spec, time_limit_s, limits)
    names = [BASELINE, *(v.name for v in spec.variants)]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidValue(f"variant name {duplicates[0]!r} is used twice (or is reserved)", field="variants")
    sweep_names = [BASELINE, "variant", *(s.name for s in spec.sweeps)]
    duplicates = sorted({n for n in sweep_names if sweep_names.count(n) > 1})
    if duplicates:
        raise InvalidValue(f"sweep name {duplicates[0]!r} is used twice (or is reserved)", field="sweeps")
    options = AllocateOptions(solver=spec.solver, time_limit_s=time_limit_s or spec.time_limit_s, seed=spec.seed)
    base = _base_problem(spec.base, folder)
    runs = [RunSpec(name=BASELINE, group=BASELINE, problem=base, options=options)]
    for variant in spec.variants:
        where = f"variants[{variant.name}].changes"
        changes: list[Change] = [parse_change(c, f"{where}[{i}]") for i, c in enumerate(variant.changes)]
        problem = apply_changes(base, changes, where)
        runs.append(
            RunSpec(
                name=variant.name, group="variant", description=variant.description, problem=problem, options=options
            )
        )
    problems = {run.name: run.problem for run in runs}
    for sweep in spec.sweeps:
        where = f"sweeps[{sweep.name}].change"
        if sweep.variant is not None and sweep.variant not in problems:
            raise UnknownReference("variant", sweep.variant, f"sweeps[{sweep.name}].variant")
        start = problems[sweep.variant or BASELINE]
        template = parse_change(sweep.change, where)  # names a bad kind before the field check below
        if sweep.field == "kind" or sweep.field not in type(template).model_fields:
            raise InvalidValue(
                f"{type(template).model_fields['kind'].default} has no field {sweep.field!r}",
                field=f"sweeps[{sweep.name}].field",
            )
        for value in sweep.grid():
            change = parse_change({**sweep.change, sweep.field: value}, where)
            runs.append(
                RunSpec(
                    name=f"{sweep.name}={value:g}",
                    group=sweep.name,
                    sweep_field=sweep.field,
                    sweep_value=value,
                    description=sweep.description,
                    problem=apply_changes(start, [change], where),
                    options=options,
                )
            )
    if limits is not None:  # demand surges multiply orders
        for run in runs:
            if len(run.problem.orders) > limits.max_orders:
                where = f"variants[{run.name}]" if run.group == "variant" else f"sweeps[{run.group}]"
                raise InvalidValue(f"{run.name}: over the limit of {limits.max_orders} orders", field=where)
    return Scenario(file=spec, runs=runs)


def load_scenario(path: Path, time_limit_s: float | None = None, limits: Limits | None = None) -> Scenario:
    """Read a scenario YAML file; `base.problem` paths are relative to it."""
    return parse_scenario(_load_yaml(path), path.parent, time_limit_s, limits)


def parse_scenario_yaml(text: str, time_limit_s: float | None = None, limits: Limits | None = None) -> Scenario:
    """A scenario from the text of a YAML file sent over the API (it may not name files)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioFileError(f"not valid YAML: {exc}", field="yaml") from None
    return parse_scenario(data, None, time_limit_s, limits)


def read_header(path: Path) -> ScenarioFile:
    """A scenario file's document, checked but not expanded (no problem is generated): for listings."""
    try:
        return ScenarioFile.model_validate(_load_yaml(path))
    except ValidationError as exc:
        raise ScenarioFileError(str(exc.errors()[0]["msg"]), field=str(path)) from None
