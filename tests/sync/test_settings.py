"""Device settings files and the `rushline sync` command's errors."""

from __future__ import annotations

import pytest

from rushline.cli import main
from sync.errors import SettingsError
from sync.settings import load_device_settings
from tests.support.waiting import free_port

GOOD = """
[device]
id = "hh-1"
site = "DE-FRA"
store = "data/hh-1.db"
[central]
url = "http://127.0.0.1:8700/"
token = "tok"
[sync]
batch_size = 200
"""


def test_loads_settings_with_relative_store(tmp_path):
    path = tmp_path / "device.toml"
    path.write_text(GOOD)
    s = load_device_settings(path)
    assert (s.device_id, s.site, s.central_url, s.token) == (
        "hh-1",
        "DE-FRA",
        "http://127.0.0.1:8700",
        "tok",
    )
    assert s.store == tmp_path / "data" / "hh-1.db"
    assert (s.batch_size, s.interval) == (200, 1.0)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (GOOD.replace('id = "hh-1"', ""), "[device] id"),
        (GOOD.replace('token = "tok"', "token = 3"), "[central] token"),
        (GOOD.replace("http://127", "ftp://127"), "[central] url"),
        (GOOD.replace("batch_size = 200", "batch_size = 5000"), "[sync] batch_size"),
        ("[device\n", "not valid TOML"),
        (
            GOOD.replace("batch_size", "batchsize"),
            "[sync] batchsize: unknown key (did you mean 'batch_size'?)",
        ),
        (GOOD.replace("token =", "tokn ="), "[central] tokn: unknown key (did you mean 'token'?)"),
    ],
)
def test_bad_settings_name_file_and_key(tmp_path, text, needle):
    path = tmp_path / "device.toml"
    path.write_text(text)
    with pytest.raises(SettingsError) as info:
        load_device_settings(path)
    assert str(path) in str(info.value) and needle in str(info.value)


def test_cli_reports_bad_config_in_one_line(tmp_path, capsys):
    path = tmp_path / "device.toml"
    path.write_text(GOOD.replace('site = "DE-FRA"', ""))
    assert main(["sync", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "[device] site" in err


def test_cli_exits_nonzero_when_central_unreachable(tmp_path, capsys):
    path = tmp_path / "device.toml"
    path.write_text(GOOD.replace("8700", str(free_port())))
    assert main(["sync", "--config", str(path)]) == 1
    captured = capsys.readouterr()
    assert "pending 0, cursor 0" in captured.out and "offline" in captured.err
    assert (tmp_path / "data" / "hh-1.db").exists()


def test_an_agent_file_with_a_role_is_a_device_settings_file(tmp_path):
    path = tmp_path / "pack.toml"
    path.write_text(
        GOOD.replace("[device]\n", '[device]\nrole = "pack"\n') + "[pack]\nstation = 1\n"
    )
    assert load_device_settings(path).device_id == "hh-1"
