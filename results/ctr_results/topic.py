"""The CTR rows read back from a topic the job writes, one row per (campaign, window) and key: the
results topic (final rows, ``CtrRow``) or the live topic (``LiveRow``: live rows, then the final one).

Read with ``isolation.level=read_committed`` from the earliest offset, with no consumer group offsets
committed (each reader reads the whole topic). A key seen twice keeps its last value; a record with
no value (a tombstone) removes its key; a record that is not a CTR row is reported and skipped.
"""

import json
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from ctr.results_contract import CtrRow, LiveRow

POLL = 0.5
#: A row type of a topic the job writes.
Row = TypeVar("Row", CtrRow, LiveRow)
METADATA_TIMEOUT = 10.0


class TopicRowsError(RuntimeError):
    """A topic of rows the job writes cannot be read (absent, or the broker does not answer)."""


def _consumer(bootstrap_servers: str, topic: str) -> Consumer:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"ctr-results-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=METADATA_TIMEOUT)
    except KafkaException as err:
        consumer.close()
        raise TopicRowsError(f"cannot reach {bootstrap_servers}: {err}") from err
    found = metadata.topics.get(topic)
    if found is None or found.error is not None or not found.partitions:
        consumer.close()
        raise TopicRowsError(f"topic {topic} does not exist on {bootstrap_servers}")
    consumer.assign([TopicPartition(topic, partition, 0) for partition in found.partitions])
    return consumer


def _row(message: Message, payload: bytes, row_type: type[Row]) -> Row | None:
    try:
        value = json.loads(payload)
        return row_type(*(value[field] for field in row_type._fields))
    except (ValueError, TypeError, KeyError) as err:
        print(
            f"ctr results: skipped the record at {message.topic()}[{message.partition()}] "
            f"offset {message.offset()}, not a CTR row: {err!r}",
            file=sys.stderr,
        )
        return None


def _key(message: Message) -> bytes:
    return message.key() or b""


def changes(
    bootstrap_servers: str, topic: str, follow: bool, stop: threading.Event, row_type: type[Row]
) -> Iterator[list[Row]]:
    """Batches of rows (of ``row_type``) new or changed since the last batch: the whole topic up to its
    end first, then, with ``follow``, what comes until ``stop`` is set."""
    consumer = _consumer(bootstrap_servers, topic)
    partitions = len(consumer.assignment())
    at_end: set[int | None] = set()
    rows: dict[bytes, Row] = {}
    changed: dict[bytes, Row] = {}
    caught_up = False
    try:
        while not stop.is_set():
            message = consumer.poll(POLL)
            error = None if message is None else message.error()
            if message is not None and error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    raise TopicRowsError(f"reading {topic}: {error}")
                at_end.add(message.partition())
            elif message is not None:
                at_end.discard(message.partition())
                key, payload = _key(message), message.value()
                if payload is None:
                    rows.pop(key, None)
                    changed.pop(key, None)
                else:
                    row = _row(message, payload, row_type)
                    if row is not None and rows.get(key) != row:
                        rows[key] = changed[key] = row
            caught_up = caught_up or len(at_end) == partitions
            if caught_up and (changed or not follow):
                yield sorted(changed.values(), key=lambda row: (row.window_start, row.campaign_id))
                changed = {}
                if not follow:
                    return
    finally:
        consumer.close()


def read_topic_rows(bootstrap_servers: str, topic: str, row_type: type[Row]) -> list[Row]:
    """Every row on the topic now (the last value of each key), sorted by window, then campaign."""
    return next(
        changes(bootstrap_servers, topic, follow=False, stop=threading.Event(), row_type=row_type), []
    )
