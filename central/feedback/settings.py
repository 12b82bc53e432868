"""Notification settings from TOML (default: ``config/default/notifications.toml``):
which events notify, webhook endpoints, SMTP, e-mail templates, retries, the risk
monitor interval and the inquiry limits."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from central.feedback import FeedbackError
from domain.models import ExceptionKind, OrderStatus
from sync.settings import did_you_mean

ENV_PATH = "RUSHLINE_NOTIFICATIONS"
# Timeline events written for carrier tracking events that may notify the customer.
CARRIER_TIMELINE_EVENTS = ("picked_up", "delivery_delayed", "delivery_failed")
FILE_NAME = "notifications.toml"


class NotificationConfigError(FeedbackError):
    """The notifications file is missing, not TOML, or a field is wrong (named)."""


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    """A receiver of signed JSON notifications; ``events`` empty means every event."""

    name: str
    url: str
    secret: str
    events: frozenset[str] = frozenset()

    def wants(self, event: str) -> bool:
        """True when this endpoint subscribes to ``event`` (or its family, e.g. ``status``)."""
        return not self.events or "*" in self.events or _matches(event, self.events)


@dataclass(frozen=True)
class SmtpSettings:
    """Where e-mail goes out (smtplib)."""

    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "Rushline <noreply@rushline.invalid>"
    starttls: bool = False
    username: str = ""
    password: str = ""
    timeout_seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class EmailTemplate:
    """Subject (a Jinja2 string) and body template file (in ``central/templates``)."""

    subject: str
    template: str


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff for failed deliveries."""

    max_attempts: int = 8
    base_seconds: float = 2.0
    cap_seconds: float = 300.0
    timeout_seconds: float = 5.0

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt."""
        return float(min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempts - 1)))


def _default_templates() -> dict[str, EmailTemplate]:
    return {
        "status": EmailTemplate("Your order {{ order_id }}: {{ headline }}", "email_status.txt"),
        "exception": EmailTemplate(
            "Your order {{ order_id }}: we are sorting out a problem", "email_status.txt"
        ),
        "at_risk": EmailTemplate("Your order {{ order_id }} may be delayed", "email_at_risk.txt"),
        "inquiry": EmailTemplate(
            "Re: your question about order {{ order_id }}", "email_answer.txt"
        ),
        "carrier": EmailTemplate(
            "Your order {{ order_id }}: news from the carrier", "email_status.txt"
        ),
    }


@dataclass(frozen=True)
class NotificationSettings:
    """Everything the notification outbox, worker, risk monitor and inquiries read."""

    status_events: frozenset[str] = frozenset({"shipped", "delivered", "cancelled"})
    exception_events: frozenset[str] = frozenset(
        {"short_pick", "stock_shortage", "damaged", "label_failure"}
    )
    carrier_events: frozenset[str] = frozenset({"delivery_delayed", "delivery_failed"})
    at_risk: bool = True
    email_events: frozenset[str] = frozenset({"*"})
    poll_seconds: float = 1.0
    risk_interval_seconds: float = 60.0
    public_base_url: str = "http://127.0.0.1:8700"
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    webhooks: tuple[WebhookEndpoint, ...] = ()
    smtp: SmtpSettings | None = None
    templates: Mapping[str, EmailTemplate] = field(default_factory=_default_templates)
    inquiry_max_chars: int = 500
    inquiry_per_hour: int = 3

    def wants_email(self, event: str) -> bool:
        """True when ``event`` goes to the customer by e-mail."""
        return self.smtp is not None and (
            "*" in self.email_events or _matches(event, self.email_events)
        )

    def template_for(self, event: str) -> EmailTemplate:
        """The e-mail template of ``event`` (exact name first, then its family)."""
        family = event.split(".", 1)[0]
        template = self.templates.get(event) or self.templates.get(family)
        if template is None:
            raise NotificationConfigError(f"no e-mail template for event {event!r}")
        return template

    def tracking_url(self, token: str) -> str:
        """The customer's tracking page link."""
        return f"{self.public_base_url.rstrip('/')}/track/{token}"


def _matches(event: str, names: frozenset[str]) -> bool:
    return event in names or event.split(".", 1)[0] in names


class _Reader:
    """Typed access to one TOML table with errors naming file and field. It remembers
    the keys read, so a key nobody reads (a typo) is an error too (``check_unknown``)."""

    def __init__(self, source: str, table: Mapping[str, Any], prefix: str = "") -> None:
        self.source, self.table, self.prefix = source, table, prefix
        self.read: set[str] = set()
        self.children: list[_Reader] = []

    def fail(self, key: str, message: str) -> NotificationConfigError:
        """An error naming the file and the field."""
        return NotificationConfigError(f"{self.source}: {self.prefix}{key}: {message}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        """The value of ``key`` (or ``default``), checked against ``kind``."""
        self.read.add(key)
        value = self.table.get(key, default)
        if isinstance(value, bool) and kind in (int, float, (int, float)):
            raise self.fail(key, "must be a number, not true/false")
        if not isinstance(value, kind):
            raise self.fail(key, f"has the wrong type ({type(value).__name__})")
        return value

    def number(self, key: str, default: float, minimum: float = 0.0) -> float:
        """A number no smaller than ``minimum``."""
        value = float(self.get(key, (int, float), default))
        if value < minimum:
            raise self.fail(key, f"must be at least {minimum:g}, got {value:g}")
        return value

    def names(self, key: str, default: frozenset[str], allowed: set[str] | None) -> frozenset[str]:
        """A list of names, each one of ``allowed`` (or ``*``) when given."""
        value = self.get(key, list, sorted(default))
        if not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings")
        if allowed is not None:
            unknown = sorted(set(value) - allowed - {"*"})
            if unknown:
                raise self.fail(key, f"unknown {', '.join(unknown)}")
        return frozenset(value)

    def sub(self, key: str) -> _Reader:
        """The reader of a nested table."""
        return self.child(f"{key}.", self.get(key, dict, {}))

    def child(self, prefix: str, table: Mapping[str, Any]) -> _Reader:
        """The reader of a table inside this one (``prefix`` names it in errors)."""
        reader = _Reader(self.source, table, f"{self.prefix}{prefix}")
        self.children.append(reader)
        return reader

    def check_unknown(self) -> None:
        """An error naming the first key no setting reads, here or in a nested table."""
        for key in self.table:
            if key not in self.read:
                raise self.fail(key, f"unknown key{did_you_mean(key, self.read)}")
        for reader in self.children:
            reader.check_unknown()


def _secret(reader: _Reader, key: str) -> str:
    """A secret given inline (``key``) or by environment variable name (``key_env``)."""
    env_name = reader.get(f"{key}_env", str, "")
    if env_name:
        value = os.environ.get(env_name)
        if value is None:
            raise reader.fail(f"{key}_env", f"environment variable {env_name} is not set")
        return value
    return str(reader.get(key, str, ""))


def parse_settings(
    data: Mapping[str, Any], source: str = "<notifications>"
) -> NotificationSettings:
    """Settings from parsed TOML; NotificationConfigError names the bad field."""
    top = _Reader(source, data)
    notify, risk, retry, inquiry = (
        top.sub("notifications"),
        top.sub("risk"),
        top.sub("retry"),
        top.sub("inquiries"),
    )
    defaults = NotificationSettings()
    statuses = {s.value for s in OrderStatus}
    exceptions = {e.value for e in ExceptionKind}
    webhooks = []
    hooks = top.get("webhooks", list, [])
    for i, raw in enumerate(hooks):
        if not isinstance(raw, dict):
            raise top.fail(f"webhooks[{i}]", "must be a table")
        hook = top.child(f"webhooks[{i}].", raw)
        url = hook.get("url", str, "")
        if not url.startswith(("http://", "https://")):
            raise hook.fail("url", f"must be an http(s) URL, got {url!r}")
        secret = _secret(hook, "secret")
        if len(secret) < 16:
            raise hook.fail("secret", "must be at least 16 characters")
        webhooks.append(
            WebhookEndpoint(
                name=hook.get("name", str, f"webhook-{i + 1}"),
                url=url,
                secret=secret,
                events=hook.names("events", frozenset(), None),
            )
        )
    if len({w.name for w in webhooks}) != len(webhooks):
        raise top.fail("webhooks", "endpoint names must be unique")
    smtp_table = top.sub("smtp")
    enabled = smtp_table.get("enabled", bool, False)
    # Checked even while disabled: switching e-mail on must not reveal an old mistake.
    smtp_settings = SmtpSettings(
        host=smtp_table.get("host", str, "127.0.0.1"),
        port=int(smtp_table.number("port", 25, 1)),
        sender=smtp_table.get("sender", str, SmtpSettings.sender),
        starttls=smtp_table.get("starttls", bool, False),
        username=smtp_table.get("username", str, ""),
        password=_secret(smtp_table, "password") if enabled else "",
        timeout_seconds=smtp_table.number("timeout_seconds", 10.0, 0.1),
    )
    if not enabled:
        smtp_table.read |= {"password", "password_env"}  # its environment may be unset
    smtp = smtp_settings if enabled else None
    templates = dict(_default_templates())
    for event, raw in top.get("templates", dict, {}).items():
        if not isinstance(raw, dict):
            raise top.fail(f"templates.{event}", "must be a table")
        tpl = top.child(f"templates.{event}.", raw)
        templates[event] = EmailTemplate(
            subject=tpl.get("subject", str, templates.get(event, templates["status"]).subject),
            template=tpl.get("template", str, templates.get(event, templates["status"]).template),
        )
    settings = NotificationSettings(
        status_events=notify.names("status_events", defaults.status_events, statuses),
        exception_events=notify.names("exception_events", defaults.exception_events, exceptions),
        carrier_events=notify.names(
            "carrier_events", defaults.carrier_events, set(CARRIER_TIMELINE_EVENTS)
        ),
        at_risk=notify.get("at_risk", bool, defaults.at_risk),
        email_events=notify.names("email_events", defaults.email_events, None),
        poll_seconds=notify.number("poll_seconds", defaults.poll_seconds, 0.05),
        public_base_url=notify.get("public_base_url", str, defaults.public_base_url),
        risk_interval_seconds=risk.number("interval_seconds", defaults.risk_interval_seconds, 0),
        retry=RetryPolicy(
            max_attempts=int(retry.number("max_attempts", RetryPolicy.max_attempts, 1)),
            base_seconds=retry.number("base_seconds", RetryPolicy.base_seconds, 0.01),
            cap_seconds=retry.number("cap_seconds", RetryPolicy.cap_seconds, 0.01),
            timeout_seconds=retry.number("timeout_seconds", RetryPolicy.timeout_seconds, 0.1),
        ),
        webhooks=tuple(webhooks),
        smtp=smtp,
        templates=templates,
        inquiry_max_chars=int(inquiry.number("max_chars", defaults.inquiry_max_chars, 1)),
        inquiry_per_hour=int(inquiry.number("per_hour", defaults.inquiry_per_hour, 1)),
    )
    top.check_unknown()
    return settings


def default_path() -> Path:
    """The file used when none is named: ``$RUSHLINE_NOTIFICATIONS``, else
    ``notifications.toml`` in ``$RUSHLINE_DATA_DIR`` when present, else the shipped one."""
    env = os.environ.get(ENV_PATH)
    if env:
        return Path(env).expanduser()
    data_dir = os.environ.get("RUSHLINE_DATA_DIR")
    if data_dir and (Path(data_dir).expanduser() / FILE_NAME).exists():
        return Path(data_dir).expanduser() / FILE_NAME
    return Path(str(resources.files("config.default") / FILE_NAME))


def load_settings(path: str | Path | None = None) -> NotificationSettings:
    """Settings from ``path`` (default: ``default_path()``)."""
    target = Path(path) if path is not None else default_path()
    try:
        data = tomllib.loads(target.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NotificationConfigError(f"{target}: cannot read: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise NotificationConfigError(f"{target}: not valid TOML: {exc}") from exc
    return parse_settings(data, str(target))
