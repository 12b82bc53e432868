"""Fault injection against the real central server: three devices run random op scripts
while pushes are duplicated, reordered, replayed and their responses lost, a device
process is SIGKILLed (mid-recording, and after central applied its push but before the
ack was stored) and central itself is killed and restarted. After the network heals every
op is applied exactly once, stock equals the sum of movements, no order status went
backwards, every outbox is drained and all devices see the same state as central."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from domain.models import OrderStatus
from domain.status import status_rank
from sync.client import SyncClient
from sync.store import LocalStore
from tests.sync.central_data import (
    INITIAL_QTY,
    LOCATIONS,
    SITE,
    SKUS,
    admin,
    masterdata,
    on_hand,
    order_body,
    order_status,
)
from tests.sync.faults import Child, FaultyTransport, movements, random_op

ORDERS = ["F-1", "F-2", "F-3"]
# More seeds: RUSHLINE_FAULT_SEEDS=1,2,3 pytest tests/sync/test_fault_injection.py
SEEDS = [int(s) for s in os.environ.get("RUSHLINE_FAULT_SEEDS", "20261125").split(",")]


@pytest.fixture
def devices(tmp_path) -> Iterator[list[LocalStore]]:
    stores = [LocalStore(tmp_path / f"hh-{i}.db", f"hh-{i}", SITE) for i in range(3)]
    yield stores
    for store in stores:
        store.close()


def statuses(http) -> dict[str, int]:
    return {o: status_rank(OrderStatus(order_status(http, o))) for o in ORDERS}


@pytest.mark.timeout(90)
@pytest.mark.parametrize("seed", SEEDS)
def test_every_op_exactly_once_under_faults(central_server, devices, tmp_path, seed):
    rng = random.Random(seed)
    central_server.import_masterdata(masterdata())
    http = admin(central_server)
    for order_id in ORDERS:
        http.post("/v1/orders", json=order_body(order_id, qty=3)).raise_for_status()
    tokens = [central_server.device_token(s.device_id, SITE) for s in devices]
    child_store = tmp_path / "hh-c.db"
    child_token = central_server.device_token("hh-c", SITE)
    transports = [FaultyTransport(random.Random(rng.random()), p=0.2) for _ in devices]
    clients = [
        SyncClient(
            s, central_server.url, t, batch_size=rng.choice([3, 7, 50]), timeout=5, transport=tr
        )
        for s, t, tr in zip(devices, tokens, transports, strict=True)
    ]
    seen = statuses(http)
    central_up = True
    rounds_failed = 0
    try:
        for step in range(90):
            if step == 10:  # kill a device process while it records
                child = Child("record", str(child_store), "hh-c", "40", str(seed), ",".join(ORDERS))
                stop_at = rng.randint(3, 30)
                child.wait_for(lambda line, n=stop_at: line == f"REC {n}")
                child.kill()
            if step == 25:  # kill it again after central applied its push, before the ack
                child = Child("push", str(child_store), "hh-c", central_server.url, child_token)
                child.wait_for(lambda line: line == "ANSWERED")
                child.kill()
            if step == 40:
                central_server.kill()
                central_up = False
            if step == 55:
                central_server.start()
                central_up = True
            device = rng.randrange(len(devices))
            if rng.random() < 0.6:
                for _ in range(rng.randint(1, 6)):
                    kind, data = random_op(rng, ORDERS)
                    devices[device].record(kind, data, datetime.now(UTC))
            else:
                result = clients[device].run_once()
                rounds_failed += not result.ok
                if central_up:
                    now = statuses(http)
                    assert all(now[o] >= seen[o] for o in ORDERS), (seen, now)
                    seen = now
        # The network heals: plain clients, every device (and the killed one) drains.
        with LocalStore(child_store, "hh-c", SITE) as child_dev:
            reopened = child_dev.outbox_history()
            assert reopened and all(op.seq == i + 1 for i, op in enumerate(reopened))
            everyone = [*devices, child_dev]
            plain = [
                SyncClient(s, central_server.url, t)
                for s, t in zip(everyone, [*tokens, child_token], strict=True)
            ]
            try:
                for _ in range(2):  # second pass: everyone pulls what the others pushed
                    for client in plain:
                        result = client.run_once()
                        assert result.ok, result.error
            finally:
                for client in plain:
                    client.close()
            history = [op for s in everyone for op in s.outbox_history()]
            assert all(s.pending_count() == 0 for s in everyone)
            assert {op.state for op in history} == {"acked"}, [
                (op.kind, op.reason) for op in history if op.state != "acked"
            ]
            assert len({op.op_id for op in history}) == len(history)
            expected = {(loc, sku): INITIAL_QTY for loc in LOCATIONS for sku in SKUS}
            for op in history:
                for key, delta in movements(op.kind, op.data):
                    expected[key] += delta
            central = on_hand(http)
            assert central == expected
            final = statuses(http)
            assert all(final[o] >= seen[o] for o in ORDERS)
            # Converged: every device's view equals central.
            for store in everyone:
                view = {
                    (r["location"], r["sku"]): r["on_hand"]
                    for sku in SKUS
                    for r in store.stock(sku, SITE)
                }
                assert view == expected, store.device_id
                assert {o: store.order(o)["status"] for o in ORDERS} == {
                    o: order_status(http, o) for o in ORDERS
                }
        faults = {k: sum(t.done[k] for t in transports) for k in transports[0].done}
        print(
            f"ops={len(history)} child_ops={len(reopened)} faults={faults} "
            f"failed_rounds={rounds_failed} central={central} statuses={final}"
        )
        assert all(faults.values()), faults  # every kind of fault really happened
        assert rounds_failed > 0
    finally:
        for client in clients:
            client.close()
        for transport in transports:
            transport.close()
        http.close()
