"""The docs agree with the code: the settings table is the registry's, and its flags exist."""

from pathlib import Path

import pytest

from ctr.settings.table import COMMAND_SETTINGS, settings_table

ROOT = Path(__file__).resolve().parent.parent


def test_architecture_holds_the_settings_table():
    text = (ROOT / "docs" / "architecture.md").read_text()
    assert settings_table() in text, (
        "regenerate the table: "
        "python -c 'from ctr.settings.table import settings_table; print(settings_table())'"
    )


@pytest.mark.parametrize("command", sorted(COMMAND_SETTINGS))
def test_table_flags_exist_on_the_command(ctr_cli, command):
    table = (ROOT / "docs" / "architecture.md").read_text()
    help_text = ctr_cli(command, "--help").stdout
    flags = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 6 and cells[0].startswith("`--") and command in cells[3].split(", "):
            flags.append(cells[0].strip("`"))
    assert flags, f"no flags of {command} in the table"
    for flag in flags:
        assert flag in help_text, f"{flag} is in docs/architecture.md but not in ctr {command} --help"
