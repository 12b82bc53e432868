"""Device store + sync client against the real central server (uvicorn on loopback)."""

from __future__ import annotations

from datetime import UTC, datetime

from sync.client import SyncClient
from sync.store import LocalStore
from tests.sync.central_data import (
    INITIAL_QTY,
    SITE,
    admin,
    masterdata,
    on_hand,
    order_body,
    order_status,
)


def test_push_pull_round_trip(central_server, tmp_path):
    central_server.import_masterdata(masterdata())
    with admin(central_server) as http:
        http.post("/v1/orders", json=order_body("O-1", qty=2)).raise_for_status()
        token = central_server.device_token("hh-1", SITE)
        with (
            LocalStore(tmp_path / "hh-1.db", "hh-1", SITE) as store,
            SyncClient(store, central_server.url, token) as client,
        ):
            first = client.run_once()
            assert first.ok, first.error
            order = store.order("O-1")
            assert order is not None and order["status"] in ("received", "allocated")
            assert store.sku_by_gtin("4006381333930")["sku"] == "SKU-1"
            assert store.location("A02")["code"] == "A02"
            assert len(store.stock("SKU-1")) == 3
            at = datetime.now(UTC)
            store.record("tote.assigned", {"tote": "TOTE-1", "order_id": "O-1"}, at)
            for _ in range(2):
                store.record(
                    "pick.confirmed",
                    {
                        "order_id": "O-1",
                        "sku": "SKU-1",
                        "location": "A01",
                        "qty": 1,
                        "operator": "op1",
                    },
                    at,
                )
            assert store.order("O-1")["status"] == "picked"  # own work visible before sync
            assert store.order_by_tote("TOTE-1")["id"] == "O-1"
            second = client.run_once()
            assert second.ok and (second.acked, second.rejected, second.pending) == (3, 0, 0)
            assert order_status(http, "O-1") == "picked"
            assert on_hand(http)[("A01", "SKU-1")] == INITIAL_QTY - 2
            # After ack + pull the view comes from the server's base, counted once.
            assert store.get("stock", f"{SITE}/A01/SKU-1")["on_hand"] == INITIAL_QTY - 2
            assert store.order("O-1")["status"] == "picked"
            assert store.order_by_tote("TOTE-1")["id"] == "O-1"
            assert [op.state for op in store.outbox_history()] == ["acked"] * 3


def test_unknown_order_is_rejected_and_not_retried(central_server, tmp_path):
    central_server.import_masterdata(masterdata())
    token = central_server.device_token("hh-1", SITE)
    with (
        LocalStore(tmp_path / "hh-1.db", "hh-1", SITE) as store,
        SyncClient(store, central_server.url, token) as client,
    ):
        op = store.record(
            "label.printed",
            {"order_id": "NOPE", "printer": "p1", "job_id": "j1"},
            datetime.now(UTC),
        )
        result = client.run_once()
        assert result.ok and result.rejected == 1 and store.pending_count() == 0
        [hist] = store.outbox_history()
        assert (hist.op_id, hist.state) == (op.op_id, "rejected") and hist.reason
        assert client.run_once().pushed == 0


def test_thousand_ops_recorded_offline_all_arrive(central_server, tmp_path):
    central_server.import_masterdata(masterdata())
    token = central_server.device_token("hh-1", SITE)
    with (
        LocalStore(tmp_path / "hh-1.db", "hh-1", SITE) as store,
        SyncClient(store, central_server.url, token) as client,
    ):
        assert client.run_once().ok
        central_server.stop()
        at = datetime.now(UTC)
        for i in range(1000):
            store.record(
                "stock.adjusted",
                {
                    "warehouse": SITE,
                    "location": "A03",
                    "sku": "SKU-2",
                    "delta": 1 if i % 4 else -1,
                    "reason": "count",
                },
                at,
            )
        offline = client.run_once()
        assert offline.error_kind == "offline" and not client.status.online
        assert client.status.pending == 1000
        assert store.get("stock", f"{SITE}/A03/SKU-2")["on_hand"] == INITIAL_QTY + 500
        central_server.start()
        back = client.run_once()
        assert back.ok, back.error
        assert (back.acked, back.rejected, back.pending) == (1000, 0, 0)
        with admin(central_server) as http:
            assert on_hand(http)[("A03", "SKU-2")] == INITIAL_QTY + 500
        assert store.get("stock", f"{SITE}/A03/SKU-2")["on_hand"] == INITIAL_QTY + 500
        assert {op.result for op in store.outbox_history()} == {"applied"}


def test_wrong_token_is_a_clear_error(central_server, tmp_path):
    central_server.import_masterdata(masterdata())
    other = central_server.device_token("hh-2", SITE)
    with (
        LocalStore(tmp_path / "hh-1.db", "hh-1", SITE) as store,
        SyncClient(store, central_server.url, other) as client,
    ):
        store.record("tote.assigned", {"tote": "T1", "order_id": "O-9"}, datetime.now(UTC))
        result = client.run_once()
        assert result.error_kind == "unauthorized" and "403" in result.error
        assert store.pending_count() == 1
    with (
        LocalStore(tmp_path / "hh-3.db", "hh-3", SITE) as store,
        SyncClient(store, central_server.url, "garbage") as client,
    ):
        assert client.run_once().error_kind == "unauthorized"
