"""An independent plain-Python computation of the CTR rows, the oracle of tests and benchmarks.

It follows the definition, not the job's SQL: per campaign and tumbling window of impression
time, the distinct impressions, how many of them have at least one click with
``impression.ts <= click.ts <= impression.ts + join_bound``, and their ratio.
"""

from collections import defaultdict
from collections.abc import Iterable

from ctr.events import Click, Impression
from ctr.results_contract import CtrRow, format_time


def reference_ctr(
    impressions: Iterable[Impression], clicks: Iterable[Click], window_ms: int, join_bound_ms: int
) -> list[CtrRow]:
    """The CTR rows of these events, sorted by window then campaign."""
    first_seen: dict[str, Impression] = {}
    for impression in impressions:
        first_seen.setdefault(impression.impr_id, impression)
    click_times: dict[str, list[int]] = defaultdict(list)
    for click in clicks:
        click_times[click.impr_id].append(click.ts)
    shown: dict[tuple[int, str], set[str]] = defaultdict(set)
    clicked: dict[tuple[int, str], set[str]] = defaultdict(set)
    for impression in first_seen.values():
        key = (impression.ts - impression.ts % window_ms, impression.campaign_id)
        shown[key].add(impression.impr_id)
        if any(
            impression.ts <= ts <= impression.ts + join_bound_ms
            for ts in click_times.get(impression.impr_id, ())
        ):
            clicked[key].add(impression.impr_id)
    rows = [
        CtrRow(
            campaign,
            format_time(start),
            format_time(start + window_ms),
            len(ids),
            len(clicked[(start, campaign)]),
            len(clicked[(start, campaign)]) / len(ids),
        )
        for (start, campaign), ids in shown.items()
    ]
    return sorted(rows, key=lambda row: (row.window_start, row.campaign_id))
