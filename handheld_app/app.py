"""The Kivy app: a ScreenManager of thin screens over the presenters, the local store,
the background sync client, the scanner input and the pushed-task subscriber.

Threads: sync, scanner and MQTT callbacks never touch widgets; they hand over to the UI
thread with ``Clock.schedule_once``. Every action is one local transaction, so the app
works the same offline.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import NoTransition

from devices.barcodes import Scan
from devices.errors import DeviceError
from devices.scanner import TypedText
from handheld_app import theme
from handheld_app.input import ScannerInput
from handheld_app.presenters import (
    Feedback,
    FeedbackPort,
    PickView,
    SignInPresenter,
    SignInResult,
    StatusPresenter,
    StockView,
    TaskListView,
)
from handheld_app.screens import (
    PickScreen,
    SettingsScreen,
    SignInScreen,
    StockScreen,
    TasksScreen,
)
from handheld_app.session import PickerSession
from handheld_app.settings import HandheldSettings, save_edits
from handheld_app.sound import DeviceFeedback
from handheld_app.tasks_push import TaskPush
from sync.client import SyncClient
from sync.errors import SyncError
from sync.store import LocalStore

log = logging.getLogger(__name__)

KV_DIR = Path(__file__).parent / "kv"
KV_FILES = ("base.kv", "signin.kv", "tasks.kv", "pick.kv", "stock.kv", "settings.kv")


class HandheldRoot(BoxLayout):  # type: ignore[misc]
    """Status bar, hot-pick banner, then the screens."""


class HandheldApp(App):  # type: ignore[misc]
    """``rushline handheld``: sign in, task list, pick flow, stock lookup, settings."""

    title = "Rushline handheld"

    def __init__(
        self,
        settings: HandheldSettings,
        operator: str | None = None,
        clock: Callable[[], datetime] | None = None,
        use_sync: bool = True,
        feedback: FeedbackPort | None = None,
        on_ready: Callable[[HandheldApp], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(UTC))
        self.initial_operator = operator
        self.use_sync = use_sync
        self.feedback = feedback
        self.on_ready = on_ready
        self.signin = SignInPresenter()
        self.session: PickerSession | None = None
        self._signing_out = False  # waiting for the tote of a task handed over
        self.store: LocalStore | None = None
        self.sync: SyncClient | None = None
        self.scanner: ScannerInput | None = None
        self.push: TaskPush | None = None
        self.status: StatusPresenter | None = None
        self.scanner_error = ""
        self._ready = False
        self._unsubscribe: Callable[[], None] | None = None

    # --- lifecycle -----------------------------------------------------------------

    def build(self) -> HandheldRoot:
        """Load the .kv rules, open the store and make the screens."""
        for name in KV_FILES:
            if str(KV_DIR / name) not in Builder.files:
                Builder.load_file(str(KV_DIR / name))
        # The background is the window's clear colour: a full-screen rectangle would be
        # blended again on every frame, which costs a slow (software) GPU dearly.
        Window.clearcolor = theme.BACKGROUND
        root = HandheldRoot()
        sm = root.ids.sm
        sm.transition = NoTransition()
        for screen in (SignInScreen, TasksScreen, PickScreen, StockScreen, SettingsScreen):
            sm.add_widget(screen())
        device = self.settings.device
        self.store = LocalStore(device.store, device.device_id, device.site)
        self.feedback = self.feedback or DeviceFeedback(
            device.store.parent / "sounds", self.settings.sounds
        )
        self.status = StatusPresenter(
            lambda: self.sync.status if self.sync else None,
            self.store.pending_count,
            self.clock,
        )
        self._unsubscribe = self.store.on_change(self._on_store_change)
        return root

    def on_start(self) -> None:
        """Start sync, the scanner and the task subscriber; sign in if an operator was given."""
        device = self.settings.device
        if self.use_sync and self.store is not None:
            self.sync = self._make_sync(device.central_url, device.token)
            self.sync.start()
        self._start_scanner(self.settings.scanner)
        mqtt = self.settings.mqtt
        if mqtt is not None:
            self.push = TaskPush(
                mqtt.host,
                mqtt.port,
                device.site,
                device.device_id,
                lambda task: Clock.schedule_once(lambda _dt: self.task_pushed(task), 0),
                mqtt.username,
                mqtt.password,
            )
            self.push.start()
        Clock.schedule_interval(lambda _dt: self.refresh(), 1.0)
        Clock.schedule_interval(lambda _dt: self._tidy_claims(), 15.0)
        if self.initial_operator:
            self.sign_in(self.initial_operator)
        else:
            self.go("signin")

    def on_stop(self) -> None:
        """Stop every background part and close the store."""
        if self.scanner is not None:
            self.scanner.stop()
        if self.push is not None:
            self.push.stop()
        if self.sync is not None:
            self.sync.close()
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.store is not None:
            self.store.close()

    def _make_sync(self, url: str, token: str) -> SyncClient:
        assert_store = self.store
        if assert_store is None:
            raise SyncError("store is not open")
        device = self.settings.device
        return SyncClient(
            assert_store,
            url,
            token,
            batch_size=device.batch_size,
            timeout=device.timeout,
            interval=device.interval,
        )

    def _start_scanner(self, source: str) -> None:
        if self.scanner is not None:
            self.scanner.stop()
        try:
            self.scanner = ScannerInput(source, self.handle_input, self.settings.device.device_id)
            self.scanner.start()
            self.scanner_error = ""
        except DeviceError as exc:  # the app stays usable by typing; say what is wrong
            self.scanner = None
            self.scanner_error = f"Scanner: {exc}"
            log.warning("%s", self.scanner_error)

    def _on_store_change(self, entity: str, ids: list[str]) -> None:
        # A write on the UI thread is a picker's action, which refreshes by itself; the
        # sync loop's writes come from its thread: hop to the UI thread.
        if threading.current_thread() is not threading.main_thread():
            Clock.schedule_once(lambda _dt: self.refresh(), 0)

    # --- navigation ----------------------------------------------------------------

    @property
    def sm(self) -> Any:
        """The screen manager."""
        return self.root.ids.sm

    def screen(self, name: str) -> Any:
        """A screen by name."""
        return self.sm.get_screen(name)

    def go(self, name: str) -> None:
        """Show a screen (and tell the session where the picker is)."""
        session = self.session
        if session is None and name not in ("signin", "settings"):
            name = "signin"
        if session is not None:
            if name == "stock":
                session.show_stock()
            elif name == "tasks":
                session.back_to_tasks()
            elif name == "pick" and not session.resume():
                name = "tasks"
        if name == "settings":
            device = self.settings.device
            self.screen("settings").fill(
                device.central_url,
                device.token,
                self.scanner.source if self.scanner else self.settings.scanner,
                f"Device {device.device_id} at {device.site}",
            )
        if self.scanner is not None:
            self.scanner.keys.clear()
        self.sm.current = name
        self.refresh()

    def go_back(self) -> None:
        """Back from stock or settings: to the started task, else the list."""
        if self.session is None:
            self.go("signin")
        elif self.session.flow is not None:
            self.go("pick")
        else:
            self.go("tasks")

    def _follow_session(self) -> None:
        if self.session is not None:
            self.sm.current = {"pick": "pick", "stock": "stock"}.get(self.session.mode, "tasks")

    # --- actions -------------------------------------------------------------------

    def handle_input(self, result: Scan | TypedText) -> None:
        """Every scan or typed entry, routed by the screen the picker is on."""
        current = self.sm.current
        if current == "settings":
            return  # keys there are typed into the fields
        if current == "signin":
            if isinstance(result, Scan):
                self.screen("signin").ids.operator_input.text = ""
                self._signed_in_or_told(self.signin.scanned(result))
            elif not self.screen("signin").ids.operator_input.focus:
                self.sign_in_typed(result.text)
            return
        if self.session is None:
            return
        if isinstance(result, TypedText):
            self.session.typed(result.text)
        else:
            self.session.scan(result)
        self._after_action()

    def sign_in_typed(self, text: str) -> None:
        """The operator id typed on the sign-in screen."""
        self._signed_in_or_told(self.signin.typed(text))

    def _signed_in_or_told(self, outcome: SignInResult) -> None:
        self._ring(outcome.feedback)
        if outcome.operator:
            self.sign_in(outcome.operator)
        else:
            self.screen("signin").show(outcome.feedback.message, False)

    def sign_in(self, operator: str) -> None:
        """Open a picking session for ``operator`` and show the task list."""
        if self.store is None:
            return
        if self.session is None or self.session.operator != operator:
            self.session = PickerSession(
                self.store,
                operator,
                self.clock,
                feedback=self.feedback,
                last_sync=lambda: self.sync.status.last_success_at if self.sync else None,
                on_tote=self.push.announce_tote if self.push is not None else None,
                claims=self.push,
            )
        self.screen("signin").show("", True)
        self.screen("signin").ids.operator_input.text = ""
        if self.push is not None:
            self.push.set_available(True, operator)  # hot picks may come now
        self.go("tasks")

    def sign_out(self) -> None:
        """End the session; back to the badge prompt. Units picked on a started task
        and in no tote yet are dropped in one first (the pick screen asks for it)."""
        if self.session is not None and not self._signing_out:
            prompt = self.session.hand_over()
            if prompt is not None:
                self._signing_out = True
                self._after_action()
                return
        self._signing_out = False
        self.session = None
        self.signin.sign_out()
        if self.push is not None:
            self.push.set_available(False)  # the dispatcher gives our tasks to others
        self.go("signin")

    def start_task(self, task_id: str | None = None) -> Feedback | None:
        """Open a task on the pick screen (a tap on its row)."""
        if self.session is None:
            return None
        self._signing_out = False  # the picker went on working instead
        feedback = self.session.start(task_id)
        if not feedback.ok and self.sync is not None:
            self.sync.wake()  # a pushed task may not be pulled yet
        self._after_action()
        return feedback

    def enter_qty(self, qty: int) -> None:
        """The Confirm button or a typed quantity."""
        if self.session is not None:
            self.session.enter_qty(int(qty))
            self._after_action()

    def start_move(self) -> None:
        """The stock screen's Move button: the chosen bin's units go to the next bin
        scanned."""
        if self.session is not None:
            self.session.start_move()
            self._after_action()

    def start_receive(self) -> None:
        """The stock screen's Receive button: the next quantity is put into the chosen
        bin."""
        if self.session is not None:
            self.session.start_receive()
            self._after_action()

    def start_damaged(self) -> None:
        """The stock screen's Damaged button: the next quantity is written off from the
        chosen bin."""
        if self.session is not None:
            self.session.start_damaged()
            self._after_action()

    def short(self, reason: str) -> None:
        """A short-pick reason button."""
        if self.session is not None:
            self.session.short(reason)
            self._after_action()

    def task_pushed(self, task: dict[str, Any]) -> None:
        """A hot pick pushed to this handheld: banner, and pull it now."""
        if self.sync is not None:
            self.sync.wake()
        if self.session is not None and self.session.pushed_task(task):
            self.refresh()

    def open_banner_task(self) -> None:
        """A tap on the banner opens the pushed task."""
        if self.session is None:
            return
        task_id = self.session.tasks.banner()[2]
        self.session.tasks.dismiss_banner()
        self.start_task(task_id or None)

    def save_settings(self, central_url: str, token: str, scanner: str) -> tuple[bool, str]:
        """Check and write the settings screen's fields; apply them at once."""
        try:
            saved = save_edits(self.settings.path, central_url, token, scanner)
        except SyncError as exc:
            # The screen has room for the key and the reason, not the file's full path.
            return False, str(exc).removeprefix(f"{self.settings.path}: ")
        changed_sync = (saved.device.central_url, saved.device.token) != (
            self.settings.device.central_url,
            self.settings.device.token,
        )
        self.settings = saved
        if changed_sync and self.use_sync:
            if self.sync is not None:
                self.sync.close()
            self.sync = self._make_sync(saved.device.central_url, saved.device.token)
            self.sync.start()
        if self.scanner is None or self.scanner.source != saved.scanner:
            self._start_scanner(saved.scanner)
        if self.scanner_error:
            return False, f"Saved, but {self.scanner_error}"
        return True, "Saved"

    def _after_action(self) -> None:
        if self._signing_out and self.session is not None and self.session.flow is None:
            self.sign_out()  # the handed-over task's tote is scanned
            return
        self._follow_session()
        self.refresh()

    def _ring(self, feedback: Feedback) -> None:
        if self.feedback is None:
            return
        if feedback.ok:
            self.feedback.on_ok()
        else:
            self.feedback.on_error()

    def _tidy_claims(self) -> None:
        """Clear the claims on tasks central has closed since (see ``domain.claims``)."""
        if self.session is not None:
            self.session.tidy_claims()

    # --- refresh -------------------------------------------------------------------

    def refresh(self) -> None:
        """Redraw the status bar, the banner and the current screen from the presenters."""
        if self.root is None or self.status is None or self.store is None:
            return
        operator = self.session.operator if self.session else ""
        status = self.status.view(operator)
        bar = self.root.ids.status_bar
        bar.online = status.online
        bar.text = f"{status.text}  |  {operator}" if operator else status.text
        if self.scanner_error:
            bar.text = f"{bar.text}\n{self.scanner_error}"
        session = self.session
        banner = self.root.ids.banner
        if session is None:
            banner.text = ""
            return
        view = session.current_view()
        if isinstance(view, TaskListView):
            banner.text, banner.level = view.banner, view.banner_level or "P1"
            screen = self.screen("tasks")
            screen.show(view, operator)
            screen.message, screen.message_ok = session.last.message, session.last.ok
            if view.rows and not self._ready:
                self._ready = True
                if self.on_ready is not None:
                    self.on_ready(self)
        else:
            text, level, _task = session.tasks.banner()
            banner.text, banner.level = text, level or "P1"
        if isinstance(view, PickView):
            self.screen("pick").show(view)
        elif isinstance(view, StockView):
            self.screen("stock").show(view)
