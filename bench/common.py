"""What the benchmarks share: the machine's description, process-tree memory, and the figures file.

The benchmarks run as scripts (``python bench/job.py``), never with the repository root on
``sys.path``: its ``operator/`` folder would shadow the standard library's ``operator``.
"""

import datetime
import os
import platform
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import psutil

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "benchmarks.md"


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
    return (f"{model}, {os.cpu_count()} cores, {memory:.0f} GiB; Python {platform.python_version()}; {java}; "
            f"{datetime.date.today().isoformat()}")


class TreeMemory:
    """Samples the resident memory of a process and all its descendants (the JVM included)."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_bytes = 0
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _total(self) -> int:
        try:
            root = psutil.Process(self.pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0
        total = 0
        for process in processes:
            try:
                total += process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            total = self._total()
            self.samples.append((time.monotonic(), total))
            self.peak_bytes = max(self.peak_bytes, total)

    def __enter__(self) -> "TreeMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mib(self) -> float:
        """Peak resident memory of the tree in MiB."""
        return self.peak_bytes / 2**20


def percentile(values: list[float], share: float) -> float:
    """The ``share`` percentile (0..1) of ``values`` by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def early_and_late(values: list[float]) -> tuple[float, float]:
    """Drop the first third of ``values`` as warm-up; return the means of the first and of the last
    third of the rest (a rise between them is growth, not the ups and downs of each window)."""
    warm = values[len(values) // 3:] or values or [0.0]
    third = max(1, len(warm) // 3)
    return sum(warm[:third]) / third, sum(warm[-third:]) / third


def report(benchmark: str, figures: list[Figure], quick: bool, context: Optional[str] = None) -> None:
    """Print one summary line per figure; record them in docs/benchmarks.md unless ``quick``."""
    print(f"== {benchmark} ==")
    for figure in figures:
        print(figure.line())
    if quick:
        return
    section = [f"<!-- {benchmark} -->", f"### {benchmark}", "", f"Machine: {machine()}", ""]
    if context:
        section += [context, ""]
    section += ["| figure | value | target | note |", "|---|---|---|---|"]
    for figure in figures:
        value = f"{figure.value:,.{0 if abs(figure.value) >= 100 else 2}f} {figure.unit}"
        section.append(f"| {figure.name} | {value} | {figure.target or '—'} | {figure.note} |")
    section.append(f"<!-- /{benchmark} -->")
    text = RESULTS.read_text() if RESULTS.is_file() else "# Benchmarks\n\nFigures written by `make bench` (each benchmark replaces its own section).\n"
    pattern = re.compile(rf"<!-- {re.escape(benchmark)} -->.*?<!-- /{re.escape(benchmark)} -->", re.S)
    block = "\n".join(section)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS.write_text(text)
