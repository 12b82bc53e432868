"""Presenters: the handheld's logic as plain Python returning view-models (no Kivy)."""

from handheld_app.presenters.feedback import Feedback, FeedbackPort, SilentFeedback
from handheld_app.presenters.pick import PickFlow, PickView, ShortReason, Step
from handheld_app.presenters.progress import TaskProgress
from handheld_app.presenters.signin import SignInPresenter, SignInResult
from handheld_app.presenters.status import StatusPresenter, StatusView
from handheld_app.presenters.stock import StockPresenter, StockView
from handheld_app.presenters.tasks import TaskListPresenter, TaskListView, TaskRow

__all__ = [
    "Feedback",
    "FeedbackPort",
    "PickFlow",
    "PickView",
    "ShortReason",
    "SignInPresenter",
    "SignInResult",
    "SilentFeedback",
    "StatusPresenter",
    "StatusView",
    "Step",
    "StockPresenter",
    "StockView",
    "TaskListPresenter",
    "TaskListView",
    "TaskProgress",
    "TaskRow",
]
