"""The Dockerfiles: lint clean, the job image's build stages as the local path does them."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ctr_job.jars import CHECKSUMS, JAR, built_jars, jars_dir, pinned

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILES = [ROOT / part / "Dockerfile" for part in ("job", "producer", "operator")]
JOB = (ROOT / "job" / "Dockerfile").read_text()


def _stages(dockerfile: str) -> list[str]:
    return re.split(r"^FROM ", dockerfile, flags=re.M)[1:]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.parent.name)
def test_hadolint_finds_nothing(dockerfile):
    """Every rule ignored in a Dockerfile says why in a comment above it."""
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([str(hadolint), str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = dockerfile.read_text().splitlines()
    for n, line in enumerate(lines):
        if line.startswith("# hadolint ignore="):
            assert lines[n - 1].startswith("#") and "hadolint" not in lines[n - 1], f"no reason for {line}"


def _java_stage() -> str:
    return next(stage for stage in _stages(JOB) if stage.startswith("maven:") and " AS java\n" in stage)


def test_the_image_checks_its_jars_against_the_list_the_local_path_checks():
    """The java stage builds job/java and checks target/lib with job/java/jars.sha256: ctr_job.jars' list."""
    stage = _java_stage()
    assert "COPY job/java /src\n" in stage and "RUN mvn -B -ntp package\n" in stage
    assert CHECKSUMS == ROOT / "job" / "java" / "jars.sha256"
    assert "WORKDIR /src/target/lib\nRUN sha256sum --check --strict /src/jars.sha256" in stage
    assert "ADD " not in JOB, "the jars come from the Maven build only"


def test_the_image_s_check_passes_on_the_jars_built_here():
    """The java stage's check, run on this machine's job/java/target/lib, accepts the jars ctr_job loads."""
    stage = _java_stage()
    check = re.search(r"^RUN (sha256sum .*)$", stage, re.M).group(1).replace("/src/", f"{CHECKSUMS.parent}/")
    result = subprocess.run(check.split(), cwd=jars_dir() / "lib", capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert {path.name for path in (jars_dir() / "lib").glob("*.jar")} == set(pinned())
    assert built_jars()[-1] == jars_dir() / JAR


def test_the_final_image_has_the_built_jars_on_flink_s_classpath():
    final = _stages(JOB)[-1]
    assert f"COPY --from=java /src/target/{JAR} /src/target/lib/*.jar /opt/flink/lib/" in final


def test_pyflink_is_built_in_a_stage_with_a_compiler_and_the_final_image_has_none():
    """apache-flink has x86_64 wheels only: on arm64 pip compiles it, which needs build-essential."""
    stages = _stages(JOB)
    builder = next(stage for stage in stages if stage.startswith("flink AS python"))
    final = stages[-1]
    assert "build-essential" in builder and "python3-dev" in builder and "apache-flink==" in builder
    assert "build-essential" not in final and "COPY --from=python /opt/venv /opt/venv" in final
    assert re.search(r"^USER 9999$", final, re.M), "the final image runs as flink"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.parent.name)
def test_each_image_copies_every_part_it_installs(dockerfile):
    """pip installs every folder pyproject.toml lists (each image's `ctr` loads every part's subcommand)."""
    where = re.search(r"^where = \[(.*)\]$", (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    copied = set(re.findall(r"^COPY (\w+) \S+$", dockerfile.read_text(), re.M))
    assert set(re.findall(r'"(\w+)"', where)) <= copied
