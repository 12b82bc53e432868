"""Android packaging helpers: ``prepare`` lays out the source folder buildozer packs
(``main.py`` at its root plus the packages the handheld needs); ``app_main`` is what
that ``main.py`` runs on the device.

    python -m handheld_app.android build/android && buildozer android debug
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

PACKAGES = ("handheld_app", "sync", "domain", "devices")
MAIN_PY = '''"""Rushline handheld on Android (made by handheld_app.android.prepare)."""
from handheld_app.android import app_main

app_main()
'''


def prepare(dest: Path, repo: Path | None = None) -> Path:
    """Copy the handheld's packages and the default settings into ``dest`` with a
    ``main.py``; returns ``dest``. An existing ``dest`` is replaced."""
    repo = repo or Path(__file__).resolve().parents[1]
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.db*")
    for package in PACKAGES:
        shutil.copytree(repo / package, dest / package, ignore=ignore)
    config = dest / "config" / "default"
    config.mkdir(parents=True)
    (dest / "config" / "__init__.py").write_text("")
    (config / "__init__.py").write_text("")
    shutil.copy2(repo / "config" / "default" / "handheld.toml", config / "handheld.toml")
    (dest / "main.py").write_text(MAIN_PY)
    return dest


def app_main() -> None:
    """Run the app with its settings in the app's private storage (copied from the
    packaged default on first start; edit it on the settings screen)."""
    private = Path(os.environ.get("ANDROID_PRIVATE", "."))
    settings_path = private / "handheld.toml"
    if not settings_path.exists():
        text = (Path(__file__).resolve().parents[1] / "config/default/handheld.toml").read_text()
        settings_path.write_text(text.replace("~/.local/share/rushline/", ""))
    from handheld_app.launch import main
    from handheld_app.settings import load_handheld_settings

    sys.exit(main(load_handheld_settings(settings_path)))


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("build/android")
    print(prepare(target))
