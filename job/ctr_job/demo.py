"""``ctr demo``: the whole pipeline on one machine (embedded broker, producer, job), live CTR table."""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ctr.broker import BrokerError, EmbeddedBroker
from ctr.settings.command_line import add_command, env_var, environment, resolve
from ctr.settings.models import DemoSettings, JobSettings, ProducerSettings
from ctr_job.results import format_table, read_results

#: The demo's settings that it hands on to the producer and to the job (its duration is its own).
PRODUCER_FIELDS = (set(DemoSettings.model_fields) & set(ProducerSettings.model_fields)) - {"duration"}
JOB_FIELDS = set(DemoSettings.model_fields) & set(JobSettings.model_fields)
STOP_TIMEOUT = 60.0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    add_command(
        subparsers,
        "demo",
        "run broker, producer and job on this machine and show the CTR as windows close",
        "Start an embedded broker, the producer and the CTR job; print each committed window until Ctrl-C "
        "or --duration.",
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


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run the demo until Ctrl-C or --duration; stop everything it started; return the exit code."""
    config = resolve(parser, args, DemoSettings)
    data_dir = Path(config.data_dir)
    results, checkpoints, logs = data_dir / "results", data_dir / "checkpoints", data_dir / "logs"
    for path in (results, checkpoints, logs):
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    true_ctr = {c.name: c.true_ctr for c in config.campaigns if c.true_ctr is not None}
    try:
        broker = EmbeddedBroker(log_path=logs / "tansu.log").start()
    except BrokerError as err:
        print(f"ctr demo: {err}", file=sys.stderr)
        return 1
    failed = False
    try:
        broker.create_topics()
        common = {env_var("bootstrap_servers"): broker.bootstrap_servers}
        job = _start(
            "job",
            {
                **common,
                **environment(config, JOB_FIELDS),
                env_var("output_dir"): str(results),
                env_var("checkpoint_dir"): str(checkpoints),
                env_var("log_dir"): str(logs / "flink"),
            },
            logs / "job.log",
        )
        producer = _start(
            "produce",
            {**common, **environment(config, PRODUCER_FIELDS)},
            logs / "producer.log",
            subprocess.PIPE,
        )
        first = config.window + config.join_bound + config.out_of_orderness + config.checkpoint_interval
        print(
            f"ctr demo: broker {broker.bootstrap_servers}, producer at {config.rate:g} impressions/s, "
            "job starting; "
            f"the first window is committed about {first:.0f}s after it closes. Ctrl-C stops.",
            flush=True,
        )
        deadline = None if config.duration is None else time.monotonic() + config.duration
        shown: set = set()
        header = True
        while not stop.wait(1.0) and (deadline is None or time.monotonic() < deadline):
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
                print(format_table(new, true_ctr, header=header), flush=True)
                shown.update(new)
                header = False
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
