"""Every part's Prometheus endpoint, scraped in a real run here: the job on its local cluster, the
producer against the broker, the operator against kmock; and the Grafana dashboard's queries, whose
series must be ones these parts expose."""

import re
import signal
from pathlib import Path

import jsonschema
import pytest
import yaml

from ctr.broker import free_port
from ctr.results_contract import CtrRow

from helpers.commands import produce_args
from helpers.events import SENTINEL_CAMPAIGN, malformed_count
from helpers.helm import MONITORING_VALUES, SHARED_CRDS, render
from helpers.kafka import read_topic
from helpers.kubernetes import create_producer, emulated_cluster, eventually, operator_env
from helpers.processes import CollectedOutput, start_ctr, wait_for
from helpers.producer import summary_of, write_atomically
from helpers.prometheus import dashboard_queries, samples, scrape
from helpers.schemas import crd_from_file, served_schema, strict

ROOT = Path(__file__).resolve().parent.parent

#: The series each part exposes and the dashboard may use; each scrape test below finds all of its part's.
JOB_SERIES = {
    "flink_taskmanager_job_task_operator_numRecordsIn",
    "flink_taskmanager_job_task_operator_numRecordsOut",
    "flink_taskmanager_job_task_operator_watermarkLag",
    "flink_taskmanager_job_task_operator_currentEmitEventTimeLag",
    "flink_taskmanager_job_task_operator_campaign_ctr",
    "flink_taskmanager_job_task_operator_KafkaSourceReader_KafkaConsumer_records_lag_max",
    "flink_taskmanager_job_task_operator_lateImpressions",
    "flink_taskmanager_job_task_operator_lateClicks",
    "flink_jobmanager_job_lastCheckpointDuration",
    "flink_jobmanager_job_lastCheckpointSize",
    "flink_jobmanager_job_numberOfCompletedCheckpoints",
    "flink_jobmanager_job_numberOfFailedCheckpoints",
    "flink_jobmanager_job_numRestarts",
}
PRODUCER_SERIES = {
    "ctr_producer_impressions_total",
    "ctr_producer_clicks_total",
    "ctr_producer_clicks_dropped_total",
    "ctr_producer_delivery_errors_total",
    "ctr_producer_config_errors_total",
    "ctr_producer_pending_clicks",
    "ctr_producer_target_impressions_per_second",
    "ctr_producer_achieved_impressions_per_second",
    "ctr_producer_run_completed",
}
OPERATOR_SERIES = {
    "ctr_operator_reconciliations_total",
    "ctr_operator_reconcile_errors_total",
    "ctr_operator_reconcile_duration_seconds_bucket",
    "ctr_operator_reconcile_duration_seconds_count",
    "ctr_operator_reconcile_duration_seconds_sum",
    "ctr_operator_producers",
}
PROMQL_WORDS = {"sum", "max", "min", "avg", "by", "without", "rate", "increase", "irate", "time"}


def dashboard_selectors() -> list[tuple[str, dict[str, str]]]:
    """Every series selector of the dashboard's queries: (name, {label: regex}), without the matchers
    on the dashboard's variables (``namespace=~"$namespace"``: Prometheus' label, not the part's)."""
    found = []
    for expr in dashboard_queries():
        expr = re.sub(r"\[[^\]]*\]", "", expr)
        expr = re.sub(r"\b(by|without)\s*\([^)]*\)", "", expr)
        for name, matchers in re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?", expr):
            if name not in PROMQL_WORDS:
                regexes = re.findall(r'(\w+)=~"([^"]*)"', matchers)
                found.append((name, {label: rx for label, rx in regexes if not rx.startswith("$")}))
    return found


def test_the_dashboard_queries_only_series_the_parts_expose():
    selectors = dashboard_selectors()
    assert len(selectors) >= 15
    unknown = {name for name, _ in selectors} - (JOB_SERIES | PRODUCER_SERIES | OPERATOR_SERIES)
    assert not unknown, f"the dashboard queries series no part exposes: {unknown}"


def test_the_dashboard_ships_as_a_configmap_for_grafana_s_sidecar():
    values = yaml.safe_load((ROOT / "helm" / "values.yaml").read_text())["metrics"]["dashboard"]
    assert values["enabled"] is False and values["labels"] == {"grafana_dashboard": "1"}
    template = (ROOT / "helm" / "templates" / "monitoring" / "dashboard.yaml").read_text()
    assert '.Files.Get "dashboards/ctr.json"' in template


@pytest.mark.slow
def test_job_metrics_count_what_was_sent(published_run):
    scraped = samples(published_run["metrics"])
    names = {name for name, _, _ in scraped}
    assert JOB_SERIES <= names, JOB_SERIES - names

    def values(name: str, **regexes: str) -> list[float]:
        return [
            value
            for found, labels, value in scraped
            if found == name and all(re.fullmatch(rx, labels.get(key, "")) for key, rx in regexes.items())
        ]

    topics = published_run["topics"]
    for table, topic in (("impressions", topics.impressions), ("clicks", topics.clicks)):
        records = values(
            "flink_taskmanager_job_task_operator_numRecordsOut", operator_name=f"Source:_{table}_.*"
        )
        assert sum(records) == published_run["sent"][topic], f"records read from {topic}"
    dead_letters = values(
        "flink_taskmanager_job_task_operator_numRecordsIn", operator_name="dead_letters.*Writer"
    )
    assert sum(dead_letters) == malformed_count()
    to_topic = values(
        "flink_taskmanager_job_task_operator_numRecordsIn", operator_name="ctr_results_topic.*Writer"
    )
    assert sum(to_topic) == len(published_run["expected"])
    assert values("flink_jobmanager_job_numberOfCompletedCheckpoints")[0] >= 1
    # Flink counts as failed the checkpoints it could not trigger while the tasks were starting.
    assert len(values("flink_jobmanager_job_numberOfFailedCheckpoints")) == 1
    assert values("flink_jobmanager_job_numRestarts") == [0]
    assert values("flink_jobmanager_job_lastCheckpointDuration")[0] >= 0
    assert values("flink_jobmanager_job_lastCheckpointSize")[0] > 0
    lags = values("flink_taskmanager_job_task_operator_watermarkLag", operator_name="Source:.*")
    assert len(lags) == 2 and all(lag > 0 for lag in lags)
    last_window: dict[str, CtrRow] = {}
    for row in sorted(published_run["expected"], key=lambda row: row.window_start):
        last_window[row.campaign_id] = row
    gauges = {
        labels["campaign"]: value
        for name, labels, value in scraped
        if name == "flink_taskmanager_job_task_operator_campaign_ctr"
    }
    # The gauge shows live rows: the sentinels' window, open for good, has one too (Flink's Prometheus
    # reporter writes a label value's "-" as "_").
    assert gauges.keys() - last_window.keys() == {SENTINEL_CAMPAIGN.replace("-", "_")}
    final_gauges = {campaign: gauges[campaign] for campaign in last_window}
    assert final_gauges == pytest.approx({campaign: row.ctr for campaign, row in last_window.items()})
    for name, regexes in dashboard_selectors():
        if name in JOB_SERIES:
            assert values(name, **regexes), f"the dashboard's {name}{regexes} matches no series of the job"


def test_producer_metrics_count_what_was_sent(broker, topics, tmp_path):
    """Counters equal the messages on the topics once the producer is paused and its clicks are sent."""
    config = tmp_path / "live.yaml"
    config.write_text("rate: 200\nstate: Running\n")
    port = free_port()
    producer = CollectedOutput(
        start_ctr(
            *produce_args(
                broker.bootstrap_servers,
                topics,
                max_click_delay="1s",
                config_file=config,
                metrics_port=port,
                progress_interval="200ms",
            )
        )
    )
    try:

        def metric(name: str) -> float:
            try:
                text = scrape(port)
            except OSError:
                return -1.0
            return next((value for found, _, value in samples(text) if found == name), -1.0)

        wait_for(lambda: metric("ctr_producer_impressions_total") >= 300, 30, "300 impressions", 0.2)
        assert metric("ctr_producer_target_impressions_per_second") == 200
        assert 100 <= metric("ctr_producer_achieved_impressions_per_second") <= 300
        write_atomically(config, "rate: 200\nstate: Paused\n")
        wait_for(
            lambda: (
                metric("ctr_producer_target_impressions_per_second") == 0
                and metric("ctr_producer_pending_clicks") == 0
            ),
            30,
            "the paused producer to send its scheduled clicks",
            0.2,
        )
        scraped = samples(scrape(port))
        names = {name for name, _, _ in scraped}
        assert PRODUCER_SERIES <= names, PRODUCER_SERIES - names
        counts = {name: value for name, _, value in scraped}
    finally:
        producer.process.send_signal(signal.SIGTERM)
    assert producer.finish(60) == 0
    summary = summary_of("".join(producer.stdout))
    impressions, clicks = counts["ctr_producer_impressions_total"], counts["ctr_producer_clicks_total"]
    assert (impressions, clicks) == (summary["impressions"], summary["clicks"])
    assert len(read_topic(broker, topics.impressions, int(impressions))) == impressions
    assert len(read_topic(broker, topics.clicks, int(clicks))) == clicks
    assert (
        counts["ctr_producer_delivery_errors_total"] == 0 and counts["ctr_producer_config_errors_total"] == 0
    )


@pytest.mark.asyncio
async def test_operator_metrics_against_kmock(kmock, tmp_path):
    api = emulated_cluster(kmock, tmp_path)
    port = free_port()
    operator = start_ctr("operator", env=operator_env(api, CTR_METRICS_PORT=str(port)))
    output = CollectedOutput(operator)
    try:
        await create_producer(api, "one")
        await create_producer(api, "two")
        await create_producer(api, "bad", campaigns="a", campaignWeights="1,2")

        async def scraped() -> dict | None:
            try:
                found = samples(scrape(port))
            except OSError:
                return None
            phases = {
                labels["phase"]: value for name, labels, value in found if name == "ctr_operator_producers"
            }
            return found if phases.get("Pending") == 2 and phases.get("Failed") == 1 else None

        found = await eventually(scraped, "two Pending and one Failed Producer in the operator's metrics")
    finally:
        operator.send_signal(signal.SIGTERM)
    assert output.finish(30) == 0, "".join(output.stderr)[-2000:]
    names = {name for name, _, _ in found}
    assert OPERATOR_SERIES <= names, OPERATOR_SERIES - names
    counts = {name: value for name, labels, value in found if not labels}
    assert counts["ctr_operator_reconciliations_total"] >= 3
    assert counts["ctr_operator_reconcile_errors_total"] >= 1
    assert (
        counts["ctr_operator_reconcile_duration_seconds_count"]
        == counts["ctr_operator_reconciliations_total"]
    )


def test_pod_monitors_validate_against_the_upstream_crd(helm, chart):
    upstream_file = SHARED_CRDS / "prometheus-operator-monitoring.coreos.com_podmonitors.yaml"
    if not upstream_file.is_file():
        pytest.skip(f"the upstream PodMonitor CRD is not here ({upstream_file} is absent)")
    upstream = crd_from_file(upstream_file)
    assert not [d for d in render(helm, chart) if d["kind"] in ("PodMonitor", "ConfigMap")], "off by default"
    monitors = [d for d in render(helm, chart, *MONITORING_VALUES) if d["kind"] == "PodMonitor"]
    assert {m["metadata"]["name"] for m in monitors} == {"ctr-job", "ctr-operator", "ctr-producers"}
    schema = strict(served_schema(upstream, monitors[0]["apiVersion"])["properties"]["spec"])
    for monitor in monitors:
        assert monitor["apiVersion"].split("/")[0] == upstream["spec"]["group"]
        errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(monitor["spec"]), key=str)
        assert not errors, f"{monitor['metadata']['name']}: " + "; ".join(e.message for e in errors[:5])


def test_every_pod_names_its_metrics_port_and_the_monitors_select_them(helm, chart):
    from ctr.settings.models import OperatorSettings
    from ctr_job.runtime import PROMETHEUS_REPORTER
    from ctr_operator import desired
    from ctr_operator.spec import ProducerSpec

    documents = render(helm, chart, *MONITORING_VALUES, "--set", "producer.enabled=true")
    values = yaml.safe_load((ROOT / "helm" / "values.yaml").read_text())["metrics"]
    flink = next(d for d in documents if d["kind"] == "FlinkDeployment")["spec"]
    assert flink["flinkConfiguration"]["metrics.reporter.prom.factory.class"] == PROMETHEUS_REPORTER
    assert flink["flinkConfiguration"]["metrics.reporter.prom.port"] == str(values["jobPort"])
    args = flink["job"]["args"]
    assert args[args.index("--metrics-port") + 1] == str(values["jobPort"])
    assert args[args.index("--publish-results") + 1] == "true"
    operator = next(d for d in documents if d["kind"] == "Deployment")["spec"]["template"]
    pods = {
        "job": (flink["podTemplate"], values["jobPort"]),
        "operator": (operator, values["operatorPort"]),
        "producers": (
            desired.deployment("demo", ProducerSpec(), OperatorSettings())["spec"]["template"],
            desired.METRICS_PORT,
        ),
    }
    env = {e["name"]: e["value"] for e in operator["spec"]["containers"][0]["env"]}
    assert env["CTR_METRICS_PORT"] == str(values["operatorPort"])
    monitors = {
        d["metadata"]["name"].removeprefix("ctr-"): d["spec"] for d in documents if d["kind"] == "PodMonitor"
    }
    for part, (pod, port) in pods.items():
        assert monitors[part]["podMetricsEndpoints"][0]["port"] == "metrics"
        ports = {p["name"]: p["containerPort"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        assert ports.get("metrics") == port, part
        labels = pod["metadata"]["labels"]
        assert monitors[part]["selector"]["matchLabels"].items() <= labels.items(), part
