"""Server settings: limits, background timing and the site rules (priority, cartons,
carrier choice) loaded from the site file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from central.auth import CACHE_SECONDS
from domain.models import Carton


def _default_rules() -> Any:
    try:
        from domain.priority import PriorityRules
    except ImportError:
        from domain.priority_rules import PriorityRules
    return PriorityRules()


@dataclass(frozen=True)
class ServerSettings:
    """Everything the app needs beyond its store and clock."""

    rules: Any = field(default_factory=_default_rules)  # domain PriorityRules
    cartons: tuple[Carton, ...] = ()
    carrier_threshold: float = 0.9
    reprioritise_seconds: float = 60.0
    batch_size: int = 8
    max_push_ops: int = 1000
    max_push_bytes: int = 2 * 1024 * 1024
    pull_limit_max: int = 5000
    # How long a top-up waits for units another handheld picked on a task taken over
    # (``tote.assigned``'s ``elsewhere``) before sending someone for them after all.
    handover_wait_s: float = 1800.0
    # How long a server trusts a token it checked: a revoked token stops within this.
    token_cache_seconds: float = CACHE_SECONDS


class SettingsError(Exception):
    """The site file could not be loaded."""


def load_settings(config: str | Path | None = None, **overrides: Any) -> ServerSettings:
    """Settings from the site file (default: the shipped one) when the config loader is
    available and the file exists; otherwise built-in defaults."""
    values: dict[str, Any] = {}
    try:
        from config.loader import default_site_path, load_site
    except ImportError:
        load_site = None  # type: ignore[assignment]
    if load_site is not None:
        path = Path(config) if config is not None else default_site_path()
        if config is not None or path.exists():
            try:
                site = load_site(path)
            except Exception as exc:  # ConfigError names file and field
                raise SettingsError(str(exc)) from exc
            if not isinstance(site.priority, dict) and hasattr(site.priority, "level_for"):
                values["rules"] = site.priority
            values["cartons"] = tuple(site.cartons)
            values["carrier_threshold"] = site.carrier_choice.threshold
            values["batch_size"] = site.demo.batch_size
            values["handover_wait_s"] = site.central.handover_wait_minutes * 60
    elif config is not None:
        raise SettingsError(f"{config}: the site loader is not available")
    values.update({k: v for k, v in overrides.items() if v is not None})
    return ServerSettings(**values)
