"""Suite-wide setup: Kivy offscreen in a temp home, shared fixtures."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
os.environ.setdefault("KIVY_NO_FILELOG", "1")
os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="rushline-kivy-"))

pytest_plugins = [
    "tests.support.fixtures_broker",
    "tests.support.fixtures_central",
]
