"""SyncClient unit tests against an in-process fake of the sync endpoints (httpx
MockTransport). The real central server is exercised in test_integration_*.py."""

from __future__ import annotations

import json
import random
import sqlite3
import threading

import httpx
import pytest

from sync.client import SyncClient
from sync.store import LocalStore
from tests.support.waiting import wait_until
from tests.sync.helpers import AT, stock


class FakeCentral:
    """The sync contract in miniature: idempotent push, compacted pull, epochs."""

    def __init__(self) -> None:
        self.applied: dict[str, dict] = {}
        self.rows: dict[tuple[str, str], tuple[int, dict | None]] = {}
        self.seq = 0
        self.epoch = "e1"
        self.status_override: int | None = None
        self.max_ops = 1000
        self.pushes: list[int] = []
        self.on_hand = 100
        self.put("stock", "W/A01/SKU-1", stock(on_hand=self.on_hand, reserved=0))

    def put(self, entity: str, row_id: str, data: dict | None) -> None:
        self.seq += 1
        self.rows[(entity, row_id)] = (self.seq, data)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.status_override:
            return httpx.Response(self.status_override, json={"detail": "no"})
        if request.url.path == "/v1/sync/push":
            body = json.loads(request.content)
            self.pushes.append(len(body["ops"]))
            if len(body["ops"]) > self.max_ops:
                return httpx.Response(413, json={"detail": "too many ops"})
            results = []
            for op in body["ops"]:
                if op["op_id"] in self.applied:
                    results.append({"op_id": op["op_id"], "status": "duplicate"})
                    continue
                self.applied[op["op_id"]] = op
                if op["kind"] == "stock.adjusted":
                    self.on_hand += op["data"]["delta"]
                    self.put("stock", "W/A01/SKU-1", stock(on_hand=self.on_hand, reserved=0))
                results.append({"op_id": op["op_id"], "status": "applied"})
            return httpx.Response(
                200, json={"acked_seq": body["ops"][-1]["seq"], "results": results}
            )
        cursor = int(request.url.params["cursor"])
        limit = int(request.url.params["limit"])
        sent_epoch = request.headers.get("X-Rushline-Epoch")
        if sent_epoch is not None and sent_epoch != self.epoch:
            return httpx.Response(409, json={"detail": "epoch"})
        newer = sorted((s, k, d) for k, (s, d) in self.rows.items() if s > cursor)
        page = newer[:limit]
        changes = [{"entity": k[0], "id": k[1], "data": d} for s, k, d in page]
        return httpx.Response(
            200,
            json={
                "cursor": page[-1][0] if page else cursor,
                "epoch": self.epoch,
                "changes": changes,
                "more": len(newer) > limit,
            },
        )


@pytest.fixture
def store(tmp_path):
    with LocalStore(tmp_path / "d.db", "hh-1", "W") as s:
        yield s


def adjust(store: LocalStore, delta: int = -1):
    return store.record(
        "stock.adjusted",
        {"warehouse": "W", "location": "A01", "sku": "SKU-1", "delta": delta, "reason": "r"},
        AT,
    )


def client(store, fake, **kw) -> SyncClient:
    return SyncClient(
        store,
        "http://central",
        "tok",
        transport=httpx.MockTransport(fake),
        rng=random.Random(1),
        **kw,
    )


def test_round_pushes_in_batches_then_pulls_without_double_count(store):
    fake = FakeCentral()
    for _ in range(7):
        adjust(store)
    with client(store, fake, batch_size=3, pull_limit=1) as c:
        result = c.run_once()
    assert result.ok and (result.pushed, result.acked, result.pending) == (7, 7, 0)
    assert fake.pushes == [3, 3, 1] and len(fake.applied) == 7
    assert store.stock("SKU-1")[0]["on_hand"] == 93 == fake.on_hand
    assert c.status.online and c.status.last_success_at is not None


def test_lost_response_is_retried_and_counted_once(store):
    fake = FakeCentral()
    lose = {"next": True}

    def lossy(request):
        response = fake(request)
        if request.url.path == "/v1/sync/push" and lose.pop("next", False):
            raise httpx.ReadError("connection dropped after the server applied the push")
        return response

    adjust(store, -5)
    with client(store, lossy) as c:
        first = c.run_once()
        assert first.error_kind == "offline" and first.pulled == 0  # no pull after a failed push
        assert store.stock("SKU-1")[0]["on_hand"] == -5  # only its own work: no base yet
        second = c.run_once()
    assert second.ok and len(fake.applied) == 1
    assert store.stock("SKU-1")[0]["on_hand"] == 95
    assert store.outbox_history()[0].result == "duplicate"


def test_413_halves_the_batch(store):
    fake = FakeCentral()
    fake.max_ops = 2
    for _ in range(5):
        adjust(store)
    with client(store, fake, batch_size=8) as c:
        assert c.run_once().ok
    assert fake.pushes[:3] == [5, 4, 2] and len(fake.applied) == 5


def test_409_resets_the_replica_and_repulls(store):
    fake = FakeCentral()
    with client(store, fake) as c:
        assert c.run_once().ok
        fake.epoch = "e2"
        fake.rows = {}
        fake.put("stock", "W/B02/SKU-1", stock("B02", 3, 0))
        result = c.run_once()
    assert result.ok and store.epoch == "e2"
    assert [r["location"] for r in store.stock("SKU-1")] == ["B02"]


@pytest.mark.parametrize(
    ("code", "kind"), [(401, "unauthorized"), (403, "unauthorized"), (500, "server")]
)
def test_refusals_are_clear_errors(store, code, kind):
    fake = FakeCentral()
    fake.status_override = code
    adjust(store)
    with client(store, fake) as c:
        result = c.run_once()
    assert result.error_kind == kind and str(code) in result.error
    assert store.pending_count() == 1


def test_backoff_is_capped_and_jittered(store):
    with client(store, FakeCentral(), backoff_base=0.2, backoff_cap=10.0) as c:
        delays = [c.backoff_delay(n) for n in range(1, 12)]
    assert 0.1 <= delays[0] <= 0.2
    assert all(5.0 <= d <= 10.0 for d in delays[7:])


def test_background_loop_wakes_on_record(store):
    fake = FakeCentral()
    with client(store, fake, interval=30.0) as c:
        c.start()
        wait_until(lambda: c.status.last_success_at is not None, 5, what="first round")
        adjust(store, -2)  # the 30 s idle wait must end early
        wait_until(lambda: len(fake.applied) == 1 and c.status.pending == 0, 5, what="push")
        c.stop()
    assert not any(t.name == "sync-hh-1" for t in threading.enumerate())


def many_bins(fake: FakeCentral, count: int) -> None:
    for i in range(count):
        fake.put("stock", f"W/B{i:02d}/SKU-1", stock(f"B{i:02d}", i, 0))


def test_next_page_is_fetched_while_a_page_is_written(store, monkeypatch):
    fake = FakeCentral()
    many_bins(fake, 5)  # 6 rows in pages of 2: cursors 2, 4, 6
    asked: list[int] = []

    def recording(request):
        if request.url.path == "/v1/sync/pull":
            asked.append(int(request.url.params["cursor"]))
        return fake(request)

    written: list[int] = []
    write = store.apply_changes

    def slow_write(changes, cursor, epoch, final=True):
        if not final:
            # The request for the page after this one goes out before this write ends.
            wait_until(lambda: cursor in asked, 5, what=f"request for cursor {cursor}")
        written.append(cursor)
        return write(changes, cursor, epoch, final)

    monkeypatch.setattr(store, "apply_changes", slow_write)
    with client(store, recording, pull_limit=2) as c:
        result = c.run_once()
    assert result.ok and result.pulled == 6
    assert asked == [0, 2, 4] and written == [2, 4, 6]
    assert store.cursor == 6 and len(store.stock("SKU-1")) == 6


def test_page_fetched_ahead_that_fails_keeps_the_pages_written(store):
    fake = FakeCentral()
    many_bins(fake, 5)
    down = {"on": False}

    def flaky(request):
        pull = request.url.path == "/v1/sync/pull"
        if down["on"] and pull and int(request.url.params["cursor"]) >= 4:
            raise httpx.ConnectError("central went away")
        return fake(request)

    down["on"] = True
    with client(store, flaky, pull_limit=2) as c:
        first = c.run_once()
        assert first.error_kind == "offline" and first.pulled == 4
        assert store.cursor == 4 and len(store.stock("SKU-1")) == 4
        down["on"] = False
        second = c.run_once()
    assert second.ok and second.pulled == 2 and store.cursor == 6
    assert len(store.stock("SKU-1")) == 6


def test_page_write_that_fails_drops_the_page_fetched_ahead(store, monkeypatch):
    fake = FakeCentral()
    many_bins(fake, 5)
    write = store.apply_changes
    calls = {"n": 0}

    def failing_second(changes, cursor, epoch, final=True):
        calls["n"] += 1
        if calls["n"] == 2:
            raise sqlite3.OperationalError("disk I/O error")
        return write(changes, cursor, epoch, final)

    monkeypatch.setattr(store, "apply_changes", failing_second)
    with client(store, fake, pull_limit=2) as c:
        with pytest.raises(sqlite3.OperationalError):
            c.run_once()
        assert store.cursor == 2  # the page after it was fetched but never written
        assert c.run_once().ok
    assert store.cursor == 6 and len(store.stock("SKU-1")) == 6
    assert not any(t.name.startswith("pull-hh-1") for t in threading.enumerate())


def test_409_on_a_page_fetched_ahead_resets_and_repulls(store, monkeypatch):
    fake = FakeCentral()
    many_bins(fake, 5)
    write = store.apply_changes

    def rebuild_after_first(changes, cursor, epoch, final=True):
        done = write(changes, cursor, epoch, final)
        if cursor == 2 and fake.epoch == "e1":
            fake.epoch = "e2"  # the server's feed is rebuilt between two pages
        return done

    monkeypatch.setattr(store, "apply_changes", rebuild_after_first)
    with client(store, fake, pull_limit=2) as c:
        result = c.run_once()
    assert result.ok and store.epoch == "e2" and store.cursor == 6
    assert len(store.stock("SKU-1")) == 6
