"""Apache Kafka's jars for the local broker: resolved from Maven Central by ``mvn`` at the pinned
version, checked against pinned SHA-256 checksums, cached once per machine."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ctr.broker.errors import BrokerError
from ctr.checksums import mismatch, read_pins

KAFKA_VERSION = "4.3.1"
HERE = Path(__file__).resolve().parent
POM = HERE / "kafka.pom.xml"
CHECKSUMS = HERE / "kafka-jars.sha256"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"


def pinned_checksums() -> dict[str, str]:
    """Jar file name -> its SHA-256, as pinned in kafka-jars.sha256."""
    return read_pins(CHECKSUMS)


def cache_dir() -> Path:
    """Where the jars live: ``$CTR_CACHE_DIR`` or ``~/.cache/ctr``, under ``kafka-VERSION``."""
    return Path(os.environ.get("CTR_CACHE_DIR", Path.home() / ".cache" / "ctr")) / f"kafka-{KAFKA_VERSION}"


def _verify(directory: Path, pins: dict[str, str]) -> None:
    problem = mismatch(directory, pins)
    if problem is not None:
        raise BrokerError(f"the Kafka broker's {problem}")


def _resolve(target: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError(
            f"mvn not found: the local broker's jars (Apache Kafka {KAFKA_VERSION}) come from Maven Central "
            "through Maven (Debian/Ubuntu: apt-get install maven)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=target.parent, prefix="partial-"))
    try:
        command = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(POM),
            f"{DEPENDENCY_PLUGIN}:copy-dependencies",
            f"-DoutputDirectory={partial}",
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            lines = [line for line in result.stdout.splitlines() if "ERROR" in line] or [
                result.stderr.strip()
            ]
            raise BrokerError(
                f"could not resolve Apache Kafka {KAFKA_VERSION} from Maven Central with mvn "
                f"(is it reachable?): {lines[0][:400]}"
            )
        _verify(partial, pinned_checksums())
        partial.rename(target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def kafka_classpath() -> str:
    """The broker's classpath (``DIR/*``), resolving and checking the jars on first use."""
    target = cache_dir() / "lib"
    if not target.is_dir():
        _resolve(target)
    _verify(target, pinned_checksums())
    return f"{target}/*"


def java_binary() -> str:
    """The ``java`` that runs the broker: ``$JAVA_HOME/bin/java`` or the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if java is None or not Path(java).is_file():
        raise BrokerError(
            "java not found: the local broker is Apache Kafka, which needs a JDK 17 "
            "(Debian/Ubuntu: apt-get install openjdk-17-jdk-headless)"
        )
    return java
