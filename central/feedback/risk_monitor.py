"""SLA risk monitor: every interval, each open order is assessed against its deadline
(``domain.sla.assess``, with ``domain.carriers`` for the current and the fastest
service); verdicts are stored, orders that turn at risk trigger a notification,
and ``/v1/alerts`` shows them with their proposed resolutions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from central.feedback import stamp
from central.feedback.notify.outbox import enqueue, feedback_tx
from central.feedback.settings import NotificationSettings
from central.service.context import carrier_of
from central.service.docs import order_of
from central.settings import ServerSettings
from central.store.base import Store, Tx
from domain.carriers import (
    CarrierChoice,
    OnTimeRates,
    choose_service,
    covers,
    on_time_probability,
    promised_arrival,
)
from domain.models import CarrierService, DomainError, Level, OrderLine, OrderStatus, parse_time
from domain.sla import assess, remaining_processing

AT_RISK_EVENT = "at_risk"


@dataclass(frozen=True)
class RiskInputs:
    """What assessing an order needs besides the order: carriers, measured on-time
    rates, warehouse time zones and transfer arrival times."""

    carriers: tuple[CarrierService, ...]
    rates: OnTimeRates
    zones: Mapping[str, tzinfo]
    transfer_eta: Mapping[str, datetime]
    weights: Mapping[str, int]

    @classmethod
    def read(cls, tx: Tx) -> RiskInputs:
        """Load them in one transaction."""
        carriers = tuple(carrier_of(d) for d in tx.masters("carrier").values())
        rates: dict[tuple[str, str], tuple[int, int]] = {}
        for doc in tx.masters("carrier_stats").values():
            try:
                rates[(str(doc["service"]), str(doc["country"]).upper())] = (
                    int(doc["on_time"]),
                    int(doc["total"]),
                )
            except (KeyError, TypeError, ValueError):
                continue  # a stats row of another shape is not ours to judge
        zones: dict[str, tzinfo] = {}
        for key, doc in tx.masters("warehouse").items():
            try:
                zones[key] = ZoneInfo(str(doc.get("timezone") or "UTC"))
            except (ZoneInfoNotFoundError, ValueError):
                zones[key] = ZoneInfo("UTC")
        etas: dict[str, datetime] = {}
        for transfer in tx.transfers(limit=10_000):
            try:
                eta = parse_time(transfer["eta"])
            except (KeyError, TypeError, ValueError, DomainError):
                continue
            order_id = str(transfer.get("order_id"))
            if order_id not in etas or eta < etas[order_id]:
                etas[order_id] = eta
        weights = {k: int(d.get("weight_g", 0) or 0) for k, d in tx.masters("sku").items()}
        return cls(carriers, rates, zones, etas, weights)


def _choice(
    service: CarrierService, ready: datetime, country: str, rates: OnTimeRates, zone: tzinfo
) -> CarrierChoice:
    p = on_time_probability(service.id, country, rates)
    return CarrierChoice(
        service, promised_arrival(service, ready, zone), p, False, service.cost, ()
    )


def assess_doc(
    doc: dict[str, Any], now: datetime, inputs: RiskInputs, settings: ServerSettings
) -> dict[str, Any]:
    """The verdict on one order document as JSON (``at_risk``, ``expected_at``,
    ``slack_minutes``, ``reasons``, ``resolutions`` [{kind, detail}])."""
    order = order_of(doc)
    level = Level(doc["priority"]["level"])
    rules = settings.rules
    zone = inputs.zones.get(doc["warehouse"], ZoneInfo("UTC"))
    short_lines = tuple(
        OrderLine(li["sku"], int(li.get("short", 0)))
        for li in doc["lines"]
        if int(li.get("short", 0)) > 0
    )
    transfer_eta = inputs.transfer_eta.get(doc["id"]) if short_lines else None
    start = transfer_eta if transfer_eta is not None and transfer_eta > now else now
    ready = start + remaining_processing(OrderStatus(doc["status"]), level, rules)
    weight = int(doc.get("weight_g") or 0) or sum(
        inputs.weights.get(li["sku"], 0) * int(li["qty"]) for li in doc["lines"]
    )
    country = order.ship_to.country
    usable = [s for s in inputs.carriers if covers(s, order.ship_to, weight)]
    chosen = next((s for s in usable if s.id == doc.get("carrier_service")), None)
    if chosen is not None:
        choice: CarrierChoice | None = _choice(chosen, ready, country, inputs.rates, zone)
    else:
        choice = choose_service(
            order.ship_to,
            weight,
            order.deadline,
            ready,
            usable,
            inputs.rates,
            threshold=settings.carrier_threshold,
            tz=zone,
        )
    faster = None
    if usable:
        fastest = min(usable, key=lambda s: (promised_arrival(s, ready, zone), s.cost, s.id))
        faster = _choice(fastest, ready, country, inputs.rates, zone)
    verdict = assess(
        order,
        now,
        level,
        rules,
        choice,
        faster,
        short_lines,
        transfer_eta,
        tz=zone,
    )
    return {
        "order_id": doc["id"],
        "at_risk": verdict.at_risk,
        "level": level.value,
        "deadline": doc["deadline"],
        "expected_at": verdict.expected_at.isoformat(),
        "slack_minutes": round(verdict.slack / timedelta(minutes=1)),
        "carrier_service": choice.service.id if choice else None,
        "reasons": list(verdict.reasons),
        "resolutions": [{"kind": r.kind, "detail": r.detail} for r in verdict.resolutions],
        "evaluated_at": now.isoformat(),
    }


@dataclass(frozen=True, slots=True)
class RiskReport:
    """One evaluation round: how many open orders, which are at risk, which just became."""

    evaluated: int
    at_risk: tuple[str, ...]
    newly_at_risk: tuple[str, ...]
    notifications: tuple[str, ...]


def evaluate(
    store: Store,
    now: datetime,
    settings: ServerSettings,
    notifications: NotificationSettings,
) -> RiskReport:
    """Assess every open order at ``now`` in one transaction; orders that turned at risk
    get a notification (when configured; once per customer and order)."""
    at_risk: list[str] = []
    newly: list[str] = []
    made: list[str] = []
    with store.transaction() as tx:
        ftx = feedback_tx(tx)
        inputs = RiskInputs.read(tx)
        before = ftx.risks(at_risk_only=False)
        docs = tx.open_orders()
        for doc in docs:
            try:
                verdict = assess_doc(doc, now, inputs, settings)
            except (DomainError, KeyError, ValueError):
                continue  # an order the domain cannot assess keeps its last verdict
            ftx.put_risk(doc["id"], verdict["at_risk"], verdict, stamp(now))
            if not verdict["at_risk"]:
                continue
            at_risk.append(doc["id"])
            if before.get(doc["id"], {}).get("at_risk"):
                continue
            newly.append(doc["id"])
            if notifications.at_risk:
                note = enqueue(
                    tx,
                    doc,
                    AT_RISK_EVENT,
                    notifications,
                    now,
                    {
                        "resolutions": [r["kind"] for r in verdict["resolutions"]],
                        "expected_at": verdict["expected_at"],
                    },
                )
                if note:
                    made.append(note)
        open_ids = {d["id"] for d in docs}
        ftx.drop_risks([order_id for order_id in before if order_id not in open_ids])
    return RiskReport(len(docs), tuple(at_risk), tuple(newly), tuple(made))


def _alert(v: dict[str, Any]) -> dict[str, Any]:
    order_id = v["order_id"]
    return {
        "kind": "at_risk",
        "order_id": order_id,
        "level": v["level"],
        "deadline": v["deadline"],
        "expected_at": v["expected_at"],
        "slack_minutes": v["slack_minutes"],
        "reasons": v["reasons"],
        "resolutions": v["resolutions"],
        "message": f"order {order_id} ({v['level']}) may miss its deadline {v['deadline']}: "
        + "; ".join(v["reasons"]),
    }


def risk_alerts(
    store: Store,
    now: datetime | None = None,
    settings: ServerSettings | None = None,
    also: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """At-risk orders as ``/v1/alerts`` entries with reasons and proposed resolutions:
    the monitor's stored verdicts of orders still open, plus fresh verdicts (at ``now``)
    for the orders in ``also`` that have none yet."""
    with store.reader() as tx:
        verdicts = feedback_tx(tx).risks()
        docs = tx.get_orders([*verdicts, *also])
        missing = [o for o in also if o not in verdicts and o in docs]
        if missing and now is not None and settings is not None:
            inputs = RiskInputs.read(tx)
            for order_id in missing:
                try:
                    verdicts[order_id] = assess_doc(docs[order_id], now, inputs, settings)
                except (DomainError, KeyError, ValueError):
                    continue
    closed = ("shipped", "delivered", "cancelled")
    return [
        _alert(v)
        for order_id, v in verdicts.items()
        if order_id in docs and docs[order_id]["status"] not in closed
    ]


def merge_alerts(
    alerts: dict[str, list[dict[str, Any]]],
    store: Store,
    now: datetime | None = None,
    settings: ServerSettings | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """``alerts`` with the monitor's at-risk orders merged in: existing entries gain
    reasons and resolutions (assessed at ``now`` when the monitor has not seen them
    yet), orders only the monitor found are added."""
    listed = [a["order_id"] for a in alerts.get("at_risk", []) if "order_id" in a]
    monitored = {a["order_id"]: a for a in risk_alerts(store, now, settings, listed)}
    merged = []
    for entry in alerts.get("at_risk", []):
        extra = monitored.pop(entry.get("order_id"), None)
        merged.append({**entry, **extra} if extra else entry)
    merged.extend(monitored.values())
    return {**alerts, "at_risk": merged}
