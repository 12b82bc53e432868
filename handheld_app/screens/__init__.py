"""Kivy screens: thin views that show presenter view-models and forward taps to the app."""

from handheld_app.screens.pick import PickScreen
from handheld_app.screens.settings import SettingsScreen
from handheld_app.screens.signin import SignInScreen
from handheld_app.screens.stock import StockScreen
from handheld_app.screens.tasks import TaskRowWidget, TasksScreen

__all__ = [
    "PickScreen",
    "SettingsScreen",
    "SignInScreen",
    "StockScreen",
    "TaskRowWidget",
    "TasksScreen",
]
