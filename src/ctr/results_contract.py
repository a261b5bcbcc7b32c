"""The results contract: what the job writes and ``ctr results`` reads, defined once.

The row type (and the live row's: the same columns and ``final``), the time format of its window
columns, and the CSV files' partitions (the window's day, the campaign's bucket). The job's SQL is
generated from these definitions (job/ctr_job/sql.py) and the reader (results/ctr_results) uses them,
so the two cannot drift apart.
"""

import hashlib
from datetime import UTC, datetime
from typing import NamedTuple


class CtrRow(NamedTuple):
    """One committed result row."""

    campaign_id: str
    window_start: str
    window_end: str
    impressions: int
    clicks: int
    ctr: float


class LiveRow(NamedTuple):
    """One row of the live topic: a window's counts so far while it is open (``final`` false), at most
    once per update interval, then its final row (``final`` true), equal to its committed row."""

    campaign_id: str
    window_start: str
    window_end: str
    impressions: int
    clicks: int
    ctr: float
    final: bool


#: The window columns' format: UTC ``YYYY-MM-DD HH:MM:SS``, as Python's strftime writes it ...
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
#: ... and as Flink SQL's DATE_FORMAT writes it (Java's pattern letters).
_JAVA_LETTERS = {"%Y": "yyyy", "%m": "MM", "%d": "dd", "%H": "HH", "%M": "mm", "%S": "ss"}


def sql_time_format() -> str:
    """``TIME_FORMAT`` as a Java date pattern, for Flink SQL's ``DATE_FORMAT``."""
    pattern = TIME_FORMAT
    for letter, java in _JAVA_LETTERS.items():
        pattern = pattern.replace(letter, java)
    return pattern


def format_time(epoch_ms: int) -> str:
    """``TIME_FORMAT`` of an epoch-millisecond instant."""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).strftime(TIME_FORMAT)


def parse_time(text: str) -> int:
    """The epoch-millisecond instant of a window column (``TIME_FORMAT``, UTC): ``format_time``'s inverse."""
    return round(datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC).timestamp() * 1000)


#: The results' partition columns (directories ``window_day=<YYYY-MM-DD>/campaign_bucket=<0-f>/``).
#: A sink subtask keeps at most one file open per partition it writes between two checkpoints, so
#: the open files stay bounded whatever the campaign count.
DAY_PARTITION, BUCKET_PARTITION = "window_day", "campaign_bucket"

#: The window's day: the first characters of its start (``YYYY-MM-DD`` of ``TIME_FORMAT``).
DAY_LENGTH = 10


def window_day(window_start: str) -> str:
    """The day partition of a window, from its start."""
    return window_start[:DAY_LENGTH]


def sql_window_day(column: str) -> str:
    """``window_day`` as a Flink SQL expression of the window start ``column``."""
    return f"SUBSTRING({column}, 1, {DAY_LENGTH})"


#: The campaign's bucket: the first BUCKET_DIGITS hex digits of the MD5 of its id in UTF-8 (Flink
#: SQL's MD5 hashes a string's UTF-8 bytes and writes lower-case hex), so BUCKETS buckets.
BUCKET_HASH = "md5"
BUCKET_DIGITS = 1
BUCKETS = 16**BUCKET_DIGITS


def campaign_bucket(campaign_id: str) -> str:
    """The bucket partition of a campaign."""
    return hashlib.new(BUCKET_HASH, campaign_id.encode("utf-8")).hexdigest()[:BUCKET_DIGITS]


def sql_campaign_bucket(column: str) -> str:
    """``campaign_bucket`` as a Flink SQL expression of the campaign id ``column``."""
    return f"SUBSTRING({BUCKET_HASH.upper()}({column}), 1, {BUCKET_DIGITS})"
