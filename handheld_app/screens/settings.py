"""Settings screen: central URL, device token and scanner source, saved to the file."""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.screenmanager import Screen


class SettingsScreen(Screen):  # type: ignore[misc]
    """Edits three settings; the app checks and writes them."""

    message = StringProperty("")
    message_ok = BooleanProperty(True)
    device_text = StringProperty("")

    def fill(self, central_url: str, token: str, scanner: str, device_text: str) -> None:
        """Put the current values in the fields."""
        self.ids.central_url.text = central_url
        self.ids.token.text = token
        self.ids.scanner.text = scanner
        self.device_text = device_text
        self.message = ""

    def save(self) -> None:
        """Hand the fields to the app to check and save."""
        app: Any = App.get_running_app()
        ok, message = app.save_settings(
            self.ids.central_url.text, self.ids.token.text, self.ids.scanner.text
        )
        self.message = message
        self.message_ok = ok
