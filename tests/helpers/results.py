"""CTR rows as the tests compare them, read back from ``ctr results`` (JSON) and the results topic."""

import json
import subprocess

from ctr.broker import KafkaBroker
from ctr.reference import CtrRow
from ctr.results_contract import LiveRow
from ctr.topics import TopicNames

from helpers.commands import results_topic_args
from helpers.processes import run_ctr


def row_key(row: CtrRow | LiveRow) -> tuple:
    """A row as compared: its fields, the CTR rounded (the job's and the reference's float differ);
    a live row's without its ``final`` flag."""
    return (row.campaign_id, row.window_start, row.window_end, row.impressions, row.clicks, round(row.ctr, 9))


def comparable(rows: list[CtrRow]) -> list[tuple]:
    """``rows`` in an order and a form two runs (or a run and the reference) compare in."""
    return sorted(map(row_key, rows))


def rows_of_json(stdout: str) -> list[CtrRow]:
    """The rows of ``ctr results --format json``'s output."""
    return [CtrRow(**row) for row in json.loads(stdout)]


def results_from_topic(broker: KafkaBroker, topics: TopicNames, *extra: str) -> subprocess.CompletedProcess:
    """``ctr results --topic --format json`` on ``topics``' live topic (``--final``: the results
    topic), run to completion."""
    return run_ctr(*results_topic_args(broker.bootstrap_servers, topics, *extra))


def live_row_violations(live: list[LiveRow], finals: list[CtrRow]) -> list[str]:
    """What the live rows ``live`` (in the order a consumer of one key's partition reads them) break of
    their contract with the final rows ``finals``: for every window, counts that never decrease and
    never exceed its final row, and a last row that is final and equals it; no window missing; and no
    final row on the live topic that is not among ``finals`` (a window still open, as the sentinels'
    that move the watermark, has live rows only)."""
    final_of = {(row.campaign_id, row.window_start): row for row in finals}
    by_key: dict[tuple[str, str], list[LiveRow]] = {}
    for row in live:
        by_key.setdefault((row.campaign_id, row.window_start), []).append(row)
    problems = [f"{key}: no live rows" for key in final_of.keys() - by_key.keys()]
    problems += [
        f"{key}: a final live row of a window with no final row"
        for key in by_key.keys() - final_of.keys()
        if any(row.final for row in by_key[key])
    ]
    for key, rows in by_key.items():
        final = final_of.get(key)
        if final is None:
            continue
        counts = [(row.impressions, row.clicks) for row in rows]
        if any(b[0] < a[0] or b[1] < a[1] for a, b in zip(counts, counts[1:])):
            problems.append(f"{key}: counts decrease: {counts}")
        if any(i > final.impressions or c > final.clicks for i, c in counts):
            problems.append(f"{key}: counts above the final {final.impressions}/{final.clicks}: {counts}")
        if not rows[-1].final or row_key(rows[-1]) != row_key(final):
            problems.append(f"{key}: last row {rows[-1]} is not the final {final}")
    return problems
