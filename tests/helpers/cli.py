"""``ctr``'s main run in this process, for the checks of its arguments and its ``--help``: a Python
process costs a second of a core, these checks a few milliseconds. (tests/test_results_and_demo.py
runs the installed ``ctr`` command as a process too.)"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from ctr.cli import main


@dataclass
class Ran:
    """What ``ctr ARGS`` did: its exit code and what it wrote (as subprocess.CompletedProcess has them)."""

    returncode: int
    stdout: str
    stderr: str


def in_process(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Ran]:
    """``run(*args, env={...})``: ``ctr ARGS`` through ``ctr.cli.main`` with ``env`` set for the call;
    argparse's exits (SystemExit) are exit codes."""

    def run(*args: str, env: dict[str, str] | None = None) -> Ran:
        with monkeypatch.context() as patch:
            patch.setenv("COLUMNS", "100")  # --help wrapped the same in any terminal
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            capsys.readouterr()
            try:
                code = main(list(args))
            except SystemExit as exit:
                code = exit.code if isinstance(exit.code, int) else 0 if exit.code is None else 1
            captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run
