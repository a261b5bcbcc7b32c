"""The arguments of ``ctr produce``, ``ctr job`` and ``ctr results --topic`` for a test: its broker,
its topics and its directories, then the settings the test chooses, as flags by their names
(``max_click_delay="1s"`` -> ``--max-click-delay 1s``; ctr.settings.command_line spells them).

bench/common.py builds its own commands with the same ``flags``: bench/ runs as scripts and tests/
under pytest, each tree on its own sys.path (and no folder at the root may be a package,
tests/test_layout.py), and the runs choose different settings (no Web UI port or 1 s checkpoints
there, progress lines once an hour)."""

from pathlib import Path

from ctr.settings.command_line import flags
from ctr.topics import TopicNames

from helpers.events import JOIN_BOUND_MS, OUT_OF_ORDERNESS_MS, WINDOW_MS


def produce_args(bootstrap_servers: str, topics: TopicNames, **settings: object) -> list[str]:
    """``ctr produce``'s arguments: its broker and topics, then ``settings``."""
    return [
        "produce",
        *flags(
            bootstrap_servers=bootstrap_servers,
            impressions_topic=topics.impressions,
            clicks_topic=topics.clicks,
            **settings,
        ),
    ]


def job_args(
    bootstrap_servers: str,
    topics: TopicNames,
    work: Path,
    *extra: str,
    window_ms: int = WINDOW_MS,
    join_bound_ms: int = JOIN_BOUND_MS,
    out_of_orderness: str = f"{OUT_OF_ORDERNESS_MS // 1000}s",
) -> list[str]:
    """``ctr job``'s arguments: its topics, its directories under ``work``, 1 s checkpoints, the Web UI
    on a free port (tests may run beside a demo on 8081), the windows of helpers.events' hard cases
    unless given; then ``extra``."""
    return [
        "job",
        *flags(
            bootstrap_servers=bootstrap_servers,
            impressions_topic=topics.impressions,
            clicks_topic=topics.clicks,
            dlq_topic=topics.dlq,
            live_topic=topics.live,
            output_dir=work / "results",
            checkpoint_dir=work / "checkpoints",
            log_dir=work / "logs",
            checkpoint_interval="1s",
            window=f"{window_ms // 1000}s",
            join_bound=f"{join_bound_ms // 1000}s",
            out_of_orderness=out_of_orderness,
            web_ui_port=0,
        ),
        *extra,
    ]


def results_topic_args(bootstrap_servers: str, topics: TopicNames, *extra: str) -> list[str]:
    """``ctr results --topic --format json`` on ``topics``' live topic (with ``--final`` in ``extra``:
    their results topic), then ``extra`` (``--follow``, ``--final``)."""
    return [
        "results",
        "--topic",
        "--format",
        "json",
        *flags(bootstrap_servers=bootstrap_servers, results_topic=topics.results, live_topic=topics.live),
        *extra,
    ]
