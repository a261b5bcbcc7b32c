"""Pinned SHA-256 checksums of the jars ctr takes from Maven Central, in ``sha256sum``'s format
(a hash and a file name a line), and the check of a directory of jars against them."""

import hashlib
from pathlib import Path


def read_pins(path: Path) -> dict[str, str]:
    """File name -> SHA-256 as ``path`` pins them."""
    pins = {}
    for line in path.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            pins[name.lstrip("*")] = digest
    return pins


def sha256(path: Path) -> str:
    """The SHA-256 of the file at ``path``, as hex."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def mismatch(directory: Path, pins: dict[str, str], exact: bool = True) -> str | None:
    """What in ``directory`` differs from ``pins`` (a pinned jar missing or changed, or with ``exact`` an
    unpinned jar there), said in one line; None when every jar is the pinned one."""
    found = {path.name for path in directory.glob("*.jar")}
    missing, extra = sorted(set(pins) - found), sorted(found - set(pins)) if exact else []
    if missing or extra:
        return (
            f"jars in {directory} differ from the pins "
            f"(missing {missing or 'none'}, unexpected {extra or 'none'})"
        )
    for name, expected in pins.items():
        actual = sha256(directory / name)
        if actual != expected:
            return f"{directory / name} has SHA-256 {actual}, pinned {expected}"
    return None
