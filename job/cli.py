"""``ctr job``: run the CTR job on a local Flink mini-cluster (or as the FlinkDeployment's Python driver)."""

import argparse
import logging
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Optional

from ctr import settings
from ctr_job.checkpoints import latest_checkpoint
from ctr_job.event_format import event_format_jar
from ctr_job.jars import JarError, connector_jars
from ctr_job.preflight import PreflightError, check_checkpoint, check_topics, check_writable_dir
from ctr_job.runtime import flink_configuration, prepare_jvm_environment, statement_set
from ctr_job.sql import JobSql, statements

log = logging.getLogger("ctr.job")
STATUS_POLL = 1.0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``job`` subcommand."""
    settings.add_command(subparsers, "job", "run the CTR job (Flink SQL) on a local mini-cluster",
                         "Join impressions to clicks, count 30 s windows per campaign, commit CSV results on checkpoints.",
                         settings.JOB_SETTINGS, run)


def job_jars(choice: str) -> list[Path]:
    """The jars the job adds to Flink for a ``--job-jars`` choice (none for 'classpath')."""
    if choice == "auto":
        return [*connector_jars(), event_format_jar()]
    if choice == "classpath":
        return []
    paths = [Path(item) for item in choice.split(",")]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise JarError(f"jar(s) not found: {', '.join(missing)}")
    return paths


def _restore_point(values: dict[str, Any]) -> Optional[Path]:
    choice = values["from_checkpoint"]
    if choice is None:
        return None
    if choice == "latest":
        found = latest_checkpoint(Path(values["checkpoint_dir"]))
        if found is None:
            log.warning("no retained checkpoint in %s: starting without state", values["checkpoint_dir"])
        return found
    check_checkpoint(Path(choice))
    return Path(choice)


def job_sql(values: dict[str, Any]) -> JobSql:
    """The SQL parameters of the job from its resolved settings."""
    return JobSql(
        bootstrap_servers=values["bootstrap_servers"], impressions_topic=values["impressions_topic"],
        clicks_topic=values["clicks_topic"], dlq_topic=values["dlq_topic"], group_id=values["group_id"],
        output_path=Path(values["output_dir"]).resolve().as_uri(), window_ms=round(values["window"] * 1000),
        join_bound_ms=round(values["join_bound"] * 1000), out_of_orderness_ms=round(values["out_of_orderness"] * 1000),
    )


#: Failures with a known remedy: a text in the root cause -> what to do.
REMEDIES = {
    "Too many open files": "the CSV sink keeps one file open per campaign (and subtask) until a checkpoint commits it: "
                           "raise the open-file limit (ulimit -n) above the number of campaigns",
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


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Start the job, wait until it ends or is stopped (SIGTERM/SIGINT cancel it), return the exit code."""
    values = settings.resolve_settings(parser, args, settings.JOB_SETTINGS)
    try:
        jars = job_jars(values["job_jars"])
        check_writable_dir(Path(values["checkpoint_dir"]), "checkpoint directory")
        check_writable_dir(Path(values["output_dir"]), "output directory")
        check_writable_dir(Path(values["log_dir"]), "log directory")
        restore_from = _restore_point(values)
        check_topics(values["bootstrap_servers"], (values["impressions_topic"], values["clicks_topic"], values["dlq_topic"]))
    except (JarError, PreflightError) as err:
        print(f"ctr job: {err}", file=sys.stderr, flush=True)
        return 1
    tmp_dir = Path(values["log_dir"]) / "tmp"
    prepare_jvm_environment(Path(values["log_dir"]), values["flink_log_level"], tmp_dir)
    try:
        return _run_flink(values, flink_configuration(values, jars, tmp_dir, restore_from), restore_from)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def _run_flink(values: dict[str, Any], configuration: dict[str, str], restore_from: Optional[Path]) -> int:
    from py4j.protocol import Py4JError
    from pyflink.common import JobStatus

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        client = statement_set(configuration, *statements(job_sql(values))).execute().get_job_client()
        print(f"ctr job: running {client.get_job_id()}{f' from {restore_from}' if restore_from else ''}; "
              f"results in {values['output_dir']}, Flink log in {values['log_dir']}", file=sys.stderr, flush=True)
        while not stop.wait(STATUS_POLL):
            status = client.get_job_status().result()
            if status in (JobStatus.FINISHED, JobStatus.CANCELED):
                return 0
            if status == JobStatus.FAILED:
                client.get_job_execution_result().result()
                return 1
        client.cancel().result()
        print(f"ctr job: cancelled; checkpoints retained in {values['checkpoint_dir']}", file=sys.stderr, flush=True)
        return 0
    except Py4JError as err:
        print(f"ctr job: failed: {failure_message(_root_cause(err))}", file=sys.stderr, flush=True)
        return 1
