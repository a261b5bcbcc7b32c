"""How every ctr process logs: its own messages at a chosen level, other libraries' at WARNING, to stderr."""

import argparse
import logging
import sys

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def add_log_level_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--log-level`` to ``parser``."""
    parser.add_argument("--log-level", default="INFO", choices=LEVELS, help="log level of ctr's own messages")


def configure_logging(level: str) -> None:
    """Log ctr's own messages at ``level`` to stderr, other libraries' at WARNING."""
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("ctr").setLevel(level)
