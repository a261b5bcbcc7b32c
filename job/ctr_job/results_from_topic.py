"""``ctr results --topic [--follow]``: the CTR rows from the results topic instead of the CSV files."""

import argparse
import sys
from collections.abc import Callable

from ctr.processes import stop_event
from ctr.reference import CtrRow
from ctr.settings.command_line import add_flags, fail, resolve
from ctr.settings.models import ResultsTopicSettings
from ctr_job.topic_rows import TopicRowsError, changes, read_topic_rows


def add_topic_flags(parser: argparse.ArgumentParser) -> None:
    """``--topic``, ``--follow`` and where the topic is (``--bootstrap-servers``, ``--results-topic``)."""
    parser.add_argument(
        "--topic",
        action="store_true",
        help="read the rows from the results topic (read_committed, last value per campaign and window)",
    )
    parser.add_argument(
        "--follow",
        action="store_true",
        help="with --topic: keep printing rows as windows close, until Ctrl-C",
    )
    add_flags(parser, ResultsTopicSettings)


def run_from_topic(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    whole: Callable[[list[CtrRow]], str],
    batch: Callable[[list[CtrRow], bool], str],
) -> int:
    """Print the topic's rows (``whole(rows)``), or with ``--follow`` the rows and then the new ones as
    they come (``batch(rows, first)``); return the exit code."""
    if args.dir is not None or args.plot is not None:
        fail(parser, "--topic reads the results topic: give no directory and no --plot")
    if args.follow and not args.topic:
        fail(parser, "--follow needs --topic")
    settings = resolve(parser, args, ResultsTopicSettings)
    try:
        if not args.follow:
            print(whole(read_topic_rows(settings.bootstrap_servers, settings.results_topic)))
            return 0
        stop = stop_event()
        rows_then_changes = changes(
            settings.bootstrap_servers, settings.results_topic, follow=True, stop=stop
        )
        for index, rows in enumerate(rows_then_changes):
            print(batch(rows, index == 0), flush=True)
        return 0
    except TopicRowsError as err:
        print(f"ctr results: {err}", file=sys.stderr)
        return 1
