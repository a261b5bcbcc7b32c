"""The request gate in front of the durable broker: which requests it waits for, and its port."""

import socket
import struct

import pytest
from confluent_kafka import Producer

from ctr.broker import BrokerError, EmbeddedBroker
from ctr.request_gate import expects_response
from ctr.topics import TopicNames

PRODUCE, METADATA = 0, 3


def request_header(api_key: int, api_version: int, tagged_fields: bytes | None = None) -> bytes:
    """A request header (v1, or v2 with ``tagged_fields``) with client id "ctr"."""
    header = struct.pack(">hhih", api_key, api_version, 7, 3) + b"ctr"
    return header if tagged_fields is None else header + tagged_fields


def produce_v3(acks: int, transactional_id: bytes | None) -> bytes:
    if transactional_id is None:
        field = struct.pack(">h", -1)
    else:
        field = struct.pack(">h", len(transactional_id)) + transactional_id
    return request_header(PRODUCE, 3) + field + struct.pack(">hi", acks, 30_000)


def produce_v9(acks: int, transactional_id: bytes | None, header_tags: bytes = b"\x00") -> bytes:
    field = b"\x00" if transactional_id is None else bytes([len(transactional_id) + 1]) + transactional_id
    return request_header(PRODUCE, 9, header_tags) + field + struct.pack(">hi", acks, 30_000)


@pytest.mark.parametrize("acks", [0, 1, -1])
@pytest.mark.parametrize("transactional_id", [None, b"ctr-job-0"])
def test_a_produce_is_answered_unless_its_acks_are_zero(acks, transactional_id):
    expected = acks != 0
    assert expects_response(produce_v3(acks, transactional_id)) is expected
    assert expects_response(produce_v9(acks, transactional_id)) is expected
    one_tag = b"\x01" + b"\x00" + b"\x02" + b"ab"
    assert expects_response(produce_v9(acks, transactional_id, one_tag)) is expected
    assert expects_response(request_header(PRODUCE, 2) + struct.pack(">hi", acks, 30_000)) is expected


def test_other_requests_are_answered():
    assert expects_response(request_header(METADATA, 12, b"\x00") + b"\x00")


def test_a_produce_cut_short_is_taken_as_answered():
    assert expects_response(request_header(PRODUCE, 9, b"\x00"))
    assert expects_response(produce_v3(0, b"ctr-job-0")[:-8])


def test_a_stop_does_not_wait_for_produces_that_get_no_answer(tmp_path):
    names = TopicNames.with_suffix("acks0")
    with EmbeddedBroker(data_dir=tmp_path / "broker") as broker:
        broker.create_topics([names.impressions])
        producer = Producer({"bootstrap.servers": broker.bootstrap_servers, "acks": 0, "linger.ms": 0})
        for number in range(1000):
            producer.produce(names.impressions, str(number).encode())
        assert producer.flush(30) == 0
        broker.stop(timeout=20)
        assert broker.last_stop.requests_unanswered == 0


def test_the_durable_broker_on_a_taken_port_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        broker = EmbeddedBroker(port=taken.getsockname()[1], data_dir=tmp_path / "broker")
        with pytest.raises(BrokerError, match="cannot listen on .*in use"):
            broker.start(timeout=20)
