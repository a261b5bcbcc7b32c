"""ctr's Java classes (job/ctr_job/java: the ``ctr-event`` Flink format and the ``ClickFlags``
operator), compiled once with the JDK's javac into a cached jar.

The jar is keyed by a hash of its sources and of the PyFlink version it is compiled against, so
an edited source or another Flink gets a fresh build. The job image compiles the same sources
(job/Dockerfile).
"""

import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from ctr_job.jars import JarError, cache_dir

SOURCES = Path(__file__).resolve().parent / "java"


def _pyflink_lib() -> Path:
    import pyflink

    return Path(pyflink.__file__).resolve().parent / "lib"


def _source_files() -> list[Path]:
    return sorted(path for path in SOURCES.rglob("*") if path.is_file())


def _key(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(SOURCES)).encode() + b"\0" + path.read_bytes() + b"\0")
    for jar in sorted(_pyflink_lib().glob("flink-*.jar")):
        digest.update(jar.name.encode())
    return digest.hexdigest()[:16]


def _javac() -> str:
    javac = shutil.which("javac")
    if javac is None:
        raise JarError(
            "javac not found: the job compiles its Java classes (job/ctr_job/java) once, "
            "which needs a JDK 17 "
            "(Debian/Ubuntu: apt-get install openjdk-17-jdk-headless)"
        )
    return javac


def _build(files: list[Path], target: Path) -> None:
    with tempfile.TemporaryDirectory() as classes:
        sources = [str(path) for path in files if path.suffix == ".java"]
        command = [
            _javac(),
            "--release",
            "17",
            "-nowarn",
            "-cp",
            str(_pyflink_lib() / "*"),
            "-d",
            classes,
            *sources,
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise JarError(f"could not compile ctr's Java classes: {result.stderr.strip()[-2000:]}")
        partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as jar:
            for path in sorted(Path(classes).rglob("*.class")):
                jar.write(path, str(path.relative_to(classes)))
            for path in files:
                if path.suffix != ".java":
                    jar.write(path, str(path.relative_to(SOURCES)))
        partial.replace(target)


def event_format_jar() -> Path:
    """Return the path of the format's jar, compiling it on first use."""
    files = _source_files()
    target = cache_dir() / f"ctr-event-format-{_key(files)}.jar"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        _build(files, target)
    return target
