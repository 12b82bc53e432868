"""Stock screen: bins of the scanned item from the cache, how old it is, a bin count
(scan the bin, set the units, save), a move to another bin (scan the bin, Move, scan the
bin to put it in, set the units, save), a receipt (Receive) and a write-off of damaged
units (Damaged)."""

from __future__ import annotations

from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.screenmanager import Screen

from handheld_app.presenters.stock import MAX_COUNT, StockMode, StockView

# The save button's word per mode.
SAVE_WORDS = {
    StockMode.COUNT: "Count",
    StockMode.MOVE: "Move",
    StockMode.RECEIVE: "Receive",
    StockMode.DAMAGED: "Write off",
}


class StockScreen(Screen):  # type: ignore[misc]
    """Shows a ``StockView``."""

    sku = StringProperty("")
    item_name = StringProperty("")
    lines = StringProperty("")
    as_of = StringProperty("")
    message = StringProperty("")
    message_ok = BooleanProperty(True)
    counting = StringProperty("")
    mode = StringProperty(StockMode.COUNT.value)
    save_word = StringProperty(SAVE_WORDS[StockMode.COUNT])
    moving = BooleanProperty(False)
    receiving = BooleanProperty(False)
    target = StringProperty("")
    qty = NumericProperty(0)

    def show(self, view: StockView) -> None:
        """Update the labels; a bin newly chosen for counting starts at its cached
        on-hand, a move at all the bin's free units, a receipt and a write-off at one."""
        self.sku = view.sku
        self.item_name = view.name
        rows = [f"  {'BIN':<10} {'HAVE':>5} {'FREE':>5}"]
        marks = {view.counting: ">", view.target: "<"}
        rows += [
            f"{marks.get(line.location, ' ')} "
            f"{line.location:<10} {line.on_hand:>5} {line.available:>5}"
            for line in view.lines
        ]
        self.lines = "\n".join(rows) if view.lines else ""
        self.as_of = f"cache as of last sync: {view.as_of}"
        self.message = view.message if view.sku or not view.ok else "Scan an item"
        self.message_ok = view.ok
        chosen = (view.counting, view.mode.value)
        if view.counting and chosen != (self.counting, self.mode):
            if view.mode in (StockMode.RECEIVE, StockMode.DAMAGED):
                self.qty = 1
            else:
                start = view.available_in if view.moving else view.on_hand_in
                self.qty = max(0, start(view.counting))
        self.counting, self.mode = chosen
        self.moving, self.receiving = view.moving, view.receiving
        self.save_word = SAVE_WORDS[view.mode]
        self.target = view.target

    def change_qty(self, delta: int) -> None:
        """The -/+ buttons, kept within 0..MAX_COUNT."""
        self.qty = int(min(max(0, self.qty + delta), MAX_COUNT))
