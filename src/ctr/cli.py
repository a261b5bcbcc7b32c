"""The ``ctr`` command: one subcommand per part of the pipeline.

Each part registers its subcommand as an entry point of the group ``ctr.commands`` (pyproject.toml),
so this shared package imports none of the parts.
"""

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from ctr.logs import add_log_level_flag, configure_logging

COMMAND_GROUP = "ctr.commands"


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of ``ctr`` and its subcommands."""
    parser = argparse.ArgumentParser(prog="ctr", description="Real-time click-through-rate pipeline.")
    add_log_level_flag(parser)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in sorted(entry_points(group=COMMAND_GROUP), key=lambda point: point.name):
        command.load()(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ctr``; returns the exit code."""
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
