"""A line reported short is allocated again by central from another bin; after the next
sync the task carries a follow-up line there and the picker takes the rest on the same
walk, into the same tote. Once the order's tote has left the picker, central sends the
rest as a top-up task instead."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from handheld_app.presenters import PickView, Step
from handheld_app.session import PickerSession
from sync.client import SyncClient
from sync.store import LocalStore
from tests.handheld_app.floor import gs1
from tests.sync.central_data import SITE, admin, masterdata, order_body, stock_rows

GTIN = "4006381333931"  # SKU-1, with a valid check digit to scan


def _view(session: PickerSession) -> PickView:
    view = session.current_view()
    assert isinstance(view, PickView), view
    return view


@contextmanager
def _picking(
    central_server: Any, tmp_path: Path, order_id: str
) -> Iterator[tuple[httpx.Client, LocalStore, SyncClient, PickerSession]]:
    """A real central holding order ``order_id`` (3 of SKU-1) and handheld hh-1 synced
    to it, its picker on the order's task."""
    md = masterdata()
    md["skus"][0]["gtin"] = GTIN
    central_server.import_masterdata(md)
    with (
        admin(central_server) as http,
        LocalStore(tmp_path / "hh-1.db", "hh-1", SITE) as store,
        SyncClient(store, central_server.url, central_server.device_token("hh-1", SITE)) as sync,
    ):
        http.post("/v1/orders", json=order_body(order_id, qty=3)).raise_for_status()
        assert sync.run_once().ok
        now = datetime.now(UTC)
        session = PickerSession(store, "op1", lambda: now)
        assert session.start().ok
        yield http, store, sync, session


def test_the_rest_of_a_short_line_is_picked_from_the_bin_central_moved_it_to(
    central_server, tmp_path: Path
) -> None:
    with _picking(central_server, tmp_path, "O-1") as (http, store, sync, session):
        first = _view(session).location
        assert session.scan(f"LOC-{first}").ok
        assert session.scan(gs1(GTIN)).code == "item_ok"
        assert session.enter_qty(1).code == "picked"
        short = session.short("bin_empty")
        assert short.code == "short" and "top-up" not in short.message  # no tote bound yet
        # Not synced yet: nothing says where the other 2 are; the order waits for a tote.
        assert _view(session).step is Step.TOTE
        result = sync.run_once()  # the short goes up; the order comes back re-allocated
        assert result.ok and result.acked == 2, result.error
        view = _view(session)
        assert view.step is Step.LOCATION and view.left == 2 and view.location != first
        follow_up = view.location
        assert session.scan(f"LOC-{follow_up}").ok
        assert session.scan(gs1(GTIN)).code == "item_ok"
        assert session.enter_qty(2).code == "picked"
        assert _view(session).step is Step.TOTE
        assert session.scan("TOTE-0042").code == "task_done"
        assert sync.run_once().ok
        doc = http.get("/v1/orders/O-1").json()
        assert doc["status"] == "picked" and doc["lines"][0]["picked"] == 3
        assert doc["tote"] == "TOTE-0042"
        on_hand = {r["location"]: r["on_hand"] for r in stock_rows(http, "SKU-1")}
        assert on_hand[first] == 50 - 1 and on_hand[follow_up] == 50 - 2
        assert store.pending_count() == 0


def test_the_rest_of_a_short_line_comes_as_a_top_up_task_once_the_tote_has_left(
    central_server, tmp_path: Path
) -> None:
    sorter = central_server.device_token("sorter-1", SITE)
    with _picking(central_server, tmp_path, "O-2") as (http, _store, sync, session):
        # Tote first, then 1 picked and 2 short: the order is in its tote, so the
        # handheld adds no follow-up line and the task is done.
        assert session.scan("TOTE-0051").code == "tote_bound"
        first = _view(session).location
        assert session.scan(f"LOC-{first}").ok
        assert session.scan(gs1(GTIN)).code == "item_ok"
        assert session.enter_qty(1).code == "picked"
        short = session.short("bin_empty")
        assert short.code == "short"
        assert short.message.endswith("The rest follows as a top-up pick after this tote leaves.")
        assert sync.run_once().ok
        assert session.tasks.view().rows == ()  # back on the list: nothing left to pick
        # The sorter diverts the tote to packing: central makes a top-up task for the 2.
        divert = {
            "op_id": "sorter-1-1",
            "seq": 1,
            "kind": "tote.diverted",
            "at": datetime.now(UTC).isoformat(),
            "data": {"tote": "TOTE-0051", "lane": 1, "conveyor": "CV-1"},
        }
        with httpx.Client(
            base_url=central_server.url, headers={"Authorization": f"Bearer {sorter}"}
        ) as device:
            device.post(
                "/v1/sync/push", json={"device": "sorter-1", "ops": [divert]}
            ).raise_for_status()
        assert sync.run_once().ok
        session.back_to_tasks()
        rows = session.tasks.view().rows
        assert [r.title for r in rows] == ["O-2 top-up for tote TOTE-0051"]
        assert session.start(rows[0].task_id).ok
        view = _view(session)
        assert view.left == 2 and view.location != first
        top_up = view.location
        assert session.scan(f"LOC-{top_up}").ok
        assert session.scan(gs1(GTIN)).code == "item_ok"
        assert session.enter_qty(2).code == "picked"
        assert session.scan("TOTE-0052").code == "task_done"
        assert sync.run_once().ok
        doc = http.get("/v1/orders/O-2").json()
        assert doc["lines"][0]["picked"] == 3 and doc["tote"] == "TOTE-0052"
        assert sum(a["qty"] for a in doc["allocations"]) == 0
        on_hand = {r["location"]: r["on_hand"] for r in stock_rows(http, "SKU-1")}
        assert on_hand[first] == 50 - 1 and on_hand[top_up] == 50 - 2
