"""A job started before Kafka exists waits for it, as on a new cluster where Strimzi takes minutes."""

import time
import uuid

import pytest

from ctr.broker import KafkaBroker, free_port
from ctr.reference import reference_ctr
from ctr.settings.models import JobSettings
from ctr.topics import TopicNames

from helpers.commands import job_args
from helpers.events import JOIN_BOUND_MS, WINDOW_MS, hard_cases, produce, produce_sentinels
from helpers.figures import report_figures
from helpers.job_runs import stop_job, wait_for_results
from helpers.processes import CollectedOutput, start_ctr
from helpers.results import comparable

#: How long a job waits for Kafka unless told otherwise.
DEFAULT_KAFKA_WAIT = JobSettings.model_fields["kafka_wait"].default


@pytest.mark.slow
@pytest.mark.broker
@pytest.mark.jvm
def test_a_job_started_before_kafka_waits_then_counts_exactly(tmp_path):
    """The broker is started once the job says it waits (after a first try of a whole 10 s), and is up
    with its topics later than a job with the default --kafka-wait would have given up."""
    port = free_port()
    topics = TopicNames.with_suffix(uuid.uuid4().hex[:8])
    started = time.monotonic()
    job = CollectedOutput(start_ctr(*job_args(f"127.0.0.1:{port}", topics, tmp_path, "--kafka-wait", "3m")))
    broker = KafkaBroker(tmp_path / "broker", port=port)
    try:
        line = job.wait_for_stderr(
            lambda text: "waiting for Kafka" in text, 60, "the job to say what it waits for"
        )
        assert f"127.0.0.1:{port}" in line
        broker.start()
        broker.create_pipeline_topics(topics)
        assert job.process.poll() is None, "the job gave up before its --kafka-wait"
        assert time.monotonic() - started > DEFAULT_KAFKA_WAIT, "Kafka came within the default --kafka-wait"
        events = hard_cases(seed=3)
        produce(broker, topics, events)
        produce_sentinels(broker, topics, events)
        expected = reference_ctr(events.plain_impressions(), events.plain_clicks(), WINDOW_MS, JOIN_BOUND_MS)
        rows = wait_for_results(tmp_path / "results", expected, job)
        stop_job(job)
    finally:
        if job.process.poll() is None:
            job.process.kill()
        broker.stop()
    assert comparable(rows) == comparable(expected)


def test_a_job_whose_kafka_never_comes_gives_up_after_its_wait_saying_so(tmp_path):
    """It ends after its --kafka-wait (the 90 s of finish are a deadline, not a measure of speed),
    having said it waits, then that it waited 15 s."""
    topics = TopicNames.with_suffix(uuid.uuid4().hex[:8])
    started = time.monotonic()
    job = CollectedOutput(
        start_ctr(*job_args(f"127.0.0.1:{free_port()}", topics, tmp_path, "--kafka-wait", "15s"))
    )
    assert job.finish(90) == 1
    report_figures(
        "job", "Kafka never comes, --kafka-wait 15s", exited_after_s=f"{time.monotonic() - started:.1f}"
    )
    stderr = "".join(job.stderr)
    assert "waiting for Kafka" in stderr and "(waited 15s: raise --kafka-wait" in stderr, stderr
    assert stderr.index("waiting for Kafka") < stderr.index("(waited 15s"), stderr
