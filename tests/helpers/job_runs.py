"""Runs of ``ctr job``: waited for until every window is committed, stopped; and the one run with its
metrics on and its rows published to the results topic, followed by ``ctr results --topic --follow``
from before the job starts, that tests/test_metrics.py and tests/test_results_topic.py share
(conftest.py's ``published_run``: a Flink run costs a minute of both cores)."""

import json
import subprocess
from pathlib import Path

from ctr.broker import KafkaBroker, free_port
from ctr.reference import CtrRow, reference_ctr
from ctr_results.files import read_results

from helpers.commands import job_args, results_topic_args
from helpers.events import JOIN_BOUND_MS, WINDOW_MS, hard_cases, produce, produce_sentinels
from helpers.kafka import fresh_topics, messages_on
from helpers.processes import CollectedOutput, start_ctr, stop, wait_for
from helpers.prometheus import scrape
from helpers.results import results_from_topic

#: How long a job run may take to commit every window of the hard cases.
RESULT_TIMEOUT = 240


def wait_for_results(
    output: Path, expected: list[CtrRow], job: CollectedOutput, timeout: float = RESULT_TIMEOUT
) -> list[CtrRow]:
    """The committed rows in ``output`` once there are as many as ``expected`` (the job must keep running)."""

    def complete() -> bool:
        assert job.process.poll() is None, f"the job exited early:\n{''.join(job.stderr)[-3000:]}"
        return len(read_results(output)) >= len(expected)

    wait_for(complete, timeout, "every window to be committed", interval=0.5)
    return read_results(output)


def followed_rows(follower: CollectedOutput) -> list[dict]:
    """The rows ``ctr results --topic --format json --follow`` has printed so far, as JSON objects."""
    return [json.loads(line) for line in follower.stdout if line.strip()]


#: The followers of a published run: ``ctr results --topic --follow`` (the live topic: live rows, then
#: each window's final row) and ``--follow --final`` (the results topic: final rows only).
FOLLOWERS = {"live": ("--follow",), "final": ("--follow", "--final")}


def all_followed(followers: dict[str, CollectedOutput], expected: list[CtrRow]) -> bool:
    """Whether both followers have printed every window's final row (and are still running)."""
    for follower in followers.values():
        assert follower.process.poll() is None, "".join(follower.stderr)[-3000:]
    finals = [row for row in followed_rows(followers["live"]) if row["final"]]
    return len(finals) >= len(expected) and len(followed_rows(followers["final"])) >= len(expected)


def stop_job(job: CollectedOutput) -> None:
    """SIGTERM the job; it must exit 0 (it cancels the Flink job and stops its cluster)."""
    assert stop(job) == 0, "".join(job.stderr)[-3000:]


def published_run(broker: KafkaBroker, work: Path) -> dict:
    """The hard cases and the malformed messages through ``ctr job --metrics-port P --publish-results
    true``: its CSV rows, the rows ``ctr results --topic --final`` reads, the rows the FOLLOWERS
    (started before the job) printed and their exit codes on SIGTERM, a scrape once every window is
    committed, and the reference."""
    topics = fresh_topics(broker)
    events = hard_cases(seed=3)
    produce(broker, topics, events, malformed=True)
    produce_sentinels(broker, topics, events)
    expected = reference_ctr(events.plain_impressions(), events.plain_clicks(), WINDOW_MS, JOIN_BOUND_MS)
    port = free_port()
    extra = ("--metrics-port", str(port), "--publish-results", "true", "--results-topic", topics.results)
    followers = {
        name: CollectedOutput(start_ctr(*results_topic_args(broker.bootstrap_servers, topics, *flags)))
        for name, flags in FOLLOWERS.items()
    }
    try:
        job = CollectedOutput(start_ctr(*job_args(broker.bootstrap_servers, topics, work, *extra)))
    except BaseException:
        for follower in followers.values():
            stop(follower)
        raise
    try:
        rows = wait_for_results(work / "results", expected, job)
        # The JobManager's reporter is on the port given, the TaskManager's on the next one.
        metrics = scrape(port) + scrape(port + 1)
        read = [subprocess.CompletedProcess([], 1)]

        def all_on_the_topic() -> bool:
            read[0] = results_from_topic(broker, topics, "--final")
            return read[0].returncode == 0 and len(json.loads(read[0].stdout)) >= len(expected)

        wait_for(all_on_the_topic, 60, "every row on the results topic", interval=1.0)
        from_topic = read[0]

        wait_for(lambda: all_followed(followers, expected), 60, "every final row followed", interval=0.5)
    finally:
        try:
            stop_job(job)
        finally:
            codes = {name: stop(follower, 30) for name, follower in followers.items()}
    return {
        "rows": rows,
        "expected": expected,
        "from_topic": from_topic,
        "followed": {name: followed_rows(follower) for name, follower in followers.items()},
        "follower_exits": {name: (codes[name], "".join(f.stderr)) for name, f in followers.items()},
        "metrics": metrics,
        "sent": {topic: messages_on(broker, topic) for topic in (topics.impressions, topics.clicks)},
        "topics": topics,
        "broker": broker,
    }
