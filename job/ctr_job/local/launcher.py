"""``ctr job``: run the CTR job on a local Flink cluster of processes, as the FlinkDeployment runs it.

The JobManager runs in application mode, started as the Flink operator starts it: Flink's
``PythonDriver`` runs the job's entry module (``flink_entry.py``) with the job's flags, the program
arguments of the chart's FlinkDeployment. ``--taskmanagers`` TaskManagers of ``--task-slots`` slots
each run its tasks; one that exits is replaced, as Kubernetes restarts a pod.
"""

import argparse
import shutil
import sys
from pathlib import Path

from ctr.processes import ChildExited, free_port, stop_event
from ctr.settings.command_line import add_command, flags, resolve
from ctr.settings.models import JobSettings, LocalJobSettings
from ctr_job.cli import checked_inputs, description
from ctr_job.cluster_config import Places, cluster_configuration
from ctr_job.jars import JarError
from ctr_job.local.cluster import LocalCluster, local_configuration
from ctr_job.preflight import PreflightError

SUMMARY = "run the CTR job (Flink SQL) on a local Flink cluster (a JobManager and TaskManagers)"
#: The Python driver the FlinkDeployment names as its entry class, and the module it runs.
ENTRY_CLASS = "org.apache.flink.client.python.PythonDriver"
ENTRY_MODULE = Path(__file__).resolve().parent.parent / "flink_entry.py"
#: The job's own lines in the JobManager's output (its driver's), shown on ``ctr job``'s stderr.
DRIVER_PREFIX = "ctr job:"
POLL = 0.5
#: How long the JobManager may take to end the job and exit once it is cancelled.
CANCEL_TIMEOUT = 60.0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``job`` subcommand to the ``ctr`` command."""
    add_command(subparsers, "job", SUMMARY, description(), LocalJobSettings, run)


def say(text: str) -> None:
    """One line on stderr, prefixed as the job's own are."""
    print(f"ctr job: {text}", file=sys.stderr, flush=True)


def driver_args(settings: LocalJobSettings, restore_from: Path | None) -> list[str]:
    """The program arguments of the JobManager: ``-py`` the entry module, then the job's flags (its
    paths absolute; its jars on the cluster's classpath, as in the job image; the checkpoint found)."""
    values = settings.model_dump(mode="json", include=set(JobSettings.model_fields))
    for name in ("output_dir", "checkpoint_dir", "log_dir"):
        values[name] = str(Path(values[name]).resolve())
    values["job_jars"] = "classpath"
    values["from_checkpoint"] = None if restore_from is None else str(restore_from.resolve())
    return ["-py", str(ENTRY_MODULE), *flags(**{name: v for name, v in values.items() if v is not None})]


def metrics_ports(settings: LocalJobSettings) -> str | None:
    """The Prometheus reporter's ports: ``--metrics-port`` for the JobManager (it starts first), the
    next ``--taskmanagers`` for the TaskManagers in the order they start."""
    port = settings.metrics_port
    return None if port is None else f"{port}-{port + settings.taskmanagers}"


def cluster_options(settings: LocalJobSettings) -> dict[str, str]:
    """The cluster's Flink options (the FlinkDeployment's) at this job's places."""
    checkpoints = Path(settings.checkpoint_dir).resolve()
    return cluster_configuration(
        Places(
            checkpoint_dir=str(checkpoints),
            ha_dir=str(Path(settings.log_dir).resolve() / "ha"),
            slots=str(settings.task_slots),
            metrics_port=metrics_ports(settings) or "",
        )
    )


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Check what the job needs, start the cluster, supervise it until the job ends or SIGTERM/SIGINT
    cancels it; stop every process started; return the exit code."""
    settings = resolve(parser, args, LocalJobSettings)
    try:
        jars, restore_from = checked_inputs(settings)
    except (JarError, PreflightError) as err:
        say(str(err))
        return 1
    log_dir = Path(settings.log_dir).resolve()
    tmp_dir = log_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    configuration = local_configuration(
        cluster_options(settings),
        rest_port=settings.web_ui_port or free_port(),
        tmp_dir=tmp_dir,
        heap=settings.jvm_heap,
        metrics=settings.metrics_port is not None,
    )
    cluster = LocalCluster(log_dir, configuration, jars, settings.flink_log_level, settings.taskmanagers)
    try:
        return supervise(cluster, settings, driver_args(settings, restore_from))
    finally:
        cluster.stop(CANCEL_TIMEOUT)
        shutil.rmtree(tmp_dir, ignore_errors=True)


class DriverOutput:
    """Follows the JobManager's output file and shows the job's own lines (its driver's) on stderr."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # The file may hold an earlier run's output (the same --log-dir): only what comes after counts.
        self.offset = path.stat().st_size if path.is_file() else 0

    def show_new_lines(self) -> None:
        """Print the lines written since the last call that start with DRIVER_PREFIX."""
        if not self.path.is_file():
            return
        with self.path.open("rb") as output:
            output.seek(self.offset)
            text = output.read()
        complete = text[: text.rfind(b"\n") + 1]
        self.offset += len(complete)
        for line in complete.decode(errors="replace").splitlines():
            if line.startswith(DRIVER_PREFIX):
                print(line, file=sys.stderr, flush=True)


def supervise(cluster: LocalCluster, settings: LocalJobSettings, program: list[str]) -> int:
    """Run the cluster: the job's lines shown, exited TaskManagers replaced, until the job ends (its
    exit code), the JobManager is lost (1) or a signal cancels the job (0)."""
    stop = stop_event()
    say(f"Flink Web UI at {cluster.web_ui}; logs in {cluster.work}")
    output = DriverOutput(cluster.jobmanager_output)
    try:
        cluster.start(ENTRY_CLASS, program, stopped=stop.is_set)
    except (ChildExited, TimeoutError) as err:
        output.show_new_lines()
        reason = err or "no REST API in time"
        say(f"the JobManager did not start ({reason}); see {cluster.jobmanager_output}")
        return 1
    job_id = None
    while not stop.wait(POLL):
        output.show_new_lines()
        code = cluster.jobmanager.exit_code()
        if code is not None:
            output.show_new_lines()
            if code == 0:
                return 0
            say(
                f"the JobManager exited with code {code}; see {cluster.work} "
                "(--from-checkpoint latest resumes from the newest retained checkpoint)"
            )
            return 1
        for number, exit_code in cluster.replace_exited_taskmanagers():
            say(f"TaskManager {number} exited with code {exit_code}: starting another")
        if job_id is None:
            job_id = cluster.running_job()
            if job_id is not None:
                say(
                    f"job {job_id} RUNNING on {settings.taskmanagers} TaskManager(s) "
                    f"of {settings.task_slots} slot(s)"
                )
    job_id = job_id or cluster.running_job()
    if job_id is not None and cluster.cancel(job_id):
        cluster.jobmanager.wait_exit(CANCEL_TIMEOUT)
    output.show_new_lines()
    say(f"cancelled; checkpoints retained in {settings.checkpoint_dir}")
    return 0
