"""The jars the job adds to Flink: ctr's own (``ctr-flink.jar``) and the runtime jars in ``lib/``
(the Kafka connector, kafka-clients), both built by the Maven module job/java (``make setup``).

The runtime jars are checked against job/java/jars.sha256, the one pinned list the build and the
job image check too.
"""

import hashlib
import os
from pathlib import Path

#: The Maven module (the package is installed editable, so it sits next to it in the repository).
MODULE = Path(__file__).resolve().parent.parent / "java"
CHECKSUMS = MODULE / "jars.sha256"
JAR = "ctr-flink.jar"
NOT_BUILT = "ctr's Java module is not built: run make setup (mvn -f job/java package)"


class JarError(RuntimeError):
    """The job's jars are missing or are not the pinned ones."""


def jars_dir() -> Path:
    """Where the built jars are: ``$CTR_JOB_JARS_DIR`` if set, else job/java/target."""
    return Path(os.environ.get("CTR_JOB_JARS_DIR", MODULE / "target"))


def pinned() -> dict[str, str]:
    """The runtime jars' names and SHA-256 hashes, as job/java/jars.sha256 pins them."""
    if not CHECKSUMS.is_file():
        raise JarError(f"{CHECKSUMS} is missing: ctr_job must be installed editable from the repository")
    pins = {}
    for line in CHECKSUMS.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            pins[name.lstrip("*")] = digest
    return pins


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def built_jars() -> list[Path]:
    """The runtime jars (checked against their pinned hashes) and ctr's jar, as built by job/java."""
    folder = jars_dir()
    runtime = {folder / "lib" / name: digest for name, digest in pinned().items()}
    paths = [*runtime, folder / JAR]
    if not all(path.is_file() for path in paths):
        raise JarError(NOT_BUILT)
    for path, expected in runtime.items():
        actual = _sha256(path)
        if actual != expected:
            raise JarError(f"{path} has SHA-256 {actual}, {CHECKSUMS} pins {expected}: run make setup")
    return paths
