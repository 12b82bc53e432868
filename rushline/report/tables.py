"""The summary as terminal tables (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from rushline.report.format import LEVEL_NAMES, dur, levels_in, pct, statuses


def _orders(summary: dict[str, Any]) -> Table:
    orders = summary["orders"]
    table = Table(title=f"Orders: {orders['total']}", title_justify="left")
    table.add_column("status")
    table.add_column("orders", justify="right")
    for status, count in statuses(orders["by_status"]):
        table.add_row(status, str(count))
    return table


def _stages(summary: dict[str, Any]) -> Table:
    levels = levels_in(summary)
    table = Table(
        title="Stage durations: median / p90",
        title_justify="left",
        caption="allocate: received -> allocated, pick: -> picked, pack: -> packed, "
        "ship: -> shipped (hand-over), deliver: -> delivered (carrier)",
        caption_justify="left",
    )
    table.add_column("stage")
    table.add_column("orders", justify="right")
    table.add_column("all", justify="right")
    for level in levels:
        table.add_column(LEVEL_NAMES.get(level, level), justify="right")
    for stage in summary["stages"]:
        overall = stage["overall"]
        cells = [stage["stage"]]
        cells.append(str(overall["count"]) if overall else "0")
        cells.append(f"{dur(overall['p50_s'])} / {dur(overall['p90_s'])}" if overall else "-")
        for level in levels:
            s = stage["by_level"].get(level)
            cells.append(f"{dur(s['p50_s'])} / {dur(s['p90_s'])}" if s else "-")
        table.add_row(*cells)
    return table


def _queues(summary: dict[str, Any]) -> Table:
    table = Table(title="Waiting now", title_justify="left")
    for name, justify in (
        ("stage", "left"),
        ("orders", "right"),
        ("p90 wait", "right"),
        ("oldest", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for queue in summary["queues"]:
        table.add_row(
            queue["stage"], str(queue["waiting"]), dur(queue["p90_age_s"]), dur(queue["oldest_s"])
        )
    return table


def _on_time(summary: dict[str, Any], lane_limit: int = 8) -> Table:
    on_time = summary["on_time"]
    table = Table(title="On-time delivery (delivered by the deadline)", title_justify="left")
    for name, justify in (
        ("group", "left"),
        ("on time", "right"),
        ("delivered", "right"),
        ("rate", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    rows: list[tuple[str, dict[str, Any]]] = [
        ("urgent (P1-P2)", on_time["urgent"]),
        ("standard (P3-P4)", on_time["standard"]),
    ]
    rows += [(f"carrier {c['service']}", c) for c in on_time["by_carrier"]]
    # Lanes can be many: the terminal shows the worst measured ones, the page shows all.
    lanes = [c for c in on_time["by_lane"] if c["country"] != "*"]
    worst = sorted(lanes, key=lambda c: (c["rate"] if c["rate"] is not None else 2.0, -c["total"]))
    rows += [(f"lane {c['service']} -> {c['country']}", c) for c in worst[:lane_limit]]
    for name, row in rows:
        table.add_row(name, str(row["on_time"]), str(row["total"]), pct(row["rate"]))
    if len(lanes) > lane_limit:
        table.caption = f"the {lane_limit} worst of {len(lanes)} lanes; all in report.html"
        table.caption_justify = "left"
    return table


def _throughput(title: str, rows: list[dict[str, Any]], limit: int = 15) -> Table:
    table = Table(title=title, title_justify="left")
    for name, justify in (
        ("name", "left"),
        ("work", "left"),
        ("ops", "right"),
        ("units", "right"),
        ("per hour", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows[:limit]:
        table.add_row(
            row["name"], row["kind"], str(row["ops"]), str(row["units"]), f"{row['per_hour']:.1f}"
        )
    if len(rows) > limit:
        table.caption = f"{len(rows) - limit} more not shown"
    return table


def print_summary(summary: dict[str, Any], console: Console) -> None:
    """Print every table of the report, then the bottleneck and notes."""
    console.print(_orders(summary))
    console.print(_stages(summary))
    console.print(_queues(summary))
    bottleneck = summary.get("bottleneck")
    if bottleneck:
        console.print(f"[bold]Bottleneck:[/bold] {bottleneck['reason']}", highlight=False)
    else:
        console.print("Bottleneck: not enough finished stages yet")
    console.print(_on_time(summary))
    console.print(_throughput("Stations (devices)", summary["stations"]))
    console.print(_throughput("Pickers", summary["operators"]))
    for note in summary.get("notes") or []:
        console.print(f"note: {note}", highlight=False)
