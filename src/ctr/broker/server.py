"""Apache Kafka on 127.0.0.1 in KRaft mode: one node that is both controller and broker, as in
Kafka's quickstart; its log directory formatted on first start, started and stopped by ctr."""

import base64
import socket
import subprocess
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from ctr import topics
from ctr.broker.admin import create_pipeline_topics, create_topics
from ctr.broker.artifacts import KAFKA_VERSION, java_binary, kafka_classpath
from ctr.broker.errors import BrokerError
from ctr.processes import ChildExited, ChildProcess, free_port
from ctr.settings.fields import DEFAULT_BROKER_HEAP as DEFAULT_HEAP

LOG4J_CONFIG = Path(__file__).resolve().parent / "log4j2.properties"
NODE_ID = 1
READINESS_TOPIC = "ctr-readiness-check"
#: The JVM options of Kafka's own bin/kafka-run-class.sh, less the heap (``heap``).
JVM_OPTIONS = (
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
)
#: The storage tool runs for seconds: the client compiler alone starts it faster.
TOOL_JVM_OPTIONS = ("-XX:TieredStopAtLevel=1",)


def server_properties(port: int, controller_port: int, log_dir: Path) -> dict[str, str]:
    """The node's configuration: broker and controller in one, replication factors of a one-node cluster."""
    return {
        "process.roles": "broker,controller",
        "node.id": str(NODE_ID),
        "controller.quorum.voters": f"{NODE_ID}@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(log_dir),
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        # As in the chart (helm/templates/kafka/kafka.yaml): topics are created, never auto-created.
        "auto.create.topics.enable": "false",
    }


def new_cluster_id() -> str:
    """A random cluster id in Kafka's form (a UUID as URL-safe base64 without padding)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        # As Kafka binds: a port whose last connections are in TIME_WAIT is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class KafkaBroker:
    """Apache Kafka on 127.0.0.1:``port`` with its log directory under ``data_dir`` (kept across
    restarts), ``heap`` of JVM heap; its output goes to ``log_path`` (default ``data_dir/broker.log``)."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        heap: str = DEFAULT_HEAP,
        log_path: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.heap = heap
        self.log_path = log_path or self.data_dir / "broker.log"
        self._child = ChildProcess(self.log_path)

    @property
    def bootstrap_servers(self) -> str:
        """The address clients connect to."""
        return f"127.0.0.1:{self.port}"

    @property
    def log_dir(self) -> Path:
        """Kafka's log directory: the topics' data and the cluster's metadata."""
        return self.data_dir / "kraft"

    @property
    def pid(self) -> int | None:
        """The broker JVM's process id while it runs."""
        return self._child.process.pid if self._child.running and self._child.process else None

    def _write_config(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / "server.properties"
        properties = server_properties(self.port, free_port(), self.log_dir)
        path.write_text("".join(f"{key}={value}\n" for key, value in properties.items()))
        return path

    def _java(self, *arguments: str, options: tuple[str, ...] = JVM_OPTIONS) -> list[str]:
        return [
            java_binary(),
            f"-Xmx{self.heap}",
            f"-Xms{self.heap}",
            *options,
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            "-cp",
            kafka_classpath(),
            *arguments,
        ]

    def _format(self, config: Path) -> None:
        # One argument: an id may start with "-", which the tool would take for an option.
        command = self._java(
            "kafka.tools.StorageTool",
            "format",
            f"--cluster-id={new_cluster_id()}",
            "-c",
            str(config),
            options=(*JVM_OPTIONS, *TOOL_JVM_OPTIONS),
        )
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            output = (result.stderr.strip() or result.stdout.strip()).splitlines() or ["no output"]
            raise BrokerError(f"could not format Kafka's log directory {self.log_dir}: {output[-1]}")

    def start(self, timeout: float = 90.0) -> "KafkaBroker":
        """Start the broker (formatting its log directory the first time) and return once a client can
        create topics on it."""
        if not _port_is_free(self.port):
            raise BrokerError(
                f"port {self.port} on 127.0.0.1 is taken: stop what listens there or pick another"
            )
        config = self._write_config()
        if not (self.log_dir / "meta.properties").is_file():
            self._format(config)
        self._child.start(self._java("kafka.Kafka", str(config)), {})
        try:
            self._child.wait_ready(self._accepts_topics, timeout)
        except ChildExited as exited:
            self.stop()
            raise BrokerError(
                f"Kafka {KAFKA_VERSION} exited with code {exited.code} before it was ready"
                f"{self._last_error()}{self._child.log_hint()}"
            ) from None
        except TimeoutError:
            self.stop()
            raise BrokerError(
                f"Kafka {KAFKA_VERSION} did not accept topics on {self.bootstrap_servers} within {timeout:g}s"
                f"{self._child.log_hint()}"
            ) from None
        return self

    def _accepts_topics(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                pass
        except OSError:
            return False
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers})
        futures = admin.create_topics(
            [NewTopic(READINESS_TOPIC, num_partitions=1, replication_factor=1)],
            validate_only=True,
            request_timeout=2,
        )
        try:
            futures[READINESS_TOPIC].result(5)
        except KafkaException:
            return False
        return True

    def _last_error(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        errors = [line for line in lines if " ERROR " in line or "Exception" in line]
        return f": {errors[-1].strip()[:300]}" if errors else ""

    def create_topics(
        self,
        names: Iterable[str],
        partitions: int = topics.DEFAULT_PARTITIONS,
        config: Mapping[str, str] | None = None,
    ) -> None:
        """Create ``names`` on this broker with the topic-level settings ``config`` (existing ones are
        kept; see ``ctr.broker.admin.create_topics``)."""
        create_topics(self.bootstrap_servers, names, partitions, config=config)

    def create_pipeline_topics(
        self, names: topics.TopicNames = topics.DEFAULT_NAMES, partitions: int = topics.DEFAULT_PARTITIONS
    ) -> None:
        """Create a pipeline's topics on this broker, each with its role's settings (existing ones are
        kept; see ``ctr.broker.admin.create_pipeline_topics``)."""
        create_pipeline_topics(self.bootstrap_servers, names, partitions)

    def check_alive(self) -> None:
        """Raise BrokerError if the broker process has died."""
        if not self._child.running:
            code, hint = self._child.exit_code(), self._child.log_hint()
            raise BrokerError(f"the local Kafka broker is not running (exit code {code}){hint}")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker with SIGTERM, a controlled shutdown (SIGKILL after ``timeout``); its topics stay
        in ``data_dir`` for the next ``start``; safe to call twice."""
        self._child.stop(timeout)

    def kill(self) -> None:
        """Kill the broker with SIGKILL, as a crash would; ``start`` brings it back on the same directory."""
        self._child.kill()

    def __enter__(self) -> "KafkaBroker":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
