"""PNG charts of a scenario run (matplotlib, Agg backend), returned as bytes for embedding in the report.

Cost by part per scenario, KPI changes against the baseline, node utilisation, and one curve per sweep.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # files only: no display, and the same output on every machine

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from routing_engine.scenarios.metrics import COST_PARTS, DELTA_KEYS, METRIC_BY_KEY, delta
from routing_engine.scenarios.runner import RunOutcome

PART_COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#b07aa1")
DPI = 110


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def cost_breakdown(runs: list[RunOutcome]) -> bytes:
    """Stacked horizontal bars: cost by part of each scenario, the total printed at the end of each bar."""
    names = [r.name for r in runs]
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(runs) + 1.6))
    y = np.arange(len(runs))
    left = np.zeros(len(runs))
    for part, colour in zip(COST_PARTS, PART_COLOURS, strict=True):
        values = np.array([getattr(r.cost, part) for r in runs])
        ax.barh(y, values, left=left, color=colour, label=part, height=0.6)
        left += values
    for yi, total in zip(y.tolist(), left.tolist(), strict=True):
        ax.text(total, yi, f"  {total:,.0f}", va="center", fontsize=9)
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlim(0, left.max() * 1.15 if left.max() > 0 else 1)
    ax.set_xlabel(f"cost ({runs[0].currency})")
    ax.set_title("Cost by part")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(
        ncol=len(COST_PARTS), loc="upper center", bbox_to_anchor=(0.5, -0.18 if len(runs) > 3 else -0.3), frameon=False
    )
    return _png(fig)


def kpi_deltas(baseline: RunOutcome, variants: list[RunOutcome]) -> bytes:
    """Heat map of KPI changes against the baseline: green better, red worse, the change printed in each cell."""
    metrics = [METRIC_BY_KEY[k] for k in DELTA_KEYS]
    goodness = np.zeros((len(variants), len(metrics)))
    labels: list[list[str]] = []
    for i, run in enumerate(variants):
        row = []
        for j, m in enumerate(metrics):
            change, relative = delta(m, run, baseline)
            if m.fmt.endswith("%"):
                shown, score = f"{change * 100:+.1f} pt", change * 10
            else:
                precision = ".1%" if relative is not None and abs(relative) < 0.01 else ".0%"
                shown = f"{relative:+{precision}}" if relative is not None else f"{change:+,.0f}"
                score = relative if relative is not None else float(np.sign(change))
            goodness[i, j] = score if m.higher_is_better else -score
            row.append("=" if abs(change) < 1e-9 else shown)
        labels.append(row)
    fig, ax = plt.subplots(figsize=(1.3 * len(metrics) + 2.5, 0.5 * len(variants) + 1.8))
    limit = 0.25  # a 25 % change (2.5 pt of fill rate) is already full colour
    ax.imshow(np.clip(goodness, -limit, limit), cmap="RdYlGn", vmin=-limit, vmax=limit, aspect="auto")
    for i in range(len(variants)):
        for j in range(len(metrics)):
            ax.text(j, i, labels[i][j], ha="center", va="center", fontsize=9)
    ax.set_xticks(range(len(metrics)), [m.label for m in metrics], rotation=25, ha="right")
    ax.set_yticks(range(len(variants)), [v.name for v in variants])
    ax.set_title("Change against the baseline (green: better, red: worse)")
    return _png(fig)


def node_utilisation(runs: list[RunOutcome]) -> bytes:
    """Heat map of each node's stock use (units shipped from stock / available stock) per scenario,
    with the units it shipped printed in each cell."""
    nodes = list(dict.fromkeys(n.node for r in runs for n in r.nodes))  # baseline's first, then opened ones
    use = np.full((len(nodes), len(runs)), np.nan)
    units = [["" for _ in runs] for _ in nodes]
    for j, r in enumerate(runs):
        by_node = {n.node: n for n in r.nodes}
        for i, node in enumerate(nodes):
            if node in by_node:
                use[i, j] = by_node[node].stock_use
                units[i][j] = f"{by_node[node].units:,}"
    fig, ax = plt.subplots(figsize=(1.1 * len(runs) + 3.2, 0.42 * len(nodes) + 1.8))
    image = ax.imshow(use, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for i in range(len(nodes)):
        for j in range(len(runs)):
            if units[i][j]:
                ax.text(
                    j,
                    i,
                    units[i][j],
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if use[i, j] > 0.6 else "black",
                )
    ax.set_xticks(range(len(runs)), [r.name for r in runs], rotation=30, ha="right")
    ax.set_yticks(range(len(nodes)), nodes)
    fig.colorbar(image, ax=ax, label="stock use (shipped from stock / available)", format="{x:.0%}")
    ax.set_title("Node utilisation (cell text: units shipped)")
    return _png(fig)


def sweep_curve(runs: list[RunOutcome]) -> bytes:
    """Cost by part stacked against the swept value, with packages per order and fill rate below."""
    runs = sorted(runs, key=lambda r: r.sweep_value or 0.0)
    x = np.array([r.sweep_value for r in runs], dtype=float)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.2), sharex=True, height_ratios=(2, 1))
    parts = np.array([[getattr(r.cost, p) for r in runs] for p in COST_PARTS])
    top.stackplot(x, parts, labels=COST_PARTS, colors=PART_COLOURS, alpha=0.85)
    top.plot(x, parts.sum(axis=0), "k.-", label="total")
    top.set_ylabel(f"cost ({runs[0].currency})")
    top.set_title(f"Sweep {runs[0].group}: {runs[0].sweep_field}")
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    top.grid(True, alpha=0.3)
    bottom.plot(x, [r.kpis.packages_per_order for r in runs], "o-", color="#4e79a7", label="packages / order")
    bottom.set_ylabel("packages / order", color="#4e79a7")
    bottom.grid(True, alpha=0.3)
    twin = bottom.twinx()
    twin.plot(x, [r.kpis.fill_rate for r in runs], "s--", color="#e15759", label="fill rate")
    twin.set_ylabel("fill rate", color="#e15759")
    fill = [r.kpis.fill_rate for r in runs]
    twin.set_ylim(max(0.0, min(fill) - 0.05), 1.01)
    twin.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    bottom.set_xlabel(runs[0].sweep_field or "value")
    bottom.set_xticks(x)
    return _png(fig)
