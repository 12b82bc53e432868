"""The edge package's errors: one root, ``EdgeError``."""

from __future__ import annotations


class EdgeError(Exception):
    """Root of every error raised by ``edge``."""


class AgentSettingsError(EdgeError):
    """An agent settings file is missing, unreadable or has a bad key (named, one line)."""


class BusError(EdgeError):
    """The MQTT bus could not be set up or was used wrongly (bad topic, closed bus)."""
