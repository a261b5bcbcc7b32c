"""CTR rows as the tests compare them, read back from ``ctr results`` (JSON) and the results topic."""

import json
import subprocess

from ctr.broker import KafkaBroker
from ctr.reference import CtrRow

from helpers.commands import results_topic_args
from helpers.processes import run_ctr


def row_key(row: CtrRow) -> tuple:
    """A row as compared: its fields, the CTR rounded (the job's and the reference's float differ)."""
    return (row.campaign_id, row.window_start, row.window_end, row.impressions, row.clicks, round(row.ctr, 9))


def comparable(rows: list[CtrRow]) -> list[tuple]:
    """``rows`` in an order and a form two runs (or a run and the reference) compare in."""
    return sorted(map(row_key, rows))


def rows_of_json(stdout: str) -> list[CtrRow]:
    """The rows of ``ctr results --format json``'s output."""
    return [CtrRow(**row) for row in json.loads(stdout)]


def results_from_topic(broker: KafkaBroker, topic: str, *extra: str) -> subprocess.CompletedProcess:
    """``ctr results --topic --format json`` on ``topic``, run to completion."""
    return run_ctr(*results_topic_args(broker.bootstrap_servers, topic, *extra))
