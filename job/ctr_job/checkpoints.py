"""Retained checkpoints in a checkpoint directory (``<dir>/<job id>/chk-<n>/_metadata``)."""

from pathlib import Path


def retained_checkpoints(checkpoint_dir: Path) -> list[Path]:
    """Every complete checkpoint under ``checkpoint_dir``, oldest first."""
    complete = [path for path in checkpoint_dir.glob("*/chk-*") if (path / "_metadata").is_file()]
    return sorted(complete, key=lambda path: ((path / "_metadata").stat().st_mtime, int(path.name[4:])))


def latest_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The newest complete checkpoint under ``checkpoint_dir``, or None."""
    checkpoints = retained_checkpoints(checkpoint_dir)
    return checkpoints[-1] if checkpoints else None
