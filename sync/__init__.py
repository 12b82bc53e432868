"""The device side of sync: the offline store (``LocalStore``) and the client that keeps
it in step with the central server (``SyncClient``). See sync/store.py for the model.

The names below are loaded on first use, so a process that needs only a small part of
the package (the central server reads ``sync.settings`` and ``sync.ids``) does not load
the device's store and HTTP client with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers see; at run time ``__getattr__`` loads them
    from sync.client import SyncClient as SyncClient
    from sync.client import SyncRound as SyncRound
    from sync.client import SyncStatus as SyncStatus
    from sync.errors import InvalidOp as InvalidOp
    from sync.errors import SettingsError as SettingsError
    from sync.errors import StoreClosed as StoreClosed
    from sync.errors import SyncError as SyncError
    from sync.ids import new_op_id as new_op_id
    from sync.ids import uuid7 as uuid7
    from sync.settings import DeviceSettings as DeviceSettings
    from sync.settings import load_device_settings as load_device_settings
    from sync.store import LocalStore as LocalStore
    from sync.store import Op as Op

_WHERE = {
    "SyncClient": "sync.client",
    "SyncRound": "sync.client",
    "SyncStatus": "sync.client",
    "InvalidOp": "sync.errors",
    "SettingsError": "sync.errors",
    "StoreClosed": "sync.errors",
    "SyncError": "sync.errors",
    "new_op_id": "sync.ids",
    "uuid7": "sync.ids",
    "DeviceSettings": "sync.settings",
    "load_device_settings": "sync.settings",
    "LocalStore": "sync.store",
    "Op": "sync.store",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'sync' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
