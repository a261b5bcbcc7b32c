"""The Dockerfiles: lint clean, the job image's build stages as the local path does them."""

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ctr_job.jars import JARS

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


def test_the_connector_jars_are_the_ones_the_local_path_pins():
    pinned = set(re.findall(r"--checksum=sha256:([0-9a-f]{64})", JOB))
    assert pinned == set(JARS.values())
    assert "repo1.maven.org/maven2/org/apache/flink/flink-connector-kafka/4.0.1-2.0/" in JOB
    assert "repo1.maven.org/maven2/org/apache/kafka/kafka-clients/3.9.1/" in JOB


def test_pyflink_is_built_in_a_stage_with_a_compiler_and_the_final_image_has_none():
    """apache-flink has x86_64 wheels only: on arm64 pip compiles it, which needs build-essential."""
    stages = _stages(JOB)
    builder = next(stage for stage in stages if stage.startswith("flink AS python"))
    final = stages[-1]
    assert "build-essential" in builder and "python3-dev" in builder and "apache-flink==" in builder
    assert "build-essential" not in final and "COPY --from=python /opt/venv /opt/venv" in final
    assert re.search(r"^USER 9999$", final, re.M), "the final image runs as flink"


def test_job_image_compiles_the_event_format_into_flink_lib(tmp_path):
    """The Dockerfile's event-format stage, run here on PyFlink's jars, builds a jar Flink can discover."""
    import pyflink

    stage = JOB.split("AS event-format", 1)[1].split("\nFROM ", 1)[0]
    assert "WORKDIR /src" in stage
    build = re.search(r"^RUN (.*?)(?<!\\)$", stage, re.M | re.S).group(1).replace("\\\n", " ")
    shutil.copytree(ROOT / "job" / "ctr_job" / "java", tmp_path / "src")
    here = {
        "/opt/flink/lib": Path(pyflink.__file__).parent / "lib",
        "/src": tmp_path / "src",
        "/classes": tmp_path / "classes",
        "/ctr-event-format.jar": tmp_path / "format.jar",
        "/tmp/sources": tmp_path / "sources",
    }
    build = re.sub("|".join(map(re.escape, here)), lambda found: str(here[found.group(0)]), build)
    subprocess.run(["bash", "-euo", "pipefail", "-c", build], check=True, cwd=tmp_path / "src")
    with zipfile.ZipFile(tmp_path / "format.jar") as jar:
        service = jar.read("META-INF/services/org.apache.flink.table.factories.Factory").decode().split()
        assert [name.replace(".", "/") + ".class" for name in service][0] in jar.namelist()
    assert "COPY --from=event-format /ctr-event-format.jar /opt/flink/lib/" in JOB
