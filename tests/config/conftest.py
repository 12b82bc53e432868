"""Fixtures: a copy of the default site in a temp folder that a test may break."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from config.loader import default_site_path


@pytest.fixture
def site_copy(tmp_path: Path) -> Path:
    """``site.toml`` and ``masterdata.toml`` copied into ``tmp_path``; returns site.toml."""
    source = default_site_path().parent
    for name in ("site.toml", "masterdata.toml"):
        shutil.copy(source / name, tmp_path / name)
    return tmp_path / "site.toml"


@pytest.fixture
def edit(site_copy: Path) -> Callable[[str, str, str], Path]:
    """Replace text once in one of the copied files (it must be there)."""

    def replace(name: str, old: str, new: str) -> Path:
        path = site_copy.parent / name
        text = path.read_text(encoding="utf-8")
        if old not in text:
            raise AssertionError(f"{old!r} not in {name}")
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        return site_copy

    return replace
