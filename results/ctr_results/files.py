"""The committed CTR rows in the job's CSV files (never in-progress or hidden files), read by the
partitions of the results contract (``ctr.results_contract``): only those that can hold the rows asked for."""

import csv
import io
import sys
from collections.abc import Iterator
from pathlib import Path

from ctr.results_contract import BUCKET_PARTITION, DAY_PARTITION, CtrRow, campaign_bucket, window_day


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
    if len(fields) != len(CtrRow._fields):
        raise ValueError(f"{len(fields)} fields, not {len(CtrRow._fields)}")
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
        for path in committed_files(output_dir, campaign_id, window_day(since))
        for row in file_rows(path)
        if (campaign_id is None or row.campaign_id == campaign_id) and row.window_start >= since
    ]
    return sorted(rows, key=lambda row: (row.window_start, row.campaign_id))
