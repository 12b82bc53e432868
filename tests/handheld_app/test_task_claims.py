"""Task claims: two handhelds on the shipped broker set-up (passwords, per-device ACL)
never pick the same task, and a task both opened at once is settled the same way on
each of them. No central server: the claims go over the floor bus only."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from domain.claims import Claim, ClaimBook, LineKey, progress_of
from handheld_app.presenters import PickView, Step, TaskListView
from handheld_app.session import PickerSession
from handheld_app.tasks_push import TaskPush, claim_topic
from sync.store import LocalStore
from tests.edge.conftest import FloorBroker, floor_broker, handheld_on_bus  # noqa: F401
from tests.handheld_app.floor import GTIN_BAG, GTIN_PEN, Clock, gs1, seeded_store
from tests.support.waiting import wait_until

HOT = "HOT-O-HOT"


def _open(session: PickerSession) -> list[str]:
    return [str(t["id"]) for t in session.tasks.open_tasks()]


@pytest.fixture
def floor(
    floor_broker: FloorBroker,  # noqa: F811
    tmp_path: Path,
) -> Iterator[tuple[list[TaskPush], list[PickerSession], list[LocalStore]]]:
    """handheld-1 (OP-anna) and handheld-2 (OP-ben), signed in, same open tasks."""
    pushes, sessions, stores = [], [], []
    clock = Clock()
    try:
        for device, operator in (("handheld-1", "OP-anna"), ("handheld-2", "OP-ben")):
            push = handheld_on_bus(floor_broker, device)
            push.set_available(True, operator)
            store = seeded_store(tmp_path / f"{device}.db", device)
            pushes.append(push)
            stores.append(store)
            sessions.append(PickerSession(store, operator, clock, claims=push))
        yield pushes, sessions, stores
    finally:
        for push in pushes:
            push.stop()
        for store in stores:
            store.close()


def test_a_task_one_picker_opened_leaves_the_other_handhelds_list(floor) -> None:
    (h1, h2), (anna, ben), (_s1, store2) = floor
    assert _open(ben) == [HOT, "BATCH-1"]
    assert ben.pushed_task(ben.tasks.find(HOT) or {})  # the dispatcher pushed it to Ben too
    assert ben.tasks.view().banner == "NEW P1 HOT PICK O-HOT"
    assert anna.start(HOT).ok
    wait_until(lambda: h2.holder(HOT) is not None, what="handheld-2 hears the claim")
    assert h2.holder(HOT) == Claim(HOT, "handheld-1", "OP-anna", h2.holder(HOT).at)
    assert h1.holder(HOT) is None  # its own claim holds nothing against itself
    assert _open(ben) == ["BATCH-1"]
    view = ben.current_view()
    assert isinstance(view, TaskListView) and [r.task_id for r in view.rows] == ["BATCH-1"]
    assert view.banner == ""  # Anna has it: Ben's banner is gone
    refused = ben.start(HOT)
    assert (refused.ok, refused.code) == (False, "task_taken")
    assert refused.message == f"Task {HOT} is being picked by OP-anna on handheld-1: choose another"
    later = PickerSession(store2, "OP-ben", Clock(), claims=h2)
    assert later.pushed_task(later.tasks.find(HOT) or {}) is False  # no banner for it
    assert ben.start().ok  # the next free task
    view = ben.current_view()
    assert isinstance(view, PickView) and view.task_id == "BATCH-1"
    # Anna signs out: her task is free again.
    h1.set_available(False)
    wait_until(lambda: h2.holder(HOT) is None, what="the claim cleared")
    wait_until(lambda: h2.claims.claimants(HOT) == [], what="the retained claim gone")
    assert HOT in _open(ben)


def test_a_finished_task_stays_claimed_until_central_closes_it(
    floor,
    floor_broker: FloorBroker,  # noqa: F811
) -> None:
    """The other handhelds do not see this one's picks while central is away: the done
    claim keeps them off the task, also after the picker signs out."""
    (h1, h2), (anna, ben), (store1, _s2) = floor
    assert anna.start(HOT).ok
    wait_until(lambda: h2.holder(HOT) is not None, what="the claim")
    assert anna.scan("LOC-A01-01-1").ok
    assert anna.scan(gs1(GTIN_BAG)).ok
    assert anna.enter_qty(2).code == "picked"
    assert anna.scan("LOC-B02-05-2").ok
    assert anna.scan(GTIN_PEN).code == "picked"
    assert anna.scan("TOTE-0042").code == "task_done"
    wait_until(lambda: (h2.holder(HOT) or Claim("", "", "", "")).done, what="the done claim")
    h1.set_available(False)  # Anna signs out, and even off the air the task stays picked
    h1.stop()
    wait_until(lambda: h2.claims.holding(HOT) is not None, what="still held")
    assert HOT not in _open(ben)
    refused = ben.start(HOT)
    assert refused.message == f"Task {HOT} was picked by OP-anna on handheld-1: choose another"
    assert anna.tidy_claims() == 0  # still open at central
    # handheld-1 runs again and Anna signs in; central ships the order and closes the
    # task: her handheld clears the claim.
    again = handheld_on_bus(floor_broker, "handheld-1")
    try:
        again.set_available(True, "OP-anna")
        clock = Clock()
        anna = PickerSession(store1, "OP-anna", clock, claims=again)
        wait_until(lambda: again.own_tasks() == [HOT], what="its own done claim heard")
        assert anna.tidy_claims() == 0
        closed = {**(store1.get("task", HOT) or {}), "status": "done"}
        store1.apply_changes([{"entity": "task", "id": HOT, "data": closed}], cursor=99, epoch="e1")
        # The others may not have pulled the close yet: the claim stays a while longer.
        assert anna.tidy_claims() == 0
        clock.advance(9 * 60)
        assert anna.tidy_claims() == 0 and again.own_tasks() == [HOT]
        clock.advance(60)
        assert anna.tidy_claims() == 1
        wait_until(lambda: h2.claims.claimants(HOT) == [], what="the claim cleared")
    finally:
        again.stop()


def test_a_handheld_off_the_bus_holds_nothing_and_clears_its_claim_when_back(
    floor,
    floor_broker: FloorBroker,  # noqa: F811
) -> None:
    (h1, h2), (anna, ben), _ = floor
    assert anna.start(HOT).ok
    wait_until(lambda: h2.holder(HOT) is not None, what="the claim")
    h1.stop()  # the app closed: offline, the retained claim stays
    wait_until(lambda: h2.holder(HOT) is None, what="handheld-1 seen offline")
    assert [c.device for c in h2.claims.claimants(HOT)] == ["handheld-1"]
    assert HOT in _open(ben)
    # handheld-1 runs again, nobody signed in: its claim from the last run is cleared.
    again = handheld_on_bus(floor_broker, "handheld-1")
    try:
        wait_until(lambda: h2.claims.claimants(HOT) == [], what="the old claim cleared")
        assert again.claims.own_tasks() == []
    finally:
        again.stop()


def test_claims_are_back_after_the_broker_lost_its_retained_messages(
    floor,
    floor_broker: FloorBroker,  # noqa: F811
) -> None:
    (h1, h2), (anna, _ben), _ = floor
    assert anna.start(HOT).ok
    wait_until(lambda: h2.holder(HOT) is not None, what="the claim")
    floor_broker.stop(kill=True)
    for saved in floor_broker.workdir.glob("*.db"):
        saved.unlink()  # the broker comes back without its store
    floor_broker.restart()
    wait_until(lambda: h1.connected and h2.connected, timeout=20, what="both back")
    newcomer = handheld_on_bus(floor_broker, "handheld-3")
    try:
        wait_until(lambda: newcomer.holder(HOT) is not None, what="the claim, published again")
        assert newcomer.holder(HOT) == h2.holder(HOT)
    finally:
        newcomer.stop()


class BookPort:
    """The claim port over a real ``ClaimBook``, without the bus: what the other
    handheld says is told to ``book`` by the test, in the order a race would bring it."""

    def __init__(self, device: str, at: str) -> None:
        self.book = ClaimBook(device)
        self.device = self.device_id = device
        self.at = at
        self.released: list[str] = []

    def holder(self, task_id: str) -> Claim | None:
        return self.book.holder(task_id)

    def claim(
        self,
        task_id: str,
        operator: str,
        done: bool = False,
        progress: Mapping[LineKey, int] | None = None,
    ) -> None:
        before = self.book.own(task_id)
        units = progress_of(progress) if progress is not None else ()
        claim = Claim(task_id, self.device, operator, self.at, done, progress=units)
        if before is None or (before.done, before.progress) != (done, units):
            self.book.heard(task_id, self.device, claim)

    def release(self, task_id: str) -> None:
        self.book.heard(task_id, self.device, None)
        self.released.append(task_id)

    def clear(self, task_id: str) -> None:
        self.book.heard(task_id, self.device, None)

    def own_tasks(self) -> list[str]:
        return self.book.own_tasks()

    def done_elsewhere(self, task_id: str) -> dict[LineKey, int]:
        return self.book.done_elsewhere(task_id)

    def claimants(self, task_id: str) -> list[Claim]:
        return self.book.claimants(task_id)

    def taken_over(self, task_id: str) -> Claim | None:
        return self.book.taken_over(task_id)


def test_the_later_of_two_pickers_leaves_the_task_before_picking(
    store: LocalStore, clock: Clock
) -> None:
    port = BookPort("handheld-2", "2026-11-25T10:00:00.200000+00:00")
    ben = PickerSession(store, "OP-ben", clock, claims=port)
    assert ben.start(HOT).ok
    # Anna's claim, made 0.1 s earlier, arrives now: hers holds the task.
    earlier = Claim(HOT, "handheld-1", "OP-anna", "2026-11-25T10:00:00.100000+00:00")
    port.book.heard(HOT, "handheld-1", earlier)
    refused = ben.scan("LOC-A01-01-1")
    assert (refused.ok, refused.code) == (False, "task_taken")
    assert isinstance(ben.current_view(), TaskListView) and ben.flow is None
    assert port.released == [HOT] and port.book.own(HOT) is None
    assert list(store.outbox_history()) == []  # nothing recorded for it


def test_a_picker_with_units_in_the_tote_keeps_the_task(store: LocalStore, clock: Clock) -> None:
    port = BookPort("handheld-2", "2026-11-25T10:00:00.200000+00:00")
    ben = PickerSession(store, "OP-ben", clock, claims=port)
    assert ben.start(HOT).ok
    assert ben.scan("LOC-A01-01-1").ok
    assert ben.scan(gs1(GTIN_BAG)).ok
    assert ben.enter_qty(2).code == "picked"
    earlier = Claim(HOT, "handheld-1", "OP-anna", "2026-11-25T10:00:00.100000+00:00")
    port.book.heard(HOT, "handheld-1", earlier)
    assert ben.scan("LOC-B02-05-2").ok  # two units are in the tote: finish the task
    assert HOT in _open(ben)  # still on this handheld's list
    assert port.released == []
    # Same rule on both handhelds: the earlier claim holds the task.
    anna_book = ClaimBook("handheld-1")
    for claim in (port.book.own(HOT), earlier):
        assert claim is not None
        anna_book.heard(HOT, claim.device, claim)
    assert anna_book.holding(HOT) == port.book.holding(HOT) == earlier


def test_a_task_whose_orders_were_picked_elsewhere_is_not_offered(
    store: LocalStore, clock: Clock
) -> None:
    """Central keeps a task open until its orders ship; a handheld that has not heard
    the picker's claim (or whose claim is gone) still sees the orders picked."""
    ben = PickerSession(store, "OP-ben", clock)
    order = store.order("O-HOT")
    assert order is not None
    picked = {**order, "status": "picked", "tote": "TOTE-7"}
    store.apply_changes([{"entity": "order", "id": "O-HOT", "data": picked}], cursor=99, epoch="e1")
    assert _open(ben) == ["BATCH-1"]
    refused = ben.start(HOT)
    assert (refused.ok, refused.code) == (False, "task_taken")
    assert refused.message == f"Task {HOT} was picked on another handheld: choose another"
    # A top-up for the same order is for units still to pick: it is offered.
    task = store.get("task", HOT)
    assert task is not None
    rest = {"order_id": "O-HOT", "sku": "SKU-PEN", "location": "C03-01-1", "qty": 1}
    still = {**picked, "allocations": [{k: rest[k] for k in ("sku", "location", "qty")}]}
    store.apply_changes([{"entity": "order", "id": "O-HOT", "data": still}], cursor=100, epoch="e1")
    top_up = {**task, "id": "TOP-O-HOT-1", "kind": "topup", "after_tote": "TOTE-7"}
    top_up["lines"] = [rest]
    store.apply_changes(
        [{"entity": "task", "id": "TOP-O-HOT-1", "data": top_up}], cursor=101, epoch="e1"
    )
    assert "TOP-O-HOT-1" in _open(ben)


def test_a_task_taken_over_sends_the_next_picker_for_the_missing_units_only(
    store: LocalStore, clock: Clock
) -> None:
    """Anna's handheld went off the air halfway through the hot pick (her claim holds
    nothing then); the two bags she picked had reached central."""
    order = store.order("O-HOT")
    assert order is not None
    lines = [{**li, "picked": 2} if li["sku"] == "SKU-BAG" else li for li in order["lines"]]
    half = {**order, "lines": lines, "status": "picking"}
    store.apply_changes([{"entity": "order", "id": "O-HOT", "data": half}], cursor=99, epoch="e1")
    ben = PickerSession(store, "OP-ben", clock)
    assert HOT in _open(ben)
    assert ben.start(HOT).ok
    view = ben.current_view()
    assert isinstance(view, PickView)
    assert (view.location, view.sku, view.left) == ("B02-05-2", "SKU-PEN", 1)
    assert ben.scan("LOC-B02-05-2").ok
    assert ben.scan(GTIN_PEN).code == "picked"
    assert ben.scan("TOTE-0050").code == "task_done"
    assert [op.kind for op in store.outbox_history()] == ["pick.confirmed", "tote.assigned"]


def _bag_picked(anna: PickerSession) -> None:
    """Anna opens the hot pick and picks its two bags (the pen is left)."""
    assert anna.start(HOT).ok
    assert anna.scan("LOC-A01-01-1").ok
    assert anna.scan(gs1(GTIN_BAG)).ok
    assert anna.enter_qty(2).code == "picked"


def _pen_only(ben: PickerSession, store: LocalStore, tote: str) -> None:
    """Ben takes the hot pick over: he is sent for the pen only, and done with it."""
    started = ben.start(HOT)
    assert started.ok
    assert started.message.endswith(
        "(taken over: 2 units by OP-anna on handheld-1 done before, not asked for again)"
    )
    view = ben.current_view()
    assert isinstance(view, PickView)
    assert (view.location, view.sku, view.left) == ("B02-05-2", "SKU-PEN", 1)
    assert ben.scan("LOC-B02-05-2").ok
    assert ben.scan(GTIN_PEN).code == "picked"
    assert ben.scan(tote).code == "task_done"
    assert [op.kind for op in store.outbox_history()] == ["pick.confirmed", "tote.assigned"]
    # The tote's op says whose units are missing from it: central makes no top-up for
    # them while Anna's picks are on their way.
    bound = store.outbox_history()[-1].data
    assert bound["elsewhere"] == [
        {"device": "handheld-1", "sku": "SKU-BAG", "location": "A01-01-1", "qty": 2}
    ]


def test_a_task_taken_over_while_central_is_away_sends_the_next_picker_for_the_rest(
    floor,
) -> None:
    """Anna's handheld drops off the air after two bags; her picks are in her outbox
    only (no central here), but her claim said how far she got."""
    (h1, h2), (anna, ben), (_s1, store2) = floor
    _bag_picked(anna)
    bags = {("O-HOT", "SKU-BAG", "A01-01-1"): 2}
    wait_until(lambda: h2.done_elsewhere(HOT) == bags, what="Anna's progress heard")
    # Off the air: the connection drops without a goodbye, so the broker sends her will.
    h1.client.loop_stop()
    h1.client.socket().close()  # type: ignore[union-attr]
    wait_until(lambda: h2.holder(HOT) is None, timeout=20, what="handheld-1 seen offline")
    assert HOT in _open(ben)
    _pen_only(ben, store2, "TOTE-0050")
    wait_until(lambda: (h2.claims.own(HOT) or Claim("", "", "", "")).done, what="Ben's done")


def test_a_picker_who_signs_out_halfway_leaves_the_rest_to_the_next(
    floor,
    floor_broker: FloorBroker,  # noqa: F811
) -> None:
    (h1, h2), (anna, ben), (store1, store2) = floor
    _bag_picked(anna)
    # Anna signs out: first her bags go into a tote bound to the order, then her claim
    # stays, released, with the bags.
    asked = anna.hand_over()
    assert asked is not None and (asked.ok, asked.code) == (False, "hand_over")
    assert asked.message == (
        "Before signing out: scan a tote for the 2 units picked here (order O-HOT) and send"
        " it to packing"
    )
    assert anna.scan("TOTE-0070").code == "handed_over"
    assert anna.hand_over() is None  # nothing left to drop
    assert [op.kind for op in store1.outbox_history()] == ["pick.confirmed", "tote.assigned"]
    h1.set_available(False)
    wait_until(lambda: [c.released for c in h2.claims.claimants(HOT)] == [True], what="released")
    assert h2.holder(HOT) is None and HOT in _open(ben)
    newcomer = handheld_on_bus(floor_broker, "handheld-3")  # retained for later handhelds too
    try:
        wait_until(lambda: newcomer.done_elsewhere(HOT) != {}, what="the progress, retained")
        assert newcomer.done_elsewhere(HOT) == {("O-HOT", "SKU-BAG", "A01-01-1"): 2}
    finally:
        newcomer.stop()
    _pen_only(ben, store2, "TOTE-0051")
    # Anna signs in again: her released claim does not take the task back from Ben.
    h1.set_available(True, "OP-anna")
    wait_until(lambda: (h1.holder(HOT) or Claim("", "", "", "")).done, what="Ben's done claim")
    refused = anna.start(HOT)
    assert refused.message == f"Task {HOT} was picked by OP-ben on handheld-2: choose another"
    # Central closes the task; ten minutes later her handheld clears her claim.
    closed = {**(store1.get("task", HOT) or {}), "status": "done"}
    store1.apply_changes([{"entity": "task", "id": HOT, "data": closed}], cursor=99, epoch="e1")
    assert anna.tidy_claims() == 0
    clock = anna.clock
    assert isinstance(clock, Clock)
    clock.advance(10 * 60)
    assert anna.tidy_claims() == 1
    wait_until(
        lambda: [c.device for c in h2.claims.claimants(HOT)] == ["handheld-2"],
        what="Anna's released claim cleared",
    )


def test_a_handheld_back_on_the_air_hands_over_a_task_taken_over_meanwhile(floor) -> None:
    """Its picker drops the units picked so far in a tote bound to the order, which
    goes to packing, where the order's two totes come together."""
    (h1, h2), (anna, ben), (store1, store2) = floor
    _bag_picked(anna)
    wait_until(lambda: h2.done_elsewhere(HOT) != {}, what="Anna's progress heard")
    h1.client.loop_stop()  # off the air
    h1.client.socket().close()  # type: ignore[union-attr]
    wait_until(lambda: h2.holder(HOT) is None, timeout=20, what="handheld-1 seen offline")
    assert ben.start(HOT).ok
    assert ben.scan("LOC-B02-05-2").ok
    assert ben.scan(GTIN_PEN).code == "picked"  # Ben has the pen; the tote is next
    h1.client.loop_start()  # back on the air: paho reconnects and hears Ben's claim
    wait_until(lambda: h1.taken_over(HOT) is not None, timeout=20, what="the take-over heard")
    left = anna.scan("LOC-B02-05-2")
    assert (left.ok, left.code) == (False, "task_taken")
    assert left.message == (
        f"Task {HOT} was taken over by OP-ben on handheld-2: scan a tote for the 2 units"
        " picked here (order O-HOT) and send it to packing"
    )
    view = anna.current_view()
    assert isinstance(view, PickView) and view.step is Step.TOTE and view.order_id == "O-HOT"
    refused = anna.scan(gs1(GTIN_PEN))
    assert (refused.ok, refused.code) == (False, "scan_tote")  # nothing more to pick here
    handed = anna.scan("TOTE-0061")
    assert (handed.ok, handed.code) == (True, "handed_over")
    assert anna.flow is None and isinstance(anna.current_view(), TaskListView)
    kinds = [op.kind for op in store1.outbox_history()]
    assert kinds == ["pick.confirmed", "tote.assigned"]  # no second pen
    pen = {"device": "handheld-2", "sku": "SKU-PEN", "location": "B02-05-2", "qty": 1}
    assert store1.outbox_history()[-1].data["elsewhere"] == [pen]
    mine = h1.claims.own(HOT)
    assert (
        mine is not None and mine.released and mine.units() == {("O-HOT", "SKU-BAG", "A01-01-1"): 2}
    )
    wait_until(lambda: h2.holder(HOT) is None, what="Anna's claim released")
    assert ben.scan("TOTE-0052").code == "task_done"
    assert [op.kind for op in store2.outbox_history()] == ["pick.confirmed", "tote.assigned"]


def test_an_echo_of_an_older_claim_does_not_undo_a_finished_task(
    floor,
    floor_broker: FloorBroker,  # noqa: F811
) -> None:
    """A handheld hears its own claims back, and a session resumed after a restart gets
    the copies it had not taken yet: none may turn a finished task back into an
    unfinished one, which a signed-out handheld would then give up."""
    (h1, _h2), (anna, _ben), _ = floor
    _bag_picked(anna)
    halfway = h1.claims.own(HOT)
    assert halfway is not None and not halfway.done and halfway.progress
    assert anna.scan("LOC-B02-05-2").ok
    assert anna.scan(GTIN_PEN).code == "picked"
    assert anna.scan("TOTE-0042").code == "task_done"
    h1.set_available(False)
    echo = mqtt.MQTTMessage(topic=claim_topic(floor_broker.site, HOT, "handheld-1").encode())
    echo.payload = h1._envelope(halfway.body(), at=halfway.at)  # as sent at the first pick
    h1._on_message(h1.client, None, echo)  # delivered as paho delivers it (not retained)
    own = h1.claims.own(HOT)
    assert own is not None and own.done and not own.released
    newcomer = handheld_on_bus(floor_broker, "handheld-3")
    try:
        wait_until(
            lambda: [c.done for c in newcomer.claims.claimants(HOT)] == [True],
            what="the done claim, still retained",
        )
    finally:
        newcomer.stop()


def test_a_picker_who_opens_the_task_again_goes_on_instead_of_handing_it_over(
    store: LocalStore, clock: Clock
) -> None:
    port = BookPort("handheld-1", "2026-11-25T10:00:00.100000+00:00")
    anna = PickerSession(store, "OP-anna", clock, claims=port)
    _bag_picked(anna)
    asked = anna.hand_over()
    assert asked is not None and asked.code == "hand_over"
    view = anna.current_view()
    assert isinstance(view, PickView) and view.step is Step.TOTE
    assert anna.start(HOT).ok  # she stays after all
    view = anna.current_view()
    assert isinstance(view, PickView) and (view.step, view.sku) == (Step.LOCATION, "SKU-PEN")
    assert anna.scan("LOC-B02-05-2").ok
    assert anna.scan(GTIN_PEN).code == "picked"
    assert anna.scan("TOTE-0042").code == "task_done"
    own = port.book.own(HOT)
    assert own is not None and own.done
