"""The sync package's errors: one root, ``SyncError``."""

from __future__ import annotations


class SyncError(Exception):
    """Root of every error raised by ``sync``."""


class InvalidOp(SyncError):
    """An operation was refused before anything changed (unknown kind, missing or bad field).

    ``field`` names the offending field (``"kind"`` for an unknown kind)."""

    def __init__(self, kind: str, field: str, message: str) -> None:
        super().__init__(f"{kind}: {field}: {message}")
        self.kind = kind
        self.field = field


class StoreClosed(SyncError):
    """The local store was used after ``close()``."""


class SettingsError(SyncError):
    """A device settings file is missing, unreadable or has a bad key (named)."""
