"""Whatever a picker scans or taps, in any order, the session never records more than a
line asks for, only records picks of the task's own lines, and refuses without writing."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from handheld_app.presenters import PickView
from handheld_app.session import PickerSession
from tests.handheld_app.floor import GTIN_BAG, GTIN_CUP, GTIN_PEN, Clock, seeded_store

ACTIONS = st.lists(
    st.one_of(
        st.sampled_from(
            [
                ("scan", "LOC-A01-01-1"),
                ("scan", "LOC-B02-05-2"),
                ("scan", "LOC-C03-01-1"),
                ("scan", GTIN_BAG),
                ("scan", GTIN_PEN),
                ("scan", GTIN_CUP),
                ("scan", "TOTE-0001"),
                ("scan", "OP-9"),
                ("scan", "4006381333932"),
                ("short", "bin_empty"),
                ("short", "sideways"),
                ("expected", ""),
            ]
        ),
        st.tuples(st.just("qty"), st.integers(-1, 4)),
    ),
    max_size=30,
)


@settings(max_examples=25, deadline=None)
@given(actions=ACTIONS)
def test_any_sequence_keeps_the_books_straight(actions: list[tuple[str, object]]) -> None:
    with tempfile.TemporaryDirectory() as tmp, seeded_store(Path(tmp) / "hh.db") as store:
        session = PickerSession(store, "op1", Clock())
        session.start("HOT-O-HOT")
        task = store.get("task", "HOT-O-HOT")
        assert task is not None
        lines = {(ln["order_id"], ln["sku"], ln["location"]): ln["qty"] for ln in task["lines"]}
        for kind, value in actions:
            before = store.pending_count()
            if kind == "scan":
                feedback = session.scan(str(value))
            elif kind == "qty":
                feedback = session.enter_qty(int(value))  # type: ignore[call-overload]
            elif kind == "short":
                feedback = session.short(str(value))
            else:  # the right next scan, so sequences get somewhere
                view = session.current_view()
                if not isinstance(view, PickView):
                    continue
                code = {
                    "location": f"LOC-{view.location}",
                    "item": view.gtin,
                    "qty": "",
                    "tote": "TOTE-0002",
                }.get(view.step.value, "")
                feedback = session.scan(code) if code else session.enter_qty(view.left)
            if not feedback.ok:
                assert store.pending_count() == before, feedback
        done: dict[tuple[str, str, str], int] = {}
        for op in store.outbox_history():
            assert op.data.get("task_id") in (None, "HOT-O-HOT")
            if op.kind in ("pick.confirmed", "pick.short"):
                key = (op.data["order_id"], op.data["sku"], op.data["location"])
                assert key in lines, key
                done[key] = done.get(key, 0) + int(op.data.get("qty") or op.data["qty_short"])
        for key, qty in done.items():
            assert qty <= lines[key], (key, qty)
        assert sum(1 for op in store.outbox_history() if op.kind == "tote.assigned") <= 1
