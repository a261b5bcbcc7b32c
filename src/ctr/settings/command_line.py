"""Settings models as command-line flags and environment variables.

Hand-written rather than pydantic-settings' CLI: each part adds its flags to a subcommand of the
one ``ctr`` command (pydantic-settings' CLI owns a whole parser), and a bad value is reported by
the name it was given under (``--window`` or ``CTR_WINDOW``), which pydantic-settings does not
tell. Parsing, bounds and defaults are the models' own.
"""

import argparse
import os
from collections.abc import Callable, Iterable
from typing import NoReturn, TypeVar

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from ctr.settings.models import Settings, validation_message

ENV_PREFIX = "CTR_"
Model = TypeVar("Model", bound=Settings)


def flag(name: str) -> str:
    """The flag of the setting ``name`` (``max_click_delay`` -> ``--max-click-delay``)."""
    return "--" + name.replace("_", "-")


def env_var(name: str) -> str:
    """The environment variable of the setting ``name`` (``max_click_delay`` -> ``CTR_MAX_CLICK_DELAY``)."""
    return ENV_PREFIX + name.upper()


def default_text(model: type[Settings], name: str) -> str | None:
    """The default of a setting as its flag would take it (``None`` when it has none)."""
    info: FieldInfo = model.model_fields[name]
    if info.default is None or isinstance(info.default, str):
        return info.default
    value = model.model_validate({}).model_dump(mode="json")[name]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def add_command(
    subparsers: argparse._SubParsersAction,
    name: str,
    summary: str,
    description: str,
    model: type[Settings],
    run: Callable[[argparse.ArgumentParser, argparse.Namespace], int],
) -> argparse.ArgumentParser:
    """Add the subcommand ``name``, a flag per setting of ``model``; ``run(parser, args)`` carries it out."""
    parser = subparsers.add_parser(name, help=summary, description=description)
    add_flags(parser, model)
    parser.set_defaults(handler=lambda args: run(parser, args))
    return parser


def add_flags(parser: argparse.ArgumentParser, model: type[Settings]) -> None:
    """Add one flag per setting of ``model`` to ``parser``; the model parses the value."""
    for name, info in model.model_fields.items():
        default = default_text(model, name)
        shown = f" (default: {default})" if default is not None else ""
        parser.add_argument(
            flag(name),
            dest=name,
            default=None,
            metavar=name.upper(),
            help=f"{info.description}{shown} [env {env_var(name)}]",
        )


def given_texts(args: argparse.Namespace, model: type[Settings]) -> dict[str, tuple[str, str]]:
    """Each setting of ``model`` that was given: its text and where it came from (flag, else environment)."""
    given = {}
    for name in model.model_fields:
        if getattr(args, name, None) is not None:
            given[name] = (getattr(args, name), flag(name))
        elif os.environ.get(env_var(name)):
            given[name] = (os.environ[env_var(name)], env_var(name))
    return given


def resolve(parser: argparse.ArgumentParser, args: argparse.Namespace, model: type[Model]) -> Model:
    """The settings of ``model`` from flags, else the environment, else the defaults.

    A bad value ends the program with exit code 2 and one line that names the flag or variable.
    """
    given = given_texts(args, model)
    try:
        return model.model_validate({name: text for name, (text, _) in given.items()})
    except ValidationError as err:
        fail(parser, validation_message(err, {name: source for name, (_, source) in given.items()}))


def environment(settings: Settings, names: Iterable[str]) -> dict[str, str]:
    """The settings ``names`` of ``settings`` that are set, as environment variables of a child ``ctr``."""
    values = settings.model_dump(mode="json")
    return {env_var(name): str(values[name]) for name in names if values[name] is not None}


def flags(**values: object) -> list[str]:
    """The flags of a child ``ctr`` that give it these settings (``max_click_delay="1s"`` ->
    ``["--max-click-delay", "1s"]``), in the order given."""
    return [text for name, value in values.items() for text in (flag(name), str(value))]


def fail(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    """End the program with exit code 2 and ``message`` on one line of stderr."""
    parser.exit(2, f"{parser.prog}: error: {message}\n")
