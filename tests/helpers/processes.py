"""``ctr`` run as users run it, as a process: started, its output collected, waited for, stopped, its
JVMs killed."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import psutil

CTR = [sys.executable, "-m", "ctr.cli"]


def wait_for(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def start_ctr(*args: str, env: dict | None = None, **popen: object) -> subprocess.Popen:
    """Start ``ctr ARGS`` as a process with stdout and stderr captured."""
    return subprocess.Popen(
        [*CTR, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        **popen,
    )


def run_ctr(*args: str, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``ctr ARGS`` to completion and return the result."""
    return subprocess.run(
        [*CTR, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


class CollectedOutput:
    """Reads a process's stdout and stderr lines in background threads, so that no read blocks a test:
    a test looks at the lines read so far (``stdout``, ``stderr``) and waits with a deadline."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._cursor = 0
        self._threads = [
            threading.Thread(target=self._pump, args=(stream, lines), daemon=True)
            for stream, lines in ((process.stdout, self.stdout), (process.stderr, self.stderr))
            if stream is not None
        ]
        for thread in self._threads:
            thread.start()

    @classmethod
    def in_terminal(cls, *args: str) -> "CollectedOutput":
        """``ctr ARGS`` started with its stdout on a pseudo-terminal (as in a user's terminal), its
        stderr captured: ``stdout`` collects what the terminal shows in chunks as they come (escape
        sequences kept, the terminal's line ends as ``\\n``)."""
        import pty

        controller, terminal = pty.openpty()
        process = subprocess.Popen(
            [*CTR, *args], stdout=terminal, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
        )
        os.close(terminal)
        collected = cls(process)
        reader = threading.Thread(target=cls._pump_terminal, args=(controller, collected.stdout), daemon=True)
        collected._threads.append(reader)
        reader.start()
        return collected

    @staticmethod
    def _pump(stream, lines: list) -> None:
        for line in stream:
            lines.append(line)

    @staticmethod
    def _pump_terminal(controller: int, chunks: list) -> None:
        try:
            while chunk := os.read(controller, 65536):
                chunks.append(chunk.decode(errors="replace").replace("\r\n", "\n"))
        except OSError:  # EIO: the terminal's last writer is gone
            pass
        finally:
            os.close(controller)

    def next_stderr(self, predicate: Callable[[str], bool]) -> str | None:
        """The first stderr line read since the last one matched that satisfies ``predicate``, or None
        (for now: it returns at once)."""
        while self._cursor < len(self.stderr):
            line = self.stderr[self._cursor]
            self._cursor += 1
            if predicate(line):
                return line
        return None

    def wait_for_stderr(self, predicate: Callable[[str], bool], timeout: float, what: str) -> str:
        """Wait until a stderr line after the last one matched satisfies ``predicate``; return it."""
        found: list[str] = []

        def matched() -> bool:
            line = self.next_stderr(predicate)
            if line is not None:
                found.append(line)
            return bool(found)

        wait_for(matched, timeout, what)
        return found[0]

    def finish(self, timeout: float) -> int:
        """Wait for the process to exit and the streams to close; return the exit code."""
        code = self.process.wait(timeout)
        for thread in self._threads:
            thread.join(timeout)
        return code


def stop(output: CollectedOutput | None, timeout: float = 60) -> int | None:
    """SIGTERM a process still running (SIGKILL after ``timeout`` s) and wait for it; its exit code
    (None when there was none to stop)."""
    if output is None:
        return None
    if output.process.poll() is None:
        output.process.send_signal(signal.SIGTERM)
    try:
        return output.finish(timeout)
    except subprocess.TimeoutExpired:
        output.process.kill()
        return output.finish(30)


def jvms(output: CollectedOutput) -> list[psutil.Process]:
    """The JVMs under a process (a job's local cluster: its JobManager and TaskManagers)."""
    return [p for p in psutil.Process(output.process.pid).children(recursive=True) if "java" in p.name()]


def kill_jvms(output: CollectedOutput) -> None:
    """SIGKILL every JVM under the process, and wait for the process to exit with an error."""
    java = jvms(output)
    assert java, "no JVM under the process"
    for process in java:
        process.send_signal(signal.SIGKILL)
    assert output.finish(60) != 0
