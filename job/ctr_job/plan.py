"""The job's pipeline, built in Python: SQL sources, the Java ``ClickFlags`` operator, SQL windows and sinks.

The source tables are converted to DataStreams once (the watermarks and idle partitions flow with
them); the Java operator (job/java/src/main/java/ctr/flink/ClickFlags.java) splits off the malformed rows
and joins impressions to clicks into one row per impression with a clicked flag; those rows come
back as a table with the operator's watermark, and the SQL windows count them. The events it finds
late come back as two more tables (its side outputs), dead letters with reason ``late``. With live
rows on, the operator also sends its counts per campaign and window as they change to a second
keyed operator (``ctr.flink.LiveCtr``), whose rows go to the live topic.
"""

from typing import Any

from ctr.results_contract import sql_time_format
from ctr_job.sql import (
    FLAG_INPUT_COLUMNS,
    FLAGS_VIEW,
    LATE_VIEWS,
    LIVE_VIEW,
    JobSql,
    flag_input_query,
    flag_statements,
    flag_windows_view,
    late_letters_inserts,
    live_insert,
    live_table,
)


def run_ddl(table_env: Any, ddl: list[str]) -> None:
    """Execute the DDL statements on ``table_env``."""
    for statement in ddl:
        table_env.execute_sql(statement)


def statement_set(table_env: Any, inserts: list[str]) -> Any:
    """The INSERTs in one statement set of ``table_env``."""
    statements = table_env.create_statement_set()
    for statement in inserts:
        statements.add_insert_sql(statement)
    return statements


def _java_class(name: str) -> Any:
    """The Java class ``ctr.flink.<name>`` (through the running JVM's gateway)."""
    from pyflink.java_gateway import get_gateway

    return getattr(get_gateway().jvm.ctr.flink, name)


def _click_flags() -> Any:
    """The Java class ``ctr.flink.ClickFlags``."""
    return _java_class("ClickFlags")


def source_streams(table_env: Any) -> dict[str, Any]:
    """The source tables as Java DataStreams of rows, by source (``impressions``, ``clicks``); their
    malformed rows registered as the views ``dead_impressions`` and ``dead_clicks``."""
    from pyflink.datastream import DataStream

    flags_class = _click_flags()
    streams = {
        source: flags_class.rows(table_env._j_tenv, table_env.sql_query(flag_input_query(source))._j_table)
        for source in ("impressions", "clicks")
    }
    for source, stream in streams.items():
        reason = FLAG_INPUT_COLUMNS[source].index("reason")
        dead = DataStream(flags_class.malformed(stream, reason, source))
        table_env.create_temporary_view(f"dead_{source}", table_env.from_data_stream(dead))
    return streams


def register_flags(table_env: Any, j_flags: Any) -> None:
    """The Java DataStream ``j_flags`` of ``(campaign_id, ts, clicked)`` rows as the view the windows
    read (``impression_flags``), its event time from ``ts`` and its watermark the operator's."""
    from pyflink.datastream import DataStream
    from pyflink.table import Schema

    schema = (
        Schema.new_builder()
        .column_by_expression("event_time", "TO_TIMESTAMP_LTZ(ts, 3)")
        .watermark("event_time", "SOURCE_WATERMARK()")
        .build()
    )
    table_env.create_temporary_view(FLAGS_VIEW, table_env.from_data_stream(DataStream(j_flags), schema))


def register_live_rows(table_env: Any, j_flags: Any, sql: JobSql) -> None:
    """The live rows of ``j_flags``' counts (``ctr.flink.LiveCtr``) as the view ``ctr_live``."""
    from pyflink.datastream import DataStream

    j_live = _java_class("LiveCtr").rows(
        _click_flags().counts(j_flags),
        sql.window_ms,
        sql.update_interval_ms,
        sql_time_format(),
        sql.bootstrap_servers,
        sql.live_topic,
    )
    table_env.create_temporary_view(LIVE_VIEW, table_env.from_data_stream(DataStream(j_live)))


def _register_click_flags(table_env: Any, sql: JobSql) -> None:
    from pyflink.datastream import DataStream

    flags_class = _click_flags()
    streams = source_streams(table_env)
    count_window_ms = sql.window_ms if sql.update_interval_ms else 0
    j_flags = flags_class.flags(streams["impressions"], streams["clicks"], sql.join_bound_ms, count_window_ms)
    late = (flags_class.lateImpressions(j_flags), flags_class.lateClicks(j_flags))
    for view, letters in zip(LATE_VIEWS, late):
        table_env.create_temporary_view(view, table_env.from_data_stream(DataStream(letters)))
    register_flags(table_env, j_flags)
    if sql.update_interval_ms:
        register_live_rows(table_env, j_flags, sql)


def live_statements(sql: JobSql) -> tuple[list[str], list[str]]:
    """The live topic's (DDL, INSERTs) when live rows are on."""
    return ([live_table(sql)], [live_insert()]) if sql.update_interval_ms else ([], [])


def build_plan(table_env: Any, sql: JobSql, sinks: tuple[list[str], list[str]] = ([], [])) -> Any:
    """The job's statement set on ``table_env`` (a StreamTableEnvironment).

    ``sinks`` are more (DDL, INSERTs) that read the window rows (the view ``ctr_windows``) or the live
    rows (``ctr_live``): the results topic, the CTR gauge.
    """
    more_ddl, more_inserts = sinks
    ddl, inserts = flag_statements(sql)
    live_ddl, live_inserts = live_statements(sql)
    run_ddl(table_env, ddl)
    _register_click_flags(table_env, sql)
    run_ddl(table_env, [flag_windows_view(sql), *live_ddl, *more_ddl])
    return statement_set(table_env, [*inserts, *late_letters_inserts(sql), *live_inserts, *more_inserts])
