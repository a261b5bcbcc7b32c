"""The jars the job adds to Flink: ctr's own (``ctr-flink.jar``) and the runtime jars in ``lib/``
(the Kafka connector, kafka-clients), both built by the Maven module job/java (``make setup``).

The runtime jars are checked against job/java/jars.sha256, the one pinned list the build and the
job image check too.
"""

import os
from pathlib import Path

from ctr.checksums import mismatch, read_pins

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
    return read_pins(CHECKSUMS)


def built_jars() -> list[Path]:
    """The runtime jars (checked against their pinned hashes) and ctr's jar, as built by job/java."""
    folder = jars_dir()
    pins = pinned()
    paths = [*(folder / "lib" / name for name in pins), folder / JAR]
    if not all(path.is_file() for path in paths):
        raise JarError(NOT_BUILT)
    problem = mismatch(folder / "lib", pins, exact=False)
    if problem is not None:
        raise JarError(f"the job's {problem}; {CHECKSUMS} pins them: run make setup")
    return paths
