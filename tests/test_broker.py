"""The local Kafka broker: start, topics, clear errors, restarts, and ``ctr broker`` in the foreground."""

import signal
import socket
import threading
import uuid
from pathlib import Path

import pytest
import yaml
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

from ctr.broker import KAFKA_VERSION, BrokerError, KafkaBroker, artifacts
from ctr.topics import DEFAULT_PARTITIONS, TopicNames

from helpers.figures import report_figures
from helpers.processes import CollectedOutput, start_ctr, wait_for

ROOT = Path(__file__).resolve().parents[1]


def test_topics_are_created_with_their_partitions_and_the_chart_s_settings(broker, topics):
    metadata = AdminClient({"bootstrap.servers": broker.bootstrap_servers}).list_topics(timeout=10)
    for name in topics.all():
        assert len(metadata.topics[name].partitions) == DEFAULT_PARTITIONS
    for name, settings in topics.settings().items():
        wait_for_topic_config(
            broker.bootstrap_servers,
            name,
            {"cleanup.policy": "delete", "segment.ms": "604800000", **settings.kafka_config()},
        )
    broker.create_pipeline_topics(topics)


def test_topics_can_be_created_with_topic_settings(broker):
    """bench/live.py stamps its topics' records with the broker's append time."""
    name = f"append-time-{uuid.uuid4().hex[:8]}"
    broker.create_topics([name], config={"message.timestamp.type": "LogAppendTime"})
    wait_for_topic_config(broker.bootstrap_servers, name, {"message.timestamp.type": "LogAppendTime"})


def wait_for_topic_config(bootstrap_servers: str, name: str, expected: dict[str, str]) -> None:
    """Wait until the broker describes topic ``name``'s settings ``expected`` with these values."""
    resource = ConfigResource(ConfigResource.Type.TOPIC, name)
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    seen: list[object] = []

    def described() -> bool:
        # The new topic's metadata reaches the node a moment after its creation is acknowledged.
        try:
            config = admin.describe_configs([resource])[resource].result(10)
            seen.append({key: config[key].value for key in expected})
        except KafkaException as err:
            seen.append(str(err))
        return seen[-1] == expected

    try:
        wait_for(described, 30, f"topic {name}'s settings to be {expected}", interval=0.2)
    except AssertionError as err:
        raise AssertionError(f"{err}; the last answers: {seen[-3:]}") from None


@pytest.mark.jvm
def test_a_cluster_id_that_starts_with_a_dash_formats(monkeypatch, tmp_path):
    """A random id starts with "-" one time in 64 (URL-safe base64): not to be taken for an option."""
    from ctr.broker import server

    monkeypatch.setattr(server, "new_cluster_id", lambda: "-" + "A" * 21)
    broker = KafkaBroker(tmp_path)
    broker._format(broker._write_config())


def test_port_taken_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(BrokerError, match="taken"):
            KafkaBroker(tmp_path, port=taken.getsockname()[1]).start(timeout=20)


def test_missing_maven_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("CTR_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BrokerError, match="mvn not found.*apt-get install maven"):
        artifacts.kafka_classpath()


def test_unreachable_maven_central_is_a_clear_error(monkeypatch, tmp_path):
    offline = tmp_path / "bin" / "mvn"
    offline.parent.mkdir()
    offline.write_text("#!/bin/sh\necho '[ERROR] Could not transfer artifact: Connection refused'\nexit 1\n")
    offline.chmod(0o755)
    monkeypatch.setenv("CTR_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PATH", f"{offline.parent}:/usr/bin:/bin")
    with pytest.raises(BrokerError, match="from Maven Central with mvn .*Connection refused"):
        artifacts.kafka_classpath()


def test_missing_java_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BrokerError, match="java not found.*JDK 17"):
        artifacts.java_binary()


def test_a_jar_that_differs_from_its_pin_is_refused(tmp_path):
    (tmp_path / "kafka_2.13-4.3.1.jar").write_bytes(b"not the real jar")
    with pytest.raises(BrokerError, match="has SHA-256 .* pinned"):
        artifacts._verify(tmp_path, {"kafka_2.13-4.3.1.jar": "0" * 64})
    with pytest.raises(BrokerError, match="missing \\['other.jar'\\]"):
        artifacts._verify(tmp_path, {"kafka_2.13-4.3.1.jar": "0" * 64, "other.jar": "0" * 64})


def test_the_broker_is_the_version_the_chart_runs():
    values = yaml.safe_load((ROOT / "helm" / "values.yaml").read_text())
    assert values["kafka"]["version"] == KAFKA_VERSION
    pins = artifacts.pinned_checksums()
    assert f"kafka_2.13-{KAFKA_VERSION}.jar" in pins and f"kafka-clients-{KAFKA_VERSION}.jar" in pins


@pytest.mark.broker
def test_dead_broker_is_reported(tmp_path):
    running = KafkaBroker(tmp_path).start()
    running.kill()
    with pytest.raises(BrokerError, match="not running"):
        running.check_alive()
    running.stop()


def start_ctr_broker(*args: str) -> tuple[CollectedOutput, str]:
    """Start ``ctr broker ARGS``; return its output and, once it prints it, its bootstrap address."""
    output = CollectedOutput(start_ctr("broker", *args))
    try:
        wait_for(
            lambda: any("export CTR_BOOTSTRAP_SERVERS=" in line for line in output.stdout),
            60,
            "the bootstrap address",
        )
    except AssertionError:
        output.process.kill()
        raise
    address = next(line for line in output.stdout if line.startswith("export")).strip().split("=", 1)[1]
    return output, address


@pytest.mark.broker
def test_ctr_broker_runs_in_the_foreground_and_stops_on_ctrl_c(tmp_path):
    output, address = start_ctr_broker("--partitions", "2", "--broker-data-dir", str(tmp_path))
    process = output.process
    try:
        metadata = AdminClient({"bootstrap.servers": address}).list_topics(timeout=10)
        for name in TopicNames().all():
            assert len(metadata.topics[name].partitions) == 2
        for name, settings in TopicNames().settings().items():
            wait_for_topic_config(address, name, settings.kafka_config())
    finally:
        process.send_signal(signal.SIGINT)
    assert output.finish(30) == 0
    assert "stopped" in output.stdout[-1]


@pytest.mark.broker
def test_the_broker_keeps_its_topics_across_a_stop_and_a_kill(tmp_path):
    data_dir = tmp_path / "broker"
    names = TopicNames.with_suffix("kept")
    with KafkaBroker(data_dir) as first:
        first.create_pipeline_topics(names)
        sent = produce_numbers(first.bootstrap_servers, names.impressions, 100)
        first.stop()
        first.start()
        assert read_numbers(first.bootstrap_servers, names.impressions, 100) == sent
        first.kill()
    with KafkaBroker(data_dir) as second:
        assert read_numbers(second.bootstrap_servers, names.impressions, 100) == sent


@pytest.mark.slow
@pytest.mark.broker
def test_ctr_broker_with_a_data_dir_keeps_its_topics_when_stopped_and_started_again(tmp_path):
    data_dir = str(tmp_path / "broker")
    output, address = start_ctr_broker("--broker-data-dir", data_dir)
    try:
        sent = produce_numbers(address, TopicNames().impressions, 100)
    finally:
        output.process.send_signal(signal.SIGTERM)
    assert output.finish(60) == 0 and "stopped" in output.stdout[-1]
    output, address = start_ctr_broker("--broker-data-dir", data_dir, "--broker-port", address.split(":")[1])
    try:
        assert read_numbers(address, TopicNames().impressions, 100) == sent
    finally:
        output.process.send_signal(signal.SIGINT)
    assert output.finish(60) == 0


def produce_numbers(bootstrap_servers: str, topic: str, count: int) -> list[bytes]:
    producer = Producer({"bootstrap.servers": bootstrap_servers, "enable.idempotence": True})
    values = [str(n).encode() for n in range(count)]
    for value in values:
        producer.produce(topic, value, value)
    assert producer.flush(30) == 0
    return values


def read_numbers(bootstrap_servers: str, topic: str, count: int) -> list[bytes]:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap_servers, "group.id": "kept", "enable.auto.commit": False}
    )
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    values: list[bytes] = []
    try:
        wait_for(lambda: _poll_into(consumer, values) >= count, 60, f"{count} messages on {topic}")
    finally:
        consumer.close()
    return sorted(values, key=int)


def _poll_into(consumer: Consumer, values: list[bytes]) -> int:
    values.extend(message.value() for message in consumer.consume(10_000, 0.2) if not message.error())
    return len(values)


class Sender:
    """An idempotent producer sending numbers as fast as the broker takes them, in a thread."""

    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self.producer = Producer(
            {"bootstrap.servers": bootstrap_servers, "enable.idempotence": True, "linger.ms": 5}
        )
        self.topic = topic
        self.acknowledged: list[bytes] = []
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._send)

    def _on_delivery(self, err, message) -> None:
        if err is None:
            self.acknowledged.append(message.value())
        else:
            self.failed.append(err.str())

    def _send(self) -> None:
        number = 0
        while not self._stop.is_set():
            try:
                for _ in range(100):
                    self.producer.produce(self.topic, str(number).encode(), on_delivery=self._on_delivery)
                    number += 1
            except BufferError:
                # The client's queue is full while the broker is down: wait for room, as a producer does.
                self.producer.poll(0.1)
            self.producer.poll(0.01)

    def __enter__(self) -> "Sender":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        assert self.producer.flush(60) == 0


#: How the broker goes down while the producer sends, one after another on the same directory.
OUTAGES = ("stop", "kill", "stop", "kill")


@pytest.mark.slow
@pytest.mark.broker
def test_a_broker_stopped_or_killed_while_a_producer_sends_loses_nothing_acknowledged(tmp_path):
    names = TopicNames.with_suffix("outages")
    with KafkaBroker(tmp_path / "broker") as broker:
        broker.create_topics([names.impressions])
        with Sender(broker.bootstrap_servers, names.impressions) as sender:
            for how in OUTAGES:
                wanted = len(sender.acknowledged) + 500
                wait_for(lambda n=wanted: len(sender.acknowledged) > n, 60, "500 more acknowledged")
                getattr(broker, how)()
                broker.start()
        acknowledged = sorted(sender.acknowledged, key=int)
        on_topic = read_numbers(broker.bootstrap_servers, names.impressions, len(acknowledged))
    report_figures(
        "broker",
        f"{' + '.join(OUTAGES)} while sending",
        acknowledged=len(acknowledged),
        on_topic=len(on_topic),
        lost=len(set(acknowledged) - set(on_topic)),
        failed=len(sender.failed),
    )
    assert sender.failed == []
    assert on_topic == acknowledged
