"""``ctr results``: print the CTR rows, from the job's CSV files (``ctr_results.files``) or, with
``--topic``, from the live topic (open windows' live rows, then each window's final row) or with
``--final`` from the results topic (``ctr_results.topic``), in one of ``ctr_results.formats``."""

import argparse
import re
import sys
from pathlib import Path

from ctr.processes import stop_event
from ctr.results_contract import CtrRow, LiveRow
from ctr.settings.command_line import add_flags, env_var, fail, resolve
from ctr.settings.models import ResultsSettings, ResultsTopicSettings
from ctr_results.files import read_results
from ctr_results.formats import FORMATTERS, format_batch, plot
from ctr_results.topic import Row, TopicRowsError, changes, read_topic_rows

SINCE_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``results`` subcommand."""
    parser = subparsers.add_parser(
        "results",
        help="print the committed CTR results",
        description="Read the committed CTR rows and print them.",
    )
    parser.add_argument(
        "dir",
        nargs="?",
        default=None,
        help=f"the job's output directory (default: {env_var('output_dir')}, "
        f"else {ResultsSettings.model_fields['output_dir'].default})",
    )
    parser.add_argument(
        "--format", choices=["table", "csv", "json"], default="table", help="output format (default: table)"
    )
    parser.add_argument("--campaign", default=None, help="only this campaign's rows (reads only its bucket)")
    parser.add_argument(
        "--since",
        default="",
        metavar="'YYYY-MM-DD[ HH:MM[:SS]]'",
        help="only windows starting at this UTC time or later (reads only the days from it)",
    )
    parser.add_argument(
        "--plot", metavar="FILE.png", default=None, help="also draw CTR per campaign over time into this PNG"
    )
    parser.add_argument(
        "--topic",
        action="store_true",
        help="read the rows from the live topic: the last row per campaign and window, live (counts so "
        "far) while it is open, then final",
    )
    parser.add_argument(
        "--final",
        action="store_true",
        help="with --topic: only final rows, from the results topic (read_committed; the job writes it "
        "with --publish-results)",
    )
    parser.add_argument(
        "--follow",
        action="store_true",
        help="with --topic: keep printing rows as they change (live rows every update interval, final "
        "rows as windows close), until Ctrl-C",
    )
    add_flags(parser, ResultsTopicSettings)
    parser.set_defaults(handler=lambda args: run(parser, args))


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Print the results; return the exit code."""
    if args.topic or args.follow or args.final:
        return _from_topic(parser, args)
    return _from_files(parser, args)


def _from_files(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    output_dir = Path(args.dir or resolve(parser, args, ResultsSettings).output_dir)
    if not output_dir.is_dir():
        fail(parser, f"{output_dir} is not a directory")
    if args.since and not SINCE_FORMAT.fullmatch(args.since):
        fail(parser, f"--since {args.since!r} is not a UTC time 'YYYY-MM-DD[ HH:MM[:SS]]'")
    rows = read_results(output_dir, args.campaign, args.since)
    print(FORMATTERS[args.format](rows), file=sys.stdout)
    if args.plot:
        plot(rows, Path(args.plot))
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0


def _from_topic(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """The topic's rows, or with ``--follow`` the rows and then the new ones as they come."""
    if args.dir is not None or args.plot is not None:
        fail(
            parser,
            "--topic reads the live topic (the results topic with --final): give no directory and no --plot",
        )
    for flag in ("follow", "final"):
        if getattr(args, flag) and not args.topic:
            fail(parser, f"--{flag} needs --topic")
    settings = resolve(parser, args, ResultsTopicSettings)
    try:
        if args.final:
            _print_topic(settings.bootstrap_servers, settings.results_topic, CtrRow, args)
        else:
            _print_topic(settings.bootstrap_servers, settings.live_topic, LiveRow, args)
        return 0
    except TopicRowsError as err:
        print(f"ctr results: {err}", file=sys.stderr)
        return 1


def _print_topic(bootstrap_servers: str, topic: str, row_type: type[Row], args: argparse.Namespace) -> None:
    """Print the rows of ``topic``, or with ``--follow`` the rows and then the changed ones as they come."""
    if not args.follow:
        print(FORMATTERS[args.format](read_topic_rows(bootstrap_servers, topic, row_type)))
        return
    batches = changes(bootstrap_servers, topic, follow=True, stop=stop_event(), row_type=row_type)
    for index, rows in enumerate(batches):
        print(format_batch(rows, args.format, index == 0), flush=True)
