"""The job's pipeline, built in Python: SQL sources, the Java ``ClickFlags`` operator, SQL windows and sinks.

The source tables are converted to DataStreams once (the watermarks and idle partitions flow with
them); the Java operator (job/java/src/main/java/ctr/flink/ClickFlags.java) splits off the malformed rows
and joins impressions to clicks into one row per impression with a clicked flag; those rows come
back as a table with the operator's watermark, and the SQL windows count them. The events it finds
late come back as two more tables (its side outputs), dead letters with reason ``late``.
"""

from typing import Any

from ctr_job.sql import (
    FLAG_INPUT_COLUMNS,
    FLAGS_VIEW,
    LATE_VIEWS,
    JobSql,
    flag_input_query,
    flag_statements,
    flag_windows_view,
    interval_join_statements,
    late_letters_inserts,
)

#: The plans a job can be built with: the job runs "click-flags"; bench/job.py compares the others
#: ("keyed-exchange" sends every valid event to its key and drops it there: the ceiling of any plan
#: that joins by impr_id; its windows stay empty).
PLANS = ("click-flags", "sql-interval-join", "keyed-exchange")


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


def _register_click_flags(table_env: Any, sql: JobSql, exchange_only: bool) -> None:
    from pyflink.datastream import DataStream
    from pyflink.java_gateway import get_gateway
    from pyflink.table import Schema

    flags_class = get_gateway().jvm.ctr.flink.ClickFlags
    streams = {
        source: flags_class.rows(table_env._j_tenv, table_env.sql_query(flag_input_query(source))._j_table)
        for source in ("impressions", "clicks")
    }
    for source, stream in streams.items():
        reason = FLAG_INPUT_COLUMNS[source].index("reason")
        dead = DataStream(flags_class.malformed(stream, reason, source))
        table_env.create_temporary_view(f"dead_{source}", table_env.from_data_stream(dead))
    if exchange_only:
        flags = DataStream(flags_class.exchangeOnly(streams["impressions"], streams["clicks"]))
    else:
        j_flags = flags_class.flags(streams["impressions"], streams["clicks"], sql.join_bound_ms)
        late = (flags_class.lateImpressions(j_flags), flags_class.lateClicks(j_flags))
        for view, letters in zip(LATE_VIEWS, late):
            table_env.create_temporary_view(view, table_env.from_data_stream(DataStream(letters)))
        flags = DataStream(j_flags)
    schema = (
        Schema.new_builder()
        .column_by_expression("event_time", "TO_TIMESTAMP_LTZ(ts, 3)")
        .watermark("event_time", "SOURCE_WATERMARK()")
        .build()
    )
    table_env.create_temporary_view(FLAGS_VIEW, table_env.from_data_stream(flags, schema))


def build_plan(
    table_env: Any, sql: JobSql, plan: str = "click-flags", sinks: tuple[list[str], list[str]] = ([], [])
) -> Any:
    """The job's statement set on ``table_env`` (a StreamTableEnvironment), built as ``plan``.

    ``sinks`` are more (DDL, INSERTs) that read the window rows (the view ``ctr_windows``): the
    results topic, the CTR gauge.
    """
    more_ddl, more_inserts = sinks
    if plan == "sql-interval-join":
        ddl, inserts = interval_join_statements(sql)
        run_ddl(table_env, [*ddl, *more_ddl])
        return statement_set(table_env, [*inserts, *more_inserts])
    ddl, inserts = flag_statements(sql)
    run_ddl(table_env, ddl)
    exchange_only = plan == "keyed-exchange"
    _register_click_flags(table_env, sql, exchange_only)
    run_ddl(table_env, [flag_windows_view(sql), *more_ddl])
    late = [] if exchange_only else late_letters_inserts(sql)
    return statement_set(table_env, [*inserts, *late, *more_inserts])
