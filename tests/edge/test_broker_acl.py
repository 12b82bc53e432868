"""Broker files made by `rushline broker passwords`, and the ACL enforced by Mosquitto."""

from __future__ import annotations

import stat
import subprocess
import threading
from dataclasses import replace

import pytest

from config.broker.generate import BrokerDevice, acl_rules, devices_from_list, hash_password
from config.errors import ConfigError
from edge import topics
from edge.bus import Bus, BusMessage
from rushline.cli import main
from tests.support.broker import MOSQUITTO
from tests.support.waiting import free_port, port_open, wait_until

SITE = "DE-FRA"


def test_hash_is_mosquitto_pbkdf2_format() -> None:
    text = hash_password("secret", salt=b"0123456789ab", iterations=101)
    assert text.startswith("$7$101$MDEyMzQ1Njc4OWFi$")
    assert len(text.split("$")[4]) == 88  # base64 of a 64-byte SHA-512 digest


def test_roles_own_only_their_station_topics() -> None:
    sorter = acl_rules(BrokerDevice("sorter-1", "sorter", conveyor="conveyor-1"), SITE)
    assert "topic readwrite rushline/v1/DE-FRA/conveyor/conveyor-1/#" in sorter
    assert not any("task" in rule or "printer" in rule for rule in sorter)
    assert "topic write rushline/v1/DE-FRA/order/+/event" not in sorter
    for role in ("pack", "dock"):
        station = acl_rules(BrokerDevice(f"{role}-1", role, printer=f"printer-{role}-1"), SITE)
        assert f"topic readwrite rushline/v1/DE-FRA/printer/printer-{role}-1/#" in station
        # Stations announce packed/shipped orders themselves (central may be away).
        assert "topic write rushline/v1/DE-FRA/order/+/event" in station
        assert not any("conveyor/+/divert" in rule or "task" in rule for rule in station)
    bridge = acl_rules(BrokerDevice("plc-1", "conveyor", conveyor="conveyor-1"), SITE)
    assert "topic readwrite rushline/v1/DE-FRA/conveyor/conveyor-1/#" in bridge
    handheld = acl_rules(BrokerDevice("handheld-1", "handheld"), SITE)
    writes = [r for r in handheld if r.split()[1] in ("write", "readwrite")]
    assert writes == [
        "topic readwrite rushline/v1/DE-FRA/dev/handheld-1/#",
        "topic readwrite rushline/v1/DE-FRA/central/state",
        # It says which tote an order went into (the sorter and stations listen).
        "topic write rushline/v1/DE-FRA/order/+/event",
        # It claims the tasks its picker opens, under its own id only.
        "topic readwrite rushline/v1/DE-FRA/claim/+/handheld-1",
    ]
    assert "topic read rushline/v1/DE-FRA/claim/#" in handheld
    dispatch = acl_rules(BrokerDevice("dispatch-1", "dispatch"), SITE)
    assert "topic readwrite rushline/v1/DE-FRA/claim/#" in dispatch  # it sweeps old ones
    assert not any("claim" in rule for rule in sorter)


def test_a_supervisor_reads_the_site_and_writes_only_station_commands() -> None:
    supervisor = acl_rules(BrokerDevice("supervisor-1", "supervisor"), SITE)
    assert [r for r in supervisor if r.split()[1] in ("write", "readwrite")] == [
        "topic readwrite rushline/v1/DE-FRA/dev/supervisor-1/#",
        "topic readwrite rushline/v1/DE-FRA/central/state",
        "topic write rushline/v1/DE-FRA/dev/+/command",
    ]
    assert "topic read rushline/v1/DE-FRA/#" in supervisor


def test_a_station_command_from_a_supervisor_arrives_one_from_a_handheld_does_not(
    agent_settings,
) -> None:
    lock = threading.Lock()
    seen: list[BusMessage] = []

    def collect(message: BusMessage) -> None:
        with lock:
            seen.append(message)

    command = topics.dev_command(SITE, "dock-1")
    with (
        Bus(agent_settings("dock-1")) as dock,
        Bus(agent_settings("supervisor-1", role="monitor")) as supervisor,
        Bus(agent_settings("handheld-1")) as handheld,
    ):
        dock.subscribe(command, collect)
        for bus in (dock, supervisor, handheld):
            bus.wait_connected(5)
        handheld.publish(command, {"cmd": "close_pickup", "carrier": "dhl"})
        sent = supervisor.publish(command, {"cmd": "close_pickup", "carrier": "dpd"})
        wait_until(lambda: handheld.counters.refused == 1, what="the handheld's refusal")
        wait_until(
            lambda: any(m.sender == "supervisor-1" and m.seq == sent for m in seen),
            what="the supervisor's command at the dock",
        )
    with lock:
        assert [m.payload["carrier"] for m in seen] == ["dpd"]


def test_cli_writes_private_files_and_mosquitto_accepts_them(
    tmp_path, monkeypatch, capsys, agent_settings
) -> None:
    monkeypatch.setenv("RUSHLINE_MQTT_PASSWORD_SORTER_1", "from-env")
    out = tmp_path / "broker"
    port = free_port()
    assert main(["broker", "passwords", "--out", str(out), "--port", str(port)]) == 0
    assert "sorter-1" in capsys.readouterr().out
    for name in ("acl", "passwd", "passwords.toml", "sorter-1.pw", "handheld-3.pw"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600, name
    assert (out / "sorter-1.pw").read_text().strip() == "from-env"
    assert all(
        line.split(":", 1)[1].startswith("$7$")
        for line in (out / "passwd").read_text().splitlines()
    )
    conf = (out / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf and f"listener {port} 127.0.0.1" in conf
    proc = subprocess.Popen(
        [MOSQUITTO, "-c", str(out / "mosquitto.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: port_open(port), timeout=10, what="generated mosquitto")
        settings = agent_settings("sorter-1", password="from-env")
        settings = replace(
            settings,
            mqtt=replace(settings.mqtt, host="127.0.0.1", port=port, password="from-env"),
        )
        with Bus(settings) as bus:
            bus.wait_connected(5)
            assert bus.connected
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_bad_device_list_is_one_clear_error(tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["broker", "passwords", "--out", str(out), "--devices", "sorter-1"]) == 2
    assert "--devices: sorter-1: expected id:role" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"devices\[0\].role: must be one of"):
        devices_from_list("x:boss")
    assert not out.exists()  # nothing written


def test_publishing_outside_the_acl_is_refused(agent_settings) -> None:
    lock = threading.Lock()
    seen: list[BusMessage] = []

    def collect(message: BusMessage) -> None:
        with lock:
            seen.append(message)

    with (
        Bus(agent_settings("monitor-1")) as monitor,
        Bus(agent_settings("handheld-1")) as handheld,
        Bus(agent_settings("sorter-1")) as sorter,
    ):
        monitor.subscribe(f"{topics.prefix(SITE)}/#", collect)
        for bus in (monitor, handheld, sorter):
            bus.wait_connected(5)
        handheld.publish(topics.conveyor_divert(SITE, "conveyor-1"), {"tote": "TOTE-1", "lane": 1})
        # A claim in another handheld's name.
        handheld.publish(topics.claim(SITE, "T-1", "handheld-2"), {"task_id": "T-1"}, retain=True)
        mine = handheld.publish(topics.claim(SITE, "T-1", "handheld-1"), {"task_id": "T-1"})
        sorter.publish(topics.task(SITE, "handheld-1"), {"task": "fake"})
        sorter.publish(topics.conveyor_event(SITE, "conveyor-2"), {"type": "fault"})
        allowed = sorter.publish(topics.conveyor_event(SITE, "conveyor-1"), {"type": "fault"})
        wait_until(lambda: handheld.counters.refused == 2, what="handheld refusals")
        wait_until(lambda: sorter.counters.refused == 2, what="sorter refusals")
        wait_until(
            lambda: any(m.seq == allowed and m.sender == "sorter-1" for m in seen),
            what="the allowed event",
        )
        wait_until(
            lambda: any(m.seq == mine and m.sender == "handheld-1" for m in seen),
            what="the handheld's own claim",
        )
        assert handheld.pending == 0 and sorter.pending == 0  # refused: not retried forever
    assert all("Not authorized" in r for r in handheld.counters.refusal_reasons)
    with lock:
        kinds = {(m.kind, m.id) for m in seen if m.sender in ("handheld-1", "sorter-1")}
    assert ("conveyor_divert", "conveyor-1") not in kinds
    assert ("task", "handheld-1") not in kinds
    assert ("conveyor_event", "conveyor-2") not in kinds
    with lock:
        claims = {(m.id, m.sub) for m in seen if m.kind == "claim"}
    assert claims == {("T-1", "handheld-1")}
    assert ("conveyor_event", "conveyor-1") in kinds
