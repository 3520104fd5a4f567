"""What-if scenarios for planners: list the bundled scenario files, start a run in the background, follow it,
fetch its charts and report; and the planner page (`/planner`) that does all of this in a browser.

`router` is served under /v1 with the planner role; `page_router` (the page itself, no data) is open.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from routing_engine.errors import ProblemError, UnknownReference
from routing_engine.model import Frozen
from routing_engine.scenarios.service import ScenarioRuns, ScenarioRunStatus
from routing_engine.scenarios.spec import (
    Limits,
    Scenario,
    load_scenario,
    parse_scenario,
    parse_scenario_yaml,
    read_header,
)

#: The scenario files of a source checkout (scenarios/ beside the package).
CHECKOUT_SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"
PAGE = Path(__file__).resolve().parents[1] / "static" / "planner.html"


class ScenarioSettings(BaseSettings):
    """Settings of the scenario runs, from ROUTING_ENGINE_SCENARIO_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="ROUTING_ENGINE_SCENARIO_", extra="ignore")

    dir: Path = Field(default=CHECKOUT_SCENARIOS, description="Folder of the bundled scenario files (*.yaml).")
    workers: int = Field(default=2, ge=1, description="Processes per scenario run (1: in the service's process).")
    max_runs: int = Field(default=200, ge=1, description="Most allocations (baseline, variants, sweep points).")
    max_orders: int = Field(default=20_000, ge=1, description="Most orders in any run of a scenario.")
    max_time_limit_s: float = Field(default=600.0, gt=0, description="Longest solver deadline per allocation.")
    keep: int = Field(default=100, ge=1, description="Finished runs kept in memory, the oldest dropped first.")
    max_queued: int = Field(default=20, ge=1, description="Runs that may wait at once (more: 409).")

    def limits(self) -> Limits:
        return Limits(max_runs=self.max_runs, max_orders=self.max_orders, max_time_limit_s=self.max_time_limit_s)

    def bundled(self) -> dict[str, Path]:
        """Bundled scenario name (file stem) -> path."""
        return {p.stem: p for p in sorted(self.dir.glob("*.yaml"))} if self.dir.is_dir() else {}


_SETUP = threading.Lock()


def get_scenario_settings(request: Request) -> ScenarioSettings:
    with _SETUP:
        if not hasattr(request.app.state, "scenario_settings"):
            request.app.state.scenario_settings = ScenarioSettings()
    settings: ScenarioSettings = request.app.state.scenario_settings
    return settings


def get_runs(request: Request) -> ScenarioRuns:
    """The app's run registry, made on first use (it starts its thread on the first run)."""
    settings = get_scenario_settings(request)
    with _SETUP:
        if not hasattr(request.app.state, "scenario_runs"):
            request.app.state.scenario_runs = ScenarioRuns(
                settings.workers, keep=settings.keep, max_queued=settings.max_queued
            )
    runs: ScenarioRuns = request.app.state.scenario_runs
    return runs


ScenarioSettingsDep = Annotated[ScenarioSettings, Depends(get_scenario_settings)]
RunsDep = Annotated[ScenarioRuns, Depends(get_runs)]

# ----------------------------------------------------------------------------------------- schemas


class ScenarioRunIn(Frozen):
    """What to run: exactly one of a scenario document (a scenario file's content as JSON), the text of a
    scenario YAML file, or the name of a bundled scenario. `base.problem` files cannot be named over the
    API: use `base.example`."""

    scenario: dict[str, Any] | None = Field(default=None, description="A scenario document, as in a YAML file.")
    yaml: Annotated[str, Field(max_length=1_000_000)] | None = Field(
        default=None, description="The text of a scenario YAML file."
    )
    bundled: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None, description="Name of a bundled scenario (GET /v1/scenarios)."
    )
    time_limit_s: Annotated[float, Field(gt=0, le=86_400)] | None = Field(
        default=None, description="Solver deadline per allocation, instead of the scenario's."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> ScenarioRunIn:
        if sum(x is not None for x in (self.scenario, self.yaml, self.bundled)) != 1:
            raise ValueError("give exactly one of `scenario`, `yaml` or `bundled`")
        return self


class BundledScenario(Frozen):
    name: str
    title: str = Field(description="The scenario's own name.")
    description: str
    variants: list[str]
    sweeps: list[str]
    runs: int = Field(description="Allocations it runs: baseline, variants and sweep points.")


# ---------------------------------------------------------------------------------------- handlers

router = APIRouter(prefix="/v1/scenarios", tags=["scenarios"])


def _scenario(body: ScenarioRunIn, settings: ScenarioSettings) -> Scenario:
    """Check and expand what the body names; errors name the body field at fault (`scenario.variants[...]`)."""
    limits = settings.limits()
    prefix = "scenario" if body.scenario is not None else "yaml"
    try:
        if body.bundled is not None:
            prefix = "bundled"
            path = settings.bundled().get(body.bundled)
            if path is None:
                raise UnknownReference("bundled scenario", body.bundled, "bundled")
            return load_scenario(path, body.time_limit_s, limits)
        if body.scenario is not None:
            return parse_scenario(body.scenario, None, body.time_limit_s, limits)
        assert body.yaml is not None
        return parse_scenario_yaml(body.yaml, body.time_limit_s, limits)
    except ProblemError as exc:
        # Where in the request body, not in the file: `scenario.variants[v]...`; the whole document is `yaml`.
        if exc.field == "(root)":
            exc.field = prefix
        elif exc.field != prefix and not exc.field.startswith(f"{prefix}."):
            exc.field = f"{prefix}.{exc.field}"
        raise


@router.get("", response_model=list[BundledScenario])
def bundled(settings: ScenarioSettingsDep) -> list[BundledScenario]:
    """The bundled scenario files, to run by name."""
    listed = []
    for name, path in settings.bundled().items():
        file = read_header(path)
        runs = 1 + len(file.variants) + sum(s.grid_size() for s in file.sweeps)
        listed.append(
            BundledScenario(
                name=name,
                title=file.name,
                description=file.description,
                variants=[v.name for v in file.variants],
                sweeps=[s.name for s in file.sweeps],
                runs=runs,
            )
        )
    return listed


@router.post("/runs", status_code=202, response_model=ScenarioRunStatus)
def start_run(
    body: ScenarioRunIn, response: Response, settings: ScenarioSettingsDep, runs: RunsDep
) -> ScenarioRunStatus:
    """Check the scenario (a bad change, node or SKU is a 422 naming it) and run it in the background."""
    status = runs.submit(_scenario(body, settings))
    response.headers["Location"] = f"{runs.url_prefix}/{status.id}"
    return status


@router.get("/runs/{run_id}", response_model=ScenarioRunStatus)
def run_status(run_id: str, runs: RunsDep) -> ScenarioRunStatus:
    """Status and progress; once succeeded, the KPI table, the results and links to the charts and report."""
    return runs.status(run_id)


# No response_class: errors stay documented as JSON, and 200 is documented as the image or page it is.
@router.get(
    "/runs/{run_id}/charts/{chart}",
    responses={200: {"content": {"image/png": {}}, "description": "The chart as a PNG image."}},
)
def run_chart(run_id: str, chart: str, runs: RunsDep) -> Response:
    return Response(runs.chart(run_id, chart), media_type="image/png")


@router.get(
    "/runs/{run_id}/report",
    responses={200: {"content": {"text/html": {}}, "description": "The report, one self-contained page."}},
)
def run_report(run_id: str, runs: RunsDep) -> HTMLResponse:
    """The self-contained HTML report, as `routing-engine scenario run --out` writes it."""
    return HTMLResponse(runs.report(run_id))


# -------------------------------------------------------------------------------------------- page

page_router = APIRouter(tags=["planner"])


@page_router.get("/planner", response_class=HTMLResponse, include_in_schema=False)
def planner_page() -> HTMLResponse:
    """The planner page: static HTML and script; it calls the API above with the key typed into it."""
    return HTMLResponse(PAGE.read_text())
