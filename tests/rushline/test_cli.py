"""The `rushline` entry point: every command is listed and registers under its own name."""

from __future__ import annotations

import pytest

from rushline import cli


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    listing = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in listing


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_each_command_module_registers_its_own_name(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([name, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: rushline {name}" in capsys.readouterr().out


def test_verbose_flag_before_the_command_still_finds_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        cli.main(["-v", "sim", "--help"])
    assert "usage: rushline sim" in capsys.readouterr().out


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "COMMAND" in capsys.readouterr().out
