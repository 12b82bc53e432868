"""The totes of an order: the one it is in now (``tote``) and every one it has used
(``totes``, oldest first). An order has more than one when its first tote went to
packing short and a top-up task picked the rest into another: the first waits at
packing, set aside, until the top-up tote comes."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any


def put_in_tote(order: MutableMapping[str, Any], tote: str) -> None:
    """The order is in ``tote`` now; earlier totes stay listed."""
    order["tote"] = tote
    totes = list(order.get("totes") or ())
    if tote not in totes:
        totes.append(tote)
    order["totes"] = totes


def totes_of(order: Mapping[str, Any]) -> list[str]:
    """Every tote the order has used, oldest first (orders from before ``totes`` was
    kept list their current tote only)."""
    totes = [str(t) for t in order.get("totes") or ()]
    current = order.get("tote")
    if current and current not in totes:
        totes.append(str(current))
    return totes
