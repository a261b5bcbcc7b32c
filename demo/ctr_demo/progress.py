"""How far a running job has come, seen from Kafka: the events on the topics, those the job's consumer
group has committed (on each checkpoint), and the event time it has read up to (its watermark then)."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ctr.events import MalformedEvent, decode_click, decode_impression

if TYPE_CHECKING:
    from confluent_kafka import TopicPartition

#: How long one look at the broker may take, seconds.
TIMEOUT = 2.0


@dataclass(frozen=True)
class Progress:
    """Events sent, events the job has read (as of its last checkpoint), and its watermark then (epoch ms;
    None before its first checkpoint)."""

    sent: int
    read: int
    watermark_ms: int | None


class ProgressReader:
    """Reads a job's progress on the impressions and clicks topics from the broker, on demand."""

    def __init__(
        self, bootstrap_servers: str, topics: tuple[str, str], group_id: str, out_of_orderness_ms: int
    ) -> None:
        from confluent_kafka import Consumer

        self.topics = topics
        self.out_of_orderness_ms = out_of_orderness_ms
        self._committed = Consumer(
            {"bootstrap.servers": bootstrap_servers, "group.id": group_id, "enable.auto.commit": False}
        )
        self._reader = Consumer(
            {
                "bootstrap.servers": bootstrap_servers,
                "group.id": f"{group_id}-progress",
                "enable.auto.commit": False,
            }
        )

    def _partitions(self) -> list["TopicPartition"]:
        from confluent_kafka import TopicPartition

        found = []
        for topic in self.topics:
            metadata = self._committed.list_topics(topic, timeout=TIMEOUT).topics.get(topic)
            found += [TopicPartition(topic, p) for p in sorted(metadata.partitions if metadata else ())]
        return found

    def _time_before(self, partition: "TopicPartition") -> int | None:
        """The event time of the message just before ``partition``'s offset (the last one read)."""
        from confluent_kafka import TopicPartition

        self._reader.assign([TopicPartition(partition.topic, partition.partition, partition.offset - 1)])
        message = self._reader.poll(TIMEOUT)
        payload = None if message is None or message.error() else message.value()
        if payload is None:
            return None
        decode = decode_impression if partition.topic == self.topics[0] else decode_click
        try:
            return decode(payload).ts
        except MalformedEvent:
            return None

    def read(self) -> Progress:
        """The job's progress now; a broker that does not answer in time gives zeros."""
        from confluent_kafka import KafkaException

        try:
            partitions = self._partitions()
            sent = sum(self._committed.get_watermark_offsets(p, timeout=TIMEOUT)[1] for p in partitions)
            committed = [p for p in self._committed.committed(partitions, timeout=TIMEOUT) if p.offset > 0]
            times = [self._time_before(p) for p in committed]
        except KafkaException:
            return Progress(0, 0, None)
        known = [t for t in times if t is not None]
        watermark = min(known) - self.out_of_orderness_ms if known else None
        return Progress(sent, sum(p.offset for p in committed), watermark)

    def close(self) -> None:
        """Leave the broker."""
        self._committed.close()
        self._reader.close()
