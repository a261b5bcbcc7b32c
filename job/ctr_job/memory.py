"""The resident memory of a process and all its descendants, read from /proc (Linux; None elsewhere)."""

import os
from pathlib import Path

PROC = Path("/proc")


def _parents() -> dict[int, int]:
    parents = {}
    for stat in PROC.glob("[0-9]*/stat"):
        try:
            # The command (field 2) may hold spaces and ')': the other fields follow the last ')'.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    return parents


def tree_rss(pid: int) -> int | None:
    """Bytes resident in ``pid`` and its descendants now; None where /proc cannot say."""
    if not (PROC / str(pid) / "statm").is_file():
        return None
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    page = os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += int((PROC / str(current) / "statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
        todo += children.get(current, [])
    return total
