"""The end report on the terminal (rich tables)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def totes_by_lane(report: dict[str, Any]) -> str:
    """How many totes the sorter sent down the express, the standard and the exception
    lanes ("" when the demo ran without a sorter)."""
    from rushline.demo.stations import EXCEPTION_LANE, EXPRESS_LANE, LANES

    world = (report.get("stations") or {}).get("world") or {}
    if not world.get("inducted"):
        return ""
    express = world.get(f"lane_{EXPRESS_LANE}", 0)
    standard = sum(world.get(f"lane_{lane}", 0) for lane in LANES)
    return f"{express} / {standard} / {world.get(f'lane_{EXCEPTION_LANE}', 0)}"


def _top_ups(tasks: list[dict[str, Any]]) -> str:
    """How many top-up tasks were picked (or are open), and how many central cancelled
    because the first picker's picks came in after all."""
    cancelled = sum(t.get("status") == "cancelled" for t in tasks)
    text = str(len(tasks) - cancelled)
    return f"{text} ({cancelled} not needed: late picks)" if cancelled else text


def _fmt(value: Any) -> str:
    return "-" if value is None else str(value)


def print_report(report: dict[str, Any], console: Console, out: Path) -> None:
    """Print the report's main tables and where the files are."""
    orders = report["orders"]
    t = Table(title=f"Rushline demo at {report['site']}: {report['real_seconds']} s real")
    t.add_column("what")
    t.add_column("figure", justify="right")
    t.add_row("orders posted", str(orders["posted"]))
    t.add_row(
        "by final status", ", ".join(f"{k} {v}" for k, v in sorted(orders["by_status"].items()))
    )
    t.add_row("by level", ", ".join(f"{k} {v}" for k, v in sorted(orders["by_level"].items())))
    t.add_row(
        "by warehouse", ", ".join(f"{k} {v}" for k, v in sorted(orders["by_warehouse"].items()))
    )
    ops = report["ops"]
    t.add_row("ops recorded on devices", str(ops["recorded_on_devices"]))
    t.add_row("ops applied at central", str(ops["applied_at_central"]))
    t.add_row("ops rejected at central", str(ops["rejected_at_central"]))
    t.add_row("duplicates absorbed", str(ops["duplicates_absorbed"]))
    t.add_row("ops lost", str(ops["lost"]))
    t.add_row("labels printed", str(report["labels"]["printed"]))
    refill = report.get("replenishment") or {}
    if refill.get("low_at_start"):
        t.add_row(
            f"replenishment moves ({len(refill['low_at_start'])} SKUs started low in pick bins)",
            f"{refill['moves']} ({refill['units']} units)",
        )
    phantom = report.get("phantom_stock") or {}
    if phantom.get("bins"):
        waiting = (report.get("stations") or {}).get("waiting_for_top_up") or []
        world = (report.get("stations") or {}).get("world") or {}
        t.add_row(
            f"phantom stock ({len(phantom['bins'])} pick bins held less than recorded)",
            f"short picks {phantom['shorts']}, bins counted {phantom['counts']}, "
            f"top-up picks {_top_ups(phantom['top_ups'])}, totes rejoined {world.get('rejoined', 0)}"
            + (f", orders still waiting {len(waiting)}" if waiting else ""),
        )
    lanes = totes_by_lane(report)
    if lanes:
        t.add_row("totes by lane (express / standard / exception)", lanes)
    dispatch = (report.get("stations") or {}).get("dispatch") or {}
    if dispatch:
        t.add_row(
            "hot picks pushed to handhelds (pushed again to a free picker)",
            f"{dispatch.get('pushed', 0)} ({dispatch.get('repushed', 0)})",
        )
    claims = report.get("task_claims") or {}
    if claims:
        t.add_row(
            "tasks opened on two handhelds at once (the later picker left it) / "
            "picked on two handhelds",
            f"{claims['taken_first']} / {len(claims['picked_on_two_handhelds'])}",
        )
        t.add_row(
            "handhelds off the air mid-task / tasks handed over to the picker who took "
            "them over / order lines picked beyond the order",
            f"{claims.get('dropped_off_air', 0)} / {claims.get('handed_over', 0)} / "
            f"{len(claims.get('units_picked_twice') or [])}",
        )
    pairs = report.get("urgent_first") or {}
    if pairs.get("pairs"):
        t.add_row(
            "urgent packed first (standard arrived within 1 min after)",
            f"{pairs['urgent_first']} of {pairs['pairs']} pairs",
        )
    outage = report.get("outage") or {}
    if outage:
        t.add_row("central outage (real s)", f"{outage.get('from_s')} -> {outage.get('to_s')}")
    console.print(t)

    goal = orders["goal_stage"]
    on_time = Table(title=f"{report['site']} orders on time ({goal} before the deadline)")
    for column in ("group", "on time", "late", "open, not late yet", "open and late"):
        on_time.add_column(column, justify="right")
    for group, row in report["on_time"].items():
        on_time.add_row(
            group, *(str(row[k]) for k in ("on_time", "late", "open_not_late", "open_late"))
        )
    console.print(on_time)

    stages = Table(title="Mean stage durations (simulated minutes)")
    stages.add_column("stage")
    stages.add_column("urgent", justify="right")
    stages.add_column("standard", justify="right")
    for name in report["stage_minutes"]["urgent"]:
        stages.add_row(
            name,
            _fmt(report["stage_minutes"]["urgent"][name]),
            _fmt(report["stage_minutes"]["standard"][name]),
        )
    console.print(stages)

    carriers = report["carriers"]
    if carriers["by_service"]:
        why = Table(title="Carriers used and why (examples)")
        for column in ("order", "level", "service", "reason"):
            why.add_column(column)
        for ex in carriers["examples"]:
            why.add_row(ex["order"], ex["level"], ex["service"], ex["why"])
        console.print(
            "carriers: " + ", ".join(f"{k} {v}" for k, v in carriers["by_service"].items()),
            markup=False,
        )
        console.print(why)
    for note in report["notes"]:
        console.print(f"note: {note}", markup=False)
    bad = {k: v for k, v in report["invariants"].items() if v}
    if bad:
        console.print(
            "INVARIANTS FAILED: " + ", ".join(f"{k}={v}" for k, v in bad.items()), markup=False
        )
    else:
        console.print(
            "invariants hold: no op lost, none applied twice, every label matches its order",
            markup=False,
        )
    console.print(f"report: {out / 'report.json'} and {out / 'report.html'}", markup=False)
