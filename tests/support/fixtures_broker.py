"""Pytest fixtures: a Mosquitto broker started and stopped by the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.broker import Broker


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Broker]:
    """An anonymous Mosquitto on a free loopback port."""
    broker = Broker(tmp_path / "broker").start()
    try:
        yield broker
    finally:
        broker.stop()
