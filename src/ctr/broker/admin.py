"""Topics on a Kafka cluster, created with the admin API."""

from collections.abc import Iterable, Mapping

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from ctr import topics
from ctr.broker.errors import BrokerError


def create_topics(
    bootstrap_servers: str,
    names: Iterable[str],
    partitions: int = topics.DEFAULT_PARTITIONS,
    timeout: float = 30.0,
    config: Mapping[str, str] | None = None,
) -> None:
    """Create each topic in ``names`` with ``partitions`` partitions and the topic-level settings
    ``config`` (Kafka's names, e.g. ``{"message.timestamp.type": "LogAppendTime"}``; the broker's
    defaults when None); existing ones are kept as they are."""
    _create(bootstrap_servers, {name: dict(config or {}) for name in names}, partitions, timeout)


def create_pipeline_topics(
    bootstrap_servers: str,
    names: topics.TopicNames = topics.DEFAULT_NAMES,
    partitions: int = topics.DEFAULT_PARTITIONS,
    timeout: float = 30.0,
) -> None:
    """Create a pipeline's topics ``names``, each with its role's settings (``ctr.topics.SETTINGS``,
    as the chart's KafkaTopics); existing ones are kept as they are."""
    configs = {name: settings.kafka_config() for name, settings in names.settings().items()}
    _create(bootstrap_servers, configs, partitions, timeout)


def _create(
    bootstrap_servers: str, configs: Mapping[str, dict[str, str]], partitions: int, timeout: float
) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    futures = admin.create_topics(
        [
            NewTopic(name, num_partitions=partitions, replication_factor=1, config=config)
            for name, config in configs.items()
        ],
        request_timeout=timeout,
    )
    for name, future in futures.items():
        try:
            future.result(timeout)
        except KafkaException as err:
            if err.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise BrokerError(f"could not create topic {name}: {err.args[0].str()}") from None
