"""The comparison of a scenario run: rich tables for the terminal, results.json and a self-contained
report.html (tables plus PNG charts embedded as base64; nothing is fetched from the network).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from routing_engine.scenarios import charts
from routing_engine.scenarios.metrics import METRICS, delta, format_delta
from routing_engine.scenarios.runner import RunOutcome
from routing_engine.scenarios.spec import BASELINE, ScenarioFile


@dataclass(frozen=True)
class Comparison:
    """Outcomes split into the baseline, the variants and the sweeps (name -> runs by value)."""

    file: ScenarioFile
    baseline: RunOutcome
    variants: list[RunOutcome]
    sweeps: dict[str, list[RunOutcome]]

    @classmethod
    def of(cls, file: ScenarioFile, outcomes: list[RunOutcome]) -> Comparison:
        baseline = next(o for o in outcomes if o.group == BASELINE)
        sweeps: dict[str, list[RunOutcome]] = {}
        for o in outcomes:
            if o.group not in (BASELINE, "variant"):
                sweeps.setdefault(o.group, []).append(o)
        for runs in sweeps.values():
            runs.sort(key=lambda r: r.sweep_value or 0.0)
        return cls(file, baseline, [o for o in outcomes if o.group == "variant"], sweeps)


def _cell(metric_fmt: str, value: float) -> str:
    return f"{value:{metric_fmt}}"


def comparison_rows(c: Comparison) -> list[list[str]]:
    """One row per KPI: label, baseline value, then each variant's value with its change against the baseline."""
    rows = []
    for m in METRICS:
        row = [m.label, _cell(m.fmt, m.value(c.baseline))]
        for run in c.variants:
            change, relative = delta(m, run, c.baseline)
            row.append(f"{_cell(m.fmt, m.value(run))} ({format_delta(m, change, relative)})")
        rows.append(row)
    return rows


def node_rows(c: Comparison) -> list[list[str]]:
    """One row per node: units shipped and stock use in each scenario."""
    runs = [c.baseline, *c.variants]
    nodes = list(dict.fromkeys(n.node for r in runs for n in r.nodes))
    rows = []
    for node in nodes:
        row = [node]
        for r in runs:
            use = next((n for n in r.nodes if n.node == node), None)
            row.append("-" if use is None else f"{use.units:,} u · {use.stock_use:.0%}")
        rows.append(row)
    return rows


def fill_rows(c: Comparison) -> list[list[str]]:
    """Fill rate by channel and by destination country: one row per group, one column per scenario."""
    runs = [c.baseline, *c.variants]
    rows = []
    for label, groups in (("channel", lambda r: r.by_channel), ("country", lambda r: r.by_country)):
        keys = list(dict.fromkeys(g.key for r in runs for g in groups(r)))
        for key in keys:
            row = [f"{label} {key}"]
            for r in runs:
                group = next((g for g in groups(r) if g.key == key), None)
                row.append("-" if group is None else f"{group.fill_rate:.1%} of {group.units:,} u")
            rows.append(row)
    return rows


def sweep_rows(runs: list[RunOutcome]) -> list[list[str]]:
    return [
        [
            f"{r.sweep_value:g}",
            f"{r.cost.total:,.2f}",
            f"{r.kpis.packages_per_order:.3f}",
            f"{r.kpis.fill_rate:.1%}",
            f"{r.kpis.units_backordered:,}",
            r.status,
        ]
        for r in runs
    ]


SWEEP_HEADER = ("value", "cost: total", "packages / order", "fill rate", "units backordered", "status")


def _side_by_side(title: str, first: str, names: list[str], rows: list[list[str]], per_table: int) -> list[Table]:
    """Tables of the baseline and up to `per_table` variants each, so that a narrow terminal stays readable."""
    chunks = [list(range(1, len(names)))[i : i + per_table] for i in range(0, max(1, len(names) - 1), per_table)]
    tables_ = []
    for k, chunk in enumerate(chunks):
        suffix = f" ({k + 1}/{len(chunks)})" if len(chunks) > 1 else ""
        table = Table(title=title + suffix)
        table.add_column(first, no_wrap=True)
        for i in [0, *chunk]:
            table.add_column(names[i], justify="right", overflow="fold")
        for row in rows:
            table.add_row(row[0], *(row[i + 1] for i in [0, *chunk]))
        tables_.append(table)
    return tables_


def tables(c: Comparison, width: int = 200) -> list[Table]:
    """The terminal view for a console `width` characters wide: KPI comparison, node utilisation, fill rate
    by channel and country, one table per sweep."""
    names = [BASELINE, *(v.name for v in c.variants)]
    per_table = max(1, (width - 47) // 23)  # measure and baseline columns take ~47 characters, a variant ~23
    kpi_rows = [*comparison_rows(c), ["solver status", *(r.status for r in [c.baseline, *c.variants])]]
    result = [
        *_side_by_side(
            f"Scenario {c.file.name}: KPIs ({c.baseline.currency}; change vs baseline)",
            "measure",
            names,
            kpi_rows,
            per_table,
        ),
        *_side_by_side("Node utilisation (units shipped · stock use)", "node", names, node_rows(c), per_table),
        *_side_by_side("Fill rate by channel and destination country", "group", names, fill_rows(c), per_table),
    ]
    for sweep, runs in c.sweeps.items():
        table = Table(title=f"Sweep {sweep}: {runs[0].sweep_field}")
        for header in SWEEP_HEADER:
            table.add_column(header, justify="right")
        for row in sweep_rows(runs):
            table.add_row(*row)
        result.append(table)
    return result


def results_json(c: Comparison) -> dict[str, Any]:
    """Every outcome plus the KPI deltas of each variant against the baseline."""
    deltas = {
        run.name: {m.key: dict(zip(("change", "relative"), delta(m, run, c.baseline), strict=True)) for m in METRICS}
        for run in c.variants
    }
    return {
        "scenario": c.file.name,
        "description": c.file.description,
        "currency": c.baseline.currency,
        "solver": c.file.solver,
        "baseline": c.baseline.model_dump(mode="json"),
        "variants": [v.model_dump(mode="json") for v in c.variants],
        "sweeps": {name: [r.model_dump(mode="json") for r in runs] for name, runs in c.sweeps.items()},
        "deltas": deltas,
    }


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(chart: Chart) -> str:
    return f'<img alt="{html.escape(chart.title)}" src="data:image/png;base64,{base64.b64encode(chart.png).decode()}">'


CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead { background: #f0f0f0; }
img { max-width: 100%; display: block; margin: 1em 0; }
.muted { color: #666; }
"""


@dataclass(frozen=True)
class Chart:
    """One chart of a comparison: a stable name (for URLs), a title (alt text) and the PNG."""

    name: str
    title: str
    png: bytes


def all_charts(c: Comparison) -> list[Chart]:
    """Every chart of the comparison in report order, drawn once for the report and for the API."""
    runs = [c.baseline, *c.variants]
    result = [Chart("cost-breakdown", "cost by part per scenario", charts.cost_breakdown(runs))]
    if c.variants:
        result.append(
            Chart("kpi-deltas", "KPI changes against the baseline", charts.kpi_deltas(c.baseline, c.variants))
        )
    result.append(Chart("node-utilisation", "node utilisation", charts.node_utilisation(runs)))
    result.append(Chart("flow-map", "flows from nodes to destination regions", charts.flow_map(runs)))
    result += [Chart(f"sweep-{name}", f"sweep {name}", charts.sweep_curve(r)) for name, r in c.sweeps.items()]
    return result


def report_html(c: Comparison, charts_: list[Chart] | None = None) -> str:
    """The self-contained report; `charts_` are `all_charts(c)` when already drawn."""
    by_name = {chart.name: chart for chart in (charts_ if charts_ is not None else all_charts(c))}
    names = [BASELINE, *(v.name for v in c.variants)]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Scenario {html.escape(c.file.name)}</title><style>{CSS}</style></head><body>",
        f"<h1>Scenario {html.escape(c.file.name)}</h1>",
        f"<p>{html.escape(c.file.description)}</p>",
        f"<p class='muted'>Solver {html.escape(c.file.solver)}, costs in {html.escape(c.baseline.currency)}; "
        f"generated {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC.</p>",
    ]
    if c.variants:
        descriptions = [[v.name, v.description] for v in c.variants]
        parts += ["<h2>Variants</h2>", _html_table(["variant", "what changes"], descriptions)]
    parts += ["<h2>KPIs</h2>", _html_table(["measure", *names], comparison_rows(c))]
    parts += [_img(by_name[name]) for name in ("cost-breakdown", "kpi-deltas") if name in by_name]
    parts += ["<h2>Node utilisation</h2>", _img(by_name["node-utilisation"])]
    parts += [_html_table(["node", *names], node_rows(c))]
    parts += ["<h2>Flows</h2>", _img(by_name["flow-map"])]
    parts += ["<h2>Fill rate by channel and destination country</h2>", _html_table(["group", *names], fill_rows(c))]
    for sweep, sweep_runs in c.sweeps.items():
        parts += [f"<h2>Sweep {html.escape(sweep)}</h2>", f"<p>{html.escape(sweep_runs[0].description)}</p>"]
        parts += [_img(by_name[f"sweep-{sweep}"])]
        parts += [_html_table(list(SWEEP_HEADER), sweep_rows(sweep_runs))]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(c: Comparison, out: Path) -> tuple[Path, Path]:
    """Write results.json and report.html into `out` (created if needed)."""
    out.mkdir(parents=True, exist_ok=True)
    results, report = out / "results.json", out / "report.html"
    results.write_text(json.dumps(results_json(c), indent=1))
    report.write_text(report_html(c))
    return results, report
