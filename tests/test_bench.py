"""Smoke test of the benchmarks: each runs in --quick mode and prints its figures (how fast is not tested)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.broker
@pytest.mark.jvm
@pytest.mark.parametrize("benchmark", ["producer", "job", "soak", "broker", "live"])
def test_benchmark_runs_and_prints_its_figures(benchmark):
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / f"{benchmark}.py"), "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=540,  # a smoke test, not a timing: the job benchmark starts four Flink runs (one a cluster)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    header = lines.index(f"== bench/{benchmark} ==")
    figures = lines[header + 1 :]
    assert len(figures) >= 4 and all(": " in line for line in figures), result.stdout


def test_the_bench_java_module_builds_against_the_job_s_flink_version():
    """bench/java's classes run in the job's pipeline: compiled against the Flink it runs on."""

    def flink_version(pom: Path) -> str:
        return re.search(r"<flink\.version>(.+)</flink\.version>", pom.read_text()).group(1)

    assert flink_version(ROOT / "bench" / "java" / "pom.xml") == flink_version(
        ROOT / "job" / "java" / "pom.xml"
    )
