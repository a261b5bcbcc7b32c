"""``ctr demo``: the whole pipeline on one machine — embedded broker, producer, job — with a live CTR table."""

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
from typing import Optional

from ctr import settings
from ctr.broker import BrokerError, EmbeddedBroker
from ctr_job.results import format_table, read_results


def _handed_to(command_settings: tuple[settings.Setting, ...]) -> tuple[settings.Setting, ...]:
    names = {s.name for s in command_settings} - {settings.DURATION.name}
    return tuple(s for s in settings.DEMO_SETTINGS if s.name in names)


PRODUCER_SETTINGS = _handed_to(settings.PRODUCER_SETTINGS)
JOB_SETTINGS = _handed_to(settings.JOB_SETTINGS)
STOP_TIMEOUT = 60.0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    settings.add_command(subparsers, "demo", "run broker, producer and job on this machine and show the CTR as windows close",
                         "Start an embedded broker, the producer and the CTR job; print each committed window until Ctrl-C or --duration.",
                         settings.DEMO_SETTINGS, run)


def _start(command: str, environment: dict[str, str], log_path: Path, stdout: int = subprocess.DEVNULL) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "ctr.cli", command], env={**os.environ, **environment},
                                stdout=stdout, stderr=log, start_new_session=True)


def _stop(process: subprocess.Popen, name: str) -> Optional[str]:
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
    values = settings.resolve_settings(parser, args, settings.DEMO_SETTINGS)
    data_dir = Path(values["data_dir"])
    results, checkpoints, logs = data_dir / "results", data_dir / "checkpoints", data_dir / "logs"
    for path in (results, checkpoints, logs):
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    true_ctr = {c.name: c.true_ctr for c in values["campaigns"] if c.true_ctr is not None}
    try:
        broker = EmbeddedBroker(log_path=logs / "tansu.log").start()
    except BrokerError as err:
        print(f"ctr demo: {err}", file=sys.stderr)
        return 1
    failed = False
    try:
        broker.create_topics()
        common = {settings.BOOTSTRAP_SERVERS.env: broker.bootstrap_servers}
        job = _start("job", {**common, **settings.settings_environment(args, JOB_SETTINGS), settings.OUTPUT_DIR.env: str(results),
                             settings.CHECKPOINT_DIR.env: str(checkpoints), settings.LOG_DIR.env: str(logs / "flink")}, logs / "job.log")
        producer = _start("produce", {**common, **settings.settings_environment(args, PRODUCER_SETTINGS)}, logs / "producer.log", subprocess.PIPE)
        first = values["window"] + values["join_bound"] + values["out_of_orderness"] + values["checkpoint_interval"]
        print(f"ctr demo: broker {broker.bootstrap_servers}, producer at {values['rate']:g} impressions/s, job starting; "
              f"the first window is committed about {first:.0f}s after it closes. Ctrl-C stops.", flush=True)
        deadline = None if values["duration"] is None else time.monotonic() + values["duration"]
        shown: set = set()
        header = True
        while not stop.wait(1.0) and (deadline is None or time.monotonic() < deadline):
            for process, name in ((job, "job"), (producer, "producer")):
                if process.poll() is not None:
                    print(f"ctr demo: the {name} exited with code {process.returncode}; see {logs / (name + '.log')}", file=sys.stderr)
                    failed = True
            if failed:
                break
            new = [row for row in read_results(results) if row not in shown]
            if new:
                print(format_table(new, true_ctr, header=header), flush=True)
                shown.update(new)
                header = False
        print("ctr demo: stopping the producer (it sends its scheduled clicks first), then the job", flush=True)
        summary = _stop(producer, "producer")
        _stop(job, "job")
        if summary:
            counts = json.loads(summary.strip().splitlines()[-1])
            print(f"ctr demo: producer sent {counts['impressions']} impressions and {counts['clicks']} clicks", flush=True)
    finally:
        broker.stop()
    rows = read_results(results)
    print(f"ctr demo: {len(rows)} committed windows in {results} (ctr results {results}); logs in {logs}", flush=True)
    return 1 if failed else 0
