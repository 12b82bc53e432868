"""Task list screen: one coloured row per task, most urgent first; reasons on tap."""

from __future__ import annotations

from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import Screen

from handheld_app.presenters.tasks import TaskListView, TaskRow

# A picker works the top of the list; rebuilding hundreds of rows every second (the
# countdowns) would cost more than it shows.
MAX_ROWS = 30


def row_text(row: TaskRow) -> str:
    """The two lines of a task row (Kivy markup)."""
    late = "[color=#ffff00]" if row.late else ""
    end = "[/color]" if row.late else ""
    lines = "line" if row.lines_left == 1 else "lines"
    units = "unit" if row.units_left == 1 else "units"
    what = f"{row.lines_left} {lines}, {row.units_left} {units}"
    return (
        f"[b]{row.level}  {row.title}[/b]    {late}[b]{row.countdown}[/b]{end}\n"
        f"{what}  ·  start {row.first_location}"
    )


class TaskRowWidget(BoxLayout):  # type: ignore[misc]
    """One task: tap to start it, "Why?" for its priority reasons."""

    task_id = StringProperty("")
    level = StringProperty("P4")
    text = StringProperty("")
    screen = ObjectProperty(None)


class TasksScreen(Screen):  # type: ignore[misc]
    """The list; rebuilt only when its rows change."""

    title = StringProperty("Tasks")
    reasons = StringProperty("")
    empty = StringProperty("")
    message = StringProperty("")
    message_ok = BooleanProperty(True)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._rows: tuple[TaskRow, ...] | None = None
        self._reasons_for = ""

    def show(self, view: TaskListView, operator: str) -> None:
        """Show the list view-model."""
        self.title = f"Tasks · {operator}"
        more = len(view.rows) - MAX_ROWS
        self.empty = f"+{more} more tasks" if more > 0 else "" if view.rows else "No open tasks"
        shown = view.rows[:MAX_ROWS]
        if shown != self._rows:
            self._rows = shown
            grid = self.ids.task_list
            grid.clear_widgets()
            for row in shown:
                grid.add_widget(
                    TaskRowWidget(
                        task_id=row.task_id, level=row.level, text=row_text(row), screen=self
                    )
                )
        if self._reasons_for:
            self._set_reasons(self._reasons_for)

    def show_reasons(self, task_id: str) -> None:
        """Toggle the priority reasons of one task above the list."""
        self._reasons_for = "" if self._reasons_for == task_id else task_id
        self._set_reasons(self._reasons_for)

    def _set_reasons(self, task_id: str) -> None:
        row = next((r for r in self._rows or () if r.task_id == task_id), None)
        if row is None:
            self._reasons_for = ""
            self.reasons = ""
            return
        why = "\n".join(f"• {r}" for r in row.reasons) or "• no reasons recorded"
        self.reasons = f"{row.level} {row.title}:\n{why}"
