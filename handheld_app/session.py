"""``PickerSession``: one signed-in picker driving the presenters without any UI.

The Kivy screens and the simulated pickers of the demo use the same facade, so what a
test proves here is what the floor does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Protocol

from devices.barcodes import DEFAULT_PREFIXES, Prefixes, Scan, ScanKind, decode
from domain.claims import Claim, LineKey
from handheld_app.presenters.feedback import Feedback, FeedbackPort, SilentFeedback
from handheld_app.presenters.pick import PickFlow, PickView, ShortReason, Step
from handheld_app.presenters.progress import TaskProgress
from handheld_app.presenters.stock import MAX_COUNT, StockPresenter, StockView
from handheld_app.presenters.tasks import TaskListPresenter, TaskListView
from sync.store import LocalStore

View = PickView | TaskListView | StockView


class ClaimPort(Protocol):
    """The floor bus's task claims (``TaskPush``; see ``domain.claims``)."""

    device_id: str  # this handheld

    def holder(self, task_id: str) -> Claim | None:
        """Another handheld's claim that holds ``task_id``, else None."""

    def claim(
        self,
        task_id: str,
        operator: str,
        done: bool = False,
        progress: Mapping[LineKey, int] | None = None,
    ) -> None:
        """Say this handheld works on ``task_id`` (``done``: finished it), with the
        units done so far (``progress``; None: unchanged)."""

    def release(self, task_id: str) -> None:
        """This handheld leaves ``task_id`` unfinished (its progress stays known)."""

    def clear(self, task_id: str) -> None:
        """This handheld's claim on ``task_id`` is gone (the task is closed)."""

    def own_tasks(self) -> list[str]:
        """Tasks this handheld has a claim on."""

    def done_elsewhere(self, task_id: str) -> dict[LineKey, int]:
        """Units other handhelds' claims on ``task_id`` say they picked or shorted."""

    def claimants(self, task_id: str) -> list[Claim]:
        """Every claim heard on ``task_id`` (this handheld's too), earliest first."""

    def taken_over(self, task_id: str) -> Claim | None:
        """Another handheld's claim that took ``task_id`` over from this one."""


# How long a claim outlives its task's close (see ``tidy_claims``).
CLAIM_GRACE = timedelta(minutes=10)

# A typed number of up to this many digits is a quantity; a longer one is an item number
# keyed by hand (a label that will not scan) and is read as a barcode.
QTY_DIGITS = len(str(MAX_COUNT))


class PickerSession:
    """A picker at work: ``start`` a task, ``scan`` codes, ``enter_qty``, ``short``
    (on the stock screen: scan an item, then a bin, and ``enter_qty`` to count it, or
    ``start_move``, scan the bin to put it in and ``enter_qty`` to move it, or
    ``start_receive`` and ``enter_qty`` to book units put into it, or ``start_damaged``
    and ``enter_qty`` to write damaged units off);
    ``current_view()`` is what the screen shows. Each action returns ``Feedback`` and
    rings the feedback port (beep on ok, buzz on a refusal)."""

    def __init__(
        self,
        store: LocalStore,
        operator: str,
        clock: Callable[[], datetime],
        feedback: FeedbackPort | None = None,
        prefixes: Prefixes = DEFAULT_PREFIXES,
        last_sync: Callable[[], datetime | None] = lambda: None,
        on_tote: Callable[[str, str], None] | None = None,
        claims: ClaimPort | None = None,
    ) -> None:
        if not operator or not str(operator).strip():
            raise ValueError("operator: required (the signed-in picker's id)")
        self.store = store
        self.operator = str(operator).strip()
        self.clock = clock
        self.feedback_port: FeedbackPort = feedback or SilentFeedback()
        self.prefixes = prefixes
        self.on_tote = on_tote  # told (order id, tote) when a tote is bound
        self.claims = claims  # None: no floor bus (no claims heard or made)
        self._closed_seen: dict[str, datetime] = {}  # own claimed tasks seen closed, since
        self.progress = TaskProgress(
            store.outbox_history(),
            orders=store.order,
            statuses=store.order_statuses,
            elsewhere=claims.done_elsewhere if claims is not None else None,
        )
        held = claims.holder if claims is not None else None
        self.tasks = TaskListPresenter(store, self.progress, clock, held=held)
        self.stock = StockPresenter(store, clock, last_sync, self.operator)
        self.flow: PickFlow | None = None
        self.mode = "tasks"
        self.last = Feedback.good("")

    # --- navigation ----------------------------------------------------------------

    def start(self, task_id: str | None = None) -> Feedback:
        """Open a task (default: the most urgent open one) on the pick screen."""
        if task_id is None:
            open_tasks = self.tasks.open_tasks()
            task = open_tasks[0] if open_tasks else None
            if task is None:
                return self._ring(Feedback.refuse("no_task", "No open tasks"))
        else:
            task = self.tasks.find(task_id)
            if task is None:
                return self._ring(Feedback.refuse("no_task", f"Task {task_id} is not open"))
            holder = self.claims.holder(task_id) if self.claims is not None else None
            if holder is not None:
                return self._ring(Feedback.refuse("task_taken", _taken(task_id, holder)))
            if self.progress.finished(task):
                return self._ring(Feedback.refuse("task_done", f"Task {task_id} is done"))
            if not self.tasks.free(task):
                why = f"Task {task_id} was picked on another handheld: choose another"
                return self._ring(Feedback.refuse("task_taken", why))
        if self.flow is None or self.flow.task_id != str(task["id"]):
            self.flow = PickFlow(
                self.store,
                self.progress,
                task,
                self.operator,
                self.clock,
                self.on_tote,
                claimants=self.claims.claimants if self.claims is not None else None,
            )
        self.flow.handing_over = False  # opened again: the picker goes on with it
        if self.claims is not None:
            self.claims.claim(self.flow.task_id, self.operator)
        self.mode = "pick"
        self.tasks.dismiss_banner()
        view = self.flow.view()
        message = f"Task {task['id']}: {view.prompt}{self._taken_over(self.flow.task_id)}"
        return self._ring(Feedback.good(message, "started"))

    def _taken_over(self, task_id: str) -> str:
        """For a task another handheld started: who did how many units (picked or
        reported short; they are not asked for again)."""
        if self.claims is None:
            return ""
        parts = []
        for claim in self.claims.claimants(task_id):
            units = sum(qty for _key, qty in claim.progress)
            if claim.device != self.claims.device_id and units and not claim.done:
                who = f"{claim.operator} on {claim.device}" if claim.operator else claim.device
                parts.append(f"{_units(units)} by {who}")
        if not parts:
            return ""
        return f" (taken over: {', '.join(parts)} done before, not asked for again)"

    def hand_over(self) -> Feedback | None:
        """Before the picker signs out: a started task with units picked here that are
        in no tote yet is handed over. The pick screen asks for a tote per order, bound
        to it, to packing; then the task is left, its claim keeping the progress for the
        next picker. None when nothing waits for a tote (signing out may go ahead)."""
        if self.flow is None:
            return None
        return self._hand_over("Before signing out", "hand_over")

    def _hand_over(self, why: str, code: str) -> Feedback | None:
        """Stop picking the started task; the pick screen asks for a tote for the units
        picked here per order (``why`` first). None, and the task as it was, when no
        units wait for a tote."""
        assert self.flow is not None
        self.flow.handing_over = True
        orders = self.flow.orders_without_tote()
        if not orders:
            self.flow.handing_over = False
            return None
        self.mode = "pick"
        picked = self.progress.picked(self.flow.task_id)
        units = sum(picked.get(o, 0) for o in orders)
        text = (
            f"{why}: scan a tote for the {_units(units)} picked here"
            f" (order {', '.join(orders)}) and send it to packing"
        )
        return self._ring(self.flow.tell(Feedback.refuse(code, text)))

    def back_to_tasks(self) -> None:
        """Leave the pick or stock screen; a started task keeps its progress."""
        self.mode = "tasks"

    def resume(self) -> bool:
        """Back to the pick screen of the started task; False when none is started."""
        if self.flow is None:
            return False
        self.mode = "pick"
        return True

    def show_stock(self) -> None:
        """Open the stock lookup screen."""
        self.mode = "stock"

    # --- actions -------------------------------------------------------------------

    def _task_gone(self) -> Feedback | None:
        """Central may cancel a task (its order cancelled) while it is being picked:
        refuse further work on it and go back to the list. Another handheld may have
        opened the task a moment before this one (both claimed it, the earlier claim
        holds it): before the first pick, leave it to them."""
        if self.flow is None:
            return None
        task_id = self.flow.task_id
        holder = self.claims.holder(task_id) if self.claims is not None else None
        if holder is not None and not self.progress.started(task_id):
            self._leave_task()
            return self._ring(Feedback.refuse("task_taken", _taken(task_id, holder)))
        taker = self.claims.taken_over(task_id) if self.claims is not None else None
        if taker is not None and not self.flow.handing_over:
            # Another picker took the task over while this handheld was off the air and
            # was sent for the rest only: the units picked here go into a tote per order
            # (scanned next), to packing, where the order's totes come together.
            who = f"{taker.operator} on {taker.device}" if taker.operator else taker.device
            why = f"Task {task_id} was taken over by {who}"
            prompt = self._hand_over(why, "task_taken")
            if prompt is None:  # nothing picked here waits for a tote
                self._leave_task()
                return self._ring(Feedback.refuse("task_taken", why))
            return prompt
        fresh = self.store.get("task", task_id)
        if fresh is not None and fresh.get("status") != "cancelled":
            self.flow.task = fresh  # central may re-route the lines
            return None
        self._leave_task()
        return self._ring(
            Feedback.refuse("task_cancelled", f"Task {task_id} was cancelled: put items back")
        )

    def _leave_task(self, finished: bool = False) -> None:
        """Drop the started task. A finished one stays claimed (done) until central
        closes it; a cancelled or taken one is freed."""
        if self.flow is not None and self.claims is not None:
            if finished:
                units = self.progress.units(self.flow.task_id)
                self.claims.claim(self.flow.task_id, self.operator, done=True, progress=units)
            else:
                self.claims.release(self.flow.task_id)
        self.flow = None
        self.mode = "tasks"

    def tidy_claims(self) -> int:
        """Clear this handheld's claims on tasks central has closed (or that are gone
        from the store) ``CLAIM_GRACE`` ago, by this handheld's clock; returns how many.
        The grace lets the other handhelds pull the close too: one that was cut off
        longer would otherwise see the task open and unclaimed. Run now and then (the
        task list refresh)."""
        if self.claims is None:
            return 0
        now, cleared = self.clock(), 0
        for task_id in self.claims.own_tasks():
            row = self.store.get("task", task_id)
            if row is not None and row.get("status") == "open":
                self._closed_seen.pop(task_id, None)
                continue
            if now - self._closed_seen.setdefault(task_id, now) >= CLAIM_GRACE:
                self.claims.clear(task_id)
                self._closed_seen.pop(task_id, None)
                cleared += 1
        return cleared

    def scan(self, code: str | Scan) -> Feedback:
        """A scanned code (raw text or an already decoded scan)."""
        scan = code if isinstance(code, Scan) else decode(code, self.prefixes)
        if self.mode == "pick" and self.flow is not None:
            gone = self._task_gone()
            if gone is not None:
                return gone
            return self._after_flow(self.flow.scan(scan))
        if self.mode == "stock" or (scan.kind is ScanKind.GS1 and scan.data.get("gtin")):
            self.mode = "stock"
            return self._ring(self.stock.lookup(scan))
        if scan.kind is ScanKind.UNKNOWN:
            why = scan.data.get("error", "not readable")
            return self._ring(Feedback.refuse("unknown_barcode", f"Unknown barcode: {why}"))
        return self._ring(Feedback.refuse("no_task", "Choose a task first"))

    def typed(self, text: str) -> Feedback:
        """What a person keyed (keypad or keyboard) and ended with Enter: a number of up
        to ``QTY_DIGITS`` digits is the quantity on the pick screen, or the units of the
        bin being counted; anything else (a longer number, letters) is read as a code."""
        text = text.strip()
        counting = self.mode == "stock" and bool(self.stock.current.counting)
        if text.isdecimal() and len(text) <= QTY_DIGITS and (self.mode == "pick" or counting):
            return self.enter_qty(int(text))
        return self.scan(text)

    def enter_qty(self, qty: int) -> Feedback:
        """Confirm the quantity of the scanned item (on the stock screen: the units
        counted in the chosen bin, moved out of it or received into it)."""
        if self.mode == "stock":
            return self._ring(self.stock.enter_qty(qty))
        if self.mode != "pick" or self.flow is None:
            return self._ring(Feedback.refuse("no_task", "Choose a task first"))
        gone = self._task_gone()
        return gone or self._after_flow(self.flow.enter_qty(qty))

    def start_move(self) -> Feedback:
        """On the stock screen: move units out of the chosen bin (the next bin scanned
        is where they go)."""
        if self.mode != "stock":
            return self._ring(Feedback.refuse("no_bin", "Open the stock screen first"))
        return self._ring(self.stock.start_move())

    def start_receive(self) -> Feedback:
        """On the stock screen: book units put into the chosen bin (the next quantity)."""
        if self.mode != "stock":
            return self._ring(Feedback.refuse("no_bin", "Open the stock screen first"))
        return self._ring(self.stock.start_receive())

    def start_damaged(self) -> Feedback:
        """On the stock screen: write off damaged units of the chosen bin (the next
        quantity)."""
        if self.mode != "stock":
            return self._ring(Feedback.refuse("no_bin", "Open the stock screen first"))
        return self._ring(self.stock.start_damaged())

    def short(self, reason: ShortReason | str) -> Feedback:
        """Report the current line short (bin_empty, damaged or not_found)."""
        if self.mode != "pick" or self.flow is None:
            return self._ring(Feedback.refuse("no_task", "Choose a task first"))
        gone = self._task_gone()
        return gone or self._after_flow(self.flow.short(reason))

    def expected_scan(self) -> str | None:
        """The code a careful picker scans next on the pick screen (the bin's label or
        the item's GTIN); None when the step wants a quantity, a tote or no scan. The
        demo's simulated pickers use it."""
        view = self.current_view()
        if not isinstance(view, PickView):
            return None
        if view.step is Step.LOCATION:
            return f"{self.prefixes.location}{view.location}"
        if view.step is Step.ITEM:
            return view.gtin or None
        return None

    def pushed_task(self, task: dict[str, object]) -> bool:
        """A task pushed over MQTT: raise the banner for a new P1/P2 one."""
        return self.tasks.pushed(dict(task))

    # --- views ---------------------------------------------------------------------

    def current_view(self) -> View:
        """What the screen shows now."""
        if self.mode == "pick" and self.flow is not None:
            return self.flow.view()
        if self.mode == "stock":
            return self.stock.current
        return self.tasks.view()

    def _after_flow(self, feedback: Feedback) -> Feedback:
        if self.flow is not None and self.flow.handing_over:
            if self.flow.step() is Step.DONE:
                self._leave_task()  # handed over: the claim stays, released, with its units
        elif self.flow is not None and self.progress.finished(self.flow.task):
            self._leave_task(finished=True)
        elif self.flow is not None and self.claims is not None:
            # The claim says how far this picker got (sent only when that changed): a
            # picker who takes the task over is sent for the rest only.
            task_id = self.flow.task_id
            self.claims.claim(task_id, self.operator, progress=self.progress.units(task_id))
        return self._ring(feedback)

    def _ring(self, feedback: Feedback) -> Feedback:
        self.last = feedback
        if feedback.ok:
            self.feedback_port.on_ok()
        else:
            self.feedback_port.on_error()
        return feedback


def _units(count: int) -> str:
    return f"{count} unit" if count == 1 else f"{count} units"


def _taken(task_id: str, holder: Claim) -> str:
    who = f"{holder.operator} on {holder.device}" if holder.operator else holder.device
    if holder.done:
        return f"Task {task_id} was picked by {who}: choose another"
    return f"Task {task_id} is being picked by {who}: choose another"
