"""``ctr results``: read the committed CTR rows (never in-progress or hidden files) and show them."""

import argparse
import csv
import hashlib
import io
import json
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from ctr.reference import CtrRow
from ctr.settings.command_line import env_var, fail, resolve
from ctr.settings.models import ResultsSettings
from ctr_job.results_from_topic import add_topic_flags, run_from_topic
from ctr_job.sql import BUCKET_PARTITION, DAY_PARTITION

CSV_HEADER = list(CtrRow._fields)
SINCE_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?")


def campaign_bucket(campaign_id: str) -> str:
    """The results partition of a campaign: the first hex digit of the MD5 of its id (as the job's SQL)."""
    return hashlib.md5(campaign_id.encode("utf-8")).hexdigest()[0]


def committed_files(output_dir: Path, campaign_id: str | None = None, since_day: str = "") -> list[Path]:
    """The committed part files under ``output_dir`` (hidden ``.``/``_`` files are in progress or
    markers): only the campaign's bucket when ``campaign_id`` is given, only days from ``since_day``."""
    bucket = "*" if campaign_id is None else campaign_bucket(campaign_id)
    return sorted(
        path
        for partition in output_dir.glob(f"{DAY_PARTITION}=*/{BUCKET_PARTITION}={bucket}")
        if partition.is_dir() and partition.parent.name[len(DAY_PARTITION) + 1 :] >= since_day
        for path in partition.iterdir()
        if path.is_file() and not path.name.startswith((".", "_"))
    )


def _row(fields: list[str]) -> CtrRow:
    """The CTR row of one CSV record; ValueError when it is none."""
    if len(fields) != len(CSV_HEADER):
        raise ValueError(f"{len(fields)} fields, not {len(CSV_HEADER)}")
    campaign, start, end, impressions, clicks, ctr = fields
    for text in (campaign, start, end):
        text.encode("utf-8")  # a byte that is not UTF-8 was decoded to a lone surrogate: UnicodeEncodeError
    return CtrRow(campaign, start, end, int(impressions), int(clicks), float(ctr))


def file_rows(path: Path) -> Iterator[CtrRow]:
    """The rows of one CSV file (RFC 4180, as the job writes it). A record that is no CTR row is
    skipped with a one-line warning on stderr naming the file and the line it starts on."""
    text = path.read_bytes().decode("utf-8", errors="surrogateescape")
    records = csv.reader(io.StringIO(text, newline=""), strict=True)
    while True:
        line = records.line_num + 1
        try:
            fields = next(records)
            if fields:
                yield _row(fields)
        except StopIteration:
            return
        except (csv.Error, ValueError) as err:
            print(f"ctr results: skipped {path} line {line}, not a CTR row: {err}", file=sys.stderr)


def read_results(output_dir: Path, campaign_id: str | None = None, since: str = "") -> list[CtrRow]:
    """The committed rows under ``output_dir``, sorted by window, then campaign: all of them, or those
    of one campaign, or of windows starting at ``since`` (``YYYY-MM-DD[ HH:MM[:SS]]`` UTC) or later.
    Only the partitions that can hold them are read."""
    rows = [
        row
        for path in committed_files(output_dir, campaign_id, since[:10])
        for row in file_rows(path)
        if (campaign_id is None or row.campaign_id == campaign_id) and row.window_start >= since
    ]
    return sorted(rows, key=lambda row: (row.window_start, row.campaign_id))


def format_table(
    rows: Iterable[CtrRow], true_ctr: dict[str, float] | None = None, header: bool = True
) -> str:
    """Rows as an aligned text table; a ``true CTR`` column when ``true_ctr`` is given."""
    lines = []
    extra = true_ctr is not None
    if header:
        lines.append(
            f"{'campaign':<16} {'window (UTC)':<30} {'impressions':>11} {'clicks':>8} {'CTR':>8}"
            + (f" {'true CTR':>9}" if extra else "")
        )
    for row in rows:
        window = row.window_start + " - " + row.window_end[11:]
        line = f"{row.campaign_id:<16} {window:<30} {row.impressions:>11} {row.clicks:>8} {row.ctr:>8.2%}"
        if true_ctr is not None:
            truth = true_ctr.get(row.campaign_id)
            line += f" {'' if truth is None else f'{truth:.2%}':>9}"
        lines.append(line)
    return "\n".join(lines)


def format_csv(rows: Iterable[CtrRow]) -> str:
    """Rows as CSV with the header ``campaign_id,window_start,window_end,impressions,clicks,ctr``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(rows)
    return out.getvalue()


def format_json(rows: Iterable[CtrRow]) -> str:
    """Rows as a JSON array of objects."""
    return json.dumps([row._asdict() for row in rows], indent=2)


FORMATTERS = {"table": format_table, "csv": format_csv, "json": format_json}


def format_batch(rows: list[CtrRow], form: str, first: bool) -> str:
    """Rows printed as they come (``--follow``): a table or CSV whose header only the first batch has,
    or JSON lines."""
    if form == "json":
        return "\n".join(json.dumps(row._asdict()) for row in rows)
    if form == "csv":
        text = format_csv(rows).rstrip("\n")
        return text if first else text.split("\n", 1)[1]
    return format_table(rows, header=first)


def plot(rows: list[CtrRow], path: Path) -> None:
    """Draw CTR per campaign over window start into the PNG ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    from datetime import datetime

    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(10, 5))
    for campaign in sorted({row.campaign_id for row in rows}):
        points = [(datetime.fromisoformat(r.window_start), r.ctr) for r in rows if r.campaign_id == campaign]
        # matplotlib's stubs take no datetimes, though its date converter draws them.
        axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=campaign)  # type: ignore[arg-type]
    axes.set_xlabel("window start (UTC)")
    axes.set_ylabel("CTR")
    axes.set_title("CTR per campaign")
    axes.legend(loc="best")
    figure.autofmt_xdate()
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)


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
    add_topic_flags(parser)
    parser.set_defaults(handler=lambda args: run(parser, args))


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Print the results; return the exit code."""
    if args.topic or args.follow:
        return run_from_topic(
            parser, args, FORMATTERS[args.format], lambda rows, first: format_batch(rows, args.format, first)
        )
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
