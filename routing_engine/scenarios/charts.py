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


def _ink(darkness: float) -> str:
    """Text colour on a heat-map cell: white where its colour is dark (`darkness` above 0.6 of the map's
    range from its light point), black elsewhere."""
    return "white" if darkness > 0.6 else "black"


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
    shade = np.clip(goodness, -limit, limit)
    ax.imshow(shade, cmap="RdYlGn", vmin=-limit, vmax=limit, aspect="auto")
    for i in range(len(variants)):
        for j in range(len(metrics)):
            # Both ends of the colour map are dark, its middle light.
            ax.text(j, i, labels[i][j], ha="center", va="center", fontsize=9, color=_ink(abs(shade[i, j]) / limit))
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
                    color=_ink(use[i, j]),
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


#: Most scenarios drawn side by side on the flow map (the baseline and the first variants).
FLOW_PANELS = 6


def flow_map(runs: list[RunOutcome]) -> bytes:
    """Units shipped from each node (squares) to each destination region (circles sized by the units it
    receives), one panel per scenario on shared lon/lat axes; line width follows units. No basemap: the
    points themselves outline the network."""
    runs = runs[:FLOW_PANELS]
    flows = [f for r in runs for f in r.flows]
    lats = [f.node_lat for f in flows] + [f.lat for f in flows] or [0.0]
    lons = [f.node_lon for f in flows] + [f.lon for f in flows] or [0.0]
    pad = 2.0
    # Degrees of longitude shrink with latitude: keep the map's proportions at its middle latitude.
    aspect = 1 / max(0.2, float(np.cos(np.radians((min(lats) + max(lats)) / 2))))
    height_per_width = aspect * (max(lats) - min(lats) + 2 * pad) / (max(lons) - min(lons) + 2 * pad)
    columns = min(3, len(runs))
    rows = -(-len(runs) // columns)
    panel_width = 5.2
    size = (panel_width * columns, (panel_width * min(1.2, max(0.35, height_per_width)) + 0.6) * rows + 0.5)
    fig, axes = plt.subplots(rows, columns, figsize=size, squeeze=False)
    most = max((f.units for f in flows), default=1)
    received_most = max(
        (sum(f.units for f in r.flows if f.region == region) for r in runs for region in {f.region for f in r.flows}),
        default=1,
    )
    for ax, run in zip(axes.flat, runs, strict=False):
        for f in run.flows:
            ax.plot([f.node_lon, f.lon], [f.node_lat, f.lat], color="#4e79a7", alpha=0.55, lw=0.4 + 5 * f.units / most)
        received: dict[str, list[float]] = {}
        for f in run.flows:
            point = received.setdefault(f.region, [f.lon, f.lat, 0.0])
            point[2] += f.units
        if received:
            x, y, units = np.array(list(received.values())).T
            ax.scatter(x, y, s=12 + 150 * units / received_most, color="#f28e2b", alpha=0.8, zorder=3)
        shipping = {f.node: (f.node_lon, f.node_lat) for f in run.flows}
        all_nodes = {n.node for n in run.nodes}
        for node, (x_node, y_node) in shipping.items():
            ax.scatter([x_node], [y_node], marker="s", s=40, color="#222", zorder=4)
            ax.annotate(node, (x_node, y_node), fontsize=6, xytext=(3, 3), textcoords="offset points")
        ax.set_title(f"{run.name} ({len(shipping)} of {len(all_nodes)} nodes ship)", fontsize=9)
        ax.set_xlim(min(lons) - pad, max(lons) + pad)
        ax.set_ylim(min(lats) - pad, max(lats) + pad)
        ax.set_aspect(aspect)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.25)
    for ax in axes.flat[len(runs) :]:
        ax.set_visible(False)
    fig.suptitle("Flows: units from nodes (squares) to destination states or countries (circles)")
    fig.tight_layout()
    return _png(fig)
