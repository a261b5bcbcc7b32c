"""The CTR per campaign as a Flink metric: each window row sets the gauge of its campaign
(``ctr.flink.CampaignCtrGauge``, compiled with the event format), so that Prometheus, which samples it,
has the CTR of every campaign over time. Only when the job reports metrics (``metrics_port``): one
series per campaign."""

from ctr.settings.models import JobSettings

FUNCTION = "CREATE TEMPORARY FUNCTION ctr_campaign_gauge AS 'ctr.flink.CampaignCtrGauge' LANGUAGE JAVA"
SINK = "CREATE TEMPORARY TABLE ctr_campaign_gauges (ctr DOUBLE) WITH ('connector' = 'blackhole')"
INSERT = "INSERT INTO ctr_campaign_gauges SELECT ctr_campaign_gauge(campaign_id, ctr) FROM ctr_windows"


def with_campaign_gauge(
    settings: JobSettings, ddl: list[str], inserts: list[str]
) -> tuple[list[str], list[str]]:
    """The job's statements, plus the gauge's when the job reports metrics."""
    if settings.metrics_port is None:
        return ddl, inserts
    return [*ddl, FUNCTION, SINK], [*inserts, INSERT]
