"""The job on the local Flink cluster (a JobManager in application mode and TaskManagers): the chart's
FlinkDeployment run as rendered, parallelism and rescaling over two TaskManagers, checked against the
reference."""

import sys
import time
from dataclasses import asdict
from pathlib import Path

import psutil
import pytest

from ctr.broker import free_port
from ctr.reference import reference_ctr
from ctr.topics import DEFAULT_PARTITIONS
from ctr_job.checkpoints import latest_checkpoint
from ctr_job.cluster_config import Places, cluster_configuration
from ctr_job.jars import built_jars
from ctr_job.local.cluster import LocalCluster, local_configuration
from ctr_job.local.launcher import ENTRY_MODULE
from ctr_results.files import read_results

from helpers.commands import job_args
from helpers.events import JOIN_BOUND_MS, WINDOW_MS, hard_cases, produce, produce_sentinels
from helpers.figures import report_figures
from helpers.helm import render
from helpers.job_runs import RESULT_TIMEOUT, stop_job, wait_for_results
from helpers.processes import CollectedOutput, start_ctr, wait_for
from helpers.results import comparable

#: The chart's paths in the job image and its pods, and what this machine has instead (under a
#: test's directory, or the repository's entry module).
CHART_DATA = "/flink-data"
CHART_LOGS = "/tmp/ctr-logs"
CHART_ENTRY = "/opt/ctr/flink_entry.py"
CHART_METRICS_PORT = "9249"
HEAP = "384m"


def flink_deployment_spec(helm: str, chart: Path, topics) -> dict:
    """The FlinkDeployment's spec, the chart rendered with its default values (its topics named as this
    test's own on the shared broker)."""
    sets = [arg for role, topic in asdict(topics).items() for arg in ("--set", f"topics.{role}.name={topic}")]
    return next(d for d in render(helm, chart, *sets) if d["kind"] == "FlinkDeployment")["spec"]


def remapped(text: str, work: Path, bootstrap: str, kafka: str, port: str) -> str:
    """``text`` with the chart's paths, Kafka address and metrics port replaced by this machine's."""
    if text == CHART_METRICS_PORT:
        return port
    if text == kafka:
        return bootstrap
    return (
        text.replace(CHART_ENTRY, str(ENTRY_MODULE))
        .replace(CHART_DATA, str(work / "flink-data"))
        .replace(CHART_LOGS, str(work / "logs"))
    )


def test_the_chart_s_flink_configuration_is_the_local_cluster_s_but_for_places(helm, chart):
    from ctr.topics import TopicNames

    spec = flink_deployment_spec(helm, chart, TopicNames())
    local = cluster_configuration(
        Places(
            checkpoint_dir=f"{CHART_DATA}/checkpoints",
            ha_dir=f"{CHART_DATA}/ha",
            slots=spec["flinkConfiguration"]["taskmanager.numberOfTaskSlots"],
            metrics_port=CHART_METRICS_PORT,
        )
    )
    assert spec["flinkConfiguration"] == local


@pytest.mark.slow
@pytest.mark.jvm
def test_the_chart_s_job_as_rendered_runs_on_two_taskmanagers(broker, topics, helm, chart, tmp_path):
    """entryClass, args and flinkConfiguration of the rendered FlinkDeployment, only its paths, Kafka address
    and metrics port remapped: the committed rows equal the reference."""
    spec = flink_deployment_spec(helm, chart, topics)
    args = spec["job"]["args"]
    kafka = args[args.index("--bootstrap-servers") + 1]
    port = free_port()
    remap = {"work": tmp_path, "bootstrap": broker.bootstrap_servers, "kafka": kafka}
    program = [remapped(arg, **remap, port=str(port)) for arg in args]
    # The reporter's port: one per process, the JobManager's first (ctr_job.local.launcher.metrics_ports).
    configuration = {
        key: remapped(str(value), **remap, port=f"{port}-{port + 2}")
        for key, value in spec["flinkConfiguration"].items()
    }
    events = hard_cases(seed=4)
    produce(broker, topics, events)
    produce_sentinels(broker, topics, events)
    expected = reference_ctr(events.plain_impressions(), events.plain_clicks(), WINDOW_MS, JOIN_BOUND_MS)
    (tmp_path / "logs").mkdir()
    cluster = LocalCluster(
        tmp_path / "logs",
        local_configuration(configuration, free_port(), tmp_path / "tmp", HEAP, metrics=True),
        built_jars(),
        "WARN",
        taskmanagers=2,
    )
    results = tmp_path / "flink-data" / "results"
    started = time.monotonic()
    try:
        cluster.start(spec["job"]["entryClass"], program)
        wait_for(lambda: cluster.running_job() is not None, 180, "the job RUNNING in the REST API", 0.5)
        running = time.monotonic() - started

        def complete() -> bool:
            assert cluster.jobmanager.running, f"the JobManager exited; see {cluster.work}"
            return len(read_results(results)) >= len(expected)

        wait_for(complete, RESULT_TIMEOUT, "every window to be committed", interval=0.5)
    finally:
        cluster.stop(30)
    report_figures(
        "cluster", "the chart's job on 2 TaskManagers", running_after_s=f"{running:.1f}", rows=len(expected)
    )
    assert comparable(read_results(results)) == comparable(expected)


def run_job(broker, topics, work: Path, *extra: str) -> CollectedOutput:
    return CollectedOutput(
        start_ctr(
            *job_args(
                broker.bootstrap_servers, topics, work, "--taskmanagers", "2", "--jvm-heap", HEAP, *extra
            )
        )
    )


@pytest.mark.slow
@pytest.mark.jvm
def test_parallelism_4_over_two_taskmanagers_counts_exactly_and_sigterm_stops_every_process(
    broker, topics, tmp_path
):
    """Four source subtasks on three partitions: one subtask has none, and holds the watermark back
    until the idle timeout marks it idle (--idle-timeout 15s here instead of the default 60 s; the
    input is all on the topics before the job starts, so no partition with events waits that long)."""
    assert DEFAULT_PARTITIONS < 4, "the topics have a partition for every source subtask"
    events = hard_cases(seed=5)
    produce(broker, topics, events)
    produce_sentinels(broker, topics, events)
    expected = reference_ctr(events.plain_impressions(), events.plain_clicks(), WINDOW_MS, JOIN_BOUND_MS)
    job = run_job(broker, topics, tmp_path, "--parallelism", "4", "--idle-timeout", "15s")
    try:
        rows = wait_for_results(tmp_path / "results", expected, job)
        cluster = psutil.Process(job.process.pid).children(recursive=True)
        jvms = [p for p in cluster if p.name() == "java"]
    finally:
        stop_job(job)
    assert comparable(rows) == comparable(expected)
    assert len(jvms) == 3, "a JobManager and two TaskManagers"
    assert not [p for p in cluster if p.is_running() and p.status() != psutil.STATUS_ZOMBIE], (
        "a process of the cluster outlived SIGTERM to ctr job"
    )


def run_until_committed_and_checkpointed(broker, topics, work: Path, parallelism: int, *extra: str) -> int:
    """Run the job at ``parallelism`` until it has committed more rows than before and retained a new
    checkpoint, then stop it; return its committed rows."""
    before = len(read_results(work / "results"))
    last = latest_checkpoint(work / "checkpoints")
    job = run_job(broker, topics, work, "--parallelism", str(parallelism), *extra)
    try:
        wait_for(
            lambda: (
                latest_checkpoint(work / "checkpoints") not in (None, last)
                and len(read_results(work / "results")) > before
            ),
            RESULT_TIMEOUT,
            "a committed window and a new retained checkpoint",
            interval=0.5,
        )
    finally:
        stop_job(job)
    return len(read_results(work / "results"))


@pytest.mark.slow
@pytest.mark.jvm
def test_stopped_at_one_parallelism_restored_at_another_counts_exactly_once(broker, topics, tmp_path):
    """Parallelism 2, stopped, restored at 1, stopped, restored at 2: the rebuilt due-queue of ClickFlags
    after each rescale; the rows equal the reference, none twice."""
    events = hard_cases(seed=7, count=600, span_ms=6 * WINDOW_MS)
    start = min(ts for ts, _ in events.impressions)
    first, rest = events.split(before_ts=start + 70_000)
    second, third = rest.split(before_ts=start + 130_000)
    expected = reference_ctr(events.plain_impressions(), events.plain_clicks(), WINDOW_MS, JOIN_BOUND_MS)
    committed = []
    for part, parallelism, restore in ((first, 2, ()), (second, 1, ("--from-checkpoint", "latest"))):
        produce(broker, topics, part)
        committed.append(
            run_until_committed_and_checkpointed(broker, topics, tmp_path, parallelism, *restore)
        )
    assert committed[-1] < len(expected), "every window was committed before the last stop"
    produce(broker, topics, third)
    produce_sentinels(broker, topics, events)
    job = run_job(broker, topics, tmp_path, "--parallelism", "2", "--from-checkpoint", "latest")
    try:
        rows = wait_for_results(tmp_path / "results", expected, job)
    finally:
        stop_job(job)
    report_figures("cluster", "rescaled 2 → 1 → 2", committed_rows_at_stops="/".join(map(str, committed)))
    assert comparable(rows) == comparable(expected)


def test_the_job_manager_runs_the_entry_module_with_the_job_s_flags_and_its_jars_on_the_classpath(tmp_path):
    from ctr.settings.command_line import flag
    from ctr.settings.models import JobSettings, LocalJobSettings
    from ctr_job.local.launcher import driver_args

    settings = LocalJobSettings(output_dir="out", taskmanagers=2, web_ui_port=0, from_checkpoint="latest")
    args = driver_args(settings, tmp_path / "chk-3")
    assert args[:2] == ["-py", str(ENTRY_MODULE)]
    given = dict(zip(args[2::2], args[3::2]))
    by_flag = {flag(name): name for name in JobSettings.model_fields}
    assert set(given) <= set(by_flag), "a flag of the local cluster only went to the job"
    job = JobSettings.model_validate({by_flag[name]: value for name, value in given.items()})
    assert job.job_jars == "classpath" and job.from_checkpoint == str(tmp_path / "chk-3")
    assert job.output_dir == str(Path("out").resolve())


def test_each_process_of_the_cluster_gets_its_own_metrics_port():
    from ctr.settings.models import LocalJobSettings
    from ctr_job.local.launcher import metrics_ports

    assert metrics_ports(LocalJobSettings(metrics_port=9249, taskmanagers=3)) == "9249-9252"
    assert metrics_ports(LocalJobSettings()) is None


@pytest.mark.slow
@pytest.mark.jvm
def test_a_job_that_fails_for_good_exits_1_naming_its_root_cause(broker, topics, tmp_path):
    """No restarts allowed and its only TaskManager SIGKILLed: the job fails, every process stops."""
    job = CollectedOutput(
        start_ctr(*job_args(broker.bootstrap_servers, topics, tmp_path, "--restart-attempts", "0"))
    )
    try:
        # A completed checkpoint: every task runs (the job is RUNNING before its tasks are deployed).
        wait_for(lambda: latest_checkpoint(tmp_path / "checkpoints") is not None, 180, "a checkpoint", 0.2)
        children = psutil.Process(job.process.pid).children()
        taskmanagers = [p for p in children if "TaskManagerRunner" in " ".join(p.cmdline())]
        assert len(taskmanagers) == 1
        taskmanagers[0].kill()
        assert job.finish(120) == 1
    finally:
        if job.process.poll() is None:
            job.process.kill()
    stderr = "".join(job.stderr)
    assert "ctr job: failed: " in stderr, stderr[-3000:]
    assert not [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_the_local_configuration_is_the_cluster_s_over_the_distribution_s_with_local_places(tmp_path):
    options = cluster_configuration(Places(str(tmp_path / "chk"), str(tmp_path / "ha"), "2", "9249-9250"))
    local = local_configuration(options, 8082, tmp_path / "tmp", "512m", metrics=True)
    places = {"high-availability.type", "rest.port", "io.tmp.dirs", "python.client.executable"}
    assert {key: local[key] for key in options if key not in places} == {
        key: value for key, value in options.items() if key not in places
    }
    assert local["high-availability.type"] == "NONE" and local["rest.bind-address"] == "127.0.0.1"
    assert local["python.client.executable"] == sys.executable, "ctr's own interpreter, not the image's"
    assert local["taskmanager.memory.task.heap.size"] == local["jobmanager.memory.heap.size"] == "512m"
    assert "taskmanager.memory.process.size" not in local, "the heap sizes the processes"
    assert local["env.java.opts.all"], "the distribution's JVM options (Java 17's --add-opens) are kept"
    without = local_configuration(options, 8082, tmp_path / "tmp", "512m", metrics=False)
    assert not [key for key in without if key.startswith("metrics.reporter.")]
