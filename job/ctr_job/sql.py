"""The job's Flink SQL, generated from the one event schema and the job's settings.

Each message is parsed once, in the Kafka source, by ctr's ``ctr-event`` format (a small Java
format in job/java; no Python on the hot path): valid events flow into the interval join and the
windows, malformed messages go to the dead-letter topic with their text and a reason.
"""

from dataclasses import dataclass

from ctr.events import CLICK_FIELDS, IMPRESSION_FIELDS, SQL_TYPES


@dataclass(frozen=True)
class JobSql:
    """What the SQL depends on: topics, broker, times (milliseconds) and the output path."""

    bootstrap_servers: str
    impressions_topic: str
    clicks_topic: str
    dlq_topic: str
    group_id: str
    output_path: str
    window_ms: int
    join_bound_ms: int
    out_of_orderness_ms: int
    #: topic -> {partition: end offset}; a topic listed here is read only up to those offsets (bounded runs).
    end_offsets: dict[str, dict[int, int]] | None = None


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def interval(ms: int) -> str:
    """A Flink SQL interval literal of ``ms`` milliseconds, of any size."""
    seconds, millis = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"INTERVAL '{days} {hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}' DAY TO SECOND(3)"


def _bounded(topic: str, sql: JobSql) -> str:
    offsets = (sql.end_offsets or {}).get(topic)
    if offsets is None:
        return ""
    specific = ";".join(
        f"partition:{partition},offset:{offset}" for partition, offset in sorted(offsets.items())
    )
    return (
        ",\n    'scan.bounded.mode' = 'specific-offsets',"
        f"\n    'scan.bounded.specific-offsets' = {_quote(specific)}"
    )


def source_table(name: str, topic: str, fields: dict[str, type], sql: JobSql) -> str:
    """A Kafka source of events parsed once by the ``ctr-event`` format (job/java): the event's fields,
    or for a malformed message only ``reason`` and ``payload``; event time and watermark from ``ts``."""
    columns = "".join(f"{field} {SQL_TYPES[kind]},\n    " for field, kind in fields.items())
    return f"""
CREATE TEMPORARY TABLE {name} (
    {columns}reason STRING,
    payload STRING,
    kafka_partition INT METADATA FROM 'partition' VIRTUAL,
    kafka_offset BIGINT METADATA FROM 'offset' VIRTUAL,
    event_time AS TO_TIMESTAMP_LTZ(ts, 3),
    WATERMARK FOR event_time AS event_time - {interval(sql.out_of_orderness_ms)}
) WITH (
    'connector' = 'kafka',
    'topic' = {_quote(topic)},
    'properties.bootstrap.servers' = {_quote(sql.bootstrap_servers)},
    'properties.group.id' = {_quote(sql.group_id)},
    'properties.auto.offset.reset' = 'earliest',
    'scan.startup.mode' = 'group-offsets',
    'scan.topic-partition-discovery.interval' = '60 s',
    'format' = 'ctr-event'{_bounded(topic, sql)}
)"""


def valid_view(name: str, source: str, fields: dict[str, type]) -> str:
    """The valid events of ``source`` with their event time."""
    columns = ", ".join(fields)
    return f"CREATE TEMPORARY VIEW {name} AS SELECT {columns}, event_time FROM {source} WHERE reason IS NULL"


def dlq_table(sql: JobSql) -> str:
    """The dead-letter sink: one JSON record per malformed message."""
    return f"""
CREATE TEMPORARY TABLE dead_letters (
    source_topic STRING,
    source_partition INT,
    source_offset BIGINT,
    payload STRING,
    reason STRING
) WITH (
    'connector' = 'kafka',
    'topic' = {_quote(sql.dlq_topic)},
    'properties.bootstrap.servers' = {_quote(sql.bootstrap_servers)},
    'sink.delivery-guarantee' = 'at-least-once',
    'format' = 'json'
)"""


def results_table(sql: JobSql) -> str:
    """The CSV sink partitioned by campaign; files become visible when a checkpoint commits them."""
    return f"""
CREATE TEMPORARY TABLE ctr_results (
    window_start STRING,
    window_end STRING,
    impressions BIGINT,
    clicks BIGINT,
    ctr DOUBLE,
    campaign_id STRING
) PARTITIONED BY (campaign_id) WITH (
    'connector' = 'filesystem',
    'path' = {_quote(sql.output_path)},
    'format' = 'csv',
    'csv.disable-quote-character' = 'true',
    'sink.rolling-policy.check-interval' = '1 s'
)"""


def dead_letters_insert(source: str, topic: str) -> str:
    """Send the malformed messages of ``source`` to the dead-letter table."""
    return f"""
INSERT INTO dead_letters
SELECT {_quote(topic)}, kafka_partition, kafka_offset, payload, reason
FROM {source}
WHERE reason IS NOT NULL"""


def joined_view(sql: JobSql) -> str:
    """Each impression with the id of its click within the bound, or NULL: a LEFT interval join."""
    return f"""
CREATE TEMPORARY VIEW impressions_with_clicks AS
SELECT i.impr_id, i.campaign_id, i.event_time, c.impr_id AS clicked_impr_id
FROM valid_impressions AS i
LEFT JOIN valid_clicks AS c
  ON i.impr_id = c.impr_id
 AND c.event_time BETWEEN i.event_time AND i.event_time + {interval(sql.join_bound_ms)}"""


def windows_view(sql: JobSql) -> str:
    """Tumbling windows on impression time per campaign: distinct impressions, distinct clicked ones, CTR."""
    return f"""
CREATE TEMPORARY VIEW ctr_windows AS
SELECT
    DATE_FORMAT(window_start, 'yyyy-MM-dd HH:mm:ss') AS window_start,
    DATE_FORMAT(window_end, 'yyyy-MM-dd HH:mm:ss') AS window_end,
    COUNT(DISTINCT impr_id) AS impressions,
    COUNT(DISTINCT clicked_impr_id) AS clicks,
    CAST(COUNT(DISTINCT clicked_impr_id) AS DOUBLE) / COUNT(DISTINCT impr_id) AS ctr,
    campaign_id
FROM TABLE(TUMBLE(TABLE impressions_with_clicks, DESCRIPTOR(event_time), {interval(sql.window_ms)}))
GROUP BY window_start, window_end, campaign_id"""


def ctr_insert() -> str:
    """Every window row into the CSV sink."""
    return "INSERT INTO ctr_results SELECT * FROM ctr_windows"


def statements(sql: JobSql) -> tuple[list[str], list[str]]:
    """Return (DDL statements, INSERT statements) of the whole job."""
    ddl = [
        source_table("impressions", sql.impressions_topic, IMPRESSION_FIELDS, sql),
        source_table("clicks", sql.clicks_topic, CLICK_FIELDS, sql),
        valid_view("valid_impressions", "impressions", IMPRESSION_FIELDS),
        valid_view("valid_clicks", "clicks", CLICK_FIELDS),
        joined_view(sql),
        windows_view(sql),
        dlq_table(sql),
        results_table(sql),
    ]
    inserts = [
        ctr_insert(),
        dead_letters_insert("impressions", sql.impressions_topic),
        dead_letters_insert("clicks", sql.clicks_topic),
    ]
    return ddl, inserts
