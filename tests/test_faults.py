"""Faults injected into the running pipeline, each measured: what was lost, what was counted twice.

Each scenario prints one line of figures (``[faults] ...``); docs/reliability.md records them.
The job's committed rows are compared with the reference computed from what is on the topics
afterwards (``ctr.reference.reference_ctr``).
"""

import asyncio
import json
import os
import re
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest

from ctr.broker import KafkaBroker, free_port
from ctr.events import Click, Impression, decode_click, decode_impression
from ctr.reference import reference_ctr
from ctr.results_contract import CtrRow, LiveRow
from ctr.settings.models import ProducerSettings
from ctr.topics import TopicNames
from ctr_job.checkpoints import latest_checkpoint
from ctr_operator import desired
from ctr_operator.spec import ProducerSpec
from ctr_producer.traffic import TrafficModel
from ctr_results.files import read_results

from helpers.commands import job_args, produce_args
from helpers.events import EventSet, produce_sentinels
from helpers.figures import report_figures
from helpers.job_runs import wait_for_results
from helpers.kafka import messages_on, read_topic
from helpers.kubernetes import (
    change_spec,
    create_producer,
    emulated_cluster,
    eventually,
    identities,
    kill_operator,
    live_setting_is,
    start_operator,
    stop_operator,
)
from helpers.processes import CollectedOutput, jvms, kill_jvms, run_ctr, start_ctr, stop, wait_for
from helpers.producer import progress, progress_lines, summary_of
from helpers.prometheus import samples, scrape
from helpers.results import live_row_violations, row_key

WINDOW_MS = 5_000
JOIN_BOUND_MS = 5_000
MAX_CLICK_DELAY = "3s"
CLICK_PROBABILITY = 0.2
RESULT_TIMEOUT = 300
#: A click due this long before a SIGKILL may still sit in the producer's last round (50 ms) or in the
#: client's linger (50 ms) when the process dies: it is in flight, not yet on the topic.
IN_FLIGHT_MS = 500


#: The environment variable that marks every process a scenario starts (they inherit it).
SCENARIO_MARK = "CTR_TESTS_FAULT_SCENARIO"


@pytest.fixture(autouse=True)
def no_process_left_behind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """Every process a scenario starts carries a mark in its environment; none may outlive the test."""
    mark = f"{request.node.name}-{time.monotonic_ns()}"
    monkeypatch.setenv(SCENARIO_MARK, mark)
    yield
    wait_for(lambda: not marked_processes(mark), 30, "the scenario's processes to exit", interval=0.2)


def marked_processes(mark: str) -> list[str]:
    """The processes other than this one whose environment carries ``mark``."""
    found = []
    for process in psutil.process_iter(["pid", "name"]):
        try:
            if process.pid != os.getpid() and process.environ().get(SCENARIO_MARK) == mark:
                found.append(f"{process.info['name']}[{process.pid}]")
        except psutil.Error:
            pass
    return found


def producer_args(
    bootstrap_servers: str, topics: TopicNames, rate: float, seed: int, **settings: object
) -> list:
    """``ctr produce``'s arguments for these tests' traffic."""
    return produce_args(
        bootstrap_servers,
        topics,
        rate=f"{rate:g}",
        click_probability=CLICK_PROBABILITY,
        max_click_delay=MAX_CLICK_DELAY,
        seed=seed,
        progress_interval="200ms",
        **settings,
    )


def topic_events(broker: KafkaBroker, topics: TopicNames) -> tuple[list, list]:
    """Every impression and click on the topics, decoded: as many as the topics' end offsets count (the
    producers have stopped; they send no transactions, so every offset is an event)."""
    impressions = read_topic(broker, topics.impressions, messages_on(broker, topics.impressions), 120, 0.5)
    clicks = read_topic(broker, topics.clicks, messages_on(broker, topics.clicks), 120, 0.5)
    return [decode_impression(m.value()) for m in impressions], [decode_click(m.value()) for m in clicks]


def close_every_window(broker: KafkaBroker, topics: TopicNames, impressions: list, clicks: list) -> None:
    """Far-future sentinels in every partition, so that the job fires every window of the events."""
    events = EventSet([(i.ts, i) for i in impressions], [(c.ts, c) for c in clicks])
    produce_sentinels(broker, topics, events)


def compare(rows: list[CtrRow], expected: list[CtrRow]) -> dict[str, int]:
    """Rows missing from the committed ones, rows not in the reference, and windows committed twice."""
    got, want = Counter(map(row_key, rows)), Counter(map(row_key, expected))
    windows = Counter((row.campaign_id, row.window_start) for row in rows)
    return {
        "rows": len(rows),
        "expected": len(expected),
        "missing": sum((want - got).values()),
        "wrong": sum((got - want).values()),
        "twice": sum(count - 1 for count in windows.values() if count > 1),
    }


def start_job(bootstrap_servers: str, topics: TopicNames, work: Path, *extra: str) -> CollectedOutput:
    """``ctr job`` with these tests' windows."""
    windows = {"window_ms": WINDOW_MS, "join_bound_ms": JOIN_BOUND_MS, "out_of_orderness": "2s"}
    return CollectedOutput(start_ctr(*job_args(bootstrap_servers, topics, work, *extra, **windows)))


def rows_when_complete(
    work: Path, expected: list[CtrRow], job: CollectedOutput, checkpoints: Path
) -> list[CtrRow]:
    """The committed rows once every expected window is there and one more checkpoint completed."""
    wait_for_results(work / "results", expected, job, RESULT_TIMEOUT)
    last = latest_checkpoint(checkpoints)
    wait_for(lambda: latest_checkpoint(checkpoints) != last, 60, "one more checkpoint", interval=0.2)
    return read_results(work / "results")


def finish_and_compare(
    broker: KafkaBroker,
    topics: TopicNames,
    work: Path,
    job: CollectedOutput,
    checkpoints: Path | None = None,
) -> tuple[dict[str, int], list, list]:
    """With the producers stopped: the reference of the topics, the job's rows against it."""
    impressions, clicks = topic_events(broker, topics)
    expected = reference_ctr(impressions, clicks, WINDOW_MS, JOIN_BOUND_MS)
    close_every_window(broker, topics, impressions, clicks)
    rows = rows_when_complete(work, expected, job, checkpoints or work / "checkpoints")
    return compare(rows, expected), impressions, clicks


def replay(seed: int, rate: float, count: int) -> list[tuple[Impression, Click | None]]:
    """The first ``count`` impressions a producer with this seed makes, each with its click or None;
    times are relative (impression at 0, its click at its delay)."""
    live = ProducerSettings(
        rate=rate, click_probability=CLICK_PROBABILITY, max_click_delay=MAX_CLICK_DELAY, seed=seed
    ).live()
    model = TrafficModel(live, seed)
    return [model.impression(0) for _ in range(count)]


def duplicated(ids: list[str]) -> int:
    return sum(count - 1 for count in Counter(ids).values() if count > 1)


@pytest.mark.slow
@pytest.mark.jvm
def test_producer_sigkill_loses_only_its_scheduled_clicks(broker, topics, tmp_path):
    rate, first_seed, second_seed = 200, 11, 12
    first = CollectedOutput(start_ctr(*producer_args(broker.bootstrap_servers, topics, rate, first_seed)))
    try:
        first.wait_for_stderr(
            lambda line: progress(line).get("impressions", 0) >= 6 * rate, 60, "six seconds of traffic"
        )
        before_kill = progress_lines(first.stderr)[-1]
        killed_ms = int(time.time() * 1000)
        first.process.send_signal(signal.SIGKILL)
        assert first.finish(30) == -signal.SIGKILL
    finally:
        first.process.kill()
    second = run_ctr(*producer_args(broker.bootstrap_servers, topics, rate, second_seed, max_events=600))
    assert second.returncode == 0, second.stderr
    second_summary = summary_of(second.stdout)

    job = start_job(broker.bootstrap_servers, topics, tmp_path)
    try:
        figures, impressions, clicks = finish_and_compare(broker, topics, tmp_path, job)
    finally:
        stop(job)
    made = replay(first_seed, rate, before_kill["impressions"] + 10 * rate)
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
    report_figures(
        "faults",
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
    assert duplicated([i.impr_id for i in impressions]) == duplicated([c.click_id for c in clicks]) == 0, (
        "an event was sent twice"
    )
    assert len(impressions) == len(on_topic_first) + second_summary["impressions"]
    assert figures["missing"] == figures["wrong"] == figures["twice"] == 0, figures


def in_progress_files(results: Path) -> set[Path]:
    """The part files a fired window writes before the checkpoint that commits them."""
    return {path for path in results.rglob(".part-*") if "inprogress" in path.name}


def flink_log(work: Path) -> str:
    return "".join(path.read_text(errors="replace") for path in (work / "logs").glob("*.log"))


@pytest.fixture
def small_filesystem(tmp_path):
    """A 16 MiB tmpfs of the test's own (never the machine's disk), unmounted at the end."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "ctr-test", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=True)


def fill(filesystem: Path) -> Path:
    """Write one file until ``filesystem`` has no space left; return it."""
    filler = filesystem / "filler"
    with open(filler, "wb", buffering=0) as out:
        try:
            while out.write(b"\0" * 65536):
                pass
        except OSError:
            pass
    return filler


@pytest.mark.slow
@pytest.mark.jvm
def test_full_checkpoint_storage_stops_commits_not_processing(broker, topics, tmp_path, small_filesystem):
    checkpoints = small_filesystem / "checkpoints"
    metrics_port = free_port()
    producer = CollectedOutput(start_ctr(*producer_args(broker.bootstrap_servers, topics, 200, 31)))
    job = start_job(
        broker.bootstrap_servers,
        topics,
        tmp_path,
        "--checkpoint-dir",
        str(checkpoints),
        "--metrics-port",
        str(metrics_port),
    )
    results = tmp_path / "results"
    try:
        wait_for(lambda: read_results(results), RESULT_TIMEOUT, "a committed window", interval=0.5)
        filler = fill(small_filesystem)
        wait_for(
            lambda: _failed_checkpoints(tmp_path) >= 3,
            120,
            "three failed checkpoints",
            interval=0.5,
        )
        committed_when_full = len(read_results(results))
        written_when_full = _in_progress_bytes(results)
        wait_for(lambda: _failed_checkpoints(tmp_path) >= 15, 120, "fifteen failed checkpoints", interval=0.5)
        assert job.process.poll() is None, "".join(job.stderr)[-3000:]
        committed_while_full = len(read_results(results))
        written_while_full = _in_progress_bytes(results)
        failed = _failed_checkpoints(tmp_path)
        failed_in_metrics = _job_metric(metrics_port, "flink_jobmanager_job_numberOfFailedCheckpoints")
        filler.unlink()
        stop(producer)
        assert producer.process.returncode == 0, "".join(producer.stderr)[-2000:]
        figures, _, _ = finish_and_compare(broker, topics, tmp_path, job, checkpoints=checkpoints)
    finally:
        stop(producer)
        stop(job)
    report_figures(
        "faults",
        "checkpoint storage full",
        failed_checkpoints=failed,
        failed_checkpoints_metric=f"{failed_in_metrics:g}",
        committed_rows_when_full=committed_when_full,
        committed_rows_while_full=committed_while_full,
        uncommitted_bytes_written_while_full=written_while_full - written_when_full,
        **figures,
    )
    assert failed_in_metrics >= failed, "the job's metrics do not count the failed checkpoints"
    assert committed_while_full == committed_when_full, "rows were committed without a checkpoint"
    assert written_while_full > written_when_full, "the job stopped processing while checkpoints failed"
    assert figures["missing"] == figures["wrong"] == figures["twice"] == 0, figures


def _failed_checkpoints(work: Path) -> int:
    return len(set(re.findall(r"Failed to trigger or complete checkpoint (\d+) ", flink_log(work))))


def _job_metric(port: int, name: str) -> float:
    """The value of one of the job's (job-level) Prometheus series."""
    return next(value for found, _, value in samples(scrape(port)) if found == name)


def _in_progress_bytes(results: Path) -> int:
    return sum(path.stat().st_size for path in in_progress_files(results) if path.exists())


@pytest.fixture
def own_broker(tmp_path):
    """A Kafka broker of the test's own, to stop or kill and start again on the same directory."""
    with KafkaBroker(tmp_path / "broker") as running:
        yield running


@pytest.mark.slow
@pytest.mark.broker
@pytest.mark.jvm
@pytest.mark.parametrize(("how", "outage"), [("stop", 15.0), ("kill", 10.0)])
def test_broker_outage_loses_nothing_and_counts_nothing_twice(own_broker, tmp_path, how, outage):
    """The broker stopped (SIGTERM) or killed (SIGKILL) mid-run and started again on its directory.

    The stop lasts 15 s, longer than librdkafka's reconnect backoff takes to grow to its maximum (from
    100 ms, doubling, to ``reconnect.backoff.max.ms``, 10 s: about 13 s), the kill 10 s. On 127.0.0.1
    the broker's connections close when it stops or dies, so no request waits out a client timeout;
    the limits an outage could reach (the producer's ``message.timeout.ms``, 300 s, past which its
    buffered events become delivery errors; the job's idle timeout, 60 s) are far off for both."""
    broker, rate = own_broker, 1000
    topics = TopicNames.with_suffix(f"outage-{how}")
    broker.create_pipeline_topics(topics)
    bootstrap = broker.bootstrap_servers
    producer = CollectedOutput(start_ctr(*producer_args(bootstrap, topics, rate, 41)))
    job = start_job(bootstrap, topics, tmp_path)
    results = tmp_path / "results"
    try:
        wait_for(lambda: read_results(results), RESULT_TIMEOUT, "a committed window", interval=0.5)
        jvm_before = {p.pid for p in jvms(job)}
        committed_before = len(read_results(results))
        getattr(broker, how)()
        down_at = time.monotonic()
        producer.wait_for_stderr(
            lambda line: "waiting for the broker" in line, 30, "the producer to say it waits"
        )
        wait_for(lambda: time.monotonic() - down_at >= outage, outage + 5, "the outage to last", interval=0.5)
        during = progress_lines(producer.stderr)
        broker.start()
        restarted_at = time.monotonic()
        wait_for(
            lambda: progress_lines(producer.stderr)[-1].get("buffered", 0) < rate,
            120,
            "the producer's buffer to drain",
            interval=0.2,
        )
        drained_after = time.monotonic() - restarted_at
        wait_for(
            lambda: len(read_results(results)) > committed_before + 3,
            RESULT_TIMEOUT,
            "commits after the outage",
            interval=0.5,
        )
        stop(producer)
        assert producer.process.returncode == 0, "".join(producer.stderr)[-3000:]
        summary = summary_of("".join(producer.stdout))
        figures, impressions, clicks = finish_and_compare(broker, topics, tmp_path, job)
        jvm_after = {p.pid for p in jvms(job)}
    finally:
        stop(producer)
        stop(job)
    restarts = flink_log(tmp_path).count("switched from state RUNNING to RESTARTING")
    lost_impressions, lost_clicks = lost_at_the_broker(
        replay(41, rate, summary["impressions"]), impressions, clicks
    )
    report_figures(
        "faults",
        f"broker outage ({how})",
        rate=rate,
        outage_s=f"{outage:g}",
        peak_buffered=max(line.get("buffered", 0) for line in during),
        drained_after_s=f"{drained_after:.1f}",
        impressions_sent=summary["impressions"],
        impressions_on_topic=len(impressions),
        clicks_sent=summary["clicks"],
        clicks_on_topic=len(clicks),
        delivery_errors=summary["delivery_errors"],
        acknowledged_but_lost=f"{lost_impressions}+{lost_clicks}",
        duplicate_impressions=duplicated([i.impr_id for i in impressions]),
        duplicate_clicks=duplicated([c.click_id for c in clicks]),
        job_restarts=restarts,
        **figures,
    )
    assert jvm_after == jvm_before, "the job's JVM was restarted"
    assert summary["delivery_errors"] == 0 and summary["clicks_dropped"] == 0
    assert lost_impressions == lost_clicks == 0, "acknowledged events are not on the topics"
    assert duplicated([i.impr_id for i in impressions]) == duplicated([c.click_id for c in clicks]) == 0
    assert figures["missing"] == figures["wrong"] == figures["twice"] == 0, figures


def lost_at_the_broker(
    made: list[tuple[Impression, Click | None]], impressions: list[Impression], clicks: list[Click]
) -> tuple[int, int]:
    """How many of the impressions and clicks the producer made (all delivered, by its summary) are
    not on the topics."""
    on_topic = {impression.impr_id for impression in impressions}
    clicked = {click.click_id for click in clicks}
    return (
        sum(impression.impr_id not in on_topic for impression, _ in made),
        sum(click is not None and click.click_id not in clicked for _, click in made),
    )


async def _matches_spec(api, name: str) -> bool:
    """The ConfigMap and the Deployment's replicas are what the Producer's current spec asks for."""
    producer = await api.get(api.producers(name))
    spec = ProducerSpec.model_validate(producer["spec"])
    config_map, deployment = await api.get(api.config_map(name)), await api.get(api.deployment(name))
    return (
        bool(config_map and deployment)
        and config_map["data"] == desired.config_map(name, spec)["data"]
        and deployment["spec"]["replicas"] == spec.pods
    )


@pytest.mark.asyncio
async def test_operator_killed_mid_change_converges_without_restarting_pods(kmock, tmp_path):
    api = emulated_cluster(kmock, tmp_path)
    changes = [
        ({"rate": 600, "state": "Stopped"}, "right after the change"),
        ({"rate": 90, "state": "Running"}, "once the ConfigMap changed"),
        ({"rate": 300, "state": "Stopped", "clickProbability": 0.4}, "once the ConfigMap changed"),
    ]
    operator = start_operator(api)
    outputs = []
    try:
        await create_producer(api, "faulty", rate=300, replicas=3)
        await eventually(lambda: _matches_spec(api, "faulty"), "the first reconcile")
        template = (await api.get(api.deployment("faulty")))["spec"]["template"]
        created = await identities(api, "faulty")
        converged_after, template_changes = [], 0
        for generation, (spec, when) in enumerate(changes, start=2):
            await change_spec(api, "faulty", spec, generation)
            if when == "once the ConfigMap changed":
                per_pod = spec["rate"] / 3
                await eventually(
                    lambda per_pod=per_pod: live_setting_is(api, "faulty", "rate", per_pod), "the ConfigMap"
                )
            outputs.append(await kill_operator(operator))
            operator = start_operator(api)
            restarted = asyncio.get_running_loop().time()
            await eventually(lambda: _matches_spec(api, "faulty"), "the restarted operator to converge")
            converged_after.append(asyncio.get_running_loop().time() - restarted)
            template_changes += (await api.get(api.deployment("faulty")))["spec"]["template"] != template
        created_again = len((await identities(api, "faulty"))["creations"]) - len(created["creations"])
    finally:
        outputs.append(await stop_operator(operator))
    report_figures(
        "faults",
        "operator SIGKILL mid-change",
        kills=len(changes),
        converged_after_s="/".join(f"{seconds:.1f}" for seconds in converged_after),
        template_changes=template_changes,
        objects_created_again=created_again,
    )
    assert template_changes == 0, "a restarted operator changed the pod template: the pods restarted"
    assert created_again == 0, "a restarted operator created objects again"
    assert not any("Traceback" in output for output in outputs), outputs


def cluster_process(job: CollectedOutput, entry_class: str) -> list[psutil.Process]:
    """The JVMs of the job's local cluster that run ``entry_class`` (the JobManager's or a TaskManager's)."""
    return [p for p in jvms(job) if entry_class in " ".join(p.cmdline())]


TASKMANAGER = "org.apache.flink.runtime.taskexecutor.TaskManagerRunner"
JOBMANAGER = "org.apache.flink.container.entrypoint.StandaloneApplicationClusterEntryPoint"


def wait_for_a_window_to_fire(job: CollectedOutput, results: Path, checkpoints: Path, offset: float) -> int:
    """Once a window is committed and a checkpoint retained: wait for the next window to fire (its rows
    in a new in-progress part file, committed only by the next checkpoint), then ``offset`` s more (a
    kill lands at a different point of the firing); the rows committed then."""
    wait_for(
        lambda: read_results(results) and latest_checkpoint(checkpoints),
        RESULT_TIMEOUT,
        "a committed window and a retained checkpoint",
        interval=0.2,
    )
    seen = in_progress_files(results)
    wait_for(
        lambda: job.process.poll() is None and bool(in_progress_files(results) - seen),
        RESULT_TIMEOUT,
        "a window to fire",
        interval=0.02,
    )
    time.sleep(offset)  # not a wait for readiness: the point after the firing the kill is to hit
    return len(read_results(results))


def kill(job: CollectedOutput, entry_class: str) -> None:
    """SIGKILL one process of the job's cluster that runs ``entry_class``."""
    victims = cluster_process(job, entry_class)
    assert victims, f"no {entry_class} under the job"
    victims[0].send_signal(signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.jvm
def test_taskmanager_jobmanager_then_every_jvm_killed_while_windows_fire_restore_exactly(
    broker, topics, tmp_path
):
    """Two TaskManagers of one slot, parallelism 2, the rows published to the results topic; each kill
    0, 0.3 and 0.7 s after a window fired: one TaskManager SIGKILLed (ctr starts another, the job
    restarts from its latest checkpoint), then the JobManager (ctr job exits; started again with
    --from-checkpoint latest), then every JVM of the job at once (the same). Recovery: from the kill to
    the next checkpoint that completes."""
    results, checkpoints = tmp_path / "results", tmp_path / "checkpoints"
    cluster = ("--taskmanagers", "2", "--task-slots", "1", "--parallelism", "2", "--jvm-heap", "384m")
    cluster += ("--restart-strategy", "exponential-delay")  # as the FlinkDeployment runs it
    cluster += ("--publish-results", "true", "--results-topic", topics.results)
    offsets = {"taskmanager": 0.0, "jobmanager": 0.3, "every_jvm": 0.7}
    producer = CollectedOutput(start_ctr(*producer_args(broker.bootstrap_servers, topics, 200, 31)))
    job = start_job(broker.bootstrap_servers, topics, tmp_path, *cluster)
    recovered, committed_at_kill = {}, []
    try:
        committed_at_kill.append(wait_for_a_window_to_fire(job, results, checkpoints, offsets["taskmanager"]))
        last = latest_checkpoint(checkpoints)
        kill(job, TASKMANAGER)
        killed = time.monotonic()
        job.wait_for_stderr(lambda line: "starting another" in line, 60, "a replacement TaskManager")
        wait_for(lambda: latest_checkpoint(checkpoints) != last, 180, "a checkpoint after the restart", 0.2)
        recovered["taskmanager"] = time.monotonic() - killed
        assert job.process.poll() is None, "".join(job.stderr)[-3000:]

        committed_at_kill.append(wait_for_a_window_to_fire(job, results, checkpoints, offsets["jobmanager"]))
        kill(job, JOBMANAGER)
        killed = time.monotonic()
        assert job.finish(60) == 1, "".join(job.stderr)[-3000:]
        last = latest_checkpoint(checkpoints)
        job = start_job(broker.bootstrap_servers, topics, tmp_path, *cluster, "--from-checkpoint", "latest")
        wait_for(lambda: latest_checkpoint(checkpoints) != last, 180, "a checkpoint after the restore", 0.2)
        recovered["jobmanager"] = time.monotonic() - killed

        committed_at_kill.append(wait_for_a_window_to_fire(job, results, checkpoints, offsets["every_jvm"]))
        killed = time.monotonic()
        kill_jvms(job)
        last = latest_checkpoint(checkpoints)
        job = start_job(broker.bootstrap_servers, topics, tmp_path, *cluster, "--from-checkpoint", "latest")
        wait_for(lambda: latest_checkpoint(checkpoints) != last, 180, "a checkpoint after the restore", 0.2)
        recovered["every_jvm"] = time.monotonic() - killed
        stop(producer)
        assert producer.process.returncode == 0, "".join(producer.stderr)[-2000:]
        figures, _, _ = finish_and_compare(broker, topics, tmp_path, job)
        rows = read_results(results)
        published = read_topic(broker, topics.results, len(rows))
        live = [
            LiveRow(**json.loads(message.value())) for message in read_topic(broker, topics.live, len(rows))
        ]
    finally:
        stop(producer)
        stop(job)
    report_figures(
        "faults",
        "TaskManager, JobManager, then every JVM SIGKILL while windows fire (2 TaskManagers, parallelism 2)",
        live_topic_records=len(live),
        offsets_s="/".join(f"{offset:g}" for offset in offsets.values()),
        committed_rows_at_kills="/".join(map(str, committed_at_kill)),
        **{f"{name}_kill_to_next_checkpoint": f"{value:.1f}s" for name, value in recovered.items()},
        results_topic_records=len(published),
        **figures,
    )
    assert figures["missing"] == figures["wrong"] == figures["twice"] == 0, figures
    keys = [message.key() for message in published]
    assert len(keys) == len(set(keys)), "a row is on the results topic twice (an aborted transaction read)"
    assert sorted(CtrRow(**json.loads(message.value())) for message in published) == sorted(rows)
    # Across the three restores, each window's live rows never went down and ended with its final row.
    assert live_row_violations(live, rows) == []
