"""The floor bus against a real Mosquitto with passwords and the shipped ACL."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge import topics
from edge.bus import Bus, BusMessage, Presence
from edge.errors import BusError
from edge.outbox import BusStore
from tests.support.waiting import wait_until

SITE = "DE-FRA"


class Collector:
    """Messages seen by a handler, thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[BusMessage] = []

    def __call__(self, message: BusMessage) -> None:
        with self.lock:
            self.messages.append(message)

    def payloads(self, kind: str | None = None) -> list[dict]:
        with self.lock:
            return [m.payload for m in self.messages if kind is None or m.kind == kind]


def test_topics_round_trip_and_reject_bad_levels() -> None:
    topic = topics.conveyor_event(SITE, "conveyor-1")
    assert topic == "rushline/v1/DE-FRA/conveyor/conveyor-1/event"
    assert topics.parse(topic) == topics.Topic("conveyor_event", SITE, "conveyor-1")
    assert topics.parse(topics.central_state(SITE)).kind == "central_state"
    assert topics.parse(topics.task(SITE, "handheld-1")).id == "handheld-1"
    assert topics.any_of(SITE, "dev_state") == "rushline/v1/DE-FRA/dev/+/state"
    display = topics.dev_display(SITE, "pack-1")
    assert display == "rushline/v1/DE-FRA/dev/pack-1/display"
    assert topics.parse(display) == topics.Topic("dev_display", SITE, "pack-1")
    command = topics.dev_command(SITE, "dock-1")
    assert topics.parse(command) == topics.Topic("dev_command", SITE, "dock-1")
    assert topics.any_of(SITE, "dev_command") == "rushline/v1/DE-FRA/dev/+/command"
    with pytest.raises(BusError, match="not a valid topic level"):
        topics.order_event(SITE, "a/b")
    with pytest.raises(BusError, match="not a floor-bus topic"):
        topics.parse("rushline/v1/DE-FRA/nothing/here")


def test_state_is_retained_with_epoch_and_will_on_stop(agent_settings) -> None:
    seen = Collector()
    with Bus(agent_settings("monitor-1")) as monitor:
        monitor.subscribe(topics.any_of(SITE, "dev_state"), seen)
        monitor.wait_connected(5)
        sorter = Bus(agent_settings("sorter-1")).start(wait=5)
        epoch = sorter.epoch
        wait_until(
            lambda: any(p.get("from") == "sorter-1" and p["online"] for p in seen.payloads()),
            what="sorter birth",
        )
        sorter.stop()
        wait_until(
            lambda: any(
                p.get("from") == "sorter-1" and p["online"] is False for p in seen.payloads()
            ),
            what="sorter offline state",
        )
    states = [p for p in seen.payloads() if p.get("from") == "sorter-1"]
    assert {p["epoch"] for p in states} == {epoch}
    assert all(p["role"] == "sorter" and p["v"] == 1 for p in states)
    seqs = [p["seq"] for p in states]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_durable_messages_reach_subscriber_once(agent_settings) -> None:
    got = Collector()
    with Bus(agent_settings("monitor-1")) as monitor, Bus(agent_settings("sorter-1")) as sorter:
        monitor.subscribe(topics.any_of(SITE, "conveyor_event"), got)
        monitor.wait_connected(5)
        sorter.wait_connected(5)
        topic = topics.conveyor_event(SITE, "conveyor-1")
        sent = [sorter.publish(topic, {"type": "diverted", "tote": f"TOTE-{i}"}) for i in range(50)]
        wait_until(lambda: len(got.payloads()) == 50, what="50 events")
        assert sorter.flush(5)
        assert sorter.pending == 0
        assert sorter.counters.acked == 50
    assert [p["seq"] for p in got.payloads()] == sent
    assert [p["tote"] for p in got.payloads()] == [f"TOTE-{i}" for i in range(50)]


def test_outbox_survives_broker_outage_and_restart_of_the_sender(
    agent_settings, floor_broker
) -> None:
    settings = agent_settings("sorter-1")
    topic = topics.conveyor_event(SITE, "conveyor-1")
    got = Collector()
    with Bus(agent_settings("monitor-1")) as monitor:
        monitor.subscribe(topics.any_of(SITE, "conveyor_event"), got)
        monitor.wait_connected(5)
        first = Bus(settings).start(wait=5)
        floor_broker.stop()
        wait_until(lambda: not first.connected, what="sorter sees the broker gone")
        for i in range(5):
            first.publish(topic, {"type": "diverted", "tote": f"TOTE-{i}"})
        assert first.pending == 5
        first.stop(flush_timeout=0.1)  # a process ending during the outage
        floor_broker.restart()
        second = Bus(settings).start(wait=10)
        try:
            wait_until(lambda: second.pending == 0, timeout=10, what="outbox drained")
            assert second.counters.resent == 5
            wait_until(lambda: len(got.payloads()) == 5, timeout=10, what="5 events")
        finally:
            second.stop()
    assert sorted(p["tote"] for p in got.payloads()) == [f"TOTE-{i}" for i in range(5)]


def test_duplicates_by_sender_and_seq_are_dropped(tmp_path) -> None:
    store = BusStore(tmp_path / "bus.db", window=4)
    try:
        assert not store.is_duplicate("sorter-1", 1)
        store.remember("sorter-1", 1)
        assert store.is_duplicate("sorter-1", 1)
        assert not store.is_duplicate("pack-1", 1)
        for seq in range(2, 20):
            store.remember("sorter-1", seq)
        assert store.is_duplicate("sorter-1", 3)  # older than the window: old news
        assert not store.is_duplicate("sorter-1", 20)
    finally:
        store.close()
    reopened = BusStore(tmp_path / "bus.db", window=4)
    try:
        assert reopened.is_duplicate("sorter-1", 19)  # the window is persistent
        first = reopened.next_seq()
        assert reopened.next_seq() == first + 1
    finally:
        reopened.close()
    again = BusStore(tmp_path / "bus.db", window=4)
    try:
        assert again.next_seq() > first + 1  # seqs never go back after a restart
    finally:
        again.close()


def test_presence_ignores_a_stale_will() -> None:
    presence = Presence()
    presence.update("handheld-1", {"online": True, "epoch": "new", "role": "handheld"})
    assert not presence.update("handheld-1", {"online": False, "epoch": "old"})
    assert presence.online("handheld") == ["handheld-1"]
    assert presence.update("handheld-1", {"online": False, "epoch": "new"})
    assert presence.online() == []


def test_wrong_password_is_one_clear_error(agent_settings) -> None:
    bus = Bus(agent_settings("sorter-1", password="wrong"))
    try:
        with pytest.raises(BusError, match="refused 'sorter-1'"):
            bus.start(wait=3)
    finally:
        bus.stop()


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["sorter-1", "pack-1"]), st.integers(1, 60)),
        min_size=1,
        max_size=120,
    ),
    st.randoms(use_true_random=False),
)
def test_dedupe_accepts_each_message_exactly_once(deliveries, rng) -> None:
    import tempfile
    from pathlib import Path

    # QoS 1 repeats and reorders a little: every message arrives once or more, shuffled
    # within less than the window.
    wanted = list(dict.fromkeys(deliveries))
    stream = wanted + [m for m in deliveries if rng.random() < 0.5]
    rng.shuffle(stream)
    with tempfile.TemporaryDirectory() as folder:
        store = BusStore(Path(folder) / "bus.db", window=64)
        try:
            accepted = []
            for sender, seq in stream:
                if not store.is_duplicate(sender, seq):
                    store.remember(sender, seq)
                    accepted.append((sender, seq))
        finally:
            store.close()
    assert sorted(accepted) == sorted(wanted)
