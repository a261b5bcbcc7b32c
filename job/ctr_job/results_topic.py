"""The CTR rows on a Kafka topic as well as in the CSV files: one upsert record per (campaign, window).

Key: JSON ``{"campaign_id", "window_start"}``; value: JSON with the CSV's fields
(``campaign_id, window_start, window_end, impressions, clicks, ctr``). The sink writes in Kafka
transactions committed with each checkpoint (exactly-once where the broker implements transactions,
as Strimzi's Kafka does); a consumer that reads ``read_committed`` sees each row once a checkpoint
covers it, and one that sees a row twice keeps the last by key.
"""

from ctr.settings.models import JobSettings
from ctr_job.sql import quote

#: Kafka's default transaction.max.timeout.ms: a producer asking for more is refused by the broker.
TRANSACTION_TIMEOUT_MS = 900_000


def results_topic_table(settings: JobSettings) -> str:
    """The upsert-kafka sink of the CTR rows, keyed by campaign and window start."""
    return f"""
CREATE TEMPORARY TABLE ctr_results_topic (
    window_start STRING,
    window_end STRING,
    impressions BIGINT,
    clicks BIGINT,
    ctr DOUBLE,
    campaign_id STRING,
    PRIMARY KEY (campaign_id, window_start) NOT ENFORCED
) WITH (
    'connector' = 'upsert-kafka',
    'topic' = {quote(settings.results_topic)},
    'properties.bootstrap.servers' = {quote(settings.bootstrap_servers)},
    'properties.transaction.timeout.ms' = '{TRANSACTION_TIMEOUT_MS}',
    'sink.delivery-guarantee' = 'exactly-once',
    'sink.transactional-id-prefix' = {quote(settings.group_id + "-results")},
    'key.format' = 'json',
    'value.format' = 'json',
    'value.fields-include' = 'ALL'
)"""


def results_topic_insert() -> str:
    """Every window row (the ``ctr_windows`` view of the job's SQL) into the topic."""
    return "INSERT INTO ctr_results_topic SELECT * FROM ctr_windows"


def with_results_topic(
    settings: JobSettings, ddl: list[str], inserts: list[str]
) -> tuple[list[str], list[str]]:
    """The job's statements, plus the results topic's when ``publish_results`` is on."""
    if not settings.publish_results:
        return ddl, inserts
    return [*ddl, results_topic_table(settings)], [*inserts, results_topic_insert()]
