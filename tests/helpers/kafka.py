"""Topics on a broker for a test: fresh ones, and what they hold."""

import time
import uuid

from confluent_kafka import Consumer, TopicPartition

from ctr.broker import KafkaBroker
from ctr.topics import TopicNames


def fresh_topics(broker: KafkaBroker) -> TopicNames:
    """Create topics with names no other test uses, and return the names."""
    names = TopicNames.with_suffix(uuid.uuid4().hex[:8])
    broker.create_pipeline_topics(names)
    return names


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


def messages_on(broker: KafkaBroker, topic: str) -> int:
    """How many messages ``topic`` holds (the sum of its partitions' end offsets)."""
    consumer = Consumer({"bootstrap.servers": broker.bootstrap_servers, "group.id": f"count-{topic}"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions
        )
    finally:
        consumer.close()
