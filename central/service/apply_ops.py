"""Device operations in (``POST /v1/sync/push``): one transaction per push, ops in seq
order, idempotent by op_id, each applied, a duplicate, or rejected with a reason.

Work is set-wise (see ``central.service.op_kinds``): ledger rows, op records and
timeline entries are written with one executemany each at the end.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from central.clock import Clock
from central.service.context import Ctx
from central.service.feed import flush
from central.service.op_kinds import PushState, Rejected
from central.settings import ServerSettings
from central.store.base import DuplicateOps, OpRecord, Store, make_row

__all__ = ["KINDS", "Rejected", "push"]

KINDS: dict[str, str] = {
    "pick.confirmed": "pick_confirmed",
    "pick.short": "pick_short",
    "tote.assigned": "tote_assigned",
    "tote.diverted": "tote_diverted",
    "pack.verified": "pack_verified",
    "order.packed": "order_packed",
    "order.shipped": "order_shipped",
    "stock.adjusted": "stock_adjusted",
    "stock.counted": "stock_counted",
    "stock.moved": "stock_moved",
    "label.printed": "label_printed",
    "exception.raised": "exception_raised",
}


log = logging.getLogger(__name__)

# A device clock may run this far ahead of the server's. An op stamped later than that
# comes from a fast clock; the event itself still happened (a pick is a physical fact and
# is never refused), so it is accepted and put on the timeline at the server's time.
MAX_SKEW = timedelta(minutes=5)


# The form ``check_at`` gives (and a device's sync client sends): UTC to the microsecond.
# A time already in it is kept as it came; writing a datetime back out as ISO text is
# the dearest step of the check, and every op of a push has its own time.
_CANONICAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", re.ASCII)


def check_at(value: Any, now: datetime, seen: dict[str, str]) -> str:
    """The op's ``at`` (when the device saw the event) as UTC ISO text to the
    microsecond; ``Rejected`` naming the field when it is not a zoned ISO 8601 time. A
    time more than ``MAX_SKEW`` in the server's future (a fast device clock) becomes the
    server's ``now``. ``seen`` caches checked values."""
    cached = seen.get(value) if isinstance(value, str) else None
    if cached is not None:
        return cached
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise Rejected(f"invalid field 'at': {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise Rejected(f"invalid field 'at': {value!r} has no time zone")
    if parsed - now > MAX_SKEW:
        log.warning(
            "op time %s is %.0f s ahead of the server clock: device clock fast, using %s",
            value,
            (parsed - now).total_seconds(),
            now.isoformat(),
        )
        parsed = now
    elif _CANONICAL.fullmatch(value):
        seen[value] = value
        return str(value)
    text = parsed.astimezone(UTC).isoformat(timespec="microseconds")
    seen[value] = text
    return text


def _seq(op: dict[str, Any]) -> int:
    return int(op["seq"])


def push(
    store: Store,
    device: str,
    site: str | None,
    ops: list[dict[str, Any]],
    clock: Clock,
    settings: ServerSettings,
) -> dict[str, Any]:
    """Apply a push; returns ``{acked_seq, results}`` in the order the ops were sent."""
    try:
        return _push(store, device, site, ops, clock, settings, trust_seq=True)
    except DuplicateOps:
        # An op recorded before came back past the device's acknowledged seq (a device
        # re-numbering its outbox, or one op sent by two devices): the transaction was
        # rolled back; apply the push again, looking every op id up first.
        log.warning("device %s resent recorded ops with new seqs; push applied again", device)
        return _push(store, device, site, ops, clock, settings, trust_seq=False)


def _push(
    store: Store,
    device: str,
    site: str | None,
    ops: list[dict[str, Any]],
    clock: Clock,
    settings: ServerSettings,
    trust_seq: bool,
) -> dict[str, Any]:
    with store.transaction() as tx:
        ctx = Ctx(tx, clock.now(), settings)
        acked_before = tx.device_acked(device)
        # A device numbers its ops in the order it records them and sends them in that
        # order, so ops past its acknowledged seq are new: the look-up of every op id is
        # left to the database (``record_ops`` raises ``DuplicateOps`` if one was not).
        if trust_seq and ops and min(op["seq"] for op in ops) > acked_before:
            known: set[str] = set()
        else:
            known = tx.known_ops([op["op_id"] for op in ops])
        state = PushState(ctx, site, device)
        state.prefetch(ops)
        handlers = {kind: getattr(state, name) for kind, name in KINDS.items()}
        now, received = ctx.now, ctx.at
        # How each op was settled: None = applied, else the reason it was rejected.
        settled: dict[str, str | None] = {}
        seen_at: dict[str, str] = {}
        records: list[OpRecord] = []
        for op in sorted(ops, key=_seq):
            op_id = op["op_id"]
            if op_id in known or op_id in settled:
                continue
            kind = op["kind"]
            reason = None
            try:
                handler = handlers.get(kind)
                if handler is None:
                    raise Rejected(f"unknown kind {kind!r}")
                at = seen_at.get(op["at"]) or check_at(op["at"], now, seen_at)
                handler(op_id, at, op["data"])
            except Rejected as exc:
                reason = str(exc)
            settled[op_id] = reason
            records.append(
                make_row(
                    OpRecord,
                    (
                        op_id,
                        device,
                        op["seq"],
                        kind,
                        op["at"],
                        op["data"],
                        "applied" if reason is None else "rejected",
                        reason,
                        received,
                    ),
                )
            )
        state.finish()
        tx.record_ops(records)
        acked = max([acked_before, *(op["seq"] for op in ops)])
        tx.set_device_acked(device, acked)
        flush(ctx)
    results: list[dict[str, Any]] = []
    for op in ops:
        op_id = op["op_id"]
        if op_id not in settled:  # known before, or a second copy in this push
            results.append({"op_id": op_id, "status": "duplicate"})
            continue
        reason = settled.pop(op_id)
        if reason is None:
            results.append({"op_id": op_id, "status": "applied"})
        else:
            results.append({"op_id": op_id, "status": "rejected", "reason": reason})
    return {"acked_seq": acked, "results": results}
