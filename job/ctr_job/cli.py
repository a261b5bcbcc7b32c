"""The CTR job's program: what Flink's Python driver runs in the JobManager (``flink_entry.py``), in the
FlinkDeployment and on ``ctr job``'s local cluster (``ctr_job.local.launcher``)."""

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ctr.durations import format_duration
from ctr.logs import add_log_level_flag, configure_logging
from ctr.processes import stop_event
from ctr.results_contract import BUCKETS
from ctr.settings.command_line import add_flags, resolve
from ctr.settings.models import JobSettings
from ctr_job.campaign_gauge import with_campaign_gauge
from ctr_job.checkpoints import latest_checkpoint
from ctr_job.jars import JarError, built_jars
from ctr_job.plan import build_plan
from ctr_job.preflight import PreflightError, check_checkpoint, check_writable_dir, wait_for_topics
from ctr_job.results_topic import with_results_topic
from ctr_job.runtime import flink_configuration, table_environment
from ctr_job.sql import JobSql

log = logging.getLogger("ctr.job")
STATUS_POLL = 1.0


def description() -> str:
    """What the job does, with its window and join bound as the settings define them."""
    fields = JobSettings.model_fields
    return (
        "Join each impression to its clicks within --join-bound "
        f"(default {format_duration(fields['join_bound'].default)}), count tumbling windows of --window "
        f"(default {format_duration(fields['window'].default)}) per campaign, "
        "commit CSV results on checkpoints."
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the job's program (in the JobManager, under Flink's Python driver): the job's flags."""
    parser = argparse.ArgumentParser(prog="ctr job", description=description())
    add_log_level_flag(parser)
    add_flags(parser, JobSettings)
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    return run(parser, args)


def job_jars(choice: str) -> list[Path]:
    """The jars the job adds to Flink for a ``--job-jars`` choice (none for 'classpath')."""
    if choice == "auto":
        return built_jars()
    if choice == "classpath":
        return []
    paths = [Path(item) for item in choice.split(",")]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise JarError(f"jar(s) not found: {', '.join(missing)}")
    return paths


def restore_point(settings: JobSettings) -> Path | None:
    """The checkpoint ``--from-checkpoint`` names (the newest retained one for 'latest'), or None."""
    choice = settings.from_checkpoint
    if choice is None:
        return None
    if choice == "latest":
        found = latest_checkpoint(Path(settings.checkpoint_dir))
        if found is None:
            log.warning("no retained checkpoint in %s: starting without state", settings.checkpoint_dir)
        return found
    check_checkpoint(Path(choice))
    return Path(choice)


def job_sql(settings: JobSettings) -> JobSql:
    """The SQL parameters of the job from its resolved settings."""
    return JobSql(
        bootstrap_servers=settings.bootstrap_servers,
        impressions_topic=settings.impressions_topic,
        clicks_topic=settings.clicks_topic,
        dlq_topic=settings.dlq_topic,
        group_id=settings.group_id,
        output_path=Path(settings.output_dir).resolve().as_uri(),
        window_ms=round(settings.window * 1000),
        join_bound_ms=round(settings.join_bound * 1000),
        out_of_orderness_ms=round(settings.out_of_orderness * 1000),
        live_topic=settings.live_topic,
        update_interval_ms=round(settings.update_interval * 1000),
    )


#: Failures with a known remedy: a text in the root cause -> what to do.
REMEDIES = {
    "Too many open files": "the CSV sink keeps a file open per sink subtask and results partition "
    f"(window day and campaign bucket, at most {BUCKETS} buckets) until a checkpoint commits it, "
    "and Flink and Kafka need their own: raise the open-file limit (ulimit -n)",
}


def failure_message(root_cause: str) -> str:
    """The root cause of a failed job, with the remedy when it is a known one."""
    remedies = [remedy for text, remedy in REMEDIES.items() if text in root_cause]
    return "; ".join([root_cause, *remedies])


def _root_cause(error: BaseException) -> str:
    java = getattr(error, "java_exception", None)
    if java is None:
        return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    while java.getCause() is not None and java.getCause() != java:
        java = java.getCause()
    return java.toString()


def checked_inputs(settings: JobSettings) -> tuple[list[Path], Path | None]:
    """What the job needs, checked before it starts: its jars, writable directories, the checkpoint to
    restore from (if any), and its topics on Kafka (waited for up to --kafka-wait).

    Raises JarError or PreflightError, whose text says what is wrong.
    """
    jars = job_jars(settings.job_jars)
    check_writable_dir(Path(settings.checkpoint_dir), "checkpoint directory")
    check_writable_dir(Path(settings.output_dir), "output directory")
    check_writable_dir(Path(settings.log_dir), "log directory")
    restore_from = restore_point(settings)
    wait_for_topics(
        settings.bootstrap_servers,
        (settings.impressions_topic, settings.clicks_topic, settings.dlq_topic)
        + ((settings.results_topic,) if settings.publish_results else ())
        + ((settings.live_topic,) if settings.update_interval else ()),
        settings.kafka_wait,
    )
    return jars, restore_from


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Start the job, wait until it ends or is stopped (SIGTERM/SIGINT cancel it), return the exit code."""
    settings = resolve(parser, args, JobSettings)
    try:
        jars, restore_from = checked_inputs(settings)
    except (JarError, PreflightError) as err:
        print(f"ctr job: {err}", file=sys.stderr, flush=True)
        return 1
    tmp_dir = Path(settings.log_dir) / "tmp"
    return _run_flink(settings, flink_configuration(settings, jars, tmp_dir, restore_from), restore_from)


def _run_flink(settings: JobSettings, configuration: dict[str, str], restore_from: Path | None) -> int:
    from py4j.protocol import Py4JError
    from pyflink.common import JobStatus

    stop = stop_event()
    try:
        sinks = with_campaign_gauge(settings, *with_results_topic(settings, [], []))
        table_env = table_environment(configuration)
        client = build_plan(table_env, job_sql(settings), sinks=sinks).execute().get_job_client()
        print(
            f"ctr job: running {client.get_job_id()}{f' from {restore_from}' if restore_from else ''}; "
            f"results in {settings.output_dir}, Flink log in {settings.log_dir}",
            file=sys.stderr,
            flush=True,
        )
        while not stop.wait(STATUS_POLL):
            status = client.get_job_status().result()
            if status in (JobStatus.FINISHED, JobStatus.CANCELED):
                return 0
            if status == JobStatus.FAILED:
                client.get_job_execution_result().result()
                return 1
        client.cancel().result()
        print(
            f"ctr job: cancelled; checkpoints retained in {settings.checkpoint_dir}",
            file=sys.stderr,
            flush=True,
        )
        return 0
    except Py4JError as err:
        print(f"ctr job: failed: {failure_message(_root_cause(err))}", file=sys.stderr, flush=True)
        return 1
