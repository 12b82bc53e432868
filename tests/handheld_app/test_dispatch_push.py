"""The handheld's bus link against the real task dispatcher on the shipped broker setup
(passwords, per-device ACL): signed in -> seen online -> hot picks arrive; signed out ->
no longer a target."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from edge.agents.dispatch import DispatchAgent
from handheld_app.tasks_push import TaskPush
from tests.edge.conftest import (  # noqa: F401
    FloorBroker,
    agent_settings,
    floor_broker,
    handheld_on_bus,
)
from tests.support.waiting import wait_until

SITE = "DE-FRA"


def hot_task(task_id: str) -> dict:
    return {
        "id": task_id,
        "kind": "hot",
        "level": "P1",
        "warehouse": SITE,
        "order_ids": [f"O-{task_id}"],
        "lines": [{"order_id": f"O-{task_id}", "sku": "SKU-1", "location": "A01", "qty": 1}],
        "deadline": "2026-11-25T18:00:00+00:00",
        "status": "open",
    }


@contextmanager
def two_pickers(
    broker: FloorBroker, agent: DispatchAgent
) -> Iterator[tuple[dict[str, TaskPush], dict[str, list[str]], threading.Lock]]:
    """handheld-1 and handheld-2 on the bus, signed in and seen online by ``agent``, with
    the ids of the tasks pushed to each (``received``, written under ``lock``); stops
    them and the agent after."""
    lock = threading.Lock()
    received: dict[str, list[str]] = {"handheld-1": [], "handheld-2": []}

    def collect(device: str) -> Callable[[dict[str, Any]], None]:
        def on_task(task: dict[str, Any]) -> None:
            with lock:
                received[device].append(str(task["id"]))

        return on_task

    with ExitStack() as stack:
        stack.callback(agent.stop)
        pushes: dict[str, TaskPush] = {}
        for device in received:
            pushes[device] = handheld_on_bus(broker, device, collect(device))
            stack.callback(pushes[device].stop)
            pushes[device].set_available(True, f"op-{device}")
        wait_until(lambda: len(agent.open_counts()) == 2, what="both handhelds online")
        yield pushes, received, lock


def test_dispatcher_pushes_hot_picks_to_the_signed_in_handheld(
    floor_broker: FloorBroker,  # noqa: F811
    agent_settings,  # noqa: F811
) -> None:
    lock = threading.Lock()
    received: list[dict] = []

    def on_task(task: dict) -> None:
        with lock:
            received.append(task)

    push = TaskPush(
        floor_broker.host,
        floor_broker.port,
        SITE,
        "handheld-1",
        on_task,
        username="handheld-1",
        password=floor_broker.passwords["handheld-1"],
    )
    agent = DispatchAgent(agent_settings("dispatch-1")).start(bus_wait=5)
    push.start()
    try:
        wait_until(lambda: push.connected, timeout=10, what="handheld connected")
        assert agent.open_counts() == {}  # connected but nobody signed in
        push.set_available(True, "op7")
        wait_until(lambda: agent.open_counts() == {"handheld-1": 0}, what="handheld online")
        agent.store.apply_changes(
            [{"entity": "task", "id": "T1", "data": hot_task("T1")}], cursor=1, epoch="e1"
        )
        wait_until(lambda: received, timeout=10, what="the pushed hot pick")
        assert received[0]["id"] == "T1" and received[0]["level"] == "P1"
        push.set_available(False)
        wait_until(lambda: agent.open_counts() == {}, what="handheld signed out")
    finally:
        push.stop()
        agent.stop()


def test_a_task_a_picker_opened_is_theirs_and_is_pushed_again_when_they_leave(
    floor_broker: FloorBroker,  # noqa: F811
    agent_settings,  # noqa: F811
) -> None:
    agent = DispatchAgent(agent_settings("dispatch-1")).start(bus_wait=5)
    with two_pickers(floor_broker, agent) as (pushes, received, lock):
        # handheld-2's picker opened T1 from the list before central's task reached the
        # dispatcher (and handheld-1 would be next in turn).
        pushes["handheld-2"].claim("T1", "op-handheld-2")
        wait_until(lambda: agent.assigned.get("T1") == "handheld-2", what="the claim heard")
        agent.store.apply_changes(
            [
                {"entity": "task", "id": "T1", "data": hot_task("T1")},
                {"entity": "task", "id": "T2", "data": hot_task("T2")},
            ],
            cursor=2,
            epoch="e1",
        )
        wait_until(lambda: received["handheld-1"] == ["T2"], what="T2 pushed to handheld-1")
        assert agent.open_counts() == {"handheld-1": 1, "handheld-2": 1}
        with lock:
            assert "T1" not in received["handheld-1"] + received["handheld-2"]
        # The picker signs out with T1 unfinished: it goes to the other handheld.
        pushes["handheld-2"].set_available(False)
        wait_until(lambda: "T1" in received["handheld-1"], what="T1 pushed to handheld-1")
        assert agent.assigned["T1"] == "handheld-1"
        assert agent.bus is not None and agent.bus.counters.malformed == 0  # cleared claim


def test_the_next_hot_pick_goes_to_the_picker_who_is_not_halfway_through_a_task(
    floor_broker: FloorBroker,  # noqa: F811
    agent_settings,  # noqa: F811
) -> None:
    agent = DispatchAgent(agent_settings("dispatch-1")).start(bus_wait=5)
    batch = {**hot_task("B1"), "kind": "batch", "level": "P4"}
    agent.store.apply_changes([{"entity": "task", "id": "B1", "data": batch}], cursor=1, epoch="e1")
    with two_pickers(floor_broker, agent) as (pushes, received, lock):
        # handheld-1's picker is halfway through a batch: the hot pick goes to handheld-2,
        # and the next one too while the batch is open.
        pushes["handheld-1"].claim("B1", "op-handheld-1")
        wait_until(lambda: agent.open_counts() == {"handheld-1": 1, "handheld-2": 0}, what="busy")
        agent.store.apply_changes(
            [{"entity": "task", "id": "T1", "data": hot_task("T1")}], cursor=2, epoch="e1"
        )
        wait_until(lambda: received["handheld-2"] == ["T1"], what="T1 pushed to handheld-2")
        # The batch is finished: handheld-1 is free again and gets the next one.
        pushes["handheld-1"].claim("B1", "op-handheld-1", done=True)
        wait_until(lambda: agent.open_counts() == {"handheld-1": 0, "handheld-2": 1}, what="done")
        agent.store.apply_changes(
            [{"entity": "task", "id": "T2", "data": hot_task("T2")}], cursor=3, epoch="e1"
        )
        wait_until(lambda: received["handheld-1"] == ["T2"], what="T2 pushed to handheld-1")
        # handheld-1 leaves: the hot pick it had not started goes to handheld-2; the
        # finished batch is nobody's to push.
        pushes["handheld-1"].set_available(False)
        wait_until(lambda: received["handheld-2"] == ["T1", "T2"], what="T2 pushed again")
        assert agent.open_counts() == {"handheld-2": 2}
        with lock:
            assert received == {"handheld-1": ["T2"], "handheld-2": ["T1", "T2"]}


class FloorClock:
    """The dispatcher's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_a_hot_pick_nobody_opens_is_pushed_to_a_free_picker(
    floor_broker: FloorBroker,  # noqa: F811
    agent_settings,  # noqa: F811
) -> None:
    clock = FloorClock()
    settings = agent_settings("dispatch-1", tables={"dispatch": {"repush_after_s": 60}})
    agent = DispatchAgent(settings, clock=clock).start(bus_wait=5)
    with two_pickers(floor_broker, agent) as (pushes, received, lock):
        agent.store.apply_changes(
            [{"entity": "task", "id": "T1", "data": hot_task("T1")}], cursor=1, epoch="e1"
        )
        wait_until(lambda: received["handheld-1"] == ["T1"], what="T1 pushed to handheld-1")
        clock.advance(59)
        assert agent.repush_overdue() == []  # not yet
        clock.advance(2)
        assert agent.repush_overdue() == ["T1"]  # nobody opened it: the free picker gets it
        wait_until(lambda: received["handheld-2"] == ["T1"], what="T1 pushed to handheld-2")
        assert agent.open_counts() == {"handheld-1": 0, "handheld-2": 1}
        pushes["handheld-2"].claim("T1", "op-handheld-2")
        wait_until(lambda: agent.claims.holding("T1") is not None, what="the claim heard")
        clock.advance(600)
        assert agent.repush_overdue() == []  # opened: it stays where it is
        assert agent.metrics()["dispatch"]["repushed"] == 1
        with lock:
            assert received == {"handheld-1": ["T1"], "handheld-2": ["T1"]}


def test_the_dispatcher_clears_claims_left_on_tasks_closed_an_hour_ago(
    floor_broker: FloorBroker,  # noqa: F811
    agent_settings,  # noqa: F811
) -> None:
    """handheld-1 finished T1 and then never came back: its done claim would stay on the
    broker for good."""
    clock = FloorClock()
    agent = DispatchAgent(agent_settings("dispatch-1"), clock=clock).start(bus_wait=5)
    with ExitStack() as stack:
        stack.callback(agent.stop)
        gone = handheld_on_bus(floor_broker, "handheld-1")
        stack.callback(gone.stop)
        gone.set_available(True, "op-1")
        gone.claim("T1", "op-1", done=True)
        wait_until(lambda: agent.claims.claimants("T1"), what="the claim heard")
        gone.stop()
        closed = {**hot_task("T1"), "status": "done"}
        agent.store.apply_changes(
            [{"entity": "task", "id": "T1", "data": closed}], cursor=1, epoch="e1"
        )
        clock.advance(59 * 60)
        assert agent.sweep_claims() == []
        clock.advance(2 * 60)
        assert agent.sweep_claims() == ["T1"]
        newcomer = handheld_on_bus(floor_broker, "handheld-2")
        stack.callback(newcomer.stop)
        # A retained claim would arrive with the subscription; a marker sent after it
        # shows the subscription is live.
        marker = handheld_on_bus(floor_broker, "handheld-3")
        stack.callback(marker.stop)
        marker.set_available(True, "op-3")
        marker.claim("MARK", "op-3")
        wait_until(lambda: newcomer.claims.claimants("MARK"), what="the marker heard")
        assert newcomer.claims.claimants("T1") == []
