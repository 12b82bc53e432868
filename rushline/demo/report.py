"""The end report of a demo run and its invariants.

Nothing is assumed: ops are counted in every device's outbox history (its LocalStore
file) and matched one by one against central's op records (its SQLite file). The run
fails (exit 1) when an op was lost, an op was applied twice, or a printed label's
tracking number does not match its order.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from config.models import SiteConfig
from rushline.demo.labels import read_labels
from rushline.demo.readers import (
    DeviceOps,
    central_ops,
    central_orders,
    central_top_ups,
    read_device,
    twice_applied,
)
from rushline.demo.report_html import write_html
from rushline.demo.stations import DeviceStore

if TYPE_CHECKING:
    from rushline.demo.floor import Floor

URGENT = ("P1", "P2")
# The op whose `at` marks the end of each stage (floor time, not central's receive time).
STAGE_OPS = {"picked": "tote.assigned", "packed": "order.packed", "shipped": "order.shipped"}


def masterdata_document(site: SiteConfig) -> dict[str, Any]:
    """The site's master data in the §4.2 shape."""
    from rushline.commands.central import read_masterdata

    if site.masterdata_path is None:
        raise ValueError(f"{site.path}: no master data file")
    return read_masterdata(site.masterdata_path)


def ops_proof(devices: Iterable[DeviceOps], central: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Recorded on devices vs processed at central: lost = recorded but unknown there."""
    devices = list(devices)
    recorded = [op_id for d in devices for op_id in d.op_ids]
    lost = [op_id for op_id in recorded if op_id not in central]
    statuses = Counter(central[op_id]["status"] for op_id in recorded if op_id in central)
    return {
        "devices": {
            d.device_id: {
                "recorded": len(d.op_ids),
                "kinds": dict(d.kinds),
                "states": dict(d.states),
                "duplicates_absorbed": d.duplicates,
            }
            for d in devices
        },
        "recorded_on_devices": len(recorded),
        "distinct_op_ids": len(set(recorded)),
        "known_at_central": len(recorded) - len(lost),
        "applied_at_central": statuses.get("applied", 0),
        "rejected_at_central": statuses.get("rejected", 0),
        "duplicates_absorbed": sum(d.duplicates for d in devices),
        "lost": len(lost),
        "lost_op_ids": lost[:20],
        "still_pending_on_devices": sum(d.states.get("pending", 0) for d in devices),
    }


def _when(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None


def stage_times(
    orders: dict[str, dict[str, Any]], ops: dict[str, dict[str, Any]]
) -> dict[str, dict[str, datetime]]:
    """order_id -> {received, pick_start, picked, packed, shipped} floor times."""
    times: dict[str, dict[str, datetime]] = defaultdict(dict)
    for order_id, doc in orders.items():
        created = _when(doc.get("created_at"))
        if created:
            times[order_id]["received"] = created
    for op in ops.values():
        if op["status"] != "applied" or not op.get("order_id"):
            continue
        at = _when(op["at"])
        if at is None:
            continue
        mark = times[op["order_id"]]
        if op["kind"] == "pick.confirmed":
            mark["pick_start"] = min(mark.get("pick_start", at), at)
        for stage, kind in STAGE_OPS.items():
            if op["kind"] == kind:
                mark[stage] = max(mark.get(stage, at), at)
    return times


def _minutes(a: datetime | None, b: datetime | None) -> float | None:
    return None if a is None or b is None else (b - a).total_seconds() / 60


def stage_durations(
    orders: dict[str, dict[str, Any]], times: dict[str, dict[str, datetime]]
) -> dict[str, dict[str, float | None]]:
    """Mean minutes per stage, urgent (P1/P2) beside standard (P3/P4)."""
    spans = {
        "wait_for_pick": ("received", "pick_start"),
        "pick": ("pick_start", "picked"),
        "sort_and_pack": ("picked", "packed"),
        "dock": ("packed", "shipped"),
        "order_to_packed": ("received", "packed"),
    }
    out: dict[str, dict[str, float | None]] = {}
    for group in ("urgent", "standard"):
        out[group] = {}
        ids = [i for i, d in orders.items() if (_level(d) in URGENT) == (group == "urgent")]
        for name, (a, b) in spans.items():
            values = [
                m for i in ids if (m := _minutes(times[i].get(a), times[i].get(b))) is not None
            ]
            out[group][name] = round(sum(values) / len(values), 1) if values else None
    return out


def _level(doc: dict[str, Any]) -> str:
    return str((doc.get("priority") or {}).get("level") or "P4")


def on_time(
    orders: dict[str, dict[str, Any]],
    times: dict[str, dict[str, datetime]],
    goal: str,
    now: datetime,
    site: str | None = None,
) -> dict[str, dict[str, int]]:
    """Per group: reached ``goal`` before the deadline, late, open but not late yet."""
    out = {
        g: {"on_time": 0, "late": 0, "open_not_late": 0, "open_late": 0}
        for g in ("urgent", "standard")
    }
    for order_id, doc in orders.items():
        if site is not None and doc.get("warehouse") != site:
            continue  # fulfilled by another warehouse: no floor of it runs in the demo
        group = "urgent" if _level(doc) in URGENT else "standard"
        deadline = _when(doc.get("deadline"))
        done = times[order_id].get(goal)
        if deadline is None:
            continue
        if done is not None:
            out[group]["on_time" if done <= deadline else "late"] += 1
        else:
            out[group]["open_late" if now > deadline else "open_not_late"] += 1
    return out


SAME_TIME = timedelta(minutes=1)


def urgent_first(
    arrivals: dict[str, datetime],
    levels: dict[str, str],
    times: dict[str, dict[str, datetime]],
) -> dict[str, Any]:
    """Pairs of an urgent order (P1/P2 at intake) and a standard one that arrived at the
    same time, both packed: how often the urgent one was packed first. Same time = the
    standard order arrived with the urgent one or within the minute after it (one that
    arrived earlier may already be on its way, and nobody takes it back). The caller
    leaves out orders that waited for a handheld off the air."""
    pairs, first, inversions = 0, 0, []
    for u, at in arrivals.items():
        pu = times[u].get("packed")
        if levels.get(u) not in URGENT or pu is None:
            continue
        for other, other_at in arrivals.items():
            ps = times[other].get("packed")
            if levels.get(other) in URGENT or ps is None:
                continue
            if not at <= other_at < at + SAME_TIME:
                continue
            pairs += 1
            if pu <= ps:
                first += 1
            else:
                inversions.append(f"{u} packed after {other}")
    return {"pairs": pairs, "urgent_first": first, "inversions": inversions[:10]}


def carrier_reason(doc: dict[str, Any], ready_at: datetime | None, site: SiteConfig) -> str:
    """Why the pack station's carrier fits, in the carrier rules' own words (recomputed
    with the site's services at the order's pack time; measured rates left out)."""
    from zoneinfo import ZoneInfo

    from domain.carriers import choose_service
    from domain.models import order_from_dict

    created = _when(doc.get("created_at")) or ready_at
    if created is None:
        return ""
    try:
        order = order_from_dict(doc, created_at=created)
        choice = choose_service(
            order.ship_to,
            int(doc.get("weight_g") or 1000),
            order.deadline,
            ready_at or order.created_at,
            site.carriers,
            threshold=site.carrier_choice.threshold,
            prior=site.carrier_choice.beta_prior,
            tz=ZoneInfo(site.warehouse(order.warehouse).timezone),
        )
    except Exception as exc:  # an example without a reason still belongs in the report
        return f"(not recomputed: {exc})"
    if choice is None:
        return "no service covers this address and weight"
    return choice.reasons[0] if choice.reasons else ""


def carriers_used(
    orders: dict[str, dict[str, Any]],
    times: dict[str, dict[str, datetime]],
    site: SiteConfig,
) -> dict[str, Any]:
    """Services on packed orders, and one example per service with why it was chosen."""
    used = Counter(
        str(d.get("carrier_service")) for d in orders.values() if d.get("carrier_service")
    )
    examples: list[dict[str, Any]] = []
    seen: set[str] = set()
    for order_id in sorted(orders):
        doc = orders[order_id]
        service = doc.get("carrier_service")
        if not service or service in seen:
            continue
        seen.add(service)
        examples.append(
            {
                "order": order_id,
                "level": _level(doc),
                "service": service,
                "deadline": doc.get("deadline"),
                "why": carrier_reason(doc, times[order_id].get("packed"), site),
            }
        )
    return {"by_service": dict(used), "examples": examples}


def _spread(seconds: list[float]) -> dict[str, float]:
    """Median, 95th percentile and max in milliseconds."""
    if not seconds:
        return {}
    ordered = sorted(seconds)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {"p50": pick(0.5), "p95": pick(0.95), "max": round(ordered[-1] * 1000, 1)}


def picked_on_two(ops: dict[str, dict[str, Any]]) -> list[str]:
    """Tasks whose picks came from more than one handheld (task claims keep it at none)."""
    devices: dict[str, set[str]] = {}
    for op in ops.values():
        task_id = op["data"].get("task_id")
        if op["kind"] == "pick.confirmed" and task_id:
            devices.setdefault(str(task_id), set()).add(str(op["device"]))
    return sorted(t for t, seen in devices.items() if len(seen) > 1)


def picked_twice(ops: dict[str, dict[str, Any]], orders: dict[str, dict[str, Any]]) -> list[str]:
    """Order lines picked beyond what was ordered, as "order sku picked/ordered" (a task
    taken over must send the next picker for the rest only: none)."""
    picked: Counter[tuple[str, str]] = Counter()
    for op in ops.values():
        if op["kind"] == "pick.confirmed" and op["status"] == "applied":
            data = op["data"]
            picked[(str(data.get("order_id")), str(data.get("sku")))] += int(data.get("qty") or 0)
    ordered: Counter[tuple[str, str]] = Counter()
    for order_id, doc in orders.items():
        for line in doc.get("lines") or []:
            ordered[(order_id, str(line.get("sku")))] += int(line.get("qty") or 0)
    return sorted(
        f"{order_id} {sku} {units}/{ordered[(order_id, sku)]}"
        for (order_id, sku), units in picked.items()
        if units > ordered[(order_id, sku)]
    )


def build(floor: Floor) -> dict[str, Any]:
    """Collect every figure of the run."""
    db = floor.central.db_path
    stores = [
        DeviceStore(floor.out / "devices" / f"{p.device_id}.db", p.device_id, floor.site.site_id)
        for p in floor.pickers
    ]
    if floor.stations is not None:
        stores += floor.stations.device_stores()
    devices = [read_device(s) for s in stores if s.path.exists()]
    ops = central_ops(db)
    orders = central_orders(db)
    proof = ops_proof(devices, ops)
    goal = floor.stations.goal_stage() if floor.stations is not None else "picked"
    times = stage_times(orders, ops)
    labels = read_labels(floor.out / "labels")
    mismatched = [
        lab
        for lab in labels
        if not lab.consistent
        or lab.order_id not in orders
        or lab.tracking != orders[lab.order_id].get("tracking")
    ]
    twice = twice_applied(db)
    # Orders of the task a handheld was picking when it dropped off the air: they waited.
    off_air = {o for p in floor.pickers for o in p.stats.off_air_orders}
    poster = floor.poster.state if floor.poster is not None else None
    elsewhere = Counter(
        str(d.get("warehouse")) for d in orders.values() if d.get("warehouse") != floor.site.site_id
    )
    notes = list(floor.run_info.notes)
    for warehouse, n in sorted(elsewhere.items()):
        notes.append(
            f"{n} orders are fulfilled from {warehouse} (it holds the whole order); the demo "
            f"runs the {floor.site.site_id} floor only, so they wait there"
        )
    invariants = {
        "ops_lost": proof["lost"],
        "ops_applied_twice": len(twice),
        "label_tracking_mismatches": len(mismatched),
    }
    return {
        "site": floor.site.site_id,
        "options": {k: str(v) for k, v in floor.options.__dict__.items()},
        "clock": {
            "start": floor.clock.start.isoformat(),
            "rate": floor.clock.rate,
            "end": floor.clock.now().isoformat(),
        },
        "real_seconds": round(floor.elapsed(), 1),
        "phases": floor.run_info.phases,
        "notes": notes,
        "orders": {
            "posted": len(poster.posted) if poster else 0,
            "refused": dict(poster.refused) if poster else {},
            "post_retries": poster.retries if poster else 0,
            "post_ms": _spread(poster.post_seconds) if poster else {},
            "by_status": dict(Counter(str(d.get("status")) for d in orders.values())),
            "by_level": dict(Counter(_level(d) for d in orders.values())),
            "by_warehouse": dict(Counter(str(d.get("warehouse")) for d in orders.values())),
            "goal_stage": goal,
        },
        "on_time": on_time(orders, times, goal, floor.clock.now(), floor.site.site_id),
        "stage_minutes": stage_durations(orders, times),
        "ops": proof,
        "carriers": carriers_used(orders, times, floor.site),
        "labels": {"printed": len(labels), "mismatched": [m.__dict__ for m in mismatched]},
        "pickers": {p.device_id: p.stats.__dict__ for p in floor.pickers},
        "task_claims": {
            "taken_first": sum(p.stats.taken_first for p in floor.pickers),
            "picked_on_two_handhelds": picked_on_two(ops),
            "dropped_off_air": sum(p.stats.off_air for p in floor.pickers),
            "handed_over": sum(p.stats.handed_over for p in floor.pickers),
            "units_picked_twice": picked_twice(ops, orders),
            "off_air_orders": sorted(off_air),
        },
        "replenishment": {
            "low_at_start": floor.run_info.low_at_start,
            "moves": sum(p.stats.moves for p in floor.pickers),
            "units": sum(p.stats.units for p in floor.pickers if p.stats.moves),
            "applied_at_central": sum(
                1 for o in ops.values() if o["kind"] == "stock.moved" and o["status"] == "applied"
            ),
        },
        "phantom_stock": {
            "bins": floor.run_info.phantoms,
            "shorts": sum(p.stats.shorts for p in floor.pickers),
            "counts": sum(p.stats.counts for p in floor.pickers),
            "top_ups": [
                {
                    "id": t["id"],
                    "order_id": t["order_ids"][0],
                    "after_tote": t.get("after_tote"),
                    "status": t.get("status"),
                }
                for t in central_top_ups(db)
            ],
        },
        "stations": floor.stations.summary() if floor.stations is not None else {},
        "outage": floor.run_info.outage,
        "disruption": floor.run_info.disruption,
        "invariants": invariants,
        "ok": not any(invariants.values()),
        "urgent_first": urgent_first(
            {i: p.arrived_at for i, p in poster.posted.items() if i not in off_air}
            if poster
            else {},
            {i: p.level for i, p in poster.posted.items()} if poster else {},
            times,
        ),
        "order_times": {i: {k: v.isoformat() for k, v in t.items()} for i, t in times.items()},
        "order_levels": {i: _level(d) for i, d in orders.items()},
        "order_intake_levels": {i: p.level for i, p in poster.posted.items()} if poster else {},
        "order_arrivals": {i: p.arrived_at.isoformat() for i, p in poster.posted.items()}
        if poster
        else {},
    }


def analytics_report(floor: Floor) -> dict[str, Any]:
    """The analytics report (``rushline report``'s code) over central's database, written
    to ``analytics/report.html``; {"error": ...} when that part is not installed."""
    try:
        from rushline.report import summary_from_db
        from rushline.report import write_html as analytics_html
    except ImportError as exc:
        return {"error": f"analytics report not installed ({exc.name})"}
    try:
        summary = summary_from_db(floor.central.db_url, now=floor.clock.now())
        page = analytics_html(summary, floor.out / "analytics")
    except Exception as exc:  # the demo's own report still stands without it
        return {"error": f"analytics report failed: {exc}"}
    return {
        "html": str(page.relative_to(floor.out)),
        "bottleneck": summary.get("bottleneck"),
        "summary": summary,
    }


def build_and_write(floor: Floor) -> tuple[dict[str, Any], int]:
    """Build the report, write report.json and report.html, print it; returns the exit
    code (1 when an invariant fails)."""
    from rushline.demo.report_text import print_report

    report = build(floor)
    analytics = analytics_report(floor)
    report["analytics"] = {k: v for k, v in analytics.items() if k != "summary"}
    (floor.out / "report.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    write_html(report, floor.out)
    if analytics.get("summary"):
        from rushline.report import print_summary

        floor.console.rule("Analytics (rushline report)")
        print_summary(analytics["summary"], floor.console)
    print_report(report, floor.console, floor.out)
    return report, 0 if report["ok"] else 1
