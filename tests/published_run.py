"""One run of the job with its metrics on and the CTR rows published to the results topic, shared by
tests/test_metrics.py and tests/test_results_topic.py (a Flink run costs a minute of both cores)."""

import json
import subprocess
import urllib.request

import pytest
from confluent_kafka import Consumer, TopicPartition
from events_for_tests import JOIN_BOUND_MS, WINDOW_MS, hard_cases, produce, produce_sentinels
from support import CollectedOutput, fresh_topics, run_ctr, start_ctr, wait_for
from test_job import job_args, stop_job, wait_for_results

from ctr.broker import KafkaBroker, free_port
from ctr.reference import reference_ctr


def scrape(port: int) -> str:
    """The text of a Prometheus endpoint on 127.0.0.1."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return response.read().decode()


def messages_on(broker: KafkaBroker, topic: str) -> int:
    """How many messages ``topic`` holds (the sum of its partitions' end offsets)."""
    consumer = Consumer({"bootstrap.servers": broker.bootstrap_servers, "group.id": f"count-{topic}"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions
        )
    finally:
        consumer.close()


def results_from_topic(broker: KafkaBroker, topic: str, *extra: str) -> subprocess.CompletedProcess:
    """``ctr results --topic --format json`` on ``topic``."""
    return run_ctr(
        "results",
        "--topic",
        "--format",
        "json",
        "--bootstrap-servers",
        broker.bootstrap_servers,
        "--results-topic",
        topic,
        *extra,
    )


@pytest.fixture(scope="session")
def published_run(broker, tmp_path_factory):
    """The hard cases and the malformed messages through ``ctr job --metrics-port P --publish-results
    true``: its CSV rows, the rows ``ctr results --topic`` reads, a scrape once every window is
    committed, and the reference."""
    topics = fresh_topics(broker)
    work = tmp_path_factory.mktemp("published")
    events = hard_cases(seed=3)
    produce(broker, topics, events, malformed=True)
    produce_sentinels(broker, topics, events)
    expected = reference_ctr(events.plain_impressions(), events.plain_clicks(), WINDOW_MS, JOIN_BOUND_MS)
    port = free_port()
    extra = ("--metrics-port", str(port), "--publish-results", "true", "--results-topic", topics.results)
    job = CollectedOutput(start_ctr(*job_args(broker.bootstrap_servers, topics, work, *extra)))
    try:
        rows = wait_for_results(work / "results", expected, job)
        # The JobManager's reporter is on the port given, the TaskManager's on the next one.
        metrics = scrape(port) + scrape(port + 1)
        read = [subprocess.CompletedProcess([], 1)]

        def all_on_the_topic() -> bool:
            read[0] = results_from_topic(broker, topics.results)
            return read[0].returncode == 0 and len(json.loads(read[0].stdout)) >= len(expected)

        wait_for(all_on_the_topic, 60, "every row on the results topic", interval=1.0)
        from_topic = read[0]
    finally:
        stop_job(job)
    return {
        "rows": rows,
        "expected": expected,
        "from_topic": from_topic,
        "metrics": metrics,
        "sent": {topic: messages_on(broker, topic) for topic in (topics.impressions, topics.clicks)},
        "topics": topics,
        "broker": broker,
    }
