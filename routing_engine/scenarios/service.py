"""Scenario runs in the background, for the API: a FIFO queue worked by one thread, and an in-memory registry
of runs with their progress and, once done, the comparison, its charts and its report.

The registry lives in the memory of one process: a service run with several workers answers a run's status
only from the worker that took it (see README, "Planner API and page"). One scenario runs at a time; `run_all`
spreads its runs over `workers` processes.
"""

from __future__ import annotations

import datetime as dt
import queue
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from routing_engine.errors import ProblemError
from routing_engine.ledger.errors import Conflict, NotFound
from routing_engine.model import Frozen
from routing_engine.scenarios.report import Chart, Comparison, all_charts, comparison_rows, report_html, results_json
from routing_engine.scenarios.runner import RunOutcome, run_all
from routing_engine.scenarios.spec import BASELINE, RunSpec, Scenario, ScenarioFile

RunStatus = Literal["queued", "running", "succeeded", "failed"]
Runner = Callable[[list[RunSpec], int, Callable[[RunOutcome], None]], list[RunOutcome]]


class UnknownScenarioRun(NotFound):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"no scenario run {run_id!r}", field="run_id")
        self.run_id = run_id


class UnknownChart(NotFound):
    def __init__(self, run_id: str, chart: str) -> None:
        super().__init__(f"scenario run {run_id!r} has no chart {chart!r} (yet)", field="chart")
        self.chart = chart


class QueueFull(Conflict):
    def __init__(self, queued: int) -> None:
        super().__init__(f"{queued} scenario runs are already waiting; retry later", field="body")


class Progress(Frozen):
    """Allocations finished out of the scenario's total (baseline, variants and sweep points)."""

    done: int
    total: int


class RunError(Frozen):
    error: str
    field: str | None
    message: str


class ChartRef(Frozen):
    name: str
    title: str
    url: str


class KpiTable(Frozen):
    """The KPI comparison as the CLI prints it: a measure per row, the baseline then each variant with its
    change against the baseline."""

    header: list[str]
    rows: list[list[str]]


class ScenarioRunStatus(Frozen):
    """A scenario run: its progress and, once it succeeded, the KPI table, the full results and its charts."""

    id: str
    scenario: str
    status: RunStatus
    progress: Progress
    finished: list[str]
    submitted_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    error: RunError | None
    table: KpiTable | None
    results: dict[str, Any] | None
    charts: list[ChartRef]
    report_url: str | None


@dataclass
class _Entry:
    """The mutable state of one run; read and written under the registry's lock."""

    id: str
    file: ScenarioFile
    runs: list[RunSpec] | None  # dropped once done: the problems are the bulk of the memory
    total: int
    submitted_at: dt.datetime
    status: RunStatus = "queued"
    finished: list[str] = field(default_factory=list)
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    error: RunError | None = None
    comparison: Comparison | None = None
    results: dict[str, Any] | None = None
    charts: dict[str, Chart] = field(default_factory=dict)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ScenarioRuns:
    """Takes scenarios, runs them one after another on a daemon thread, and answers their status.

    `url_prefix` is where the API serves runs (for chart and report links); `keep` finished runs are kept,
    the oldest dropped first; at most `max_queued` wait at once."""

    def __init__(
        self,
        workers: int = 2,
        *,
        url_prefix: str = "/v1/scenarios/runs",
        keep: int = 100,
        max_queued: int = 20,
        runner: Runner | None = None,
    ) -> None:
        self.workers = workers
        self.url_prefix = url_prefix
        self.keep = keep
        self.max_queued = max_queued
        self._runner: Runner = runner or (lambda specs, workers, on_done: run_all(specs, workers, on_done))
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._queue: queue.Queue[_Entry] = queue.Queue()
        self._thread: threading.Thread | None = None

    def submit(self, scenario: Scenario) -> ScenarioRunStatus:
        """Queue a checked scenario; it starts once the runs before it are done."""
        with self._lock:
            queued = sum(e.status == "queued" for e in self._entries.values())
            if queued >= self.max_queued:
                raise QueueFull(queued)
            entry = _Entry(
                id=f"scn_{secrets.token_hex(8)}",
                file=scenario.file,
                runs=scenario.runs,
                total=len(scenario.runs),
                submitted_at=_now(),
            )
            self._entries[entry.id] = entry
            self._forget_old()
            if self._thread is None:
                # A daemon: a service that stops does not wait for a long scenario to finish.
                self._thread = threading.Thread(target=self._work, name="scenario-runs", daemon=True)
                self._thread.start()
            status = self._status(entry)
        self._queue.put(entry)
        return status

    def status(self, run_id: str) -> ScenarioRunStatus:
        with self._lock:
            return self._status(self._entry(run_id))

    def chart(self, run_id: str, name: str) -> bytes:
        with self._lock:
            chart = self._entry(run_id).charts.get(name)
        if chart is None:
            raise UnknownChart(run_id, name)
        return chart.png

    def report(self, run_id: str) -> str:
        """The HTML report (as `scenario run --out` writes it) of a run that succeeded."""
        with self._lock:
            entry = self._entry(run_id)
            comparison, charts = entry.comparison, list(entry.charts.values())
        if comparison is None:
            raise UnknownChart(run_id, "report")
        return report_html(comparison, charts)

    # ------------------------------------------------------------------------------------ internals

    def _entry(self, run_id: str) -> _Entry:
        entry = self._entries.get(run_id)
        if entry is None:
            raise UnknownScenarioRun(run_id)
        return entry

    def _forget_old(self) -> None:
        finished = [e.id for e in self._entries.values() if e.status in ("succeeded", "failed")]
        for run_id in finished[: max(0, len(finished) - self.keep)]:
            del self._entries[run_id]

    def _status(self, e: _Entry) -> ScenarioRunStatus:
        table = None
        if e.comparison is not None:
            names = [BASELINE, *(v.name for v in e.comparison.variants)]
            table = KpiTable(header=["measure", *names], rows=comparison_rows(e.comparison))
        charts = [
            ChartRef(name=c.name, title=c.title, url=f"{self.url_prefix}/{e.id}/charts/{c.name}")
            for c in e.charts.values()
        ]
        return ScenarioRunStatus(
            id=e.id,
            scenario=e.file.name,
            status=e.status,
            progress=Progress(done=len(e.finished), total=e.total),
            finished=list(e.finished),
            submitted_at=e.submitted_at,
            started_at=e.started_at,
            finished_at=e.finished_at,
            error=e.error,
            table=table,
            results=e.results,
            charts=charts,
            report_url=f"{self.url_prefix}/{e.id}/report" if e.comparison is not None else None,
        )

    def _work(self) -> None:
        while True:
            self._execute(self._queue.get())

    def _execute(self, entry: _Entry) -> None:
        with self._lock:
            entry.status, entry.started_at = "running", _now()
            specs = entry.runs or []

        def done(outcome: RunOutcome) -> None:
            with self._lock:
                entry.finished.append(outcome.name)

        try:
            outcomes = self._runner(specs, self.workers, done)
            comparison = Comparison.of(entry.file, outcomes)
            charts = {c.name: c for c in all_charts(comparison)}
            results = results_json(comparison)
        except ProblemError as exc:
            self._finish(entry, error=RunError(**exc.to_dict()))
        except Exception as exc:  # a failed run must show as failed, not leave the run "running" for ever
            self._finish(entry, error=RunError(error=type(exc).__name__, field=None, message=str(exc)))
        else:
            self._finish(entry, comparison=comparison, charts=charts, results=results)

    def _finish(
        self,
        entry: _Entry,
        *,
        error: RunError | None = None,
        comparison: Comparison | None = None,
        charts: dict[str, Chart] | None = None,
        results: dict[str, Any] | None = None,
    ) -> None:
        with self._lock:
            entry.status = "failed" if error is not None else "succeeded"
            entry.error, entry.comparison, entry.results = error, comparison, results
            entry.charts = charts or {}
            entry.finished_at = _now()
            entry.runs = None
