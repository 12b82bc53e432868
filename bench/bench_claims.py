"""Task claims on the floor bus: how long after a picker opens a task the other handheld
knows it is taken (the window in which two pickers can open the same task), and what the
claims add to building a handheld's task list.

    python bench/bench_claims.py [--claims N] [--tasks N]

Mosquitto on a free loopback port with the shipped per-device ACL and passwords; two
real ``TaskPush`` clients (handheld-1 claims, handheld-2 listens). Prints p50/p99/max.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench_sorter import start_broker, wait

from config.broker.generate import BrokerDevice
from handheld_app.presenters.progress import TaskProgress
from handheld_app.presenters.tasks import TaskListPresenter
from handheld_app.tasks_push import TaskPush
from sync.store import LocalStore

SITE = "DE-FRA"


def spread(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return (
        f"p50={statistics.median(ordered) * 1000:.2f} ms p99={p99 * 1000:.2f} ms "
        f"max={ordered[-1] * 1000:.2f} ms"
    )


def seeded(path: Path, tasks: int) -> LocalStore:
    """A handheld store with ``tasks`` open batch tasks of 8 orders each."""
    store = LocalStore(path, "handheld-2", SITE)
    deadline = (datetime(2026, 11, 25, 18, tzinfo=UTC) + timedelta(hours=2)).isoformat()
    changes: list[dict[str, Any]] = []
    for t in range(tasks):
        order_ids = [f"O-{t}-{k}" for k in range(8)]
        for order_id in order_ids:
            lines = [{"sku": "SKU-1", "qty": 1, "picked": 0}]
            order = {"id": order_id, "warehouse": SITE, "status": "allocated", "lines": lines}
            changes.append({"entity": "order", "id": order_id, "data": order})
        task = {
            "id": f"BATCH-{t:04d}",
            "kind": "batch",
            "level": "P4",
            "warehouse": SITE,
            "status": "open",
            "order_ids": order_ids,
            "lines": [
                {"order_id": o, "sku": "SKU-1", "location": "A01", "qty": 1} for o in order_ids
            ],
            "deadline": deadline,
        }
        changes.append({"entity": "task", "id": task["id"], "data": task})
    store.apply_changes(changes, cursor=len(changes), epoch="e1")
    return store


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claims", type=int, default=300)
    parser.add_argument("--tasks", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rushline-claims-") as tmp:
        folder = Path(tmp)
        passwords = {d: f"pw-{d}" for d in ("handheld-1", "handheld-2")}
        devices = [BrokerDevice(d, "handheld") for d in passwords]
        broker, port = start_broker(folder, devices, passwords)
        pushes = [
            TaskPush(
                "127.0.0.1",
                port,
                SITE,
                device,
                lambda task: None,
                username=device,
                password=passwords[device],
            )
            for device in ("handheld-1", "handheld-2")
        ]
        store = seeded(folder / "handheld-2.db", args.tasks)
        try:
            for push in pushes:
                push.start()
                wait(lambda p=push: p.connected, 10, "handheld on the bus")
                push.set_available(True, f"OP-{push.device_id}")
            picker, other = pushes
            heard: list[float] = []
            for n in range(args.claims):
                task_id = f"T-{n:05d}"
                start = time.perf_counter()
                picker.claim(task_id, "OP-anna")
                deadline = start + 5
                while other.holder(task_id) is None:
                    if time.perf_counter() > deadline:
                        raise SystemExit(f"claim {task_id} not heard within 5 s")
                    time.sleep(0.0002)
                heard.append(time.perf_counter() - start)
            # The task list of handheld-2 with and without a look at the claims; half the
            # tasks are claimed by handheld-1.
            for t in range(0, args.tasks, 2):
                picker.claim(f"BATCH-{t:04d}", "OP-anna")
            wait(lambda: other.holder(f"BATCH-{args.tasks - 2:04d}") is not None, 5, "claims")
            progress = TaskProgress(orders=store.order, statuses=store.order_statuses)
            plain = TaskListPresenter(store, progress, lambda: datetime.now(UTC))
            claimed = TaskListPresenter(store, progress, lambda: datetime.now(UTC), other.holder)
            listed = {"plain": [], "claims": []}  # type: dict[str, list[float]]
            shown = {}
            for _ in range(200):
                for name, presenter in (("plain", plain), ("claims", claimed)):
                    start = time.perf_counter()
                    shown[name] = len(presenter.open_tasks())
                    listed[name].append(time.perf_counter() - start)
        finally:
            for push in pushes:
                push.stop()
            store.close()
            broker.terminate()
            broker.wait(timeout=10)
    print(f"task claims over mosquitto on 127.0.0.1:{port}, N={args.claims}")
    print(f"claim made -> the other handheld knows the task is taken: {spread(heard)}")
    print(
        f"task list, {args.tasks} batch tasks of 8 orders: without claims "
        f"{spread(listed['plain'])} ({shown['plain']} shown); with half of them claimed "
        f"elsewhere {spread(listed['claims'])} ({shown['claims']} shown)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
