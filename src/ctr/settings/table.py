"""The Markdown table of every setting and the names it goes by (docs/architecture.md holds it)."""

from ctr.settings.command_line import default_text, env_var, flag
from ctr.settings.models import (
    BrokerSettings,
    DemoSettings,
    LiveSettings,
    LocalJobSettings,
    OperatorSettings,
    ProducerSettings,
    Settings,
)

#: Which ``ctr`` subcommand takes which settings.
COMMAND_SETTINGS: dict[str, type[Settings]] = {
    "produce": ProducerSettings,
    "job": LocalJobSettings,
    "demo": DemoSettings,
    "operator": OperatorSettings,
    "broker": BrokerSettings,
}


def settings_table() -> str:
    """The table: flag, environment variable, document field, commands, default(s) and meaning."""
    uses: dict[str, list[str]] = {}
    for command, model in COMMAND_SETTINGS.items():
        for name in model.model_fields:
            uses.setdefault(name, []).append(command)
    lines = [
        "| flag | environment variable | field | commands | default | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for name, commands in uses.items():
        first = COMMAND_SETTINGS[commands[0]]
        info = first.model_fields[name]
        live = " (live)" if name in LiveSettings.model_fields else ""
        default = default_text(first, name)
        shown = f"`{default}`" if default is not None else "—"
        for command in commands[1:]:
            other = default_text(COMMAND_SETTINGS[command], name)
            if other != default:
                shown += f" ({command}: `{other}`)"
        lines.append(
            f"| `{flag(name)}` | `{env_var(name)}` | `{info.alias}`{live} | {', '.join(commands)} "
            f"| {shown} | {info.description} |"
        )
    return "\n".join(lines) + "\n"
