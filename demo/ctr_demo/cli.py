"""``ctr demo``: the whole pipeline on one machine (Apache Kafka, producer, job), live CTR table.

It starts a local broker, then ``ctr job`` and ``ctr produce`` as child processes, shows each window
as the job commits it (read by ``ctr_results``), and on a terminal below them the open windows'
live rows (from the live topic, redrawn in place) and a status line; it stops everything it started
on Ctrl-C or after ``--duration``.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ctr.broker import BrokerError, KafkaBroker
from ctr.processes import free_port, stop_event
from ctr.results_contract import CtrRow, LiveRow, format_time, parse_time
from ctr.settings.command_line import add_command, env_var, environment, resolve
from ctr.settings.models import DemoSettings, JobSettings, LocalJobSettings, ProducerSettings
from ctr.topics import TopicNames
from ctr_demo.live_view import InPlace, LiveRowsFollower
from ctr_demo.memory import tree_rss
from ctr_demo.progress import Progress, ProgressReader
from ctr_results.files import read_results
from ctr_results.formats import format_table

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


@dataclass(frozen=True)
class DemoDirs:
    """Where a demo keeps its results, checkpoints, logs and broker data, under ``--data-dir``."""

    results: Path
    checkpoints: Path
    logs: Path
    broker: Path

    @classmethod
    def emptied(cls, data_dir: Path) -> "DemoDirs":
        """The folders under ``data_dir``, each emptied: the broker starts empty too, since a job from
        empty checkpoints would resume at the group offsets of an earlier run's topics and count part
        of a window."""
        dirs = cls(data_dir / "results", data_dir / "checkpoints", data_dir / "logs", data_dir / "broker")
        for path in (dirs.results, dirs.checkpoints, dirs.logs, dirs.broker):
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True)
        return dirs


def start_job(
    config: DemoSettings, bootstrap_servers: str, dirs: DemoDirs, web_ui_port: int
) -> subprocess.Popen:
    """``ctr job`` with the demo's job settings, its files in ``dirs``."""
    return _start(
        "job",
        {
            env_var("bootstrap_servers"): bootstrap_servers,
            **environment(config, JOB_FIELDS),
            env_var("output_dir"): str(dirs.results),
            env_var("checkpoint_dir"): str(dirs.checkpoints),
            env_var("log_dir"): str(dirs.logs / "flink"),
            env_var("web_ui_port"): str(web_ui_port),
        },
        dirs.logs / "job.log",
    )


def start_producer(config: DemoSettings, bootstrap_servers: str, dirs: DemoDirs) -> subprocess.Popen:
    """``ctr produce`` with the demo's producer settings; its summary comes on its stdout."""
    return _start(
        "produce",
        {env_var("bootstrap_servers"): bootstrap_servers, **environment(config, PRODUCER_FIELDS)},
        dirs.logs / "producer.log",
        subprocess.PIPE,
    )


def opening_line(config: DemoSettings, bootstrap_servers: str, web_ui_port: int, due: float) -> str:
    """What runs where, and when the first window (committed by ``due``) is expected."""
    earliest, latest = commit_delay(config)
    return (
        f"ctr demo: broker {bootstrap_servers}, producer at {config.rate:g} impressions/s, "
        f"job starting on {config.taskmanagers} TaskManager(s) (heap {config.jvm_heap}), "
        f"Flink Web UI at http://127.0.0.1:{web_ui_port}. "
        f"A window is committed {earliest:g}-{latest:g}s after it ends (join bound + "
        "out-of-orderness + up to one checkpoint interval): the first, ending "
        f"{format_time(round((due - latest) * 1000))[11:]} UTC, by about "
        f"{format_time(round(due * 1000))[11:]} UTC. Ctrl-C stops."
    )


def exited(processes: dict[str, subprocess.Popen], logs: Path) -> bool:
    """Whether any of the named ``processes`` has exited; each one that has is reported on stderr."""
    gone = False
    for name, process in processes.items():
        if process.poll() is not None:
            print(
                f"ctr demo: the {name} exited with code {process.returncode}; see {logs / (name + '.log')}",
                file=sys.stderr,
            )
            gone = True
    return gone


def window_end(row: CtrRow) -> float:
    """The end of a row's window, epoch seconds."""
    return parse_time(row.window_end) / 1000


@dataclass
class Terminal:
    """What the demo shows only on a terminal, redrawn in place below the committed rows: the open
    windows' live rows and a status line from the job's progress."""

    progress: ProgressReader
    live: LiveRowsFollower | None
    screen: InPlace = field(default_factory=InPlace)

    @classmethod
    def opened(cls, config: DemoSettings, bootstrap_servers: str) -> "Terminal":
        """What a terminal shows below the committed rows: the live rows (unless the job sends none)
        and the job's progress."""
        topics = TopicNames()
        progress = ProgressReader(
            bootstrap_servers,
            (topics.impressions, topics.clicks),
            JobSettings.model_fields["group_id"].default,
            round(config.out_of_orderness * 1000),
        )
        live = LiveRowsFollower(bootstrap_servers, topics.live) if config.update_interval > 0 else None
        return cls(progress, live)

    def close(self) -> str:
        """Leave the broker; the text that erases the drawn lines."""
        self.progress.close()
        if self.live is not None:
            self.live.close()
        return self.screen.draw([])


def live_lines(rows: list[LiveRow], true_ctr: dict[str, float], interval: float) -> list[str]:
    """The open windows' block: a heading and one line per window (``live``: counts so far, ``final``:
    to be committed by the next checkpoint); nothing when there are none."""
    if not rows:
        return []
    heading = (
        f"open windows (live: counts so far, every {interval:g}s; final: committed at the next checkpoint)"
    )
    return [heading, *format_table(rows, true_ctr, header=False).splitlines()]


@dataclass
class Watch:
    """The demo watching the job and the producer: the windows shown so far, whether the table's
    header is still to come, the job's peak memory, and when the next window is due; the live rows and
    status line of ``terminal`` (None when the output is not a terminal)."""

    config: DemoSettings
    dirs: DemoDirs
    processes: dict[str, subprocess.Popen]
    terminal: Terminal | None
    due: float
    shown: set[CtrRow] = field(default_factory=set)
    header: bool = True
    peak: int = 0

    @property
    def true_ctr(self) -> dict[str, float]:
        """The campaigns' true CTRs (of those that have one)."""
        return {c.name: c.true_ctr for c in self.config.campaigns if c.true_ctr is not None}

    def until(self, stop: threading.Event) -> bool:
        """Show the windows as they are committed, and the status line, until ``stop`` or ``--duration``
        (then True) or until a process exits (then False)."""
        duration = self.config.duration
        deadline = None if duration is None else time.monotonic() + duration
        while not stop.wait(1.0) and (deadline is None or time.monotonic() < deadline):
            self.peak = max(self.peak, tree_rss(self.processes["job"].pid) or 0)
            if exited(self.processes, self.dirs.logs):
                return False
            self.show_new_rows()
            if self.terminal is not None:
                self.redraw(self.terminal)
        return True

    def redraw(self, terminal: Terminal) -> None:
        """Draw the open windows' live rows and the status line again, in place."""
        lines = []
        if terminal.live is not None:
            committed = {(row.campaign_id, row.window_start) for row in self.shown}
            rows = terminal.live.open_windows(committed)
            lines = live_lines(rows, self.true_ctr, self.config.update_interval)
            if terminal.live.error is not None:
                lines.append(f"live rows: {terminal.live.error}")
        lines.append(status_line(terminal.progress.read(), self.due, time.time()))
        print(terminal.screen.draw(lines), end="", flush=True)

    def show_new_rows(self) -> None:
        """Print the rows committed since the last call, and expect the next window after them."""
        new = [row for row in read_results(self.dirs.results) if row not in self.shown]
        if not new:
            return
        table = format_table(new, self.true_ctr, header=self.header)
        if self.terminal is not None:
            print(self.terminal.screen.above(table), end="", flush=True)
        else:
            print(table, flush=True)
        self.shown.update(new)
        self.header = False
        self.due = next_commit(self.config, max(window_end(row) for row in new))


def peak_line(peak: int, jvm_heap: str) -> str:
    """The job's peak resident memory (``peak`` bytes; 0 where it could not be read)."""
    if not peak:
        return "ctr demo: the job's memory could not be read on this system"
    return (
        f"ctr demo: the job's peak resident memory (JVM and Python) was {peak / 2**20:,.0f} MiB "
        f"with --jvm-heap {jvm_heap}"
    )


def stop_pipeline(producer: subprocess.Popen, job: subprocess.Popen) -> None:
    """Stop the producer (it sends its scheduled clicks first), then the job; print what was sent."""
    print("ctr demo: stopping the producer (it sends its scheduled clicks first), then the job", flush=True)
    summary = _stop(producer, "producer")
    _stop(job, "job")
    if summary:
        counts = json.loads(summary.strip().splitlines()[-1])
        print(
            f"ctr demo: producer sent {counts['impressions']} impressions and {counts['clicks']} clicks",
            flush=True,
        )


def run_pipeline(config: DemoSettings, stop: threading.Event, broker: KafkaBroker, dirs: DemoDirs) -> bool:
    """Run the producer and the job on ``broker`` and watch them until the demo ends; stop them.
    False when one of them exited early."""
    broker.create_pipeline_topics()
    web_ui_port = config.web_ui_port or free_port()
    processes = {
        "job": start_job(config, broker.bootstrap_servers, dirs, web_ui_port),
        "producer": start_producer(config, broker.bootstrap_servers, dirs),
    }
    due = next_commit(config, time.time())
    print(opening_line(config, broker.bootstrap_servers, web_ui_port, due), flush=True)
    terminal = Terminal.opened(config, broker.bootstrap_servers) if sys.stdout.isatty() else None
    watched = Watch(config, dirs, processes, terminal, due)
    try:
        ok = watched.until(stop)
    finally:
        if terminal is not None:
            print(terminal.close(), end="")
        print(peak_line(watched.peak, config.jvm_heap), flush=True)
        stop_pipeline(processes["producer"], processes["job"])
    return ok


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run the demo until Ctrl-C or --duration; stop everything it started; return the exit code."""
    config = resolve(parser, args, DemoSettings)
    dirs = DemoDirs.emptied(Path(config.data_dir))
    stop = stop_event()
    try:
        broker = KafkaBroker(dirs.broker, heap=config.broker_heap, log_path=dirs.logs / "broker.log").start()
    except BrokerError as err:
        print(f"ctr demo: {err}", file=sys.stderr)
        return 1
    try:
        ok = run_pipeline(config, stop, broker, dirs)
    finally:
        broker.stop()
    rows = read_results(dirs.results)
    print(
        f"ctr demo: {len(rows)} committed windows in {dirs.results} (ctr results {dirs.results}); "
        f"logs in {dirs.logs}",
        flush=True,
    )
    return 0 if ok else 1
