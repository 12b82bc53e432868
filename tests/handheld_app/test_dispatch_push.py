"""The handheld's bus link against the real task dispatcher on the shipped broker setup
(passwords, per-device ACL): signed in -> seen online -> hot picks arrive; signed out ->
no longer a target."""

from __future__ import annotations

import threading

from edge.agents.dispatch import DispatchAgent
from handheld_app.tasks_push import TaskPush
from tests.edge.conftest import FloorBroker, agent_settings, floor_broker  # noqa: F401
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
