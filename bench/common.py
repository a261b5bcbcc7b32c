"""What the benchmarks share: the local broker, the ctr commands they start, the machine's description,
process-tree memory, and the figures file."""

import argparse
import contextlib
import datetime
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import psutil

from ctr.broker import KafkaBroker
from ctr.settings.command_line import flags
from ctr.topics import TopicNames

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "benchmarks.md"
CTR = [sys.executable, "-m", "ctr.cli"]


def arguments(description: str, quick_run: str) -> argparse.ArgumentParser:
    """The benchmark's argument parser, with ``--quick``: a short run (``quick_run`` says how long)
    whose figures are printed, not recorded."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help=f"{quick_run}; figures are printed, not recorded"
    )
    return parser


@contextlib.contextmanager
def local_broker() -> Iterator[KafkaBroker]:
    """A local Kafka broker in a temporary directory of its own, for one benchmark run."""
    with tempfile.TemporaryDirectory(prefix="ctr-bench-broker-") as work, KafkaBroker(Path(work)) as broker:
        yield broker


def produce_command(bootstrap_servers: str, names: TopicNames, **settings: object) -> list[str]:
    """``ctr produce`` on the topics ``names``, progress lines once an hour (none in a run), then
    ``settings`` as flags by their names (``max_click_delay="1s"`` -> ``--max-click-delay 1s``)."""
    return [
        *CTR,
        "produce",
        *flags(
            bootstrap_servers=bootstrap_servers,
            impressions_topic=names.impressions,
            clicks_topic=names.clicks,
            progress_interval="1h",
            **settings,
        ),
    ]


def producer_summary(stdout: str, code: int | None) -> dict:
    """The summary ``ctr produce`` prints last (a JSON object); RuntimeError when there is none."""
    try:
        return json.loads(stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise RuntimeError(f"ctr produce exited {code} without its summary") from None


def stop(process: subprocess.Popen, timeout: float = 120.0) -> None:
    """SIGTERM ``process`` and wait for it (SIGKILL after ``timeout``)."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def job_command(bootstrap_servers: str, names: TopicNames, work: Path, **settings: object) -> list[str]:
    """``ctr job`` on the topics ``names`` (live rows to their live topic, as ``--update-interval``
    says), its results, checkpoints and logs under ``work``, then ``settings`` as flags by their names."""
    return [
        *CTR,
        "job",
        *flags(
            bootstrap_servers=bootstrap_servers,
            impressions_topic=names.impressions,
            clicks_topic=names.clicks,
            dlq_topic=names.dlq,
            live_topic=names.live,
            output_dir=work / "results",
            checkpoint_dir=work / "checkpoints",
            log_dir=work / "logs",
            **settings,
        ),
    ]


@dataclass
class Figure:
    """One measured figure, with its target when the issue names one."""

    name: str
    value: float
    unit: str
    target: str = ""
    note: str = ""

    def line(self) -> str:
        """The summary line printed at the end of a benchmark."""
        target = f" (target {self.target})" if self.target else ""
        note = f" — {self.note}" if self.note else ""
        return f"{self.name}: {self.value:,.{0 if abs(self.value) >= 100 else 2}f} {self.unit}{target}{note}"


def machine() -> str:
    """CPU model, cores, memory, Python and Java of this machine, and today's date."""
    model = "unknown CPU"
    if Path("/proc/cpuinfo").is_file():
        found = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        model = found.group(1).strip() if found else model
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{model}, {os.cpu_count()} cores, {memory:.0f} GiB; Python {platform.python_version()}; {java}; "
        f"{datetime.date.today().isoformat()}"
    )


class _Sampler:
    """Measures something of a process tree every ``interval`` seconds in a background thread."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _sum_over_tree(self, measure: Callable[[psutil.Process], int]) -> int:
        total = 0
        for process in self._tree():
            try:
                total += measure(process)
            except psutil.NoSuchProcess:
                continue
        return total

    def _measure(self) -> int | None:
        raise NotImplementedError

    def _delay(self) -> float:
        """Seconds until the next sample."""
        return self.interval

    def _run(self) -> None:
        while not self._stop.wait(self._delay()):
            value = self._measure()
            if value is not None:
                self.samples.append((time.monotonic(), value))
                self.peak = max(self.peak, value)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class TreeMemory(_Sampler):
    """Samples the resident memory (bytes) of a process and all its descendants (the JVM included)."""

    def _measure(self) -> int:
        return self._sum_over_tree(lambda process: process.memory_info().rss)

    @property
    def peak_mib(self) -> float:
        """Peak resident memory of the tree in MiB."""
        return self.peak / 2**20


class OpenFiles(_Sampler):
    """Samples the number of open file descriptors of a process and all its descendants."""

    def _measure(self) -> int:
        return self._sum_over_tree(psutil.Process.num_fds)


class LiveHeap(_Sampler):
    """Samples the live heap of the JVM under a process: a full GC (``jcmd GC.run``), then the heap
    in use (``jstat -gc``). Unlike the resident memory, which keeps pages the heap once grew into,
    this is what the job holds on to.

    Samples are taken at wall-clock times equal to ``phase`` modulo ``interval``: with the window
    length as ``interval``, every sample finds the windows at the same point of their fill."""

    #: The ``jstat -gc`` columns (KiB) that add up to the heap in use.
    USED_COLUMNS = ("S0U", "S1U", "EU", "OU")

    def __init__(self, pid: int, interval: float, phase: float = 0.0) -> None:
        super().__init__(pid, interval)
        self.phase = phase
        missing = [tool for tool in ("jcmd", "jstat") if shutil.which(tool) is None]
        if missing:
            raise RuntimeError(
                f"{' and '.join(missing)} not found: "
                "the live-heap figure needs a JDK on PATH (as make setup does)"
            )

    def _delay(self) -> float:
        return (self.phase - time.time()) % self.interval

    def _jvm(self) -> int | None:
        for process in self._tree():
            try:
                if process.name() == "java":
                    return process.pid
            except psutil.NoSuchProcess:
                continue
        return None

    def _measure(self) -> int | None:
        jvm = self._jvm()
        if jvm is None:
            return None
        try:
            collected = subprocess.run(
                ["jcmd", str(jvm), "GC.run"], capture_output=True, text=True, timeout=120
            )
            heap = subprocess.run(["jstat", "-gc", str(jvm)], capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            return None
        lines = heap.stdout.split("\n")
        if collected.returncode != 0 or heap.returncode != 0 or len(lines) < 2:
            return None
        row = dict(zip(lines[0].split(), lines[1].split()))
        return round(sum(float(row[column]) for column in self.USED_COLUMNS) * 1024)


def percentile(values: list[float], share: float) -> float:
    """The ``share`` percentile (0..1) of ``values`` by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def after_warm_up(values: list) -> list:
    """``values`` (in time order) without their first third, the warm-up."""
    return values[len(values) // 3 :] or values


def early_and_late(values: list[float]) -> tuple[float, float]:
    """Drop the first third of ``values`` as warm-up; return the means of the first and of the last
    third of the rest (a rise between them is growth, not the ups and downs of each window)."""
    warm = after_warm_up(values) or [0.0]
    third = max(1, len(warm) // 3)
    return sum(warm[:third]) / third, sum(warm[-third:]) / third


def trend_per_minute(samples: list[tuple[float, float]]) -> tuple[float, float] | None:
    """The least-squares slope of ``(seconds, value)`` samples, per minute, with its standard error;
    None for fewer than three samples."""
    if len(samples) < 3:
        return None
    times = [at / 60 for at, _ in samples]
    values = [value for _, value in samples]
    slope, intercept = statistics.linear_regression(times, values)
    mean_time = statistics.fmean(times)
    spread = sum((at - mean_time) ** 2 for at in times)
    residuals = sum((value - intercept - slope * at) ** 2 for at, value in zip(times, values))
    return slope, math.sqrt(residuals / (len(samples) - 2) / spread)


def _row(figure: Figure) -> str:
    value = f"{figure.value:,.{0 if abs(figure.value) >= 100 else 2}f} {figure.unit}"
    return f"| {figure.name} | {value} | {figure.target or '—'} | {figure.note} |"


def _replace_rows(block: str, figures: list[Figure], replacing: str) -> str:
    """``block`` (a benchmark's section) with its rows of figures named ``replacing``… swapped for
    ``figures``, and a line saying where and when these were measured; the rest kept."""
    said = f"Rows “{replacing} …”:"
    lines = [line for line in block.splitlines() if not line.startswith(f"| {replacing}")]
    if any(line.startswith(said) for line in lines):
        at = next(n for n, line in enumerate(lines) if line.startswith(said))
        del lines[at : at + 2]  # the line and the blank line after it
    closing = lines.pop()
    table = lines.index("| figure | value | target | note |")
    lines[table:table] = [f"{said} measured on their own later, {machine()}.", ""]
    return "\n".join([*lines, *map(_row, figures), closing])


def report(
    benchmark: str,
    figures: list[Figure],
    quick: bool,
    context: str | None = None,
    replacing: str | None = None,
) -> None:
    """Print one summary line per figure; record them in docs/benchmarks.md unless ``quick``.

    With ``replacing``, the figures are some of the benchmark's, all named starting with it: only the
    section's rows so named are replaced (or the section written, if there is none yet)."""
    print(f"== {benchmark} ==")
    for figure in figures:
        print(figure.line())
    if quick:
        return
    section = [f"<!-- {benchmark} -->", f"### {benchmark}", "", f"Machine: {machine()}", ""]
    if context:
        section += [context, ""]
    section += ["| figure | value | target | note |", "|---|---|---|---|"]
    section += map(_row, figures)
    section.append(f"<!-- /{benchmark} -->")
    text = (
        RESULTS.read_text()
        if RESULTS.is_file()
        else "# Benchmarks\n\nFigures written by `make bench` (each benchmark replaces its own section).\n"
    )
    pattern = re.compile(rf"<!-- {re.escape(benchmark)} -->.*?<!-- /{re.escape(benchmark)} -->", re.S)
    found = pattern.search(text)
    if replacing is not None and found:
        section = _replace_rows(found.group(0), figures, replacing).splitlines()
    block = "\n".join(section)
    text = (
        pattern.sub(lambda _: block, text)
        if pattern.search(text)
        else text.rstrip("\n") + "\n\n" + block + "\n"
    )
    RESULTS.write_text(text)


#: Where a CPU sample of the job is spent: the first of these (name, pattern) whose pattern one of the
#: sample's frames matches, walking from the running method towards the thread's start.
PROFILE_CATEGORIES = (
    ("timers", r"InternalTimerServiceImpl|HeapPriorityQueue"),
    ("keyed heap state", r"CopyOnWriteStateMap|StateTable|HeapValueState|HeapMapState|HeapListState"),
    ("checkpoints", r"Snapshot|Checkpoint"),
    ("ClickFlags operator", r"ctr\.flink\.ClickFlags"),
    ("interval join", r"IntervalJoin"),
    ("window aggregation", r"[Ww]indow(Agg|Operator|Buffer|Slice|Processor)|AggsHandle|LocalAgg"),
    ("parse (ctr-event format)", r"ctr\.flink\.EventDeserializationSchema"),
    ("Kafka client", r"org\.apache\.kafka"),
    ("table <-> DataStream conversion", r"Converter|ConversionOperator|SinkOperator|InputConversion"),
    ("records in and out (serializers, network)", r"Serializer|RecordWriter|RecordDeserializer|network"),
    ("CSV sink", r"filesystem|FileWriter|[Cc]sv"),
)


def profile_breakdown(recording: Path) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """The CPU samples of a JFR recording taken in Flink task threads: the share of each
    ``PROFILE_CATEGORIES`` entry (and "other"), and of each task thread (its operator chain), largest
    first."""
    import json

    printed = subprocess.run(
        ["jfr", "print", "--json", "--events", "jdk.ExecutionSample", "--stack-depth", "64", str(recording)],
        capture_output=True,
        text=True,
        check=True,
    )
    categories: dict[str, int] = {}
    threads: dict[str, int] = {}
    patterns = [(name, re.compile(pattern)) for name, pattern in PROFILE_CATEGORIES]
    for event in json.loads(printed.stdout)["recording"]["events"]:
        values = event["values"]
        thread = (values.get("sampledThread") or {}).get("javaName") or ""
        if not re.search(r"\(\d+/\d+\)", thread):
            continue
        frames = [
            frame["method"]["type"]["name"].replace("/", ".") + "." + frame["method"]["name"]
            for frame in (values.get("stackTrace") or {}).get("frames", [])
        ]
        category = next(
            (name for frame in frames for name, pattern in patterns if pattern.search(frame)), "other"
        )
        categories[category] = categories.get(category, 0) + 1
        chain = re.sub(r"#\d+$", "", thread)
        threads[chain] = threads.get(chain, 0) + 1
    total = sum(categories.values()) or 1
    return (
        sorted(((name, count / total) for name, count in categories.items()), key=lambda x: -x[1]),
        sorted(((name, count / total) for name, count in threads.items()), key=lambda x: -x[1]),
    )
