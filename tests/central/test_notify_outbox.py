"""The notification outbox in a real SQLite store: settings from TOML with named
errors, the timeline scan, one notification per (customer, order, event), leases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from central.clock import ManualClock
from central.feedback.notify.outbox import feedback_tx, scan_timeline
from central.feedback.notify.worker import NotificationWorker
from central.feedback.settings import (
    NotificationConfigError,
    default_path,
    load_settings,
    parse_settings,
)
from central.service.intake import create_order
from central.settings import ServerSettings
from central.store import open_store
from central.store.base import Store
from central.store.feedback_sql import DeliveryRow
from tests.central.conftest import NOW, order_body
from tests.central.feedback_support import fast_settings, hook
from tests.support.central import TEST_MASTERDATA
from tests.support.waiting import wait_until


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    from central.service.masterdata import import_masterdata

    db = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    import_masterdata(db, TEST_MASTERDATA, ManualClock(NOW), ServerSettings())
    yield db
    db.close()


def test_shipped_file_loads_and_the_data_dir_file_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUSHLINE_NOTIFICATIONS", raising=False)
    monkeypatch.setenv("RUSHLINE_DATA_DIR", str(tmp_path))
    shipped = load_settings()
    assert shipped.webhooks == () and shipped.smtp is None
    assert "shipped" in shipped.status_events and shipped.inquiry_per_hour == 3
    (tmp_path / "notifications.toml").write_text("[inquiries]\nper_hour = 7\n")
    assert default_path() == tmp_path / "notifications.toml"
    assert load_settings().inquiry_per_hour == 7
    monkeypatch.setenv("RUSHLINE_NOTIFICATIONS", str(tmp_path / "other.toml"))
    with pytest.raises(NotificationConfigError, match=r"other\.toml: cannot read"):
        load_settings()


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (
            {"notifications": {"status_events": ["shiped"]}},
            "notifications.status_events: unknown shiped",
        ),
        ({"notifications": {"poll_seconds": True}}, "notifications.poll_seconds: must be a number"),
        ({"retry": {"max_attempts": 0}}, "retry.max_attempts: must be at least 1"),
        ({"webhooks": [{"url": "ftp://x", "secret": "s" * 16}]}, "webhooks[0].url"),
        ({"webhooks": [{"url": "http://x", "secret": "short"}]}, "webhooks[0].secret"),
        ({"webhooks": [{"url": "http://x", "secret_env": "RL_NOPE_UNSET"}]}, "RL_NOPE_UNSET"),
        ({"smtp": {"enabled": True, "port": "25"}}, "smtp.port: has the wrong type"),
        ({"templates": {"status": "x"}}, "templates.status: must be a table"),
        (
            {"notifications": {"pol_seconds": 1}},
            "notifications.pol_seconds: unknown key (did you mean 'poll_seconds'?)",
        ),
        ({"retyr": {"max_attempts": 3}}, "retyr: unknown key (did you mean 'retry'?)"),
        (
            {"webhooks": [{"url": "http://x", "secret": "s" * 16, "event": ["shipped"]}]},
            "webhooks[0].event: unknown key (did you mean 'events'?)",
        ),
        ({"smtp": {"prot": 25}}, "smtp.prot: unknown key (did you mean 'port'?)"),
        ({"templates": {"status": {"subjet": "x"}}}, "templates.status.subjet: unknown key"),
    ],
)
def test_bad_settings_name_the_field(data: dict[str, object], named: str) -> None:
    with pytest.raises(NotificationConfigError) as caught:
        parse_settings(data, "n.toml")
    assert str(caught.value).startswith("n.toml: ") and named in str(caught.value)


def test_scan_makes_one_notification_per_event_and_moves_its_cursor(store: Store) -> None:
    settings = fast_settings(
        webhooks=(hook("http://127.0.0.1:9/x"),),
        exception_events=frozenset({"stock_shortage"}),
    )
    clock = ManualClock(NOW)
    create_order(store, order_body("OB-1"), clock, ServerSettings())
    short = order_body("OB-2", lines=[("SKU-3001", 5), ("SKU-2001", 1)])
    create_order(store, short, clock, ServerSettings())
    made = scan_timeline(store, settings, NOW)
    assert len(made) == 2
    assert scan_timeline(store, settings, NOW) == []  # nothing new on the timeline
    with store.reader() as tx:
        events = sorted((n.order_id, n.event) for n, _ in feedback_tx(tx).notifications())
        deliveries = [d for _, ds in feedback_tx(tx).notifications() for d in ds]
    assert events == [("OB-1", "status.allocated"), ("OB-2", "exception.stock_shortage")]
    # No SMTP configured: the webhook only, one delivery per notification.
    assert [(d.channel, d.target, d.status) for d in deliveries] == [
        ("webhook", "shop", "pending")
    ] * 2


def test_history_from_before_the_feature_notifies_no_one(tmp_path: Path) -> None:
    from central.store.feedback_sql import CURSOR_KEY

    db = open_store(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        with db.reader() as tx:
            assert tx.get_meta(CURSOR_KEY) == "0"  # set by the migration at the end
    finally:
        db.close()


def test_a_claimed_delivery_is_not_sent_by_a_second_worker(store: Store) -> None:
    sent: list[str] = []

    class Counting:
        def send(self, delivery, notification):  # type: ignore[no-untyped-def]
            from central.feedback.notify.channel import SENT

            sent.append(notification.id)
            return SENT

        def close(self) -> None:
            return None

    settings = fast_settings(webhooks=(hook("http://127.0.0.1:9/x"),))
    create_order(store, order_body("OB-3"), ManualClock(NOW), ServerSettings())
    scan_timeline(store, settings, NOW)
    first = NotificationWorker(store, ServerSettings(), settings, channels={"webhook": Counting()})
    second = NotificationWorker(store, ServerSettings(), settings, channels={"webhook": Counting()})
    with store.reader() as tx:
        ((delivery, _),) = feedback_tx(tx).due_deliveries("9999", 10)
    with store.transaction() as tx:
        assert feedback_tx(tx).claim_delivery(delivery, "9999-01-01T00:00:00.000000Z#a")
    with store.transaction() as tx:  # the same row, as a second worker read it
        assert not feedback_tx(tx).claim_delivery(delivery, "9999-01-01T00:00:00.000000Z#b")
    assert second.deliver_due() == 0 and first.deliver_due() == 0  # leased until 9999
    assert sent == []


def test_a_failing_risk_round_does_not_hold_up_deliveries(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    from dataclasses import replace

    from central.feedback.notify.channel import SENT

    sent: list[str] = []

    class Counting:
        def send(self, delivery, notification):  # type: ignore[no-untyped-def]
            sent.append(notification.id)
            return SENT

        def close(self) -> None:
            return None

    settings = replace(
        fast_settings(webhooks=(hook("http://127.0.0.1:9/x"),)), risk_interval_seconds=1
    )
    create_order(store, order_body("OB-4"), ManualClock(NOW), ServerSettings())
    broken = ServerSettings(rules=None)  # the risk round raises on every order
    worker = NotificationWorker(store, broken, settings, channels={"webhook": Counting()})
    worker.run_once()
    assert len(sent) == 1
    assert "notification step monitor failed" in caplog.text


def test_stopping_the_worker_records_what_reached_the_timeline_since_its_last_round(
    store: Store,
) -> None:
    from dataclasses import replace

    # A poll far away: after its first round only the stop itself can scan again.
    settings = replace(fast_settings(webhooks=(hook("http://127.0.0.1:9/x"),)), poll_seconds=3600)
    clock = ManualClock(NOW)
    create_order(store, order_body("OB-5"), clock, ServerSettings())
    worker = NotificationWorker(store, ServerSettings(), settings, channels={})
    worker.start()
    try:
        wait_until(lambda: "OB-5" in _notified(store), timeout=10)  # the first round
        create_order(store, order_body("OB-6"), clock, ServerSettings())
        assert "OB-6" not in _notified(store)
    finally:
        worker.stop()
    assert "OB-6" in _notified(store)


def _notified(store: Store) -> set[str]:
    with store.reader() as tx:
        return {n.order_id for n, _ in feedback_tx(tx).notifications()}


@hypothesis_settings(max_examples=60, deadline=None)
@given(
    outcomes=st.lists(st.sampled_from(["sent", "retry", "refused"]), min_size=1, max_size=12),
    max_attempts=st.integers(min_value=1, max_value=6),
    base=st.floats(min_value=0.01, max_value=10),
    cap=st.floats(min_value=0.01, max_value=30),
)
def test_settle_ends_within_max_attempts_and_waits_at_most_cap(
    outcomes: list[str], max_attempts: int, base: float, cap: float
) -> None:
    from dataclasses import replace
    from datetime import datetime, timedelta

    from central.feedback.notify.channel import Outcome
    from central.feedback.notify.worker import settle
    from central.feedback.settings import RetryPolicy

    policy = RetryPolicy(max_attempts=max_attempts, base_seconds=base, cap_seconds=cap)
    notify = replace(fast_settings(), retry=policy)
    row = DeliveryRow("n", "webhook", "shop", "pending", 0, "", None, None)
    now = NOW
    by_name = {"sent": Outcome(True), "retry": Outcome(False, True, "x"), "refused": Outcome(False)}
    for name in outcomes:
        row = settle(row, by_name[name], now, notify)
        if row.status != "pending":
            break
        due = datetime.strptime(row.next_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=now.tzinfo)
        assert timedelta(0) < due - now <= timedelta(seconds=cap) + timedelta(microseconds=1)
    assert row.attempts <= max_attempts
    assert (row.status == "sent") == (by_name[outcomes[row.attempts - 1]].sent)
    if row.status == "pending":
        assert row.attempts == len(outcomes) < max_attempts
