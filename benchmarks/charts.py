"""PNG charts of a benchmark run (matplotlib, Agg backend): cost vs the best bound and runtime by size,
and the cost by part of each solver.

Each solver is one colour and marker throughout; points are single instances, lines join means per size.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display, and the same output on every machine

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from benchmarks.instances import TIMED_SOLVERS
from benchmarks.report import COST_PARTS, Row

MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*")
PART_COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#b07aa1")
DPI = 120


def _style(solvers: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    colours = plt.get_cmap("tab10").colors  # type: ignore[attr-defined]
    return {s: (colours[i % len(colours)], MARKERS[i % len(MARKERS)]) for i, s in enumerate(solvers)}


def _size_axis(ax: Axes, sizes: list[int]) -> None:
    """Orders on a log axis, ticked at the sizes measured."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(sizes))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    lo, hi = min(sizes), max(sizes)
    ax.set_xlim(lo / 1.35, hi * 1.35)
    ax.set_xlabel("orders")
    ax.grid(True, which="major", alpha=0.3)


def _by_size(
    ax: Axes,
    rows: list[Row],
    solvers: tuple[str, ...],
    value: Callable[[Row], float | None],
    mean: Callable[[list[float]], float],
    style: dict[str, tuple[str, str]],
) -> None:
    """One series per solver: a point per instance and a line through the mean at each size, dodged sideways
    so solvers with equal values stay visible."""
    for i, solver in enumerate(solvers):
        colour, marker = style[solver]
        dodge = 1.0 + 0.035 * (i - (len(solvers) - 1) / 2)
        points: dict[int, list[float]] = defaultdict(list)
        for r in rows:
            v = value(r) if r.solver == solver and r.ok else None
            if v is not None:
                points[r.orders].append(v)
        if not points:
            continue
        xs = sorted(points)
        ax.scatter(
            [x * dodge for x in xs for _ in points[x]],
            [v for x in xs for v in points[x]],
            color=colour,
            marker=marker,
            s=22,
            alpha=0.55,
            linewidths=0,
        )
        ax.plot([x * dodge for x in xs], [mean(points[x]) for x in xs], color=colour, marker=marker, label=solver)


def cost_vs_bound(rows: list[Row], solvers: tuple[str, ...], path: Path, title: str) -> None:
    """Left: every solver. Right: the optimising solvers alone, on a scale that shows their small gaps."""
    focus = tuple(s for s in solvers if s in TIMED_SOLVERS)
    panels = [(solvers, "every solver")] + ([(focus, "optimising solvers, zoomed")] if focus else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels) + 1.6, 5.0), squeeze=False)
    sizes = sorted({r.orders for r in rows})
    style = _style(solvers)
    for ax, (shown, subtitle) in zip(axes[0], panels, strict=True):
        _by_size(ax, rows, shown, lambda r: None if r.vs_best_bound is None else 100 * r.vs_best_bound, _mean, style)
        _size_axis(ax, sizes)
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_ylabel("cost above the best bound of the instance (%)")
        ax.set_title(subtitle, fontsize=10)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, title="solver", loc="center right", frameon=False)
    fig.suptitle(f"{title}: cost relative to the best proven or certified bound (lines: mean per size)")
    fig.tight_layout(rect=(0.0, 0.0, 1.0 - 1.5 / fig.get_figwidth(), 1.0))
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def runtime(rows: list[Row], solvers: tuple[str, ...], path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(8.5, 5.0))
    _by_size(
        ax, rows, solvers, lambda r: None if r.runtime_s is None else max(r.runtime_s, 1e-4), _geomean, _style(solvers)
    )
    failed = [(r.orders, r.runtime_s) for r in rows if not r.ok and r.runtime_s is not None]
    if failed:  # a run killed at its hard timeout shows how far past its deadline it went
        ax.scatter([x for x, _ in failed], [y for _, y in failed], marker="x", color="black", s=40)
        ax.scatter([], [], marker="x", color="black", label="failed or killed")
    ax.set_yscale("log")
    _size_axis(ax, sorted({r.orders for r in rows}))
    for i, limit in enumerate(sorted({r.time_limit_s for r in rows})):
        ax.axhline(limit, color="grey", linestyle=":", linewidth=1.0, label="deadline" if i == 0 else None)
    ax.set_ylabel("runtime, seconds (log scale)")
    ax.set_title(f"{title}: runtime by size (lines: geometric mean)")
    ax.legend(title="solver", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def cost_breakdown(rows: list[Row], solvers: tuple[str, ...], path: Path, title: str) -> None:
    """Cost by part per solver, summed over the instances every solver finished (so the totals compare)."""
    instances = sorted({r.instance for r in rows})
    complete = [i for i in instances if all(r.ok for r in rows if r.instance == i)]
    shown = [s for s in solvers if any(r.solver == s for r in rows)]
    totals = {s: [0.0] * len(COST_PARTS) for s in shown}
    for r in rows:
        if r.instance in complete and r.solver in totals:
            for k, part in enumerate(COST_PARTS):
                totals[r.solver][k] += getattr(r, f"cost_{part}") or 0.0
    fig, ax = plt.subplots(figsize=(8.5, 0.9 + 0.55 * len(shown)))
    ys = list(range(len(shown)))[::-1]
    left = [0.0] * len(shown)
    for k, part in enumerate(COST_PARTS):
        widths = [totals[s][k] for s in shown]
        ax.barh(ys, widths, left=left, color=PART_COLOURS[k], label=part, height=0.62)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    for y, total in zip(ys, left, strict=True):
        ax.text(total, y, f"  {total:,.0f}", va="center", fontsize=8)
    ax.set_yticks(ys, shown)
    ax.set_xlim(0, max(left, default=1.0) * 1.15)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel(f"cost (USD), summed over {len(complete)} instance(s)")
    ax.set_title(f"{title}: cost by part")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def write_charts(rows: list[Row], solvers: tuple[str, ...], out: Path, title: str) -> list[str]:
    """Write every chart into `out`; returns their file names."""
    charts = {
        "cost_vs_bound.png": cost_vs_bound,
        "runtime.png": runtime,
        "cost_breakdown.png": cost_breakdown,
    }
    for name, draw in charts.items():
        draw(rows, solvers, out / name, title)
    return list(charts)
