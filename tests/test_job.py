"""The CTR job on its local Flink cluster (a JobManager and a TaskManager) against the real broker,
checked against the reference."""

import json
import random
import resource
import shutil
import time

import pytest

from ctr.broker import free_port
from ctr.events import Click, Impression
from ctr.reference import reference_ctr
from ctr.topics import TopicNames
from ctr_job.checkpoints import latest_checkpoint
from ctr_job.jars import NOT_BUILT, jars_dir, pinned
from ctr_results.files import read_results

from helpers.commands import job_args
from helpers.events import (
    BASE,
    JOIN_BOUND_MS,
    MALFORMED_IMPRESSIONS,
    WINDOW_MS,
    EventSet,
    hard_cases,
    malformed_count,
    produce,
    produce_sentinels,
)
from helpers.figures import report_figures
from helpers.job_runs import RESULT_TIMEOUT, stop_job, wait_for_results
from helpers.kafka import fresh_topics, read_topic
from helpers.processes import CollectedOutput, kill_jvms, run_ctr, start_ctr, wait_for
from helpers.results import comparable


@pytest.fixture(scope="module")
def correctness_run(broker, tmp_path_factory):
    """One job run over the hard cases mixed with malformed messages: its rows, DLQ and reference."""
    topics = fresh_topics(broker)
    work = tmp_path_factory.mktemp("job")
    events = hard_cases(seed=1)
    produce(broker, topics, events, malformed=True)
    produce_sentinels(broker, topics, events)
    expected = reference_ctr(events.plain_impressions(), events.plain_clicks(), WINDOW_MS, JOIN_BOUND_MS)
    job = CollectedOutput(start_ctr(*job_args(broker.bootstrap_servers, topics, work)))
    try:
        rows = wait_for_results(work / "results", expected, job)
        dead_letters = [json.loads(m.value()) for m in read_topic(broker, topics.dlq, malformed_count())]
    finally:
        stop_job(job)
    return {"rows": rows, "expected": expected, "dead_letters": dead_letters, "topics": topics, "work": work}


@pytest.mark.slow
@pytest.mark.jvm
def test_rows_equal_the_reference(correctness_run):
    assert comparable(correctness_run["rows"]) == comparable(correctness_run["expected"])


@pytest.mark.slow
@pytest.mark.jvm
def test_unclicked_impressions_count(correctness_run):
    rows = correctness_run["rows"]
    assert any(row.clicks < row.impressions for row in rows), (
        "every window has CTR 1.0: the join dropped unclicked impressions"
    )
    assert any(row.campaign_id == "delta" and row.clicks == 0 and row.impressions == 1 for row in rows)


@pytest.mark.slow
@pytest.mark.jvm
def test_malformed_messages_go_to_the_dead_letter_topic(correctness_run):
    letters = correctness_run["dead_letters"]
    topics = correctness_run["topics"]
    assert len(letters) == malformed_count()
    assert all(letter["reason"] for letter in letters)
    assert (
        sum(letter["source_topic"] == topics.impressions for letter in letters)
        == len(MALFORMED_IMPRESSIONS) + 1
    )
    reasons = {letter["payload"]: letter["reason"] for letter in letters}
    assert reasons["not json at all"] == "not a JSON object"
    assert reasons['{"impr_id": "m1", "user_id": "u", "campaign_id": "c"}'] == "missing field ts"
    assert (
        reasons['{"impr_id": "m2", "user_id": "u", "campaign_id": "c", "ts": "soon"}']
        == "field ts is not BIGINT"
    )
    assert reasons['{"click_id": "k1", "user_id": "u", "ts": 1700000001000}'] == "missing field impr_id"
    assert (
        reasons['{"impr_id": 5, "user_id": "u", "campaign_id": "c", "ts": 1700000001000}']
        == "field impr_id is not STRING"
    )
    assert (
        reasons['{"impr_id": "m4", "user_id": "u", "campaign_id": "c", "ts": 1700000001000} trailing']
        == "not a JSON object"
    )
    assert (
        reasons['{"impr_id": "m5", "user_id": null, "campaign_id": "c", "ts": 1700000001000}']
        == "missing field user_id"
    )
    assert (
        reasons['{"impr_id": "m6", "user_id": "u", "campaign_id": "c", "ts": 123456789012345678901234}']
        == "field ts is not BIGINT"
    )
    assert [letter["reason"] for letter in letters if letter["payload"] is None] == ["not a JSON object"]


@pytest.mark.slow
@pytest.mark.jvm
def test_only_committed_files_are_read(correctness_run):
    results = correctness_run["work"] / "results"
    assert all(not path.name.startswith(".") for path in results.rglob("part-*"))
    result = run_ctr("results", str(results), "--format", "csv")
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "campaign_id,window_start,window_end,impressions,clicks,ctr"
    assert len(lines) - 1 == len(correctness_run["expected"])


@pytest.mark.slow
@pytest.mark.jvm
def test_exactly_once_across_a_jvm_crash(broker, topics, tmp_path):
    events = hard_cases(seed=2)
    first, second = events.split(before_ts=min(ts for ts, _ in events.impressions) + 70_000)
    expected = reference_ctr(events.plain_impressions(), events.plain_clicks(), WINDOW_MS, JOIN_BOUND_MS)
    produce(broker, topics, first)
    job = CollectedOutput(start_ctr(*job_args(broker.bootstrap_servers, topics, tmp_path)))
    wait_for(
        lambda: (
            latest_checkpoint(tmp_path / "checkpoints") is not None and read_results(tmp_path / "results")
        ),
        RESULT_TIMEOUT,
        "a committed window and a retained checkpoint",
        interval=0.5,
    )
    committed_before_crash = read_results(tmp_path / "results")
    kill_jvms(job)
    assert len(committed_before_crash) < len(expected), "every window was committed before the crash"

    produce(broker, topics, second)
    produce_sentinels(broker, topics, events)
    job = CollectedOutput(
        start_ctr(*job_args(broker.bootstrap_servers, topics, tmp_path, "--from-checkpoint", "latest"))
    )
    try:
        rows = wait_for_results(tmp_path / "results", expected, job)
    finally:
        stop_job(job)
    assert comparable(rows) == comparable(expected)


#: An open-file limit far below the campaign count of the next test (the JVM raises its soft limit
#: to the hard one, so both are set).
FEW_OPEN_FILES = 1024


def _few_open_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FEW_OPEN_FILES, FEW_OPEN_FILES))


@pytest.mark.slow
@pytest.mark.jvm
def test_more_campaigns_than_open_files(broker, topics, tmp_path):
    """Each of 3,000 campaigns has its own results row; the job keeps a bounded number of files open."""
    events = EventSet()
    rng = random.Random(3)
    for n in range(3_000):
        shown = Impression(f"many-{n}", "u", f"campaign-{n}", BASE + rng.randrange(2 * WINDOW_MS))
        events.add_impression(shown, rng)
        if n % 3 == 0:
            events.add_click(Click(f"many-click-{n}", shown.impr_id, "u", shown.ts + 1_000), rng)
    produce(broker, topics, events)
    produce_sentinels(broker, topics, events)
    expected = reference_ctr(events.plain_impressions(), events.plain_clicks(), WINDOW_MS, JOIN_BOUND_MS)
    job = CollectedOutput(
        start_ctr(*job_args(broker.bootstrap_servers, topics, tmp_path), preexec_fn=_few_open_files)
    )
    try:
        rows = wait_for_results(tmp_path / "results", expected, job)
    finally:
        stop_job(job)
    assert comparable(rows) == comparable(expected)
    assert len({row.campaign_id for row in rows}) == 3_000 > FEW_OPEN_FILES


def test_unreachable_broker_fails_after_its_kafka_wait_saying_so(tmp_path):
    """Bounded by --kafka-wait (10 s by default), not by how fast this machine is: the process must end
    within run_ctr's deadline, saying what it waited for."""
    started = time.monotonic()
    result = run_ctr(*job_args(f"127.0.0.1:{free_port()}", TopicNames(), tmp_path), timeout=120)
    report_figures("job", "unreachable broker", exited_after_s=f"{time.monotonic() - started:.1f}")
    assert result.returncode == 1 and "cannot reach Kafka" in result.stderr, result.stderr
    assert "(waited 10s: raise --kafka-wait to wait longer)" in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--checkpoint-dir", "/proc/ctr-checkpoints"], "checkpoint directory"),
        (["--from-checkpoint", "/nowhere/chk-1"], "not a checkpoint"),
        (["--job-jars", "/nowhere/kafka.jar"], "not found"),
    ],
)
def test_bad_paths_fail_fast_before_kafka(ctr_cli, tmp_path, extra, message):
    """The broker address is unreachable: a path checked after connecting would report Kafka instead."""
    result = ctr_cli(*job_args(f"127.0.0.1:{free_port()}", TopicNames(), tmp_path), *extra)
    assert result.returncode == 1
    assert message in result.stderr and "Kafka" not in result.stderr, result.stderr


def test_unbuilt_or_tampered_java_module_fails_fast_in_one_line(ctr_cli, tmp_path):
    """The jars are checked before Kafka: none built says how to build them; a changed jar is named."""
    unreachable = job_args(f"127.0.0.1:{free_port()}", TopicNames(), tmp_path)
    result = ctr_cli(*unreachable, env={"CTR_JOB_JARS_DIR": str(tmp_path / "empty")})
    assert result.returncode == 1
    assert result.stderr.strip() == f"ctr job: {NOT_BUILT}"
    shutil.copytree(jars_dir(), tmp_path / "built")
    tampered = next(iter(pinned()))
    with (tmp_path / "built" / "lib" / tampered).open("ab") as jar:
        jar.write(b"\0")
    result = ctr_cli(*unreachable, env={"CTR_JOB_JARS_DIR": str(tmp_path / "built")})
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert f"{tampered} has SHA-256" in result.stderr and "pinned" in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "name"),
    [
        (["--window", "30 seconds"], {}, "--window"),
        (["--window", "0s"], {}, "--window"),
        (["--join-bound=-1s"], {}, "--join-bound"),
        (["--checkpoint-interval", "0ms"], {}, "--checkpoint-interval"),
        (["--parallelism", "0"], {}, "--parallelism"),
        (["--flink-log-level", "LOUD"], {}, "--flink-log-level"),
        (["--taskmanagers", "0"], {}, "--taskmanagers"),
        (["--task-slots", "many"], {}, "--task-slots"),
        (["--web-ui-port", "70000"], {}, "--web-ui-port"),
        ([], {"CTR_OUT_OF_ORDERNESS": "soon"}, "CTR_OUT_OF_ORDERNESS"),
    ],
)
def test_out_of_range_job_settings_exit_2_naming_the_setting_before_kafka(ctr_cli, args, env, name):
    """The broker address is unreachable: a setting checked after connecting would report that instead."""
    result = ctr_cli("job", "--bootstrap-servers", f"127.0.0.1:{free_port()}", *args, env=env)
    assert result.returncode == 2 and name in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Kafka" not in result.stderr


def test_job_help_describes_the_window_from_its_setting(ctr_cli):
    from ctr.durations import format_duration
    from ctr.settings.models import JobSettings

    help_text = " ".join(ctr_cli("job", "--help").stdout.split())
    window = format_duration(JobSettings.model_fields["window"].default)
    assert f"windows of --window (default {window})" in help_text
