"""The device side of sync: the offline store (``LocalStore``) and the client that keeps
it in step with the central server (``SyncClient``). See sync/store.py for the model."""

from sync.client import SyncClient, SyncRound, SyncStatus
from sync.errors import InvalidOp, SettingsError, StoreClosed, SyncError
from sync.ids import new_op_id, uuid7
from sync.settings import DeviceSettings, load_device_settings
from sync.store import LocalStore, Op

__all__ = [
    "DeviceSettings",
    "InvalidOp",
    "LocalStore",
    "Op",
    "SettingsError",
    "StoreClosed",
    "SyncClient",
    "SyncError",
    "SyncRound",
    "SyncStatus",
    "load_device_settings",
    "new_op_id",
    "uuid7",
]
