"""Helpers the tests share: run ``ctr`` as users do, and read topics back from the broker."""

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from ctr.broker import KafkaBroker
from ctr.settings.command_line import flags
from ctr.topics import TopicNames

CTR = [sys.executable, "-m", "ctr.cli"]
#: The chart's Grafana dashboard.
DASHBOARD = Path(__file__).resolve().parent.parent / "helm" / "dashboards" / "ctr.json"

#: Lines of measured figures the tests report, printed once more at the end of the run (conftest.py).
FIGURES: list[str] = []


def report_figures(topic: str, scenario: str, **figures: object) -> None:
    """Record one line of figures, ``[topic] scenario: name=value ...``, for the run's summary."""
    FIGURES.append(f"[{topic}] {scenario}: " + " ".join(f"{name}={value}" for name, value in figures.items()))


def fresh_topics(broker: KafkaBroker) -> TopicNames:
    """Create topics with names no other test uses, and return the names."""
    names = TopicNames.with_suffix(uuid.uuid4().hex[:8])
    broker.create_topics(names.all())
    return names


def dashboard_queries() -> list[str]:
    """The PromQL expression of every target of every panel of the dashboard, as written there."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


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


def summary_of(stdout: str) -> dict:
    """The producer's JSON summary (its last stdout line)."""
    return json.loads(stdout.strip().splitlines()[-1])


def read_topic(
    broker: KafkaBroker, topic: str, count: int, timeout: float = 60.0, settle: float = 1.0
) -> list:
    """Read ``topic``'s committed messages from the earliest offset until ``count`` messages came and
    none follow for ``settle`` s.

    Returns the messages (confluent_kafka Message objects) in arrival order.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap_servers,
            "group.id": f"test-{topic}",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
            "isolation.level": "read_committed",
        }
    )
    metadata = consumer.list_topics(topic, timeout=10)
    consumer.assign([TopicPartition(topic, p, 0) for p in metadata.topics[topic].partitions])
    messages: list = []
    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None:
                if len(messages) >= count and time.monotonic() - quiet_since >= settle:
                    return messages
                continue
            if message.error():
                raise AssertionError(f"consumer error on {topic}: {message.error()}")
            messages.append(message)
            quiet_since = time.monotonic()
    finally:
        consumer.close()
    raise AssertionError(f"read {len(messages)} of {count} messages from {topic} within {timeout:g}s")


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename, as editors and ConfigMap mounts do."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


class CollectedOutput:
    """Reads a process's stdout and stderr lines in background threads."""

    def __init__(self, process: subprocess.Popen) -> None:
        import threading

        self.process = process
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._cursor = 0
        self._threads = [
            threading.Thread(target=self._pump, args=(stream, lines), daemon=True)
            for stream, lines in ((process.stdout, self.stdout), (process.stderr, self.stderr))
        ]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _pump(stream, lines: list) -> None:
        for line in stream:
            lines.append(line)

    def wait_for_stderr(self, predicate: Callable[[str], bool], timeout: float, what: str) -> str:
        """Wait until a stderr line after the last one matched satisfies ``predicate``; return it."""

        def found() -> bool:
            for line in self.stderr[self._cursor :]:
                self._cursor += 1
                if predicate(line):
                    return True
            return False

        wait_for(found, timeout, what)
        return self.stderr[self._cursor - 1]

    def finish(self, timeout: float) -> int:
        """Wait for the process to exit and the streams to close; return the exit code."""
        code = self.process.wait(timeout)
        for thread in self._threads:
            thread.join(timeout)
        return code


def produce_args(bootstrap_servers: str, topics: TopicNames, **settings: object) -> list[str]:
    """``ctr produce``'s arguments for a test: its broker and topics, then ``settings`` as flags by their
    names (``max_click_delay="1s"`` -> ``--max-click-delay 1s``)."""
    return [
        "produce",
        *flags(
            bootstrap_servers=bootstrap_servers,
            impressions_topic=topics.impressions,
            clicks_topic=topics.clicks,
            **settings,
        ),
    ]


def job_args(
    bootstrap_servers: str,
    topics: TopicNames,
    work: Path,
    *extra: str,
    window_ms: int,
    join_bound_ms: int,
    out_of_orderness: str,
) -> list[str]:
    """``ctr job``'s arguments for a test: its topics, its directories under ``work``, 1 s checkpoints, the
    Web UI on a free port (tests may run beside a demo on 8081)."""
    return [
        "job",
        *flags(
            bootstrap_servers=bootstrap_servers,
            impressions_topic=topics.impressions,
            clicks_topic=topics.clicks,
            dlq_topic=topics.dlq,
            output_dir=work / "results",
            checkpoint_dir=work / "checkpoints",
            log_dir=work / "logs",
            checkpoint_interval="1s",
            window=f"{window_ms // 1000}s",
            join_bound=f"{join_bound_ms // 1000}s",
            out_of_orderness=out_of_orderness,
            web_ui_port=0,
        ),
        *extra,
    ]
