"""The ``ctr`` command: one subcommand per part of the pipeline."""

import argparse
import logging
import sys
from typing import Optional, Sequence

from ctr import broker_cli
from ctr_job import cli as job_cli
from ctr_job import demo, results
from ctr_operator import cli as operator_cli
from ctr_producer import cli as producer_cli


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of ``ctr`` and its subcommands."""
    parser = argparse.ArgumentParser(prog="ctr", description="Real-time click-through-rate pipeline.")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log level of ctr's own messages")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for part in (producer_cli, job_cli, results, demo, operator_cli, broker_cli):
        part.add_parser(subparsers)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``ctr``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("ctr").setLevel(args.log_level)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
