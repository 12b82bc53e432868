"""The sorter agent over a real pty (ConveyorSim), a real authenticated Mosquitto and a
real SQLite store."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from devices.conveyor.protocol import Done, Ind, Miss
from devices.conveyor.sim import ConveyorSim
from edge import topics
from edge.agents.sorter import SorterAgent
from edge.agents.sorting import LanePlanner, SorterConfig, ToteCache
from edge.bus import Bus, BusMessage
from edge.errors import AgentSettingsError
from sync.store import LocalStore
from tests.edge.conftest import handheld_announces
from tests.support.waiting import wait_until

SITE = "DE-FRA"
SORTER = {"conveyor_id": "conveyor-1", "express_lane": 1, "lanes": [2, 3], "exception_lane": 4}


def order_row(order_id: str, tote: str | None, level: str = "P4", status: str = "picked") -> dict:
    """An order as the change feed sends it (only what the sorter reads, plus shape)."""
    return {
        "id": order_id,
        "warehouse": SITE,
        "customer": {"id": "C1", "name": "Ada", "tier": "standard", "flags": []},
        "lines": [{"sku": "SKU-1", "qty": 1, "picked": 1, "packed": 0}],
        "deadline": "2026-11-25T18:00:00+00:00",
        "status": status,
        "exceptions": [],
        "priority": {"level": level, "score": 50.0, "reasons": []},
        "tote": tote,
    }


def seed(settings, orders: list[dict]) -> None:
    """Put orders in the sorter's store as a pull would."""
    with LocalStore(settings.store, settings.device_id, settings.site) as store:
        store.apply_changes(
            [{"entity": "order", "id": o["id"], "data": o} for o in orders], cursor=1, epoch="e1"
        )


def pull_new_tote(agent: SorterAgent, order_id: str, tote: str, cursor: int) -> None:
    """A pull brings ``order_id`` in its new ``tote``; returns once the sorter knows it."""
    assert agent.store is not None
    agent.store.apply_changes(
        [{"entity": "order", "id": order_id, "data": order_row(order_id, tote)}],
        cursor=cursor,
        epoch="e1",
    )
    wait_until(lambda: agent.cache.get(tote) is not None, what=f"{tote} in the sorter's cache")


class Events:
    """conveyor events seen by a monitor, thread-safe, deduplicated by the bus."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[dict] = []

    def __call__(self, message: BusMessage) -> None:
        with self.lock:
            self.items.append(message.payload)

    def of(self, kind: str, tote: str | None = None) -> list[dict]:
        with self.lock:
            return [e for e in self.items if e["type"] == kind and tote in (None, e.get("tote"))]


def done_frames(sim: ConveyorSim, tote: str | None = None) -> list[Done]:
    return [f for f in list(sim.sent) if isinstance(f, Done) and tote in (None, f.tote)]


@contextmanager
def sorter_rig(
    agent_settings, orders: list[dict], sim: ConveyorSim, **table: Any
) -> Iterator[tuple[SorterAgent, Events]]:
    settings = agent_settings(
        "sorter-1",
        devices={"conveyor": f"serial://{sim.path}?heartbeat=2"},
        tables={"sorter": {**SORTER, **table}},
    )
    seed(settings, orders)
    events = Events()
    with Bus(agent_settings("monitor-1")) as monitor:
        monitor.subscribe(topics.any_of(SITE, "conveyor_event"), events)
        monitor.wait_connected(5)
        agent = SorterAgent(settings).start(bus_wait=5)
        try:
            yield agent, events
        finally:
            agent.stop()


@pytest.fixture
def sim() -> Iterator[ConveyorSim]:
    with ConveyorSim(lanes=4, speed_m_s=2.0, gate_spacing_m=0.2) as conveyor:
        yield conveyor


def test_urgent_tote_goes_to_the_express_lane(agent_settings, sim) -> None:
    orders = [order_row("O-URG", "TOTE-0001", level="P1")]
    with sorter_rig(agent_settings, orders, sim) as (agent, events):
        sim.induct("TOTE-0001")
        wait_until(lambda: done_frames(sim, "TOTE-0001"), what="DONE from the conveyor")
        assert done_frames(sim, "TOTE-0001")[0].lane == 1
        wait_until(lambda: events.of("diverted", "TOTE-0001"), what="diverted event")
        event = events.of("diverted", "TOTE-0001")[0]
        assert (event["lane"], event["order_id"], event["conveyor"]) == (1, "O-URG", "conveyor-1")
        assert events.of("inducted", "TOTE-0001")[0]["reason"] == "urgent"
        ops = [op for op in agent.store.pending() if op.kind == "tote.diverted"]
        assert [op.data for op in ops] == [
            {"tote": "TOTE-0001", "lane": 1, "conveyor": "conveyor-1", "order_id": "O-URG"}
        ]


def test_standard_totes_are_balanced_and_never_express(agent_settings, sim) -> None:
    orders = [order_row(f"O-{i}", f"TOTE-01{i}", level="P4") for i in range(4)]
    with sorter_rig(agent_settings, orders, sim):
        for i in range(4):
            sim.induct(f"TOTE-01{i}")
        wait_until(lambda: len(done_frames(sim)) == 4, what="4 DONE")
    lanes = [f.lane for f in done_frames(sim)]
    assert 1 not in lanes and 4 not in lanes
    assert sorted(set(lanes)) == [2, 3]  # both standard lanes used


def test_unknown_and_cancelled_totes_go_to_the_exception_lane(agent_settings, sim) -> None:
    orders = [order_row("O-CXL", "TOTE-0300", level="P1")]
    with (
        sorter_rig(agent_settings, orders, sim) as (agent, events),
        Bus(agent_settings("dispatch-1")) as dispatcher,
    ):
        sim.induct("TOTE-9999")
        wait_until(lambda: done_frames(sim, "TOTE-9999"), what="DONE of the unknown tote")
        assert done_frames(sim, "TOTE-9999")[0].lane == 4
        dispatcher.wait_connected(5)
        dispatcher.publish(topics.order_event(SITE, "O-CXL"), {"status": "cancelled"})
        wait_until(lambda: agent.cache.get("TOTE-0300").status == "cancelled", what="news")
        sim.induct("TOTE-0300")
        wait_until(lambda: done_frames(sim, "TOTE-0300"), what="DONE of the cancelled tote")
        assert done_frames(sim, "TOTE-0300")[0].lane == 4
        wait_until(lambda: events.of("inducted", "TOTE-0300"), what="inducted events")
    # By tote: a tote that missed its gate during a host stall is inducted again.
    reasons = {(e["tote"], e["reason"]) for e in events.of("inducted")}
    assert reasons == {("TOTE-9999", "unknown"), ("TOTE-0300", "cancelled")}


def test_three_misses_send_the_tote_to_the_exception_lane(agent_settings) -> None:
    # Lanes 1-3 have their gates right at induction: every divert to them comes too late.
    late = ConveyorSim(
        lanes=4,
        speed_m_s=4.0,
        induction_to_gate_m=[0.0001, 0.0002, 0.0003, 0.5],
        gate_window_s=0.0,
        recirculation_s=0.05,
    )
    with (
        late,
        sorter_rig(agent_settings, [order_row("O-M", "TOTE-0400", "P2")], late) as (
            agent,
            events,
        ),
    ):
        late.induct("TOTE-0400")
        wait_until(lambda: done_frames(late, "TOTE-0400"), timeout=15, what="final DONE")
        misses = [f for f in list(late.sent) if isinstance(f, Miss) and f.tote == "TOTE-0400"]
        assert len(misses) == 3
        assert done_frames(late, "TOTE-0400")[0].lane == 4
        wait_until(
            lambda: any(op.kind == "exception.raised" for op in agent.store.pending()),
            what="exception op",
        )
        raised = [op.data for op in agent.store.pending() if op.kind == "exception.raised"]
        assert len(raised) == 1 and raised[0]["kind"] == "missed_divert"
        assert raised[0]["order_id"] == "O-M"
        assert "missed_divert" in agent.store.order("O-M")["exceptions"]
        wait_until(lambda: len(events.of("missed", "TOTE-0400")) == 3, what="missed events")
        assert [e["misses"] for e in events.of("missed", "TOTE-0400")] == [1, 2, 3]


def test_broker_killed_mid_stream_loses_and_duplicates_nothing(
    agent_settings, sim, floor_broker
) -> None:
    totes = [f"TOTE-05{i:02d}" for i in range(30)]
    orders = [order_row(f"O-{t}", t, level="P2" if i % 3 else "P4") for i, t in enumerate(totes)]
    with sorter_rig(agent_settings, orders, sim) as (agent, events):
        for tote in totes[:10]:
            sim.induct(tote)
        wait_until(lambda: len(events.of("diverted")) == 10, what="first 10 events")
        # Mosquitto saves sessions every second (autosave_interval 1); a kill before the
        # first save would lose the subscriber's session: the broker's limit, not ours.
        saved = floor_broker.workdir / "mosquitto.db"
        since = time.time()
        wait_until(
            lambda: saved.exists() and saved.stat().st_mtime > since,
            timeout=5,
            what="broker saved the sessions",
        )
        floor_broker.stop(kill=True)  # SIGKILL: no goodbye, no final save
        wait_until(lambda: not agent.bus.connected, what="sorter sees the broker gone")
        for tote in totes[10:20]:  # the floor goes on: diverts need no broker
            sim.induct(tote)
        wait_until(lambda: len(done_frames(sim)) == 20, what="20 DONE during the outage")
        wait_until(lambda: agent.counts["diverted"] == 20, what="worker caught up")
        wait_until(lambda: agent.bus.pending >= 20, what="events kept in the outbox")
        floor_broker.restart()
        for tote in totes[20:]:
            sim.induct(tote)
        wait_until(lambda: len(done_frames(sim)) == 30, timeout=15, what="30 DONE")
        wait_until(lambda: len(events.of("diverted")) >= 30, timeout=20, what="30 events")
        wait_until(lambda: agent.bus.pending == 0, timeout=10, what="bus outbox drained")
        # Every induction the conveyor reported reaches the monitor once. A tote whose
        # divert came after its gate (a host stalled past the window) rides round and is
        # inducted again: a second induction, not a duplicate.
        inductions = sorted(f.tote for f in list(sim.sent) if isinstance(f, Ind))
        wait_until(lambda: len(events.of("inducted")) >= len(inductions), what="inducted events")
        ops = [op.data["tote"] for op in agent.store.pending() if op.kind == "tote.diverted"]
    assert sorted(ops) == totes  # one op per divert, waiting for central
    assert sorted(e["tote"] for e in events.of("diverted")) == totes
    assert sorted(e["tote"] for e in events.of("inducted")) == inductions
    assert set(inductions) == set(totes)
    assert sorted(f.tote for f in done_frames(sim)) == totes
    assert agent.counts["diverted"] == 30


def test_sorter_config_errors_name_the_key(agent_settings, sim) -> None:
    settings = agent_settings(
        "sorter-1",
        devices={"conveyor": f"serial://{sim.path}"},
        tables={"sorter": {"lanes": [2, 4], "exception_lane": 4}},
    )
    with pytest.raises(AgentSettingsError, match=r"sorter.exception_lane: must differ"):
        SorterAgent(settings)
    settings = agent_settings("sorter-1", tables={"sorter": {}})
    with pytest.raises(AgentSettingsError, match=r"devices.conveyor: the sorter needs"):
        SorterAgent(settings)


def test_lane_planner_balances_by_queue_length() -> None:
    planner = LanePlanner(SorterConfig("c1", lanes=(2, 3)))
    cache = ToteCache()
    cache.load([order_row(f"O{i}", f"T{i}") for i in range(3)])
    first = planner.decide("T0", cache.get("T0")).lane
    second = planner.decide("T1", cache.get("T1")).lane
    assert {first, second} == {2, 3}
    planner.left_lane(first)
    assert planner.decide("T2", cache.get("T2")).lane == first  # the shorter queue


def test_lane_planner_sends_an_orders_next_tote_down_its_first_totes_lane() -> None:
    planner = LanePlanner(SorterConfig("c1", lanes=(2, 3)))
    cache = ToteCache()
    cache.load([order_row("O1", "T1"), order_row("O2", "T2")])
    first = planner.decide("T1", cache.get("T1"))
    planner.diverted("T1", first.lane, "O1")
    # The top-up of O1 comes in T3, now urgent: it joins T1 at its pack station.
    cache.put("O1", order_row("O1", "T3", level="P2"))
    top_up = planner.decide("T3", cache.get("T3"))
    assert (top_up.lane, top_up.reason) == (first.lane, "joins")
    # A tote that went to the exception lane leaves nothing to follow.
    planner.diverted("T2", 4, "O2")
    assert planner.decide("T2", cache.get("T2")).reason == "balanced"
    # Only the most recent orders are remembered.
    planner.REMEMBERED_ORDERS = 2
    for order_id in ("O7", "O8"):
        planner.diverted(f"T-{order_id}", 2, order_id)
    cache.put("O1", order_row("O1", "T4"))
    assert planner.decide("T4", cache.get("T4")).reason == "balanced"


def test_a_top_up_tote_is_diverted_to_the_lane_its_first_tote_took(agent_settings, sim) -> None:
    orders = [order_row("O-SPLIT", "TOTE-0500")]
    with sorter_rig(agent_settings, orders, sim) as (agent, events):
        sim.induct("TOTE-0500")
        wait_until(lambda: events.of("diverted", "TOTE-0500"), what="first tote diverted")
        lane = events.of("diverted", "TOTE-0500")[0]["lane"]
        # The top-up was picked into TOTE-0501 (a pull brings the order's new tote).
        pull_new_tote(agent, "O-SPLIT", "TOTE-0501", cursor=2)
        sim.induct("TOTE-0501")
        wait_until(lambda: events.of("diverted", "TOTE-0501"), what="top-up tote diverted")
        assert events.of("diverted", "TOTE-0501")[0]["lane"] == lane
        assert events.of("inducted", "TOTE-0501")[0]["reason"] == "joins"
        # The sorter restarts; a second top-up (TOTE-0502) still finds the lane, from the
        # diverts in the sorter's own store.
        agent.stop()
        again = SorterAgent(agent.settings).start(bus_wait=5)
        try:
            pull_new_tote(again, "O-SPLIT", "TOTE-0502", cursor=3)
            sim.induct("TOTE-0502")
            wait_until(lambda: events.of("inducted", "TOTE-0502"), what="second top-up inducted")
        finally:
            again.stop()
    inducted = events.of("inducted", "TOTE-0502")[0]
    assert (inducted["lane"], inducted["reason"]) == (lane, "joins")


def test_a_tote_a_handheld_announced_is_sorted_before_central_hears_of_it(
    agent_settings, sim, floor_broker
) -> None:
    # The sorter's store knows O-NEW without a tote (the binding is still in the
    # handheld's outbox: central is away). The handheld says it on the floor bus.
    orders = [order_row("O-NEW", None, level="P2", status="picking")]
    with sorter_rig(agent_settings, orders, sim) as (agent, events):
        handheld_announces(
            floor_broker, "O-NEW", "TOTE-0700", lambda: agent.cache.get("TOTE-0700") is not None
        )
        sim.induct("TOTE-0700")
        wait_until(lambda: events.of("inducted", "TOTE-0700"), what="inducted")
    inducted = events.of("inducted", "TOTE-0700")[0]
    assert (inducted["lane"], inducted["reason"], inducted["order_id"]) == (1, "urgent", "O-NEW")


def test_central_down_sorter_keeps_diverting_and_reconciles(
    agent_settings, sim, floor_central
) -> None:
    from datetime import UTC, datetime, timedelta

    from sync.client import SyncClient

    central = floor_central.server
    order = {
        "id": "SRT-1",
        "warehouse": SITE,
        "customer": {"id": "C1", "name": "Ada", "email": "", "tier": "standard", "flags": []},
        "ship_to": {
            "name": "Ada",
            "line1": "Zeil 1",
            "city": "Frankfurt",
            "postcode": "60311",
            "country": "DE",
        },
        "lines": [{"sku": "SKU-1001", "qty": 1}],
        "deadline": (datetime.now(UTC) + timedelta(days=4)).isoformat(),
    }
    with central.client() as http:
        http.post("/v1/orders", json=order).raise_for_status()
    picker = agent_settings(
        "handheld-1", central_url=floor_central.url, token=central.device_token("handheld-1", SITE)
    )
    with (
        LocalStore(picker.store, "handheld-1", SITE) as store,
        SyncClient(store, floor_central.url, central.device_token("handheld-1", SITE)) as client,
    ):
        store.record(
            "tote.assigned", {"tote": "TOTE-0700", "order_id": "SRT-1"}, at=datetime.now(UTC)
        )
        assert client.run_once().ok
    settings = agent_settings(
        "sorter-1",
        central_url=floor_central.url,
        token=central.device_token("sorter-1", SITE),
        devices={"conveyor": f"serial://{sim.path}?heartbeat=2"},
        tables={"sorter": SORTER},
    )
    reachability: list[bool] = []
    with Bus(agent_settings("monitor-1")) as monitor:
        monitor.subscribe(
            topics.central_state(SITE), lambda m: reachability.append(m.payload["reachable"])
        )
        monitor.wait_connected(5)
        agent = SorterAgent(settings).start(bus_wait=5)
        try:
            agent.sync.backoff_cap = 0.3  # come back quickly once central is up again
            wait_until(lambda: agent.cache.get("TOTE-0700"), timeout=20, what="tote pulled")
            wait_until(lambda: reachability[-1:] == [True], what="central reachable")
            central.stop()
            sim.induct("TOTE-0700")
            wait_until(lambda: done_frames(sim, "TOTE-0700"), what="diverted while offline")
            wait_until(lambda: agent.store.pending_count() == 1, what="op waiting")
            wait_until(lambda: reachability[-1:] == [False], timeout=15, what="unreachable")
            central.start()
            wait_until(lambda: agent.store.pending_count() == 0, timeout=30, what="reconciled")
            history = agent.store.outbox_history()
            wait_until(lambda: reachability[-1:] == [True], timeout=15, what="reachable again")
        finally:
            agent.stop()
    with central.client() as http:
        body = http.get("/v1/orders/SRT-1").json()
    diverted = [e for e in body["timeline"] if e["event"] == "diverted"]
    assert len(diverted) == 1 and "TOTE-0700" in diverted[0]["detail"]
    assert [(op.kind, op.result) for op in history] == [("tote.diverted", "applied")]


def test_shipped_sorter_settings_load(tmp_path) -> None:
    from importlib import resources

    from edge.settings import load_agent_settings

    shipped = resources.files("config") / "default" / "agents" / "sorter.toml"
    copy = tmp_path / "sorter.toml"
    copy.write_text(shipped.read_text())
    (tmp_path / "broker").mkdir()
    (tmp_path / "broker" / "sorter-1.pw").write_text("secret\n")
    settings = load_agent_settings(copy)
    assert settings.mqtt.password == "secret"
    assert settings.store == tmp_path / "rushline-data" / "sorter-1.db"
    config = SorterConfig.from_settings(settings)
    assert (config.conveyor_id, config.express_lane, config.lanes) == ("conveyor-1", 1, (2, 3))
    (tmp_path / "broker" / "sorter-1.pw").unlink()
    with pytest.raises(AgentSettingsError, match=r"\[mqtt\] password_file: cannot read"):
        load_agent_settings(copy)
    # Misspelt keys and tables are refused, naming the closest known one.
    text = shipped.read_text()
    for typo, needle in (
        (text.replace("[sync]", "[snyc]"), r"\[snyc\]: unknown table \(did you mean 'sync'\?\)"),
        (text.replace("[mqtt]", "[mqtt]\nkeepalives = 5"), r"\[mqtt\] keepalives: unknown key"),
        (text.replace("[device]", '[device]\nsit = "X"'), r"\[device\] sit: unknown key"),
    ):
        copy.write_text(typo)
        with pytest.raises(AgentSettingsError, match=needle):
            load_agent_settings(copy)


def test_separate_induction_scanner_triggers_the_divert(agent_settings, sim) -> None:
    from devices.conveyor.protocol import Div

    settings = agent_settings(
        "sorter-1",
        devices={"conveyor": f"serial://{sim.path}?heartbeat=2", "scanner": "sim://"},
        tables={"sorter": SORTER},
    )
    seed(settings, [order_row("O-SC", "TOTE-0901", level="P1")])
    agent = SorterAgent(settings).start(bus_wait=5)
    try:
        agent.scanner.push("TOTE-0901")
        agent.scanner.push("LOC-A01-01-1")  # not a tote: logged, no divert
        wait_until(
            lambda: [f for f in list(sim.received) if isinstance(f, Div)], what="DIV at conveyor"
        )
        divs = [f for f in list(sim.received) if isinstance(f, Div)]
        assert [(d.tote, d.lane) for d in divs] == [("TOTE-0901", 1)]
        wait_until(lambda: agent.counts["inducted"] == 1, what="counted")
    finally:
        agent.stop()


def test_sim_conveyor_url_runs_a_simulated_belt_in_process(agent_settings) -> None:
    settings = agent_settings(
        "sorter-1", devices={"conveyor": "sim://?speed=4&spacing=0.2"}, tables={"sorter": SORTER}
    )
    seed(settings, [order_row("O-S", "TOTE-0950", level="P2")])
    agent = SorterAgent(settings).start(bus_wait=5)
    try:
        agent.conveyor_sim.induct("TOTE-0950")
        wait_until(lambda: done_frames(agent.conveyor_sim, "TOTE-0950"), what="DONE")
        assert done_frames(agent.conveyor_sim, "TOTE-0950")[0].lane == 1
    finally:
        agent.stop()
    assert agent.conveyor_sim is None


def test_fault_is_published_and_metrics_ride_in_the_state(agent_settings, sim) -> None:
    states: list[dict] = []

    def on_state(message: BusMessage) -> None:
        if message.id == "sorter-1" and "sorter" in message.payload:
            states.append(message.payload)

    orders = [order_row("O-F", "TOTE-0960", level="P1")]
    with (
        sorter_rig(agent_settings, orders, sim) as (_agent, events),
        Bus(agent_settings("handheld-2")) as watcher,
    ):
        watcher.subscribe(topics.any_of(SITE, "dev_state"), on_state)
        watcher.wait_connected(5)
        sim.induct("TOTE-0960")
        wait_until(lambda: events.of("diverted", "TOTE-0960"), what="diverted")
        sim.inject_fault("E42", "gate 3 motor overload")
        wait_until(lambda: events.of("fault"), what="fault event")
        assert (events.of("fault")[0]["code"], events.of("fault")[0]["text"]) == (
            "E42",
            "gate 3 motor overload",
        )
        wait_until(
            lambda: any((s["sorter"]["last_fault"] or {}).get("code") == "E42" for s in states),
            what="state with the fault",
        )
    metrics = states[-1]["sorter"]
    assert metrics["diverted"] == 1 and metrics["faults"] == 1
    assert metrics["decide_us_p99"] is not None and metrics["decide_us_p99"] < 50_000
    assert states[-1]["online"] is True and states[-1]["role"] == "sorter"


@hyp_settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["P1", "P2", "P3", "P4", None]),
            st.sampled_from(["picked", "cancelled", "on_hold", "picking"]),
            st.booleans(),
        ),
        max_size=60,
    )
)
def test_lane_choice_invariants(totes) -> None:
    config = SorterConfig("c1", express_lane=1, lanes=(2, 3), exception_lane=4)
    planner = LanePlanner(config)
    cache = ToteCache()
    for i, (level, status, leaves) in enumerate(totes):
        tote = f"T{i}"
        if level is not None:
            cache.put(f"O{i}", order_row(f"O{i}", tote, level=level, status=status))
        before = dict(planner.queues)
        decision = planner.decide(tote, cache.get(tote))
        if level is None or status in ("cancelled", "on_hold"):
            assert decision.lane == 4
        elif level in ("P1", "P2"):
            assert decision.lane == 1
        else:
            assert before[decision.lane] == min(before[2], before[3])  # the shorter queue
        if leaves:
            planner.left_lane(decision.lane)
        assert all(n >= 0 for n in planner.queues.values())
