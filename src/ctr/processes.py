"""Child processes that ctr starts on 127.0.0.1 (the broker) and stops again; the signals that stop ctr's
own commands."""

import ctypes
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

PR_SET_PDEATHSIG = 1


class ChildExited(RuntimeError):
    """The child exited before it was ready."""

    def __init__(self, code: int) -> None:
        super().__init__(f"exited with code {code}")
        self.code = code


def stop_with_parent() -> None:
    """In the child before exec: get SIGTERM when the parent dies, so that no child outlives it (Linux)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def on_stop(handler: Callable[[], object]) -> None:
    """From now on, call ``handler`` on SIGINT and on SIGTERM (Python runs it in the main thread)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: handler())


def stop_event() -> threading.Event:
    """An event that SIGINT or SIGTERM sets, from now on."""
    stop = threading.Event()
    on_stop(stop.set)
    return stop


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ChildProcess:
    """One command run in its own session, its output appended to ``log_path`` (or discarded)."""

    def __init__(self, log_path: Path | None = None) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None

    def start(self, command: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
        """Start ``command`` with ``env`` added to this process's environment."""
        self._log = open(self.log_path, "ab") if self.log_path else None
        output = self._log or subprocess.DEVNULL
        self.process = subprocess.Popen(
            command,
            stdout=output,
            stderr=output,
            env={**os.environ, **env},
            cwd=cwd,
            start_new_session=True,
            preexec_fn=stop_with_parent,
        )

    def wait_ready(self, ready: Callable[[], bool], timeout: float) -> None:
        """Poll ``ready`` every 0.1 s until it holds; ChildExited if the process exits first,
        TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not ready():
            code = self.exit_code()
            if code is not None:
                raise ChildExited(code)
            if time.monotonic() > deadline:
                raise TimeoutError
            time.sleep(0.1)

    def wait_exit(self, timeout: float) -> int | None:
        """Wait up to ``timeout`` seconds for it to exit; its exit code, or None while it still runs."""
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def exit_code(self) -> int | None:
        """None while it runs (or was never started), else its exit code."""
        return None if self.process is None else self.process.poll()

    @property
    def running(self) -> bool:
        """True while the process runs."""
        return self.process is not None and self.process.poll() is None

    def log_hint(self) -> str:
        """Where to look for its output, as the end of an error message."""
        return f"; see {self.log_path}" if self.log_path else ""

    def kill(self) -> None:
        """Kill it with SIGKILL at once, as a crash would; safe to call twice."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.stop()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop it with SIGTERM (SIGKILL after ``timeout``); safe to call twice."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
        self._log = None
