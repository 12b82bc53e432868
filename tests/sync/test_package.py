"""The ``sync`` package's names load on first use."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import sync


def test_every_exported_name_is_the_object_of_its_module() -> None:
    for name in sync.__all__:
        module = importlib.import_module(sync._WHERE[name])
        assert getattr(sync, name) is getattr(module, name)
    assert set(sync.__all__) <= set(dir(sync))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        sync.Nope  # noqa: B018


def test_reading_the_settings_does_not_load_the_store_or_the_client() -> None:
    # What the central server imports of this package (a fresh interpreter: this one
    # has loaded everything already).
    code = (
        "import sys, sync.settings, sync.ids; "
        "print(sorted(m for m in ('sync.store', 'sync.client', 'sqlite_utils') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
