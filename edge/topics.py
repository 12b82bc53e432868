"""Floor-bus topics (DESIGN.md §4.3): builders and a parser, no I/O.

Every topic is ``rushline/v1/{site}/...``. Ids (site, device, conveyor, printer, order)
are one topic level: non-empty, without ``/``, ``+``, ``#`` or NUL.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.errors import BusError

ROOT = "rushline/v1"

# The kinds of topic, as named by ``parse``; the tuple is the levels after the site.
KINDS: dict[str, tuple[str, ...]] = {
    "dev_state": ("dev", "*", "state"),
    "dev_scan": ("dev", "*", "scan"),
    "dev_display": ("dev", "*", "display"),
    "dev_command": ("dev", "*", "command"),
    "conveyor_divert": ("conveyor", "*", "divert"),
    "conveyor_event": ("conveyor", "*", "event"),
    "printer_job": ("printer", "*", "job"),
    "printer_status": ("printer", "*", "status"),
    "order_event": ("order", "*", "event"),
    "task": ("task", "*"),
    "claim": ("claim", "*", "*"),
    "central_state": ("central", "state"),
}


def _level(name: str, value: str) -> str:
    if not isinstance(value, str) or not value or any(c in value for c in "/+#\0"):
        raise BusError(f"topic {name}: {value!r} is not a valid topic level")
    return value


def _build(site: str, kind: str, ident: str | None = None) -> str:
    levels = [ROOT, _level("site", site)]
    for part in KINDS[kind]:
        levels.append(_level("id", ident) if part == "*" and ident is not None else part)
    return "/".join(levels)


def prefix(site: str) -> str:
    """``rushline/v1/{site}``."""
    return f"{ROOT}/{_level('site', site)}"


def dev_state(site: str, device_id: str) -> str:
    """Retained birth/last-will state of a device."""
    return _build(site, "dev_state", device_id)


def dev_scan(site: str, device_id: str) -> str:
    """A decoded scan from a device."""
    return _build(site, "dev_scan", device_id)


def dev_display(site: str, device_id: str) -> str:
    """What a station's screen shows (not retained: the latest message replaces it)."""
    return _build(site, "dev_display", device_id)


def dev_command(site: str, device_id: str) -> str:
    """Commands for one station (e.g. the dock's ``close_pickup``)."""
    return _build(site, "dev_command", device_id)


def conveyor_divert(site: str, conveyor_id: str) -> str:
    """Divert commands for a conveyor."""
    return _build(site, "conveyor_divert", conveyor_id)


def conveyor_event(site: str, conveyor_id: str) -> str:
    """Conveyor events: inducted, diverted, missed, fault."""
    return _build(site, "conveyor_event", conveyor_id)


def printer_job(site: str, printer_id: str) -> str:
    """Print jobs sent to a printer."""
    return _build(site, "printer_job", printer_id)


def printer_status(site: str, printer_id: str) -> str:
    """Retained printer status."""
    return _build(site, "printer_status", printer_id)


def order_event(site: str, order_id: str) -> str:
    """Status and priority changes of one order."""
    return _build(site, "order_event", order_id)


def task(site: str, device_id: str) -> str:
    """Urgent pick tasks pushed to one handheld."""
    return _build(site, "task", device_id)


def claim(site: str, task_id: str, device_id: str) -> str:
    """A handheld's retained claim on a task (see ``domain.claims``)."""
    return "/".join([prefix(site), "claim", _level("id", task_id), _level("id", device_id)])


def central_state(site: str) -> str:
    """Retained {reachable} of the central server, as an agent sees it."""
    return _build(site, "central_state")


def any_of(site: str, kind: str) -> str:
    """A subscription filter for every topic of ``kind`` at ``site`` (``+`` for the id)."""
    if kind not in KINDS:
        raise BusError(f"unknown topic kind {kind!r} (known: {', '.join(KINDS)})")
    return "/".join([prefix(site), *("+" if p == "*" else p for p in KINDS[kind])])


@dataclass(frozen=True)
class Topic:
    """A parsed floor-bus topic: its ``kind`` (a key of ``KINDS``), ``site``, ``id`` (the
    first id level) and ``sub`` (a second one: the device of a ``claim``)."""

    kind: str
    site: str
    id: str | None = None
    sub: str | None = None


def parse(topic: str) -> Topic:
    """Parse a floor-bus topic; ``BusError`` when it is not one of §4.3."""
    parts = topic.split("/")
    if len(parts) < 4 or "/".join(parts[:2]) != ROOT or not parts[2]:
        raise BusError(f"topic {topic!r} is not under {ROOT}/<site>/")
    rest = parts[3:]
    for kind, shape in KINDS.items():
        if len(shape) != len(rest):
            continue
        idents: list[str] = []
        for want, got in zip(shape, rest, strict=True):
            if want == "*":
                if not got or any(c in got for c in "+#"):
                    break
                idents.append(got)
            elif want != got:
                break
        else:
            first = idents[0] if idents else None
            return Topic(kind, parts[2], first, idents[1] if len(idents) > 1 else None)
    raise BusError(f"topic {topic!r} is not a floor-bus topic (DESIGN.md §4.3)")
