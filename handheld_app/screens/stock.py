"""Stock lookup screen: bins of the scanned item from the cache, and how old it is."""

from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.screenmanager import Screen

from handheld_app.presenters.stock import StockView


class StockScreen(Screen):  # type: ignore[misc]
    """Shows a ``StockView``."""

    sku = StringProperty("")
    item_name = StringProperty("")
    lines = StringProperty("")
    as_of = StringProperty("")
    message = StringProperty("")
    message_ok = BooleanProperty(True)

    def show(self, view: StockView) -> None:
        """Update the labels."""
        self.sku = view.sku
        self.item_name = view.name
        rows = [f"{'BIN':<10} {'HAVE':>5} {'FREE':>5}"]
        rows += [
            f"{line.location:<10} {line.on_hand:>5} {line.available:>5}" for line in view.lines
        ]
        self.lines = "\n".join(rows) if view.lines else ""
        self.as_of = f"cache as of last sync: {view.as_of}"
        self.message = view.message if view.sku or not view.ok else "Scan an item"
        self.message_ok = view.ok
