"""``ctr demo``: the whole pipeline on one machine (Apache Kafka, producer, job), live CTR table."""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from ctr.broker import BrokerError, KafkaBroker
from ctr.processes import free_port, stop_event
from ctr.reference import format_time
from ctr.settings.command_line import add_command, env_var, environment, resolve
from ctr.settings.models import DemoSettings, JobSettings, LocalJobSettings, ProducerSettings
from ctr.topics import TopicNames
from ctr_job.memory import tree_rss
from ctr_job.progress import Progress, ProgressReader
from ctr_job.results import format_table, read_results

#: The demo's settings that it hands on to the producer and to the job (its duration is its own).
PRODUCER_FIELDS = (set(DemoSettings.model_fields) & set(ProducerSettings.model_fields)) - {"duration"}
JOB_FIELDS = (set(DemoSettings.model_fields) & set(LocalJobSettings.model_fields)) - {"web_ui_port"}
STOP_TIMEOUT = 60.0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    add_command(
        subparsers,
        "demo",
        "run broker, producer and job on this machine and show the CTR as windows close",
        "Start a local Apache Kafka broker, the producer and the CTR job; print each committed window "
        "until Ctrl-C or --duration.",
        DemoSettings,
        run,
    )


def _start(
    command: str, environment: dict[str, str], log_path: Path, stdout: int = subprocess.DEVNULL
) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "ctr.cli", command],
            env={**os.environ, **environment},
            stdout=stdout,
            stderr=log,
            start_new_session=True,
        )


def _stop(process: subprocess.Popen, name: str) -> str | None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        stdout, _ = process.communicate(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, _ = process.communicate()
        print(f"ctr demo: {name} did not stop within {STOP_TIMEOUT:g}s and was killed", file=sys.stderr)
    return stdout.decode() if stdout else None


def commit_delay(config: DemoSettings) -> tuple[float, float]:
    """How long after its end a window is committed, at the earliest and the latest: the watermark must
    pass the window's end plus the join bound (the clicks of its last impression) plus the
    out-of-orderness, then the next checkpoint commits it (up to one interval later)."""
    earliest = config.join_bound + config.out_of_orderness
    return earliest, earliest + config.checkpoint_interval


def next_commit(config: DemoSettings, after: float) -> float:
    """The latest time (epoch seconds) the first window ending after ``after`` is committed."""
    end = (after // config.window + 1) * config.window
    return end + commit_delay(config)[1]


def status_line(progress: Progress, due: float, now: float) -> str:
    """One line: events sent, read by the job, its watermark, and the countdown to the next commit."""
    watermark = (
        "not yet" if progress.watermark_ms is None else format_time(progress.watermark_ms)[11:] + " UTC"
    )
    left = due - now
    countdown = f"in {left:.0f}s" if left >= 1 else "any moment now"
    return (
        f"sent {progress.sent:,} events · job read {progress.read:,} (at its last checkpoint) · "
        f"its watermark {watermark} · next window committed {countdown}"
    )


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run the demo until Ctrl-C or --duration; stop everything it started; return the exit code."""
    config = resolve(parser, args, DemoSettings)
    data_dir = Path(config.data_dir)
    results, checkpoints, logs = data_dir / "results", data_dir / "checkpoints", data_dir / "logs"
    # The broker starts empty too: a job from empty checkpoints would resume at the group offsets of
    # an earlier run's topics and count part of a window.
    broker_dir = data_dir / "broker"
    for path in (results, checkpoints, logs, broker_dir):
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
    stop = stop_event()
    true_ctr = {c.name: c.true_ctr for c in config.campaigns if c.true_ctr is not None}
    try:
        broker = KafkaBroker(broker_dir, heap=config.broker_heap, log_path=logs / "broker.log").start()
    except BrokerError as err:
        print(f"ctr demo: {err}", file=sys.stderr)
        return 1
    failed = False
    try:
        broker.create_topics()
        common = {env_var("bootstrap_servers"): broker.bootstrap_servers}
        web_ui_port = config.web_ui_port or free_port()
        job = _start(
            "job",
            {
                **common,
                **environment(config, JOB_FIELDS),
                env_var("output_dir"): str(results),
                env_var("checkpoint_dir"): str(checkpoints),
                env_var("log_dir"): str(logs / "flink"),
                env_var("web_ui_port"): str(web_ui_port),
            },
            logs / "job.log",
        )
        producer = _start(
            "produce",
            {**common, **environment(config, PRODUCER_FIELDS)},
            logs / "producer.log",
            subprocess.PIPE,
        )
        earliest, latest = commit_delay(config)
        due = next_commit(config, time.time())
        print(
            f"ctr demo: broker {broker.bootstrap_servers}, producer at {config.rate:g} impressions/s, "
            f"job starting on {config.taskmanagers} TaskManager(s) (heap {config.jvm_heap}), "
            f"Flink Web UI at http://127.0.0.1:{web_ui_port}. "
            f"A window is committed {earliest:g}-{latest:g}s after it ends (join bound + "
            "out-of-orderness + up to one checkpoint interval): the first, ending "
            f"{format_time(round((due - latest) * 1000))[11:]} UTC, by about "
            f"{format_time(round(due * 1000))[11:]} UTC. Ctrl-C stops.",
            flush=True,
        )
        live = sys.stdout.isatty()
        topics = TopicNames()
        progress = (
            ProgressReader(
                broker.bootstrap_servers,
                (topics.impressions, topics.clicks),
                JobSettings.model_fields["group_id"].default,
                round(config.out_of_orderness * 1000),
            )
            if live
            else None
        )
        deadline = None if config.duration is None else time.monotonic() + config.duration
        shown: set = set()
        header = True
        peak = 0
        while not stop.wait(1.0) and (deadline is None or time.monotonic() < deadline):
            peak = max(peak, tree_rss(job.pid) or 0)
            for process, name in ((job, "job"), (producer, "producer")):
                if process.poll() is not None:
                    print(
                        f"ctr demo: the {name} exited with code {process.returncode}; "
                        f"see {logs / (name + '.log')}",
                        file=sys.stderr,
                    )
                    failed = True
            if failed:
                break
            new = [row for row in read_results(results) if row not in shown]
            if new:
                print("\r\x1b[K" if live else "", end="")
                print(format_table(new, true_ctr, header=header), flush=True)
                shown.update(new)
                header = False
                last_end = max(
                    datetime.fromisoformat(row.window_end).replace(tzinfo=UTC).timestamp() for row in new
                )
                due = next_commit(config, last_end)
            if progress is not None:
                line = status_line(progress.read(), due, time.time())
                print(f"\r\x1b[K{line}", end="", flush=True)
        if progress is not None:
            progress.close()
            print("\r\x1b[K", end="")
        print(
            f"ctr demo: the job's peak resident memory (JVM and Python) was {peak / 2**20:,.0f} MiB "
            f"with --jvm-heap {config.jvm_heap}"
            if peak
            else "ctr demo: the job's memory could not be read on this system",
            flush=True,
        )
        print(
            "ctr demo: stopping the producer (it sends its scheduled clicks first), then the job", flush=True
        )
        summary = _stop(producer, "producer")
        _stop(job, "job")
        if summary:
            counts = json.loads(summary.strip().splitlines()[-1])
            print(
                f"ctr demo: producer sent {counts['impressions']} impressions and {counts['clicks']} clicks",
                flush=True,
            )
    finally:
        broker.stop()
    rows = read_results(results)
    print(
        f"ctr demo: {len(rows)} committed windows in {results} (ctr results {results}); logs in {logs}",
        flush=True,
    )
    return 1 if failed else 0
