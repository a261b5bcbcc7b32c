"""bench/job.py's plans: the job's own (``ctr_job.plan.build_plan``) and the comparison plans built
from the job's public pieces, on bounded input (each source read up to given end offsets).

- ``sql-interval-join``: the earlier SQL plan, a LEFT interval join and ``COUNT(DISTINCT ...)`` windows;
- ``sql-flag-windows``: the same join, then a window per impression and windows without distinct state;
- ``parse-only``: the sources parsed and dropped, the ceiling of any plan;
- ``keyed-exchange``: every valid event sent to its key and dropped there (``ctr.bench.KeyedExchange``,
  bench/java): the ceiling of any plan that joins by impr_id; its windows stay empty.
"""

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctr.events import CLICK_FIELDS, IMPRESSION_FIELDS
from ctr_job.plan import build_plan, register_flags, run_ddl, source_streams, statement_set
from ctr_job.sql import (
    WINDOWS_VIEW,
    JobSql,
    ctr_insert,
    dlq_table,
    flag_statements,
    flag_windows_view,
    interval,
    quote,
    results_table,
    source_table,
    windows_view,
)

#: The Maven module of the benchmark-only Java classes, and the jar it builds.
JAVA_MODULE = Path(__file__).resolve().parent / "java"
JAR = JAVA_MODULE / "target" / "ctr-bench.jar"
#: The plans by name; "click-flags" is the job's.
BUILDS = ("click-flags", "sql-interval-join", "sql-flag-windows", "parse-only", "keyed-exchange")


def build_java() -> Path:
    """Build bench/java with Maven (quick when it is up to date) and return its jar. Maven's output goes
    to stderr: the benchmark's stdout is its figures."""
    command = ["mvn", "-q", "-B", "-DskipTests", "-f", str(JAVA_MODULE), "package"]
    subprocess.run(command, check=True, stdout=sys.stderr)
    return JAR


@dataclass(frozen=True)
class BoundedSql(JobSql):
    """The job's SQL parameters, its sources read only up to ``end_offsets`` (topic -> {partition:
    end offset}) so that a run ends when they are reached."""

    end_offsets: dict[str, dict[int, int]] = field(default_factory=dict)

    def source_options(self, topic: str) -> dict[str, str]:
        """The job's source options, bounded at the topic's end offsets."""
        options = super().source_options(topic)
        offsets = self.end_offsets.get(topic)
        if offsets is None:
            return options
        specific = ";".join(f"partition:{p},offset:{o}" for p, o in sorted(offsets.items()))
        return {
            **options,
            "scan.bounded.mode": "specific-offsets",
            "scan.bounded.specific-offsets": specific,
        }


def valid_view(name: str, source: str, fields: dict[str, type]) -> str:
    """The valid events of ``source`` with their event time."""
    columns = ", ".join(fields)
    return f"CREATE TEMPORARY VIEW {name} AS SELECT {columns}, event_time FROM {source} WHERE reason IS NULL"


def joined_view(sql: JobSql) -> str:
    """Each impression with the id of its click within the bound, or NULL: a LEFT interval join."""
    return f"""
CREATE TEMPORARY VIEW impressions_with_clicks AS
SELECT i.impr_id, i.campaign_id, i.event_time, c.impr_id AS clicked_impr_id
FROM valid_impressions AS i
LEFT JOIN valid_clicks AS c
  ON i.impr_id = c.impr_id
 AND c.event_time BETWEEN i.event_time AND i.event_time + {interval(sql.join_bound_ms)}"""


def dead_letters_insert(source: str, topic: str) -> str:
    """Send the malformed messages of the source table ``source`` to the dead-letter table."""
    return f"""
INSERT INTO dead_letters
SELECT {quote(topic)}, kafka_partition, kafka_offset, payload, reason
FROM {source}
WHERE reason IS NOT NULL"""


def interval_join_statements(sql: JobSql) -> tuple[list[str], list[str]]:
    """The SQL-only plan (LEFT interval join, ``COUNT(DISTINCT ...)`` windows): (DDL, INSERTs)."""
    ddl = [
        source_table("impressions", sql.impressions_topic, IMPRESSION_FIELDS, sql),
        source_table("clicks", sql.clicks_topic, CLICK_FIELDS, sql),
        valid_view("valid_impressions", "impressions", IMPRESSION_FIELDS),
        valid_view("valid_clicks", "clicks", CLICK_FIELDS),
        joined_view(sql),
        windows_view(
            "impressions_with_clicks", "COUNT(DISTINCT impr_id)", "COUNT(DISTINCT clicked_impr_id)", sql
        ),
        dlq_table(sql),
        results_table(sql),
    ]
    inserts = [
        ctr_insert(),
        dead_letters_insert("impressions", sql.impressions_topic),
        dead_letters_insert("clicks", sql.clicks_topic),
    ]
    return ddl, inserts


def sql_statements(build: str, sql: JobSql) -> tuple[list[str], list[str]]:
    """DDL and INSERTs of the SQL-only plans: ``sql-interval-join``, ``sql-flag-windows``, ``parse-only``."""
    ddl, inserts = interval_join_statements(sql)
    if build == "parse-only":
        ddl.append("CREATE TEMPORARY TABLE parsed (id STRING) WITH ('connector' = 'blackhole')")
        inserts = [
            "INSERT INTO parsed SELECT impr_id FROM valid_impressions",
            "INSERT INTO parsed SELECT click_id FROM valid_clicks",
        ]
    if build == "sql-flag-windows":
        # One row per impression and window with its clicked flag (a window per impr_id after the
        # interval join), then windows counting rows and summing flags: no COUNT(DISTINCT) sets.
        ddl = [statement for statement in ddl if f"VIEW {WINDOWS_VIEW} " not in statement]
        ddl.append(
            f"""CREATE TEMPORARY VIEW flags_per_impression AS
SELECT campaign_id, window_time AS event_time, MAX(IF(clicked_impr_id IS NULL, 0, 1)) AS clicked
FROM TABLE(TUMBLE(TABLE impressions_with_clicks, DESCRIPTOR(event_time), {interval(sql.window_ms)}))
GROUP BY window_start, window_end, window_time, campaign_id, impr_id"""
        )
        ddl.append(windows_view("flags_per_impression", "COUNT(*)", "SUM(clicked)", sql))
    return ddl, inserts


def keyed_exchange_plan(table_env: Any, sql: JobSql) -> Any:
    """The job's sources, dead letters and windows around ``ctr.bench.KeyedExchange`` instead of the
    ClickFlags operator (so no late events)."""
    from pyflink.java_gateway import get_gateway

    ddl, inserts = flag_statements(sql)
    run_ddl(table_env, ddl)
    streams = source_streams(table_env)
    register_flags(
        table_env,
        get_gateway().jvm.ctr.bench.KeyedExchange.discard(streams["impressions"], streams["clicks"]),
    )
    run_ddl(table_env, [flag_windows_view(sql)])
    return statement_set(table_env, inserts)


def build(table_env: Any, name: str, sql: JobSql) -> Any:
    """The statement set of the plan ``name`` (one of BUILDS) on ``table_env``."""
    if name not in BUILDS:
        raise ValueError(f"no plan {name!r}: one of {', '.join(BUILDS)}")
    if name == "click-flags":
        return build_plan(table_env, sql)
    if name == "keyed-exchange":
        return keyed_exchange_plan(table_env, sql)
    ddl, inserts = sql_statements(name, sql)
    run_ddl(table_env, ddl)
    return statement_set(table_env, inserts)
