"""Demo v1: one simulated shift of the floor's decisions, on a simulated clock.

Orders arrive from the generated stream; each is classified by the priority engine,
allocated against the stock book (urgent ones may take stock from standard ones), short
ones get a transfer proposal, then pick tasks are built and routed, and each order gets a
carton and a carrier service. Nothing waits on the wall clock.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from config.models import SiteConfig
from domain.allocation import allocate, low_stock, propose_transfer
from domain.carriers import choose_service, covers, promised_arrival
from domain.cartons import choose_carton, parcel_weight_g
from domain.ledger import Movement, StockBook
from domain.models import CarrierService, Level, Order, Priority, order_from_dict
from domain.priority import evaluate
from domain.routing import Layout, PickLine, build_tasks, route_length, s_shape_route
from rushline.demo.orders import generate_order_stream

EXAMPLES = 5


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What one demo run does: how many orders over how many simulated minutes."""

    orders: int
    minutes: int
    seed: int
    start: datetime
    urgent_share: float
    outage_seconds: int = 0
    batch_size: int = 8


def stock_book(site: SiteConfig, at: datetime) -> StockBook:
    """The site's opening stock as receipt movements in a fresh book."""
    return StockBook(
        [
            Movement(
                f"opening-{i}",
                r.warehouse,
                r.location,
                r.sku,
                r.qty,
                "receipt",
                at,
                r.lot or None,
                r.expiry,
            )
            for i, r in enumerate(site.stock)
            if r.qty > 0
        ]
    )


def layout_for(site: SiteConfig) -> Layout:
    """The pick block's aisle length, from the deepest bin of the site's warehouse."""
    deepest = max((loc.y for loc in site.location_by_code().values()), default=30.0)
    return Layout(aisle_length_m=deepest + 1.2)


def carrier_services(site: SiteConfig, warehouse_country: str) -> list[CarrierService]:
    """Services that can collect here: a city courier only serves its own country."""
    return [c for c in site.carriers if not c.is_local or warehouse_country in c.countries]


def run(site: SiteConfig, options: DemoOptions) -> dict[str, Any]:
    """Run the simulated shift and return the summary (the ``summary.json`` content)."""
    wh = site.warehouse()
    zone = ZoneInfo(wh.timezone)
    start = options.start.astimezone(zone)
    skus = site.sku_by_id()
    bins = site.location_by_code()
    warehouses = {w.id: w for w in site.warehouses}
    book = stock_book(site, start - timedelta(days=30))
    stream = generate_order_stream(
        site, options.orders, start, options.seed, options.urgent_share,
        span_s=options.minutes * 60.0,
    )  # fmt: skip

    orders: list[tuple[Order, Priority, datetime]] = []
    for item in stream:
        now = start + timedelta(seconds=item.offset_s)
        order = order_from_dict(item.body, created_at=now)
        priority = evaluate(order, now, (), site.priority, skus)
        allocate(order, priority.level, book, wh.id, bins, now)
        orders.append((order, priority, now))
    end = start + timedelta(minutes=options.minutes)

    # Urgent orders may have taken stock from standard ones: top those up where possible.
    shortages: dict[str, Any] = {}
    transfers = []
    for order, priority, _at in orders:
        result = allocate(order, priority.level, book, wh.id, bins, end)
        if result.shortages:
            shortages[order.id] = result.shortages
            proposal = propose_transfer(order, result.shortages, wh, warehouses, book, end)
            if proposal is not None:
                transfers.append(proposal)
    alerts = low_stock(book, skus, wh.id, bins)

    layout = layout_for(site)
    entries = []
    for order, priority, _at in orders:
        lines = [
            PickLine(order.id, r.sku, bins[r.location], r.qty)
            for r in book.reservations(order.id)
            if r.warehouse == wh.id
        ]
        entries.append((order, priority.level, lines))
    tasks = build_tasks(entries, layout, options.batch_size)
    task_of = {oid: t for t in tasks for oid in t.order_ids}

    services = carrier_services(site, wh.country)
    shipments: list[Any] = []
    for order, priority, at in orders:
        items = [(skus[r.sku], r.qty) for r in book.reservations(order.id)]
        if not items:
            shipments.append(None)
            continue
        carton = choose_carton(items, site.cartons)
        weight = parcel_weight_g(items, carton) if carton else sum(s.weight_g * q for s, q in items)
        ready_at = at + timedelta(hours=site.priority.processing_for(priority.level))
        choice = choose_service(
            order.ship_to, weight, order.deadline, ready_at, services,
            threshold=site.carrier_choice.threshold, prior=site.carrier_choice.beta_prior, tz=zone,
        )  # fmt: skip
        could_meet = any(
            covers(s, order.ship_to, weight)
            and promised_arrival(s, ready_at, zone) <= order.deadline
            for s in services
        )
        shipments.append((carton, weight, choice, ready_at, could_meet))

    return _summary(site, options, orders, shortages, transfers, alerts, tasks, task_of,
                    shipments, layout)  # fmt: skip


def _summary(
    site: SiteConfig,
    options: DemoOptions,
    orders: list[tuple[Order, Priority, datetime]],
    shortages: dict[str, Any],
    transfers: list[Any],
    alerts: list[Any],
    tasks: list[Any],
    task_of: dict[str, Any],
    shipments: list[Any],
    layout: Layout,
) -> dict[str, Any]:
    levels = Counter(p.level.value for _o, p, _a in orders)
    hot = [t for t in tasks if t.kind == "hot"]
    batches = [t for t in tasks if t.kind != "hot"]
    optimised = sum(t.length_m for t in tasks)
    s_shape = sum(route_length(s_shape_route(t.lines, layout), layout) for t in tasks)
    cartons: Counter[str] = Counter()
    carriers: Counter[str] = Counter()
    detail = []
    examples: list[dict[str, Any]] = []
    for (order, priority, at), shipment in zip(orders, shipments, strict=True):
        task = task_of.get(order.id)
        row: dict[str, Any] = {
            "id": order.id,
            "arrived_at": at.isoformat(),
            "deadline": order.deadline.isoformat(),
            "level": priority.level.value,
            "score": round(priority.score, 2),
            "reasons": list(priority.reasons),
            "short": [{"sku": s.sku, "qty": s.qty} for s in shortages.get(order.id, ())],
            "task": task.id if task else None,
            "task_kind": task.kind if task else None,
        }
        if shipment is not None:
            carton, weight, choice, ready_at, could_meet = shipment
            cartons[carton.id if carton else "none-fits"] += 1
            row.update(
                carton=carton.id if carton else None,
                weight_g=weight,
                ready_at=ready_at.isoformat(),
                deadline_reachable=could_meet,
                carrier=choice.service.id if choice else None,
                promised_at=choice.promised_at.isoformat() if choice else None,
                at_risk=choice.at_risk if choice else True,
                carrier_reasons=list(choice.reasons) if choice else ["no service covers it"],
            )
            carriers[choice.service.id if choice else "none"] += 1
            if (
                choice
                and len(examples) < EXAMPLES
                and (priority.level.is_urgent or choice.service.is_local or choice.at_risk)
            ):
                examples.append(
                    {
                        "order": order.id,
                        "level": priority.level.value,
                        "service": choice.service.id,
                        "why": choice.reasons[0],
                    }
                )
        detail.append(row)
    return {
        "site": site.site_id,
        "start": options.start.isoformat(),
        "simulated_minutes": options.minutes,
        "seed": options.seed,
        "outage_seconds": options.outage_seconds,
        "orders": {
            "total": len(orders),
            "classified": sum(levels.values()),
            "by_level": {lv.value: levels.get(lv.value, 0) for lv in Level},
            "urgent": sum(1 for _o, p, _a in orders if p.level.is_urgent),
        },
        "allocation": {
            "complete": len(orders) - len(shortages),
            "short": len(shortages),
            "short_units": sum(s.qty for lines in shortages.values() for s in lines),
        },
        "transfers": {
            "proposed": len(transfers),
            "move_fulfilment": sum(1 for t in transfers if t.move_fulfilment),
            "examples": [t.reason for t in transfers[:EXAMPLES]],
        },
        "low_stock": {"alerts": len(alerts), "examples": [a.message for a in alerts[:EXAMPLES]]},
        "picking": {
            "hot_tasks": len(hot),
            "batches": len(batches),
            "avg_route_m_hot": _avg([t.length_m for t in hot]),
            "avg_route_m_batch": _avg([t.length_m for t in batches]),
            "route_m_total": round(optimised, 1),
            "s_shape_m_total": round(s_shape, 1),
            "saving_vs_s_shape_pct": round(100 * (1 - optimised / s_shape), 1) if s_shape else 0.0,
        },
        "cartons": dict(sorted(cartons.items())),
        "carriers": dict(sorted(carriers.items())),
        "carrier_at_risk": sum(1 for r in detail if r.get("at_risk")),
        "carrier_examples": examples,
        "order_detail": detail,
    }


def _avg(values: list[float]) -> float:
    return round(sum(values) / len(values), 1) if values else 0.0
