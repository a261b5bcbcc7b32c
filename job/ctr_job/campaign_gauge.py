"""The CTR per campaign as a Flink metric: each row sets the gauge of its campaign
(``ctr.flink.CampaignCtrGauge``, compiled with the event format) when its window is the campaign's
newest, so that Prometheus, which samples it, has the CTR of every campaign over time. It reads the
live rows when the job sends them (the open window's CTR so far, every update interval), else the
final window rows. Only when the job reports metrics (``metrics_port``): one series per campaign."""

from ctr.settings.models import JobSettings
from ctr_job.sql import LIVE_VIEW, WINDOWS_VIEW

FUNCTION = "CREATE TEMPORARY FUNCTION ctr_campaign_gauge AS 'ctr.flink.CampaignCtrGauge' LANGUAGE JAVA"
SINK = "CREATE TEMPORARY TABLE ctr_campaign_gauges (ctr DOUBLE) WITH ('connector' = 'blackhole')"


def gauge_insert(rows_view: str) -> str:
    """The gauge set from the rows of ``rows_view``."""
    return (
        "INSERT INTO ctr_campaign_gauges "
        f"SELECT ctr_campaign_gauge(campaign_id, window_start, ctr) FROM {rows_view}"
    )


def with_campaign_gauge(
    settings: JobSettings, ddl: list[str], inserts: list[str]
) -> tuple[list[str], list[str]]:
    """The job's statements, plus the gauge's when the job reports metrics."""
    if settings.metrics_port is None:
        return ddl, inserts
    rows_view = LIVE_VIEW if settings.update_interval else WINDOWS_VIEW
    return [*ddl, FUNCTION, SINK], [*inserts, gauge_insert(rows_view)]
