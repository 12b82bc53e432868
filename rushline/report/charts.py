"""The report's charts (matplotlib, Agg backend) as PNG bytes.

Each chart answers one question a floor manager asks: where does the time go, which
carriers are late, who carries the load, where are the orders now."""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render to memory only

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from domain.analytics import FLOOR_STAGES
from rushline.report.format import LEVEL_NAMES, levels_in, statuses, time_unit

STAGE_COLOURS = {"allocate": "#8da0cb", "pick": "#fc8d62", "pack": "#66c2a5", "ship": "#e78ac3"}
LEVEL_COLOURS = {"P1": "#c0392b", "P2": "#e67e22", "P3": "#2980b9", "P4": "#7f8c8d"}
GOOD, BAD, NEUTRAL = "#27ae60", "#c0392b", "#95a5a6"
THRESHOLD = 0.9


def _figure(width: float = 9.0, height: float = 3.8, cols: int = 1) -> tuple[Figure, list[Axes]]:
    fig, axes = plt.subplots(1, cols, figsize=(width, height), dpi=110, squeeze=False)
    return fig, list(axes[0])


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _tidy(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _empty(ax: Axes, text: str) -> None:
    ax.text(
        0.5, 0.5, text, ha="center", va="center", color=NEUTRAL, fontsize=11, transform=ax.transAxes
    )
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _stage(summary: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in summary["stages"] if s["stage"] == name)


def stage_time(summary: dict[str, Any]) -> bytes:
    """Stacked bars: the median time each floor stage takes, one bar per priority level."""
    fig, (ax,) = _figure(height=3.2 + 0.25 * len(levels_in(summary)))
    rows = [*levels_in(summary), "all"]
    medians: dict[str, list[float]] = {}
    for stage in FLOOR_STAGES:
        figures = _stage(summary, stage)
        medians[stage] = [
            (figures["overall"] or {}).get("p50_s", 0.0)
            if row == "all"
            else (figures["by_level"].get(row) or {}).get("p50_s", 0.0)
            for row in rows
        ]
    totals = [sum(medians[s][i] for s in FLOOR_STAGES) for i in range(len(rows))]
    if not any(totals):
        _empty(ax, "no finished floor stages yet")
        return _png(fig)
    div, unit = time_unit(totals)
    labels = [LEVEL_NAMES.get(r, "all orders") for r in rows]
    left = [0.0] * len(rows)
    for stage in FLOOR_STAGES:
        widths = [v / div for v in medians[stage]]
        bars = ax.barh(
            labels, widths, left=left, color=STAGE_COLOURS[stage], label=stage, edgecolor="white"
        )
        for bar, width in zip(bars, widths, strict=True):
            if width > 0.08 * max(totals) / div:
                ax.text(
                    bar.get_x() + width / 2,
                    bar.get_y() + bar.get_height() / 2,
                    f"{width:.1f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="black",
                )
        left = [a + b for a, b in zip(left, widths, strict=True)]
    for y, total in enumerate(totals):
        ax.text(
            total / div,
            y,
            f"  {total / div:.1f} {unit}",
            va="center",
            fontsize=9,
            fontweight="bold",
        )
    ax.invert_yaxis()
    ax.set_xlabel(f"median {unit}, intake to hand-over")
    ax.set_title(
        "Where the floor time goes: median per stage, by priority", loc="left", fontsize=11
    )
    ax.set_xlim(0, max(totals) / div * 1.25)
    ax.legend(ncol=4, loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    _tidy(ax)
    return _png(fig)


def stage_spread(summary: dict[str, Any]) -> bytes:
    """Grouped bars per floor stage and level: light bar to the p90, dark bar to the
    median (delivery is the carrier's time and would dwarf the floor's)."""
    levels = levels_in(summary)
    stages = [s for s in summary["stages"] if s["stage"] in FLOOR_STAGES and s["by_level"]]
    fig, (ax,) = _figure(height=3.8)
    if not stages or not levels:
        _empty(ax, "no finished floor stages yet")
        return _png(fig)
    p90s = [s["by_level"][lv]["p90_s"] for s in stages for lv in levels if lv in s["by_level"]]
    div, unit = time_unit(p90s)
    width = 0.8 / len(levels)
    for j, level in enumerate(levels):
        xs, p50, p90 = [], [], []
        for i, stage in enumerate(stages):
            figures = stage["by_level"].get(level)
            if figures:
                xs.append(i - 0.4 + width * (j + 0.5))
                p50.append(figures["p50_s"] / div)
                p90.append(figures["p90_s"] / div)
        colour = LEVEL_COLOURS.get(level, NEUTRAL)
        ax.bar(xs, p90, width * 0.9, color=colour, alpha=0.3)
        ax.bar(xs, p50, width * 0.9, color=colour, label=LEVEL_NAMES.get(level, level))
    ax.set_xticks(range(len(stages)), [f"{s['stage']}\n{s['from']} -> {s['to']}" for s in stages])
    ax.tick_params(axis="x", labelsize=8)
    ax.set_ylabel(unit)
    ax.set_title(
        "Floor stage time by priority: dark = median, light = 90th percentile",
        loc="left",
        fontsize=11,
    )
    ax.legend(fontsize=8, frameon=False, ncol=len(levels), loc="upper left")
    ax.set_ylim(0, max(p90s) / div * 1.2)
    _tidy(ax)
    return _png(fig)


def _rate_bars(ax: Axes, names: list[str], rows: list[dict[str, Any]], title: str) -> None:
    rates = [r["rate"] or 0.0 for r in rows]
    colours = [
        NEUTRAL if r["rate"] is None else GOOD if r["rate"] >= THRESHOLD else BAD for r in rows
    ]
    ax.barh(names, [x * 100 for x in rates], color=colours)
    for y, row in enumerate(rows):
        text = (
            "no deliveries"
            if row["rate"] is None
            else f" {row['rate']:.1%} ({row['on_time']}/{row['total']})"
        )
        ax.text(max(rates[y] * 100, 1), y, text, va="center", fontsize=8)
    ax.axvline(THRESHOLD * 100, color="black", linestyle="--", linewidth=0.8)
    ax.text(
        THRESHOLD * 100,
        1.0,
        "target",
        ha="center",
        va="bottom",
        fontsize=7,
        transform=ax.get_xaxis_transform(),
    )
    ax.set_xlim(0, 135)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_xlabel(f"% delivered by the deadline (dashed: {THRESHOLD:.0%} target)")
    ax.set_title(title, loc="left", fontsize=11)
    ax.invert_yaxis()
    _tidy(ax)


def on_time(summary: dict[str, Any]) -> bytes:
    """On-time delivery: urgent vs standard, and per carrier service."""
    data = summary["on_time"]
    carriers = data["by_carrier"][:12]
    fig, (left, right) = _figure(width=10, height=max(2.8, 1.2 + 0.35 * len(carriers)), cols=2)
    groups = [data["urgent"], data["standard"]]
    if not any(g["total"] for g in groups):
        _empty(left, "no deliveries recorded yet")
        _empty(right, "post carrier events to measure carriers")
        return _png(fig)
    _rate_bars(left, ["urgent P1-P2", "standard P3-P4"], groups, "Urgent vs standard")
    _rate_bars(right, [c["service"] for c in carriers], carriers, "By carrier service")
    return _png(fig)


def throughput(summary: dict[str, Any], limit: int = 12) -> bytes:
    """Work per hour while active, per station (device) and per picker."""
    stations = summary["stations"][:limit]
    pickers = summary["operators"][:limit]
    rows = max(len(stations), len(pickers), 1)
    fig, (left, right) = _figure(width=10, height=1.4 + 0.32 * rows, cols=2)
    for ax, items, title, colour in (
        (left, stations, "Stations: operations per hour", "#34495e"),
        (right, pickers, "Pickers: pick lines per hour", "#16a085"),
    ):
        if not items:
            _empty(ax, "no work recorded yet")
            continue
        names = [f"{t['name']} ({t['kind']})" if ax is left else t["name"] for t in items]
        rates = [t["per_hour"] for t in items]
        ax.barh(names, rates, color=colour)
        for y, item in enumerate(items):
            ax.text(rates[y], y, f" {rates[y]:.0f}/h, {item['ops']} ops", va="center", fontsize=8)
        ax.set_xlim(0, max(rates) * 1.35 or 1)
        ax.set_title(title, loc="left", fontsize=11)
        ax.tick_params(axis="y", labelsize=8)
        ax.invert_yaxis()
        _tidy(ax)
    return _png(fig)


def orders_by_status(summary: dict[str, Any]) -> bytes:
    """Orders by status along the path; waiting stages and their queue ages annotated."""
    counts = statuses(summary["orders"]["by_status"])
    fig, (ax,) = _figure(height=3.2)
    if not counts:
        _empty(ax, "no orders yet")
        return _png(fig)
    done = {"shipped": GOOD, "delivered": GOOD, "cancelled": NEUTRAL, "on_hold": "#f39c12"}
    names = [s for s, _ in counts]
    values = [n for _, n in counts]
    ax.bar(names, values, color=[done.get(s, "#2980b9") for s in names])
    for x, value in enumerate(values):
        ax.text(x, value, f"{value}", ha="center", va="bottom", fontsize=9)
    ax.set_ylim(0, max(values) * 1.15)
    ax.set_ylabel("orders")
    ax.set_title("Orders by status (blue: still on the floor)", loc="left", fontsize=11)
    ax.tick_params(axis="x", labelsize=9)
    _tidy(ax)
    return _png(fig)


CHARTS = (
    ("stage-time", "Where the floor time goes", stage_time),
    ("stage-spread", "Stage time by priority", stage_spread),
    ("on-time", "On-time delivery", on_time),
    ("throughput", "Throughput per station and picker", throughput),
    ("status", "Orders by status", orders_by_status),
)
"""(file stem, alt text, renderer) of every chart, in page order."""
