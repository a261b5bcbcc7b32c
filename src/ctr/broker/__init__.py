"""The local broker: Apache Kafka (the version the chart's Strimzi runs) on 127.0.0.1, for ``ctr broker``,
``ctr demo``, the tests and the benchmarks."""

from ctr.broker.admin import create_topics
from ctr.broker.artifacts import KAFKA_VERSION
from ctr.broker.errors import BrokerError
from ctr.broker.server import DEFAULT_HEAP, KafkaBroker
from ctr.processes import free_port

__all__ = ["DEFAULT_HEAP", "KAFKA_VERSION", "BrokerError", "KafkaBroker", "create_topics", "free_port"]
