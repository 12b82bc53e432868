"""Handheld tests: Kivy renders offscreen (set before anything imports kivy)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
os.environ.setdefault("KIVY_WINDOW", "sdl2")

from sync.store import LocalStore
from tests.handheld_app.floor import Clock, seeded_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalStore]:
    """A device store seeded with the small floor."""
    with seeded_store(tmp_path / "hh-01.db") as s:
        yield s


@pytest.fixture
def clock() -> Clock:
    """A settable clock at the floor's 'now'."""
    return Clock()
