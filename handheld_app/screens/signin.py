"""Sign-in screen: badge scan or operator id typed."""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.screenmanager import Screen


class SignInScreen(Screen):  # type: ignore[misc]
    """Shows the sign-in prompt and the last refusal."""

    message = StringProperty("")
    message_ok = BooleanProperty(True)

    def submit_typed(self) -> None:
        """The operator id typed in the field (Enter or the button)."""
        app: Any = App.get_running_app()
        app.sign_in_typed(self.ids.operator_input.text)

    def show(self, message: str, ok: bool) -> None:
        """Show the outcome of the last attempt."""
        self.message = message
        self.message_ok = ok
