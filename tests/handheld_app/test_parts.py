"""Settings file, wedge key handling, the pushed-task subscriber on a real Mosquitto,
and the command line's refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices.barcodes import Scan, ScanKind
from devices.scanner import TypedText
from handheld_app.input import WedgeKeys
from handheld_app.settings import load_handheld_settings, save_edits
from handheld_app.tasks_push import TaskPush, task_from_payload, task_topic
from sync.errors import SettingsError
from tests.handheld_app.test_ui import write_config
from tests.support.broker import Broker
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def test_settings_load_and_save(tmp_path: Path) -> None:
    path = write_config(tmp_path, "http://127.0.0.1:8700", "tok")
    settings = load_handheld_settings(path)
    assert settings.device.device_id == "hh-01" and settings.device.store == tmp_path / "hh-01.db"
    assert (settings.scanner, settings.mqtt, settings.sounds) == ("wedge://", None, False)
    saved = save_edits(path, "http://10.0.0.9:8700/", "new-token", "serial:///dev/ttyACM0")
    assert saved.device.central_url == "http://10.0.0.9:8700"
    again = load_handheld_settings(path)
    assert (again.device.token, again.scanner) == ("new-token", "serial:///dev/ttyACM0")
    assert again.device.interval == 0.2  # the other keys survive the rewrite


def test_bad_settings_are_named_and_nothing_is_written(tmp_path: Path) -> None:
    path = write_config(tmp_path, "http://127.0.0.1:8700", "tok")
    before = path.read_text()
    with pytest.raises(SettingsError, match=r"\[central\] url"):
        save_edits(path, "ftp://x", "tok", "wedge://")
    with pytest.raises(SettingsError, match=r"\[scanner\] source"):
        save_edits(path, "http://x", "tok", "bluetooth://x")
    assert path.read_text() == before
    path.write_text(before.replace("[ui]", '[mqtt]\nhost = "h"\nport = "x"\n[ui]'))
    with pytest.raises(SettingsError, match=r"\[mqtt\] port"):
        load_handheld_settings(path)
    # A misspelt key or table is refused rather than left at its default.
    path.write_text(before.replace("[ui]", "[ui]\nsound = false"))
    with pytest.raises(
        SettingsError, match=r"\[ui\] sound: unknown key \(did you mean 'sounds'\?\)"
    ):
        load_handheld_settings(path)
    path.write_text(before.replace("[ui]", "[scaner]\nsource = 'wedge://'\n[ui]"))
    with pytest.raises(
        SettingsError, match=r"\[scaner\]: unknown table \(did you mean 'scanner'\?\)"
    ):
        load_handheld_settings(path)


def test_wedge_keys_tell_scans_from_typing() -> None:
    now = [0.0]
    keys = WedgeKeys(clock=lambda: now[0])
    for char in "loc-a01":
        now[0] += 0.004
        shift = char.isalpha()
        assert keys.key_down(ord(char), char, ["shift"] if shift else []) is None
    result = keys.key_down(13, None, [])
    assert isinstance(result, Scan) and result.kind is ScanKind.LOCATION
    assert result.data["code"] == "A01"
    for char in "12":
        now[0] += 0.4  # a person on the keypad
        keys.key_down(ord(char), char, [])
    typed = keys.key_down(271, None, [])
    assert typed == TypedText("12")
    assert keys.key_down(13, None, []) is None  # an empty Enter
    assert keys.key_down(ord("c"), "c", ["ctrl"]) is None


def test_task_payloads() -> None:
    assert task_topic("DE-FRA", "hh-01") == "rushline/v1/DE-FRA/task/hh-01"
    with pytest.raises(ValueError, match="device_id"):
        task_topic("DE-FRA", "a/b")
    assert task_from_payload(b'{"task": {"id": "T1"}}') == {"id": "T1"}
    assert task_from_payload(b'{"id": "T2", "v": 1, "seq": 3}') == {"id": "T2", "v": 1, "seq": 3}
    for bad in (b"nope", b"[1]", b'{"task": {}}', b'{"id": 5}'):
        assert task_from_payload(bad) is None


def test_pushed_task_arrives_over_mqtt(mosquitto: Broker) -> None:
    received: list[dict] = []
    push = TaskPush(mosquitto.host, mosquitto.port, "DE-FRA", "hh-01", received.append)
    push.start()
    sender = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    try:
        wait_until(lambda: push.connected, timeout=10, what="subscriber connected")
        sender.connect(mosquitto.host, mosquitto.port)
        sender.loop_start()
        topic = task_topic("DE-FRA", "hh-01")
        # A malformed message first: counted and dropped, the next one still arrives.
        sender.publish(topic, b"not json", qos=1).wait_for_publish(5)
        body = {"task": {"id": "HOT-O9", "level": "P1", "order_ids": ["O9"]}, "v": 1}
        sender.publish(topic, json.dumps(body), qos=1).wait_for_publish(5)
        sender.publish("rushline/v1/DE-FRA/task/hh-02", json.dumps(body), qos=1)
        wait_until(lambda: received, timeout=10, what="the pushed task")
        assert received == [{"id": "HOT-O9", "level": "P1", "order_ids": ["O9"]}]
        assert push.malformed == 1
    finally:
        sender.loop_stop()
        sender.disconnect()
        push.stop()


def test_cli_refuses_a_bad_config_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[device]\nid = "hh"\n')
    run = subprocess.run(
        [sys.executable, "-m", "rushline", "handheld", "--config", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and "bad.toml" in run.stderr
    assert "Traceback" not in run.stderr


def test_android_source_folder_has_main_and_the_packages(tmp_path: Path) -> None:
    from handheld_app.android import prepare

    dest = prepare(tmp_path / "android")
    assert "from handheld_app.android import app_main" in (dest / "main.py").read_text()
    for package in ("handheld_app", "sync", "domain", "devices"):
        assert (dest / package / "__init__.py").exists(), package
    assert (dest / "handheld_app" / "kv" / "pick.kv").exists()
    assert load_handheld_settings(dest / "config" / "default" / "handheld.toml").scanner == (
        "wedge://"
    )
    spec = (ROOT / "buildozer.spec").read_text()
    assert "source.dir = build/android" in spec and "kivy" in spec and "paho-mqtt" in spec


def test_feedback_tones_and_silent_mode(tmp_path: Path) -> None:
    import wave

    from handheld_app.sound import DeviceFeedback, write_tone

    path = write_tone(tmp_path / "t.wav", 880, 0.1)
    with wave.open(str(path)) as tone:
        assert (tone.getnchannels(), tone.getframerate(), tone.getnframes()) == (1, 16000, 1600)
    silent = DeviceFeedback(tmp_path, enabled=False)
    silent.on_ok()
    silent.on_error()
    assert (silent.oks, silent.errors) == (1, 1)


def test_presence_follows_sign_in_and_sign_out(mosquitto: Broker) -> None:
    from edge.presence import Presence

    presence = Presence()
    states: list[dict] = []

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        state = json.loads(msg.payload)
        states.append(state)
        presence.update(msg.topic.split("/")[-2], state)

    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    watcher.on_message = on_message
    watcher.connect(mosquitto.host, mosquitto.port)
    watcher.subscribe("rushline/v1/DE-FRA/dev/+/state", qos=1)
    watcher.loop_start()
    push = TaskPush(mosquitto.host, mosquitto.port, "DE-FRA", "hh-01", lambda task: None)
    try:
        push.start()
        wait_until(lambda: states and states[-1]["online"] is False, timeout=10, what="birth")
        assert presence.online("handheld") == []  # nobody signed in: no hot picks yet
        push.set_available(True, "op7")
        wait_until(lambda: presence.online("handheld") == ["hh-01"], timeout=10, what="online")
        last = states[-1]
        assert (last["role"], last["epoch"], last["operator"]) == ("handheld", push.epoch, "op7")
        assert last["from"] == "hh-01" and last["seq"] > states[0]["seq"]
        push.set_available(False)  # signed out: the dispatcher takes its tasks back
        wait_until(lambda: presence.online("handheld") == [], timeout=10, what="signed out")
        push.set_available(True, "op8")
        wait_until(lambda: presence.online("handheld") == ["hh-01"], timeout=10, what="again")
    finally:
        push.stop()
    wait_until(lambda: presence.online("handheld") == [], timeout=10, what="goodbye")
    assert states[-1]["epoch"] == push.epoch
    watcher.loop_stop()
    watcher.disconnect()


def test_mqtt_password_from_a_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "http://127.0.0.1:8700", "tok")
    text = path.read_text().replace(
        "[ui]", '[mqtt]\nhost = "127.0.0.1"\npassword_file = "secret.pw"\n[ui]'
    )
    path.write_text(text)
    with pytest.raises(SettingsError, match=r"\[mqtt\] password_file"):
        load_handheld_settings(path)
    (tmp_path / "secret.pw").write_text("s3cret\n")
    mqtt_settings = load_handheld_settings(path).mqtt
    assert mqtt_settings is not None
    assert (mqtt_settings.username, mqtt_settings.password, mqtt_settings.port) == (
        "hh-01",
        "s3cret",
        1883,
    )


def test_shipped_settings_load() -> None:
    from rushline.commands.handheld import default_config

    settings = load_handheld_settings(default_config())
    assert settings.device.device_id == "handheld-1" and settings.scanner == "wedge://"
