"""The CTR rows as ``ctr results`` prints them: an aligned table, CSV or JSON, whole or in batches as
they come (``--follow``), and a PNG plot of CTR over time. Rows of the live topic (``LiveRow``) have
one more column, ``final``: in a table ``live`` or ``final``."""

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

from ctr.results_contract import CtrRow, LiveRow

CSV_HEADER = list(CtrRow._fields)
#: The rows ``ctr results`` prints: committed rows, or the live topic's.
AnyRow = CtrRow | LiveRow


def _is_live(rows: Sequence[AnyRow]) -> bool:
    return bool(rows) and isinstance(rows[0], LiveRow)


def row_state(row: LiveRow) -> str:
    """A live topic row's state as a table shows it: ``live`` while its window is open, else ``final``."""
    return "final" if row.final else "live"


def format_table(
    rows: Sequence[AnyRow], true_ctr: dict[str, float] | None = None, header: bool = True
) -> str:
    """Rows as an aligned text table; a ``true CTR`` column when ``true_ctr`` is given, and a ``row``
    column (``live`` or ``final``) for the live topic's rows."""
    lines = []
    extra, live = true_ctr is not None, _is_live(rows)
    if header:
        lines.append(
            f"{'campaign':<16} {'window (UTC)':<30} {'impressions':>11} {'clicks':>8} {'CTR':>8}"
            + (f" {'true CTR':>9}" if extra else "")
            + (f" {'row':<5}" if live else "")
        )
    for row in rows:
        window = row.window_start + " - " + row.window_end[11:]
        line = f"{row.campaign_id:<16} {window:<30} {row.impressions:>11} {row.clicks:>8} {row.ctr:>8.2%}"
        if true_ctr is not None:
            truth = true_ctr.get(row.campaign_id)
            line += f" {'' if truth is None else f'{truth:.2%}':>9}"
        if isinstance(row, LiveRow):
            line += f" {row_state(row):<5}"
        lines.append(line)
    return "\n".join(lines)


def format_csv(rows: Sequence[AnyRow]) -> str:
    """Rows as CSV with the header ``campaign_id,window_start,window_end,impressions,clicks,ctr`` (and
    ``final`` for the live topic's rows)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(LiveRow._fields) if _is_live(rows) else CSV_HEADER)
    writer.writerows(rows)
    return out.getvalue()


def format_json(rows: Sequence[AnyRow]) -> str:
    """Rows as a JSON array of objects."""
    return json.dumps([row._asdict() for row in rows], indent=2)


FORMATTERS = {"table": format_table, "csv": format_csv, "json": format_json}


def format_batch(rows: Sequence[AnyRow], form: str, first: bool) -> str:
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
