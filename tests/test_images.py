"""The Dockerfiles: lint clean, the job image's build stages as the local path does them."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from ctr_job.cluster_config import CHART_PLACES, IMAGE_PYTHON, cluster_configuration
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
    assert "build-essential" in builder and "apache-flink==" in builder
    assert "build-essential" not in final and "COPY --from=python /opt/venv /opt/venv" in final
    assert re.search(r"^USER 9999$", final, re.M), "the final image runs as flink"


PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _tested_minor() -> str:
    """The one Python minor version ``requires-python`` allows."""
    allowed = SpecifierSet(PYPROJECT["project"]["requires-python"])
    minors = [f"3.{n}" for n in range(30) if any(f"3.{n}.{p}" in allowed for p in (0, 99))]
    assert len(minors) == 1, f"requires-python allows {minors}: only the version the suite runs on"
    return minors[0]


def test_the_job_image_s_python_is_the_minor_version_requires_python_allows():
    """The image installs CPython ``PYTHON_VERSION`` (uv, python-build-standalone), not Ubuntu's python3."""
    version = re.search(r"^ARG PYTHON_VERSION=(\d+\.\d+\.\d+)$", JOB, re.M).group(1)
    assert _minor(version) == _tested_minor()
    builder = next(stage for stage in _stages(JOB) if stage.startswith("flink AS python"))
    assert "ARG PYTHON_VERSION\n" in builder and 'uv python install --no-bin "${PYTHON_VERSION}"' in builder
    installs = re.findall(r"apt-get install .*", JOB)
    assert installs and not [line for line in installs if "python" in line], "no Ubuntu Python"
    uv = re.search(r"^ARG UV_VERSION=(\S+)$", JOB, re.M).group(1)
    assert re.fullmatch(r"\d+\.\d+\.\d+", uv) and "FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv\n" in JOB


def test_the_job_image_has_its_interpreter_where_its_virtualenv_and_the_chart_look():
    """The virtualenv links to the interpreter in UV_PYTHON_INSTALL_DIR: the final image copies both to
    the same paths, and the FlinkDeployment's driver runs the virtualenv's python."""
    builder = next(stage for stage in _stages(JOB) if stage.startswith("flink AS python"))
    final = _stages(JOB)[-1]
    python_dir = re.search(r"^ENV UV_PYTHON_INSTALL_DIR=(\S+)", builder, re.M).group(1)
    venv = re.search(r"-m venv (\S+)$", builder, re.M).group(1)
    assert f"COPY --from=python {python_dir} {python_dir}\n" in final
    assert f"COPY --from=python {venv} {venv}\n" in final and f"ENV PATH={venv}/bin:$PATH" in final
    assert IMAGE_PYTHON == f"{venv}/bin/python"
    assert cluster_configuration(CHART_PLACES)["python.client.executable"] == IMAGE_PYTHON


@pytest.mark.parametrize("part", ["producer", "operator"])
def test_the_producer_and_operator_images_are_on_the_same_python(part):
    base = re.search(r"^FROM python:(\d+\.\d+)-slim$", (ROOT / part / "Dockerfile").read_text(), re.M)
    assert base and base.group(1) == _tested_minor()


def test_the_suite_and_the_type_and_style_checks_are_on_that_python():
    """The suite runs (CI: Debian's /usr/bin/python3) on the minor version the images have; mypy and
    ruff check for it."""
    minor = _tested_minor()
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == minor
    assert PYPROJECT["tool"]["mypy"]["python_version"] == minor
    assert PYPROJECT["tool"]["ruff"]["target-version"] == "py" + minor.replace(".", "")


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.parent.name)
def test_each_image_copies_every_part_it_installs(dockerfile):
    """pip installs every folder pyproject.toml lists (each image's `ctr` loads every part's subcommand)."""
    where = re.search(r"^where = \[(.*)\]$", (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    copied = set(re.findall(r"^COPY (\w+) \S+$", dockerfile.read_text(), re.M))
    assert set(re.findall(r'"(\w+)"', where)) <= copied
