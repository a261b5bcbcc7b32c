"""The results contract (``ctr.results_contract``) is one definition: the job's SQL is generated from
it, and its Python functions (the reader's) give what Flink SQL's expressions give on sample values."""

import json
import subprocess
import sys

import pytest

from ctr.results_contract import (
    BUCKET_PARTITION,
    DAY_PARTITION,
    CtrRow,
    LiveRow,
    campaign_bucket,
    format_time,
    parse_time,
    sql_campaign_bucket,
    sql_time_format,
    sql_window_day,
    window_day,
)
from ctr_job.sql import JobSql, ctr_insert, flag_windows_view, results_table

SQL = JobSql(
    "b:9092", "impressions", "clicks", "dlq", "g", "file:///out", 30_000, 15_000, 5_000, "live", 1_000
)
#: Campaign ids whose MD5 hex starts with every digit, and ids of non-ASCII, quotes and paths.
SAMPLE_IDS = [f"campaign-{n}" for n in range(64)] + ["", "a,b", 'say "hi"', "café", "日本語", "😀", "../x"]
#: Instants in epoch milliseconds: the epoch, a leap day, a window end at midnight, a far year.
SAMPLE_TIMES = [0, 951_782_400_000, 1_700_006_399_999, 1_700_006_400_000, 4_102_444_799_000]


def test_the_job_s_sql_is_generated_from_the_contract():
    insert = ctr_insert()
    assert f"{sql_window_day('window_start')}, {sql_campaign_bucket('campaign_id')}" in insert
    assert f"PARTITIONED BY ({DAY_PARTITION}, {BUCKET_PARTITION})" in results_table(SQL)
    assert flag_windows_view(SQL).count(f"DATE_FORMAT(window_start, '{sql_time_format()}')") == 1
    assert sql_campaign_bucket("campaign_id") == "SUBSTRING(MD5(campaign_id), 1, 1)"
    assert sql_time_format() == "yyyy-MM-dd HH:mm:ss"


def test_the_python_functions_follow_the_definitions():
    assert {campaign_bucket(campaign) for campaign in SAMPLE_IDS} == set("0123456789abcdef")
    assert format_time(1_700_000_000_000) == "2023-11-14 22:13:20"
    assert parse_time("2023-11-14 22:13:20") == 1_700_000_000_000
    assert window_day(format_time(1_700_000_000_000)) == "2023-11-14"


#: Flink SQL's values of the contract's expressions over the sample ids and times, as JSON on stdout.
FLINK_SIDE = """
import json, sys
from pyflink.table import EnvironmentSettings, TableEnvironment
from ctr.results_contract import sql_campaign_bucket, sql_time_format, sql_window_day
from ctr_job.sql import quote

ids, times = json.loads(sys.argv[1])
env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
env.get_config().set("table.local-time-zone", "UTC")
env.get_config().set("parallelism.default", "1")
def values(items):
    return ", ".join(f"({item})" for item in items)
buckets = env.execute_sql(
    f"SELECT id, {sql_campaign_bucket('id')} FROM (VALUES {values(map(quote, ids))}) AS t(id)"
).collect()
with buckets:
    bucket_rows = [list(row) for row in buckets]
formatted = env.execute_sql(
    f"SELECT ms, {sql_window_day('t')}, t FROM (SELECT ms, "
    f"DATE_FORMAT(TO_TIMESTAMP_LTZ(ms, 3), {quote(sql_time_format())}) AS t "
    f"FROM (VALUES {values(f'CAST({ms} AS BIGINT)' for ms in times)}) AS v(ms))"
).collect()
with formatted:
    time_rows = [list(row) for row in formatted]
print(json.dumps([bucket_rows, time_rows]))
"""


@pytest.mark.slow
def test_flink_sql_gives_the_python_bucket_day_and_time_on_sample_values():
    """The reader's functions against Flink SQL's own evaluation of the expressions the job writes
    with (tests/test_campaign_ids.py checks the directories of a real job run as well)."""
    result = subprocess.run(
        [sys.executable, "-c", FLINK_SIDE, json.dumps([SAMPLE_IDS, SAMPLE_TIMES])],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    bucket_rows, time_rows = json.loads(result.stdout.strip().splitlines()[-1])
    assert {campaign: bucket for campaign, bucket in bucket_rows} == {
        campaign: campaign_bucket(campaign) for campaign in SAMPLE_IDS
    }
    assert sorted(tuple(row) for row in time_rows) == [
        (ms, window_day(format_time(ms)), format_time(ms)) for ms in sorted(SAMPLE_TIMES)
    ]


def test_a_live_row_is_a_result_row_and_its_final_flag():
    assert LiveRow._fields == (*CtrRow._fields, "final")
