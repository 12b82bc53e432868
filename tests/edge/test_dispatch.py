"""The task dispatcher: hot tasks to online handhelds, order news to the floor."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from edge import topics
from edge.agents.dispatch import DispatchAgent
from edge.bus import Bus, BusMessage
from sync.store import LocalStore
from tests.support.waiting import wait_until

SITE = "DE-FRA"


class Inbox:
    """Messages one device received, thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[dict] = []

    def __call__(self, message: BusMessage) -> None:
        with self.lock:
            self.items.append(message.payload)

    def task_ids(self) -> list[str]:
        with self.lock:
            return [p["task_id"] for p in self.items]

    def all(self) -> list[dict]:
        with self.lock:
            return list(self.items)


def task_row(task_id: str, kind: str = "hot", level: str = "P1", status: str = "open") -> dict:
    return {
        "id": task_id,
        "kind": kind,
        "level": level,
        "warehouse": SITE,
        "order_ids": [f"O-{task_id}"],
        "lines": [{"order_id": f"O-{task_id}", "sku": "SKU-1", "location": "A01", "qty": 1}],
        "deadline": "2026-11-25T18:00:00+00:00",
        "length_m": 12.0,
        "status": status,
    }


def pull(store: LocalStore, entity: str, rows: list[dict]) -> None:
    """Apply rows as a pull from central would."""
    store.apply_changes(
        [{"entity": entity, "id": r["id"], "data": r} for r in rows],
        cursor=store.cursor + len(rows),
        epoch="e1",
    )


def handheld(agent_settings, device_id: str, inbox: Inbox) -> Bus:
    bus = Bus(agent_settings(device_id))
    bus.subscribe(topics.task(SITE, device_id), inbox)
    return bus.start(wait=5)


def test_hot_tasks_go_round_robin_to_online_handhelds_and_move_on_logout(agent_settings) -> None:
    first, second = Inbox(), Inbox()
    hh1 = handheld(agent_settings, "handheld-1", first)
    hh2 = handheld(agent_settings, "handheld-2", second)
    agent = DispatchAgent(agent_settings("dispatch-1")).start(bus_wait=5)
    try:
        wait_until(
            lambda: agent.open_counts() == {"handheld-1": 0, "handheld-2": 0},
            what="both handhelds seen online",
        )
        pull(
            agent.store,
            "task",
            [task_row("T1"), task_row("T2", level="P2"), task_row("B1", kind="batch", level="P4")],
        )
        wait_until(lambda: len(first.task_ids()) + len(second.task_ids()) == 2, what="2 pushes")
        assert sorted(first.task_ids() + second.task_ids()) == ["T1", "T2"]
        assert len(first.task_ids()) == len(second.task_ids()) == 1  # fewest open tasks
        pushed = first.all()[0]
        assert pushed["assigned_to"] == "handheld-1" and pushed["task"]["status"] == "open"
        hh1.stop()  # logs out: its open task goes to the other handheld
        wait_until(lambda: len(second.task_ids()) == 2, what="task reassigned")
        assert sorted(second.task_ids()) == ["T1", "T2"]
        pull(agent.store, "task", [task_row("T1", status="done"), task_row("T2", status="done")])
        wait_until(lambda: agent.open_counts() == {"handheld-2": 0}, what="tasks closed")
    finally:
        agent.stop()
        hh2.stop()
        hh1.stop()


def test_a_task_waits_for_a_handheld_to_come_online(agent_settings) -> None:
    inbox = Inbox()
    agent = DispatchAgent(agent_settings("dispatch-1")).start(bus_wait=5)
    try:
        pull(agent.store, "task", [task_row("T9")])
        wait_until(lambda: agent.waiting, what="task waiting")
        hh = handheld(agent_settings, "handheld-3", inbox)
        try:
            wait_until(lambda: inbox.task_ids() == ["T9"], what="task pushed on login")
        finally:
            hh.stop()
    finally:
        agent.stop()


def test_priority_change_is_republished_on_the_order_topic(agent_settings) -> None:
    news = Inbox()
    order = {
        "id": "O-7",
        "warehouse": SITE,
        "status": "allocated",
        "tote": None,
        "priority": {"level": "P4", "score": 5.0, "reasons": []},
    }
    agent = DispatchAgent(agent_settings("dispatch-1")).start(bus_wait=5)
    try:
        with Bus(agent_settings("handheld-1")) as hh:
            hh.subscribe(topics.any_of(SITE, "order_event"), news)
            hh.wait_connected(5)
            pull(agent.store, "order", [order])  # a new order is not news
            escalated = {**order, "priority": {"level": "P1", "score": 95.0, "reasons": ["storm"]}}
            pull(agent.store, "order", [escalated])
            pull(agent.store, "order", [{**escalated, "status": "cancelled"}])
            wait_until(lambda: len(news.all()) == 2, what="two order events")
    finally:
        agent.stop()
    first, second = news.all()
    assert (first["order_id"], first["level"], first["previous"]["level"]) == ("O-7", "P1", "P4")
    assert first["priority"]["reasons"] == ["storm"]
    assert (second["status"], second["previous"]["status"]) == ("cancelled", "allocated")


def test_urgent_order_at_central_reaches_a_handheld(agent_settings, floor_central) -> None:
    central = floor_central.server
    inbox = Inbox()
    hh = handheld(agent_settings, "handheld-1", inbox)
    settings = agent_settings(
        "dispatch-1",
        central_url=floor_central.url,
        token=central.device_token("dispatch-1", SITE),
    )
    agent = DispatchAgent(settings).start(bus_wait=5)
    try:
        deadline = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
        order = {
            "id": "HOT-1",
            "warehouse": SITE,
            "customer": {
                "id": "C1",
                "name": "Ada",
                "email": "",
                "tier": "gold",
                "flags": ["medical"],
            },
            "ship_to": {
                "name": "Ada",
                "line1": "Zeil 1",
                "city": "Frankfurt",
                "postcode": "60311",
                "country": "DE",
            },
            "lines": [{"sku": "SKU-1001", "qty": 1}],
            "deadline": deadline,
            "service": "express",
            "tags": ["urgent"],
        }
        with central.client() as http:
            body = http.post("/v1/orders", json=order).raise_for_status().json()
        assert body["priority"]["level"] in ("P1", "P2")
        wait_until(lambda: inbox.all(), timeout=20, what="hot task pushed to handheld-1")
        task = inbox.all()[0]["task"]
        assert task["kind"] == "hot" and task["order_ids"] == ["HOT-1"]
        assert task["warehouse"] == SITE
    finally:
        agent.stop()
        hh.stop()


def test_cli_refuses_a_role_mismatch_and_bad_settings(tmp_path, capsys) -> None:
    from importlib import resources

    from rushline.cli import main

    shipped = resources.files("config") / "default" / "agents" / "dispatch.toml"
    copy = tmp_path / "dispatch.toml"
    copy.write_text(shipped.read_text())
    (tmp_path / "broker").mkdir()
    (tmp_path / "broker" / "dispatch-1.pw").write_text("secret\n")
    assert main(["agent", "sorter", "--config", str(copy)]) == 2
    assert "role: 'dispatch', but this is `rushline agent sorter`" in capsys.readouterr().err
    copy.write_text(shipped.read_text().replace('hot_levels = ["P1", "P2"]', "hot_levels = 3"))
    assert main(["agent", "dispatch", "--config", str(copy)]) == 2
    assert "dispatch.hot_levels: must be a list of P1..P4" in capsys.readouterr().err
    copy.write_text(shipped.read_text().replace("repush_after_s = 120", "repush_after_s = -5"))
    assert main(["agent", "dispatch", "--config", str(copy)]) == 2
    assert "dispatch.repush_after_s: must be seconds >= 0" in capsys.readouterr().err


def test_agent_process_stops_cleanly_on_sigterm_and_its_will_marks_a_crash(
    agent_settings,
) -> None:
    import signal
    import subprocess
    import sys

    states: list[dict] = []
    lock = threading.Lock()

    def on_state(message: BusMessage) -> None:
        if message.id == "dispatch-1":
            with lock:
                states.append(message.payload)

    def online_epoch() -> str | None:
        with lock:
            return next((s["epoch"] for s in reversed(states) if s["online"]), None)

    def went_offline(epoch: str) -> bool:
        with lock:
            return any(not s["online"] and s["epoch"] == epoch for s in states)

    settings = agent_settings("dispatch-1")
    command = [
        sys.executable,
        "-m",
        "rushline",
        "agent",
        "dispatch",
        "--config",
        str(settings.path),
    ]
    with Bus(agent_settings("monitor-1")) as monitor:
        monitor.subscribe(topics.any_of(SITE, "dev_state"), on_state)
        monitor.wait_connected(5)
        for how in (signal.SIGTERM, signal.SIGKILL):
            with lock:
                states.clear()
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                epoch = wait_until(online_epoch, timeout=20, what="agent online")
                proc.send_signal(how)
                code = proc.wait(timeout=15)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                stderr = proc.stderr.read().decode() if proc.stderr else ""
                if proc.stderr:
                    proc.stderr.close()
            # SIGTERM: a clean stop publishes offline; SIGKILL: the broker sends the will.
            assert code == (0 if how == signal.SIGTERM else -signal.SIGKILL), stderr
            wait_until(lambda e=epoch: went_offline(e), timeout=10, what=f"offline after {how}")
            assert "Traceback" not in stderr


def test_agent_with_a_wrong_broker_password_exits_with_one_line(agent_settings, capsys) -> None:
    from rushline.cli import main

    settings = agent_settings("dispatch-1", password="wrong")
    assert main(["agent", "dispatch", "--config", str(settings.path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "[mqtt] MQTT broker" in err[0] and "refused 'dispatch-1'" in err[0]
