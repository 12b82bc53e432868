"""The shipping label and packing slip of a packed order, as ``devices.printer.labels``
renders them (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devices.printer.labels import (
    LEVELS,
    PackingSlip,
    ShippingLabel,
    SlipLine,
    render_packing_slip,
    render_shipping_label,
)
from edge.station.shipment import ShipmentPlan, ship_to_of

Row = Mapping[str, Any]


def order_level(order: Row) -> str:
    """The order's priority level (P4 when unknown)."""
    level = str((order.get("priority") or {}).get("level") or "P4")
    return level if level in LEVELS else "P4"


def tracking_url(order: Row, base_url: str) -> str:
    """The customer's tracking page (``{central}/track/{token}``), or "" without a token."""
    token = order.get("tracking_token")
    if not token or not base_url:
        return ""
    return f"{base_url.rstrip('/')}/track/{token}"


def shipping_label(order: Row, plan: ShipmentPlan, tracking: str, url: str) -> ShippingLabel:
    """The label's fields for ``order`` shipped with ``plan`` under ``tracking``."""
    ship_to = ship_to_of(order)
    return ShippingLabel(
        order_id=str(order["id"]),
        ship_to_name=ship_to.name,
        address_lines=(ship_to.line1,),
        city=ship_to.city,
        postcode=ship_to.postcode,
        country=ship_to.country,
        carrier=plan.service.carrier,
        service=plan.service.service,
        tracking=tracking,
        tracking_url=url,
        level=order_level(order),
        weight_g=plan.weight_g,
        carton=plan.carton.id,
    )


def packing_slip(order: Row, names: Mapping[str, str], carton: str) -> PackingSlip:
    """The slip: one line per order line with the SKU's name."""
    lines = tuple(
        SlipLine(str(line["sku"]), names.get(str(line["sku"]), str(line["sku"])), int(line["qty"]))
        for line in order.get("lines") or []
        if int(line.get("qty") or 0) > 0
    )
    return PackingSlip(str(order["id"]), lines, carton, order_level(order))


def render_documents(
    order: Row,
    plan: ShipmentPlan,
    tracking: str,
    names: Mapping[str, str],
    url: str = "",
    profile: str = "default",
) -> tuple[bytes, bytes]:
    """(shipping label bytes, packing slip bytes); ``LabelError`` names a bad field."""
    label = render_shipping_label(shipping_label(order, plan, tracking, url), profile)
    slip = render_packing_slip(packing_slip(order, names, plan.carton.id), profile)
    return label, slip
