"""The job's Flink SQL, generated from the one event schema and the job's settings.

Each message is parsed once, in the Kafka source, by ctr's ``ctr-event`` format (a small Java
format in job/java; no Python on the hot path). The job's plan (``flag_statements``): the
source rows go to one keyed Java operator (``ctr.flink.ClickFlags``), which joins each impression
to its clicks and emits one row per impression with a clicked flag; tumbling windows count those
rows and sum the flags; malformed messages go to the dead-letter topic with their text and a reason.
The results' partitions and time format come from the results contract (``ctr.results_contract``).
"""

from dataclasses import dataclass

from ctr.events import CLICK_FIELDS, IMPRESSION_FIELDS, MAX_STRING_LENGTH, SQL_TYPES
from ctr.results_contract import (
    BUCKET_PARTITION,
    DAY_PARTITION,
    CtrRow,
    LiveRow,
    sql_campaign_bucket,
    sql_time_format,
    sql_window_day,
)


@dataclass(frozen=True)
class JobSql:
    """What the SQL depends on: topics, broker, times (milliseconds) and the output path; live rows
    every ``update_interval_ms`` to ``live_topic`` (none when 0)."""

    bootstrap_servers: str
    impressions_topic: str
    clicks_topic: str
    dlq_topic: str
    group_id: str
    output_path: str
    window_ms: int
    join_bound_ms: int
    out_of_orderness_ms: int
    live_topic: str
    update_interval_ms: int

    def source_options(self, topic: str) -> dict[str, str]:
        """The options of the Kafka source of ``topic``: from the group's offsets, parsed by ``ctr-event``."""
        return {
            "connector": "kafka",
            "topic": topic,
            "properties.bootstrap.servers": self.bootstrap_servers,
            "properties.group.id": self.group_id,
            "properties.auto.offset.reset": "earliest",
            "scan.startup.mode": "group-offsets",
            "scan.topic-partition-discovery.interval": "60 s",
            "format": "ctr-event",
            "ctr-event.max-string-length": str(MAX_STRING_LENGTH),
        }


def quote(text: str) -> str:
    """``text`` as a Flink SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def interval(ms: int) -> str:
    """A Flink SQL interval literal of ``ms`` milliseconds, of any size."""
    seconds, millis = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"INTERVAL '{days} {hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}' DAY TO SECOND(3)"


def with_options(options: dict[str, str]) -> str:
    """The inside of a table's ``WITH (...)`` clause: one quoted ``'key' = 'value'`` per line."""
    return ",\n    ".join(f"{quote(key)} = {quote(value)}" for key, value in options.items())


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
    {with_options(sql.source_options(topic))}
)"""


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
    'topic' = {quote(sql.dlq_topic)},
    'properties.bootstrap.servers' = {quote(sql.bootstrap_servers)},
    'sink.delivery-guarantee' = 'at-least-once',
    'format' = 'json'
)"""


#: Flink SQL's type of each Python type of the results contract's rows.
ROW_SQL_TYPES: dict[type, str] = {str: "STRING", int: "BIGINT", float: "DOUBLE", bool: "BOOLEAN"}


def row_columns(row_type: type[CtrRow] | type[LiveRow]) -> str:
    """The columns of a row type of the results contract, in its order, for a table's DDL."""
    return ",\n    ".join(
        f"`{name}` {ROW_SQL_TYPES[kind]}" for name, kind in row_type.__annotations__.items()
    )


def results_table(sql: JobSql) -> str:
    """The CSV sink, one row per campaign and window, partitioned by the window's day and a bucket of
    the campaign; files become visible when a checkpoint commits them. The files are RFC 4180 (Flink's
    csv format, quote character ``"``, no escape character): a field with a comma, a double quote or
    a line break is quoted (Flink's writer also quotes one with a space, a backslash and a few other
    characters), its double quotes doubled."""
    return f"""
CREATE TEMPORARY TABLE ctr_results (
    {row_columns(CtrRow)},
    {DAY_PARTITION} STRING,
    {BUCKET_PARTITION} STRING
) PARTITIONED BY ({DAY_PARTITION}, {BUCKET_PARTITION}) WITH (
    'connector' = 'filesystem',
    'path' = {quote(sql.output_path)},
    'format' = 'csv',
    'csv.quote-character' = '"',
    'sink.rolling-policy.check-interval' = '1 s'
)"""


#: The window rows, one per campaign and window, as every sink reads them: the CSV files, the
#: results topic and, without live rows, the CTR gauge (job/ctr_job/results_topic.py,
#: campaign_gauge.py; with live rows it reads LIVE_VIEW).
WINDOWS_VIEW = "ctr_windows"


def windows_view(source: str, impressions: str, clicks: str, sql: JobSql) -> str:
    """Tumbling windows of ``source`` on ``event_time`` per campaign, as the view ``ctr_windows``: the
    ``impressions`` and ``clicks`` aggregate expressions and their ratio, in the CSV's columns."""
    return f"""
CREATE TEMPORARY VIEW {WINDOWS_VIEW} AS
SELECT
    DATE_FORMAT(window_start, {quote(sql_time_format())}) AS window_start,
    DATE_FORMAT(window_end, {quote(sql_time_format())}) AS window_end,
    {impressions} AS impressions,
    {clicks} AS clicks,
    CAST({clicks} AS DOUBLE) / {impressions} AS ctr,
    campaign_id
FROM TABLE(TUMBLE(TABLE {source}, DESCRIPTOR(event_time), {interval(sql.window_ms)}))
GROUP BY window_start, window_end, campaign_id"""


#: The live rows (job/ctr_job/plan.py: the Java operator ``ctr.flink.LiveCtr``): per campaign and
#: window, its counts so far while it is open, then its final row; the CSV's columns and ``final``.
LIVE_VIEW = "ctr_live"


def live_table(sql: JobSql) -> str:
    """The live rows' Kafka sink: JSON keyed by campaign and window start, so that a compacted topic
    keeps each window's last row; at least once (sent as they come, not in checkpoint transactions:
    a live row is a view, its window's final row is exact)."""
    return f"""
CREATE TEMPORARY TABLE ctr_live_topic (
    {row_columns(LiveRow)}
) WITH (
    'connector' = 'kafka',
    'topic' = {quote(sql.live_topic)},
    'properties.bootstrap.servers' = {quote(sql.bootstrap_servers)},
    'sink.delivery-guarantee' = 'at-least-once',
    'key.format' = 'json',
    'key.fields' = 'campaign_id;window_start',
    'value.format' = 'json',
    'value.fields-include' = 'ALL'
)"""


def live_insert() -> str:
    """Every live row into the live topic, column by name (the contract's, ``LiveRow``)."""
    columns = ", ".join(f"`{name}`" for name in LiveRow._fields)
    return f"INSERT INTO ctr_live_topic ({columns}) SELECT {columns} FROM {LIVE_VIEW}"


def ctr_insert() -> str:
    """Every window row into the CSV sink, with its partitions: the window's day, the campaign's bucket."""
    return f"""
INSERT INTO ctr_results
SELECT campaign_id, window_start, window_end, impressions, clicks, ctr,
    {sql_window_day("window_start")}, {sql_campaign_bucket("campaign_id")}
FROM {WINDOWS_VIEW}"""


#: The source columns handed to the Java operator, in the order ctr.flink.ClickFlags reads them
#: (id, [campaign,] ts, reason first), then what a dead letter needs.
FLAG_INPUT_COLUMNS = {
    "impressions": ("impr_id", "campaign_id", "ts", "reason", "payload", "kafka_partition", "kafka_offset"),
    "clicks": ("impr_id", "ts", "reason", "payload", "kafka_partition", "kafka_offset"),
}
#: The rows the Java operator emits, one per impression, as the windows read them.
FLAGS_VIEW = "impression_flags"


def flag_input_query(source: str) -> str:
    """The rows of a source table handed to the Java operator (all of them, malformed ones too)."""
    return f"SELECT {', '.join(FLAG_INPUT_COLUMNS[source])} FROM {source}"


def flag_windows_view(sql: JobSql) -> str:
    """Tumbling windows on impression time per campaign over one row per impression: rows, flags, CTR.

    Created once the operator's view ``impression_flags`` exists (job/ctr_job/plan.py)."""
    return windows_view(FLAGS_VIEW, "COUNT(*)", "SUM(CAST(clicked AS BIGINT))", sql)


def dead_letters_view_insert(view: str, topic: str) -> str:
    """Send the malformed rows of a converted source ``view`` to the dead-letter table."""
    return f"""
INSERT INTO dead_letters
SELECT {quote(topic)}, kafka_partition, kafka_offset, payload, reason
FROM {view}"""


#: The views of the late events' dead letters, the impressions' then the clicks' (the Java operator's
#: side outputs, job/ctr_job/plan.py).
LATE_VIEWS = ("late_impressions", "late_clicks")


def late_letters_inserts(sql: JobSql) -> list[str]:
    """Send the late events (reason ``late``, no payload) from the operator's side outputs to the
    dead-letter table."""
    topics = (sql.impressions_topic, sql.clicks_topic)
    return [dead_letters_view_insert(view, topic) for view, topic in zip(LATE_VIEWS, topics)]


def flag_statements(sql: JobSql) -> tuple[list[str], list[str]]:
    """The job's plan around the Java operator: (DDL, INSERTs). The views ``dead_impressions``,
    ``dead_clicks`` and ``impression_flags`` come from the operator (job/ctr_job/plan.py)."""
    ddl = [
        source_table("impressions", sql.impressions_topic, IMPRESSION_FIELDS, sql),
        source_table("clicks", sql.clicks_topic, CLICK_FIELDS, sql),
        dlq_table(sql),
        results_table(sql),
    ]
    inserts = [
        ctr_insert(),
        dead_letters_view_insert("dead_impressions", sql.impressions_topic),
        dead_letters_view_insert("dead_clicks", sql.clicks_topic),
    ]
    return ddl, inserts
