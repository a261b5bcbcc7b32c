"""Faults injected into the running pipeline, each measured: what was lost, what was counted twice.

Each scenario prints one line of figures (``[faults] ...``); docs/reliability.md records them.
The job's committed rows are compared with the reference computed from what is on the topics
afterwards (``ctr.reference.reference_ctr``).
"""

import re
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest
from events_for_tests import EventSet, produce_sentinels
from support import CollectedOutput, read_topic, run_ctr, start_ctr, summary_of, wait_for

from ctr.broker import EmbeddedBroker
from ctr.events import decode_click, decode_impression
from ctr.reference import CtrRow, reference_ctr
from ctr.settings.models import ProducerSettings
from ctr.topics import TopicNames
from ctr_job.checkpoints import latest_checkpoint
from ctr_job.results import read_results
from ctr_producer.traffic import TrafficModel

WINDOW_MS = 5_000
JOIN_BOUND_MS = 5_000
MAX_CLICK_DELAY = "3s"
CLICK_PROBABILITY = 0.2
RESULT_TIMEOUT = 300
#: A click due this long before a SIGKILL may still sit in the producer's last round (50 ms) or in the
#: client's linger (50 ms) when the process dies: it is in flight, not yet on the topic.
IN_FLIGHT_MS = 500


def report(capsys: pytest.CaptureFixture, scenario: str, **figures: object) -> None:
    """Print one line of figures past pytest's capture."""
    with capsys.disabled():
        print(f"\n[faults] {scenario}: " + " ".join(f"{name}={value}" for name, value in figures.items()))


def job_args(bootstrap_servers: str, topics: TopicNames, work: Path, *extra: str) -> list[str]:
    return [
        "job",
        "--bootstrap-servers",
        bootstrap_servers,
        "--impressions-topic",
        topics.impressions,
        "--clicks-topic",
        topics.clicks,
        "--dlq-topic",
        topics.dlq,
        "--output-dir",
        str(work / "results"),
        "--checkpoint-dir",
        str(work / "checkpoints"),
        "--log-dir",
        str(work / "logs"),
        "--checkpoint-interval",
        "1s",
        "--window",
        f"{WINDOW_MS // 1000}s",
        "--join-bound",
        f"{JOIN_BOUND_MS // 1000}s",
        "--out-of-orderness",
        "2s",
        *extra,
    ]


def producer_args(bootstrap_servers: str, topics: TopicNames, rate: float, seed: int, *extra: str) -> list:
    return [
        "produce",
        "--bootstrap-servers",
        bootstrap_servers,
        "--impressions-topic",
        topics.impressions,
        "--clicks-topic",
        topics.clicks,
        "--rate",
        f"{rate:g}",
        "--click-probability",
        str(CLICK_PROBABILITY),
        "--max-click-delay",
        MAX_CLICK_DELAY,
        "--seed",
        str(seed),
        "--progress-interval",
        "200ms",
        *extra,
    ]


def progress(line: str) -> dict[str, int]:
    """The counts of a producer progress line (impressions, clicks, pending, errors, buffered)."""
    return {
        name: int(value)
        for name, value in re.findall(r"(impressions|clicks|pending|errors|buffered) (\d+)", line)
    }


def progress_lines(producer: CollectedOutput) -> list[dict[str, int]]:
    return [progress(line) for line in list(producer.stderr) if line.startswith("[ctr produce]")]


def topic_events(broker: EmbeddedBroker, topics: TopicNames, at_least: int = 1) -> tuple[list, list]:
    """Every impression and click on the topics, decoded."""
    impressions = read_topic(broker, topics.impressions, at_least, timeout=120, settle=3.0)
    clicks = read_topic(broker, topics.clicks, 0, timeout=120, settle=3.0)
    return [decode_impression(m.value()) for m in impressions], [decode_click(m.value()) for m in clicks]


def close_every_window(broker: EmbeddedBroker, topics: TopicNames, impressions: list, clicks: list) -> None:
    """Far-future sentinels in every partition, so that the job fires every window of the events."""
    events = EventSet([(i.ts, i) for i in impressions], [(c.ts, c) for c in clicks])
    produce_sentinels(broker, topics, events)


def key(row: CtrRow) -> tuple:
    return (row.campaign_id, row.window_start, row.window_end, row.impressions, row.clicks, round(row.ctr, 9))


def compare(rows: list[CtrRow], expected: list[CtrRow]) -> dict[str, int]:
    """Rows missing from the committed ones, rows not in the reference, and windows committed twice."""
    got, want = Counter(map(key, rows)), Counter(map(key, expected))
    windows = Counter((row.campaign_id, row.window_start) for row in rows)
    return {
        "rows": len(rows),
        "expected": len(expected),
        "missing": sum((want - got).values()),
        "wrong": sum((got - want).values()),
        "twice": sum(count - 1 for count in windows.values() if count > 1),
    }


def start_job(bootstrap_servers: str, topics: TopicNames, work: Path, *extra: str) -> CollectedOutput:
    return CollectedOutput(start_ctr(*job_args(bootstrap_servers, topics, work, *extra)))


def jvms(job: CollectedOutput) -> list[psutil.Process]:
    return [p for p in psutil.Process(job.process.pid).children(recursive=True) if "java" in p.name()]


def kill_jvm(job: CollectedOutput) -> None:
    java = jvms(job)
    assert java, "no JVM under the job process"
    for process in java:
        process.send_signal(signal.SIGKILL)
    assert job.finish(60) != 0


def stop(process: CollectedOutput | None) -> None:
    """SIGTERM a process still running (SIGKILL after 60 s) and wait for it."""
    if process is None or process.process.poll() is not None:
        return
    process.process.send_signal(signal.SIGTERM)
    try:
        process.finish(60)
    except subprocess.TimeoutExpired:
        process.process.kill()
        process.finish(30)


def rows_when_complete(work: Path, expected: list[CtrRow], job: CollectedOutput) -> list[CtrRow]:
    """The committed rows once every expected window is there and one more checkpoint completed."""

    def complete() -> bool:
        assert job.process.poll() is None, f"the job exited early:\n{''.join(job.stderr)[-3000:]}"
        return len(read_results(work / "results")) >= len(expected)

    wait_for(complete, RESULT_TIMEOUT, "every window to be committed", interval=0.5)
    last = latest_checkpoint(work / "checkpoints")
    wait_for(lambda: latest_checkpoint(work / "checkpoints") != last, 60, "one more checkpoint", interval=0.2)
    return read_results(work / "results")


def finish_and_compare(
    broker: EmbeddedBroker, topics: TopicNames, work: Path, job: CollectedOutput, at_least: int = 1
) -> tuple[dict[str, int], list, list]:
    """With the producers stopped: the reference of the topics, the job's rows against it."""
    impressions, clicks = topic_events(broker, topics, at_least)
    expected = reference_ctr(impressions, clicks, WINDOW_MS, JOIN_BOUND_MS)
    close_every_window(broker, topics, impressions, clicks)
    rows = rows_when_complete(work, expected, job)
    return compare(rows, expected), impressions, clicks


def duplicated(ids: list[str]) -> int:
    return sum(count - 1 for count in Counter(ids).values() if count > 1)


@pytest.mark.slow
def test_producer_sigkill_loses_only_its_scheduled_clicks(broker, topics, tmp_path, capsys):
    rate, first_seed, second_seed = 200, 11, 12
    first = CollectedOutput(start_ctr(*producer_args(broker.bootstrap_servers, topics, rate, first_seed)))
    try:
        first.wait_for_stderr(
            lambda line: progress(line).get("impressions", 0) >= 6 * rate, 60, "six seconds of traffic"
        )
        before_kill = progress_lines(first)[-1]
        killed_ms = int(time.time() * 1000)
        first.process.send_signal(signal.SIGKILL)
        assert first.finish(30) == -signal.SIGKILL
    finally:
        first.process.kill()
    second = run_ctr(
        *producer_args(broker.bootstrap_servers, topics, rate, second_seed, "--max-events", "600")
    )
    assert second.returncode == 0, second.stderr
    second_summary = summary_of(second.stdout)

    job = start_job(broker.bootstrap_servers, topics, tmp_path)
    try:
        figures, impressions, clicks = finish_and_compare(broker, topics, tmp_path, job)
    finally:
        stop(job)
    first_model = TrafficModel(
        ProducerSettings(
            rate=rate, click_probability=CLICK_PROBABILITY, max_click_delay=MAX_CLICK_DELAY, seed=first_seed
        ).live(),
        first_seed,
    )
    made = [first_model.impression(0) for _ in range(before_kill["impressions"] + 10 * rate)]
    first_clicks = {impression.impr_id: click for impression, click in made}
    sent_clicks = {click.click_id for click in clicks}
    on_topic_first = [i for i in impressions if i.impr_id in first_clicks]
    scheduled = [
        (click.click_id, impression.ts + click.ts)
        for impression in on_topic_first
        if (click := first_clicks[impression.impr_id]) is not None
    ]
    lost = [(click_id, due) for click_id, due in scheduled if click_id not in sent_clicks]
    backlog = [due for _, due in scheduled if due >= killed_ms]
    resent = len(on_topic_first) - len(set(i.impr_id for i in on_topic_first))
    report(
        capsys,
        "producer SIGKILL",
        first_impressions=len(on_topic_first),
        pending_last_progress=before_kill["pending"],
        scheduled_not_due_at_kill=len(backlog),
        clicks_lost=len(lost),
        lost_in_flight=sum(due < killed_ms for _, due in lost),
        second_impressions=second_summary["impressions"],
        duplicate_impressions=duplicated([i.impr_id for i in impressions]),
        duplicate_clicks=duplicated([c.click_id for c in clicks]),
        **figures,
    )
    assert all(due >= killed_ms - IN_FLIGHT_MS for _, due in lost), (
        "a click due well before the kill was lost"
    )
    assert sum(due >= killed_ms for _, due in lost) == len(backlog), "a click not yet due was sent"
    assert resent == 0 and duplicated([i.impr_id for i in impressions]) == 0
    assert duplicated([c.click_id for c in clicks]) == 0
    assert len(impressions) == len(on_topic_first) + second_summary["impressions"]
    assert figures["missing"] == figures["wrong"] == figures["twice"] == 0, figures
