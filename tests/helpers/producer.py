"""What ``ctr produce`` tells a test: its summary and its progress lines; and its live settings file."""

import json
import os
import re
from pathlib import Path


def summary_of(stdout: str) -> dict:
    """The producer's JSON summary (its last stdout line)."""
    return json.loads(stdout.strip().splitlines()[-1])


def progress(line: str) -> dict[str, int]:
    """The counts of a progress line (impressions, clicks, pending, errors, buffered); {} for another line."""
    return {
        name: int(value)
        for name, value in re.findall(r"(impressions|clicks|pending|errors|buffered) (\d+)", line)
    }


def progress_lines(stderr: list[str]) -> list[dict[str, int]]:
    """The counts of every progress line of the producer's stderr lines."""
    return [progress(line) for line in list(stderr) if line.startswith("[ctr produce]")]


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename, as editors and ConfigMap mounts do."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
