"""Pick screen: the bin and the item in big letters, the step prompt, the last message,
quantity, short-pick reasons and navigation all one tap away."""

from __future__ import annotations

from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.screenmanager import Screen

from handheld_app.presenters.pick import PickView, Step


class PickScreen(Screen):  # type: ignore[misc]
    """Shows a ``PickView``."""

    level = StringProperty("P4")
    header = StringProperty("")
    prompt = StringProperty("")
    location = StringProperty("")
    sku = StringProperty("")
    item_name = StringProperty("")
    qty_line = StringProperty("")
    message = StringProperty("")
    message_ok = BooleanProperty(True)
    step = StringProperty("")
    qty = NumericProperty(1)
    left = NumericProperty(0)

    def show(self, view: PickView) -> None:
        """Update every label from the view-model."""
        self.level = view.level
        self.header = (
            f"{view.level}  {view.order_id or view.task_id}  ·  {view.countdown}  ·  "
            f"{view.line_no}/{view.line_count}"
        )
        self.prompt = view.prompt
        if view.step in (Step.TOTE, Step.DONE):
            self.location = "TOTE"
            self.sku = view.tote or "scan tote"
            self.item_name = ""
            self.qty_line = ", ".join(view.alternatives)
        else:
            self.location = view.location
            self.sku = view.sku
            self.item_name = view.item_name
            parts = [f"{view.left} of {view.line_qty} left"]
            if view.tote:
                parts.append(view.tote)
            if view.lot:
                parts.append(f"lot {view.lot}")
            self.qty_line = "  ·  ".join(parts)
        if view.step is not Step.QTY or self.step != Step.QTY.value:
            self.qty = max(1, view.left)  # a new line or item: suggest everything left
        self.left = view.left
        self.step = view.step.value
        self.message = view.message
        self.message_ok = view.ok

    def change_qty(self, delta: int) -> None:
        """The -/+ buttons, kept within 1..left."""
        self.qty = int(min(max(1, self.qty + delta), max(1, self.left)))
