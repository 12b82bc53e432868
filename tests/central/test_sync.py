"""Sync push and pull over real HTTP (SYNC_CONTRACT.md)."""

from __future__ import annotations

from datetime import timedelta, timezone

import httpx

from tests.central.conftest import NOW, fault_fields, order_body
from tests.central.sync_support import AT, adjusted, op, pull_all, push, stock_of
from tests.support.fixtures_central import CentralApp


def test_pick_flow_and_idempotent_push(http: httpx.Client, device: httpx.Client) -> None:
    http.post("/v1/orders", json=order_body("P-1", [("SKU-2001", 3)])).raise_for_status()
    pick = op(
        "pick.confirmed",
        1,
        order_id="P-1",
        sku="SKU-2001",
        location="A01-02-1",
        qty=3,
        operator="OP-7",
        tote="TOTE-1",
    )
    first = push(device, pick)
    assert first == {"acked_seq": 1, "results": [{"op_id": pick["op_id"], "status": "applied"}]}
    again = push(device, pick)
    assert again["results"][0]["status"] == "duplicate" and again["acked_seq"] == 1
    row = stock_of(http, "SKU-2001", "A01-02-1")
    assert (row["on_hand"], row["reserved"]) == (7, 0)  # picked once, reservation consumed
    doc = http.get("/v1/orders/P-1").json()
    assert doc["status"] == "picked" and doc["tote"] == "TOTE-1"
    assert doc["lines"][0]["picked"] == 3


def test_single_unit_scans_show_on_the_timeline_summed_per_sku_and_bin(
    http: httpx.Client, device: httpx.Client
) -> None:
    body = order_body("P-2", [("SKU-2001", 3), ("SKU-1001", 1)])
    http.post("/v1/orders", json=body).raise_for_status()
    scans = [("SKU-2001", "A01-02-1")] * 3 + [("SKU-1001", "A01-01-1")]
    push(
        device,
        *(
            op("pick.confirmed", seq, order_id="P-2", sku=sku, location=loc, qty=1)
            for seq, (sku, loc) in enumerate(scans, start=1)
        ),
    )
    timeline = http.get("/v1/orders/P-2").json()["timeline"]
    (picked,) = [e["detail"] for e in timeline if e["event"] == "picked"]
    assert picked == "SKU-2001 x3@A01-02-1, SKU-1001 x1@A01-01-1"


def test_times_are_kept_in_utc_whatever_zone_the_server_clock_reads_in(
    app: CentralApp, http: httpx.Client, device: httpx.Client
) -> None:
    # The demo's floor clock reads in the warehouse's zone; the devices' times arrive
    # in UTC. One zone for both, so stored times sort and compare as text.
    app.clock.set(NOW.astimezone(timezone(timedelta(hours=1))))
    http.post("/v1/orders", json=order_body("P-3", [("SKU-2001", 1)])).raise_for_status()
    late = (NOW + timedelta(minutes=5)).isoformat()
    pick = op("pick.confirmed", 1, order_id="P-3", sku="SKU-2001", location="A01-02-1", qty=1)
    push(device, {**pick, "at": late})
    doc = http.get("/v1/orders/P-3").json()
    stamps = [e["at"] for e in doc["timeline"]]
    assert [e["event"] for e in doc["timeline"]][-1] == "picked"
    assert all(s.endswith("+00:00") for s in [*stamps, doc["created_at"], doc["updated_at"]])
    assert stamps == sorted(stamps)


def test_rejected_ops_have_reasons_and_show_as_alerts(
    http: httpx.Client, device: httpx.Client
) -> None:
    http.post("/v1/orders", json=order_body("R-1", [("SKU-2001", 1)])).raise_for_status()
    http.post(
        "/v1/orders", json=order_body("R-PL", [("SKU-3001", 1)], warehouse="PL-WAW")
    ).raise_for_status()
    ops = [
        op("teleport", 1),
        op(
            "pick.confirmed",
            2,
            order_id="R-1",
            sku="SKU-2001",
            location="A01-02-1",
            operator="OP-7",
        ),
        op("pick.confirmed", 3, order_id="NOPE", sku="SKU-2001", location="A01-02-1", qty=1),
        op("pick.confirmed", 4, order_id="R-1", sku="SKU-2001", location="Z99", qty=1),
        op("pick.confirmed", 5, order_id="R-PL", sku="SKU-3001", location="W01-01-1", qty=1),
        adjusted(6, "x", "r"),
        op("exception.raised", 7, order_id="R-1", kind="bored", detail=""),
    ]
    result = push(device, *ops)
    reasons = [r.get("reason", "") for r in result["results"]]
    assert [r["status"] for r in result["results"]] == ["rejected"] * 7
    assert "unknown kind 'teleport'" in reasons[0]
    assert "missing field 'qty'" in reasons[1]
    assert "unknown order 'NOPE'" in reasons[2]
    assert "unknown location DE-FRA/Z99" in reasons[3]
    assert "outside the device's site" in reasons[4]
    assert "'delta'" in reasons[5]
    assert "'kind'" in reasons[6]
    assert result["acked_seq"] == 7  # rejected ops are acknowledged, never retried
    assert stock_of(http, "SKU-2001", "A01-02-1")["on_hand"] == 10  # nothing changed
    alerted = {a["op_id"] for a in http.get("/v1/alerts").json()["rejected_ops"]}
    assert {o["op_id"] for o in ops} <= alerted


def test_oversold_pick_is_accepted(http: httpx.Client, device: httpx.Client) -> None:
    http.post("/v1/orders", json=order_body("OS-1", [("SKU-3001", 3)])).raise_for_status()
    result = push(
        device,
        op(
            "pick.confirmed",
            1,
            order_id="OS-1",
            sku="SKU-3001",
            location="A02-01-1",
            qty=5,
            operator="OP-1",
        ),
    )
    assert result["results"][0]["status"] == "applied"
    assert stock_of(http, "SKU-3001", "A02-01-1")["on_hand"] == -2
    assert "oversold" in http.get("/v1/orders/OS-1").json()["exceptions"]
    oversold = http.get("/v1/alerts").json()["oversold"]
    assert [(a["location"], a["on_hand"]) for a in oversold] == [("A02-01-1", -2)]


def test_count_is_booked_against_the_position_the_device_saw(
    app: CentralApp, http: httpx.Client, device: httpx.Client
) -> None:
    seen = stock_of(http, "SKU-2001", "A01-02-1")
    assert seen["on_hand"] == 10
    # Someone else removes 2 after the counting device looked.
    with app.client(app.token("device", "HH-2", "DE-FRA")) as other:
        push(other, adjusted(1, -2, "damaged"), device="HH-2")
    push(
        device,
        op(
            "stock.counted",
            1,
            warehouse="DE-FRA",
            location="A01-02-1",
            sku="SKU-2001",
            counted=7,
            seen_cursor=seen["ledger_seq"],
        ),
    )
    # The count found 3 fewer than the 10 it saw; the later -2 is kept: 10 - 2 - 3.
    assert stock_of(http, "SKU-2001", "A01-02-1")["on_hand"] == 5


def test_stock_moved_and_short_pick_reallocates(http: httpx.Client, device: httpx.Client) -> None:
    http.post("/v1/orders", json=order_body("SP-1", [("SKU-1001", 2)])).raise_for_status()
    push(
        device,
        op(
            "stock.moved",
            1,
            warehouse="DE-FRA",
            sku="SKU-1001",
            from_location="A01-01-1",
            to_location="A02-05-1",
            qty=4,
        ),
    )
    assert stock_of(http, "SKU-1001", "A02-05-1")["on_hand"] == 4
    assert stock_of(http, "SKU-1001", "A01-01-1")["on_hand"] == 20
    result = push(
        device,
        op(
            "pick.short",
            2,
            order_id="SP-1",
            sku="SKU-1001",
            location="A01-01-1",
            qty_short=2,
            reason="empty",
            operator="OP-1",
        ),
    )
    assert result["results"][0]["status"] == "applied"
    doc = http.get("/v1/orders/SP-1").json()
    assert "short_pick" in doc["exceptions"]
    assert [(a["location"], a["qty"]) for a in doc["allocations"]] == [("A02-05-1", 2)]


def test_a_move_or_receipt_with_a_lot_that_is_not_text_is_rejected(
    http: httpx.Client, device: httpx.Client
) -> None:
    before = stock_of(http, "SKU-1001", "A01-01-1")["on_hand"]
    receipt = {"warehouse": "DE-FRA", "location": "A01-01-1", "sku": "SKU-1001"}
    refused = push(device, op("stock.adjusted", 1, **receipt, delta=5, reason="received", lot=3))
    assert refused["results"][0]["reason"] == "invalid field 'lot': must be text, got 3"
    move = {
        "warehouse": "DE-FRA",
        "sku": "SKU-1001",
        "from_location": "A01-01-1",
        "to_location": "A02-05-1",
        "qty": 1,
    }
    result = push(
        device, op("stock.moved", 2, **move, lot=7), op("stock.moved", 3, **move, expiry=[1])
    )
    assert [(r["status"], r.get("reason")) for r in result["results"]] == [
        ("rejected", "invalid field 'lot': must be text, got 7"),
        ("rejected", "invalid field 'expiry': must be text, got [1]"),
    ]
    assert stock_of(http, "SKU-1001", "A01-01-1")["on_hand"] == before


def test_status_never_moves_backwards(http: httpx.Client, device: httpx.Client) -> None:
    http.post("/v1/orders", json=order_body("SH-1", [("SKU-2001", 1)])).raise_for_status()
    shipped = op(
        "order.shipped", 5, order_id="SH-1", carrier_service="dhl-express", tracking="JD01"
    )
    late_pick = op("pick.confirmed", 3, order_id="SH-1", sku="SKU-2001", location="A01-02-1", qty=1)
    late_pack = op(
        "order.packed",
        4,
        order_id="SH-1",
        carton="S",
        weight_g=200,
        carrier_service="dhl-express",
        tracking="JD01",
    )
    push(device, shipped)
    result = push(device, late_pick, late_pack)
    assert [r["status"] for r in result["results"]] == ["applied", "applied"]
    assert result["acked_seq"] == 5
    doc = http.get("/v1/orders/SH-1").json()
    assert doc["status"] == "shipped" and doc["tracking"] == "JD01"
    cancelled = http.post("/v1/orders/SH-1/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "shipped"
    assert "cancel_after_ship" in cancelled.json()["exceptions"]


def test_ship_after_cancel_becomes_an_exception(http: httpx.Client, device: httpx.Client) -> None:
    http.post("/v1/orders", json=order_body("CS-1", [("SKU-2001", 1)])).raise_for_status()
    http.post("/v1/orders/CS-1/cancel").raise_for_status()
    push(
        device,
        op("order.shipped", 1, order_id="CS-1", carrier_service="dhl-express", tracking="T1"),
    )
    doc = http.get("/v1/orders/CS-1").json()
    assert doc["status"] == "shipped" and "cancel_after_ship" in doc["exceptions"]
    assert any(a["order_id"] == "CS-1" for a in http.get("/v1/alerts").json()["exceptions"])


def test_push_auth_and_limits(app: CentralApp, http: httpx.Client, device: httpx.Client) -> None:
    body = {
        "device": "HH-1",
        "ops": [op("label.printed", 1, order_id="x", printer="p", job_id="j")],
    }
    assert httpx.post(f"{app.url}/v1/sync/push", json=body).status_code == 401
    assert http.post("/v1/sync/push", json=body).status_code == 403  # admin is not a device
    r = device.post("/v1/sync/push", json={**body, "device": "HH-9"})
    assert r.status_code == 403 and "HH-1" in r.json()["detail"]
    many = {"device": "HH-1", "ops": [op("label.printed", i + 1) for i in range(1001)]}
    r = device.post("/v1/sync/push", json=many)
    assert r.status_code == 413 and "1000" in r.json()["detail"]
    huge = {"device": "HH-1", "ops": [op("label.printed", 1, order_id="x" * (3 * 1024 * 1024))]}
    assert device.post("/v1/sync/push", json=huge).status_code == 413
    r = device.post(
        "/v1/sync/push",
        json={"device": "HH-1", "ops": [{"op_id": "a", "kind": "x", "at": AT, "data": {}}]},
    )
    assert r.status_code == 422 and fault_fields(r) == ["body.ops.0.seq"]
    r = device.post(
        "/v1/sync/push", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422


def test_pull_pages_compacts_and_filters_by_site(
    app: CentralApp, http: httpx.Client, device: httpx.Client
) -> None:
    http.post("/v1/orders", json=order_body("F-1", [("SKU-2001", 1)])).raise_for_status()
    http.post(
        "/v1/orders", json=order_body("F-PL", [("SKU-3001", 1)], warehouse="PL-WAW")
    ).raise_for_status()
    http.post("/v1/orders/F-1/cancel").raise_for_status()  # a second change to F-1
    everything, head = pull_all(http, limit=3)
    keys = [(c["entity"], c["id"]) for c in everything]
    assert len(keys) == len(set(keys)), "one row per entity and id"
    assert ("order", "F-1") in keys and ("order", "F-PL") in keys
    f1 = next(c["data"] for c in everything if c["id"] == "F-1")
    assert f1["status"] == "cancelled" and "email" not in f1["customer"]
    mine, _ = pull_all(device, limit=4)
    ids = {(c["entity"], c["id"]) for c in mine}
    assert ("order", "F-1") in ids and ("order", "F-PL") not in ids
    assert ("sku", "SKU-3001") in ids  # SKUs go to every site
    assert not any(c["entity"] == "stock" and c["data"]["warehouse"] == "PL-WAW" for c in mine)
    assert all(
        c["data"]["warehouse"] == "DE-FRA"
        for c in mine
        if c["entity"] in ("order", "stock", "location", "task")
    )
    tail, _ = pull_all(http, cursor=head)
    assert tail == []
    http.post("/v1/orders", json=order_body("F-2", [("SKU-2001", 1)])).raise_for_status()
    tail, _ = pull_all(http, cursor=head)
    assert ("order", "F-2") in {(c["entity"], c["id"]) for c in tail}


def test_a_pulled_bin_is_the_bin_as_of_the_pull(http: httpx.Client, device: httpx.Client) -> None:
    _, head = pull_all(device)
    push(device, adjusted(1, -2, "damaged"))
    http.post("/v1/orders", json=order_body("B-1", [("SKU-2001", 3)])).raise_for_status()
    changes, _ = pull_all(device, cursor=head)
    bins = [c["data"] for c in changes if c["id"] == "DE-FRA/A01-02-1/SKU-2001"]
    assert len(bins) == 1, "one row per bin"
    shown = stock_of(http, "SKU-2001", "A01-02-1")
    assert bins[0] == shown
    assert (shown["on_hand"], shown["reserved"], shown["available"]) == (8, 3, 5)
    assert bins[0]["ledger_seq"] > 0


def test_pull_answers_409_for_another_epoch(http: httpx.Client, device: httpx.Client) -> None:
    page = device.get("/v1/sync/pull", params={"cursor": 0, "limit": 1}).json()
    ok = device.get(
        "/v1/sync/pull",
        params={"cursor": page["cursor"]},
        headers={"X-Rushline-Epoch": page["epoch"]},
    )
    assert ok.status_code == 200
    r = device.get("/v1/sync/pull", params={"cursor": 5}, headers={"X-Rushline-Epoch": "not-it"})
    assert r.status_code == 409 and "re-pull" in r.json()["detail"]
    assert device.get("/v1/sync/pull", params={"cursor": 10**9}).status_code == 409
    assert "query.cursor" in fault_fields(device.get("/v1/sync/pull", params={"cursor": -1}))


def test_a_recorded_op_sent_again_with_a_new_seq_is_a_duplicate(
    app: CentralApp, http: httpx.Client, device: httpx.Client
) -> None:
    adjust = adjusted(1, 4)
    assert push(device, adjust)["results"][0]["status"] == "applied"
    # A device that renumbered its outbox: the same op past its acknowledged seq, with a
    # new one. The recorded op is not applied twice; the new one is applied.
    fresh = adjusted(6, 1)
    result = push(device, {**adjust, "seq": 5}, fresh)
    assert [(r["op_id"], r["status"]) for r in result["results"]] == [
        (adjust["op_id"], "duplicate"),
        (fresh["op_id"], "applied"),
    ]
    assert result["acked_seq"] == 6
    assert stock_of(http, "SKU-2001", "A01-02-1")["on_hand"] == 15  # 10 + 4 + 1
    # Sent by another device of the site: also a duplicate.
    with app.client(app.token("device", "HH-2", "DE-FRA")) as other:
        again = push(other, {**fresh, "seq": 1}, device="HH-2")
    assert again["results"] == [{"op_id": fresh["op_id"], "status": "duplicate"}]
    assert stock_of(http, "SKU-2001", "A01-02-1")["on_hand"] == 15


def test_results_follow_the_sent_order_and_a_repeated_op_in_one_push_is_a_duplicate(
    http: httpx.Client, device: httpx.Client
) -> None:
    adjust = adjusted(2, 4)
    bogus = op("no.such.kind", 1)
    result = push(device, adjust, bogus, adjust)
    assert [(r["op_id"], r["status"]) for r in result["results"]] == [
        (adjust["op_id"], "applied"),
        (bogus["op_id"], "rejected"),
        (adjust["op_id"], "duplicate"),
    ]
    assert "unknown kind" in result["results"][1]["reason"] and result["acked_seq"] == 2
    assert stock_of(http, "SKU-2001", "A01-02-1")["on_hand"] == 14  # booked once
