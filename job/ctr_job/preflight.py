"""Checks made before Flink starts, so that a job that cannot run says why at once."""

import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

log = logging.getLogger("ctr.job")
BROKER_TIMEOUT = 10.0
#: While waiting for Kafka: the pause between tries.
RETRY_PAUSE = 2.0


class PreflightError(RuntimeError):
    """The job cannot start; the text says why."""


def check_topics(bootstrap_servers: str, topics: Iterable[str], timeout: float = BROKER_TIMEOUT) -> None:
    """Fail unless the broker answers within ``timeout`` and every topic exists."""
    admin = AdminClient(
        {"bootstrap.servers": bootstrap_servers, "socket.connection.setup.timeout.ms": int(timeout * 1000)}
    )
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as err:
        raise PreflightError(
            f"cannot reach Kafka at {bootstrap_servers} within {timeout:g}s: {err.args[0].str()}"
        ) from None
    missing = [topic for topic in topics if topic not in metadata.topics]
    if missing:
        raise PreflightError(
            f"topic(s) {', '.join(missing)} do not exist on {bootstrap_servers}: "
            "create them first (ctr broker creates them)"
        )


def wait_for_topics(bootstrap_servers: str, topics: Iterable[str], wait: float) -> None:
    """Like ``check_topics``, but try again until ``wait`` seconds have passed, logging what is missing."""
    topics = tuple(topics)
    deadline = time.monotonic() + wait
    while True:
        left = deadline - time.monotonic()
        try:
            check_topics(bootstrap_servers, topics, timeout=max(1.0, min(BROKER_TIMEOUT, left)))
            return
        except PreflightError as err:
            if time.monotonic() + RETRY_PAUSE >= deadline:
                raise PreflightError(f"{err} (waited {wait:g}s: raise --kafka-wait to wait longer)") from None
            log.warning("waiting for Kafka and its topics (%.0fs left): %s", left, err)
            time.sleep(RETRY_PAUSE)


def check_writable_dir(path: Path, what: str) -> None:
    """Fail unless ``path`` is, or can be made, a writable directory."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PreflightError(f"{what} {path} cannot be created: {err.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise PreflightError(f"{what} {path} is not writable")


def check_checkpoint(path: Path) -> None:
    """Fail unless ``path`` is a complete checkpoint or savepoint (it holds ``_metadata``)."""
    if not (path / "_metadata").is_file():
        raise PreflightError(f"{path} is not a checkpoint (no _metadata in it)")
