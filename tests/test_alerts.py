"""The chart's alerting rules and the Grafana dashboard, proven with Debian's Prometheus: promtool
checks the rendered rules and runs their unit tests (tests/alerts/*.yaml, series in, alerts out),
and a real Prometheus scraping a short local run (the producer, the job's Flink reporter, the
operator against kmock) answers every dashboard query and fires the dead-letter alert.

The dashboard's queries are evaluated as Grafana would send them, with its variables substituted
(``DASHBOARD_VARIABLES``): ``$namespace`` is the namespace label the scrape config gives every
target (as a PodMonitor does in the cluster), ``$__rate_interval`` four scrape intervals (Grafana's
floor for it), and any other variable fails the test until it gets a value here.
"""

import asyncio
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import yaml

from ctr.broker import free_port

from helpers.commands import job_args, produce_args
from helpers.events import EventSet, produce
from helpers.helm import NAMESPACE, render
from helpers.kubernetes import create_producer, emulated_cluster, operator_env
from helpers.processes import CollectedOutput, start_ctr, wait_for
from helpers.prometheus import Prometheus, alerting_rules, binary, dashboard_queries, write_rules

ROOT = Path(__file__).resolve().parent.parent
UNIT_TESTS = sorted((Path(__file__).parent / "alerts").glob("*.yaml"))
SCRAPE_INTERVAL = 1
#: What each variable of the dashboard's queries stands for when a test evaluates them.
DASHBOARD_VARIABLES = {"$namespace": NAMESPACE, "$__rate_interval": f"{4 * SCRAPE_INTERVAL}s"}
#: The local run's windows, and the rule values that make the dead-letter alert fire within seconds.
WINDOW_S, CHECKPOINT_INTERVAL = 5, "1s"
RUN_VALUES = (
    f"job.settings.window={WINDOW_S}s",
    f"job.settings.checkpointInterval={CHECKPOINT_INTERVAL}",
    "metrics.prometheusRule.for=2s",
    "metrics.prometheusRule.rateWindow=30s",
    "metrics.prometheusRule.deadLettersPerSecond=0",
)


def evaluated_queries() -> list[str]:
    """Every query of the dashboard, its variables substituted (``DASHBOARD_VARIABLES``)."""
    queries = []
    for written in dashboard_queries():
        expr = written
        for variable, value in sorted(DASHBOARD_VARIABLES.items(), key=lambda item: -len(item[0])):
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"a dashboard variable without a value here: {written}"
        queries.append(expr)
    return queries


def rule_values(*values: str) -> list[str]:
    """``--set`` arguments of helm for ``values``."""
    return [argument for value in values for argument in ("--set", value)]


def alert_names(rules: dict) -> set[str]:
    """The names of the alerts of a rules file's content."""
    return {rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule}


def test_promtool_accepts_the_rendered_rules(helm, chart, tmp_path):
    rules = alerting_rules(helm, chart)
    path = write_rules(rules, tmp_path / "rules.yaml")
    result = subprocess.run([binary("promtool"), "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_names(rules))} rules found" in result.stdout


def test_the_chart_ships_the_alerts_behind_a_switch_with_labels(helm, chart):
    assert not [d for d in render(helm, chart) if d["kind"] == "PrometheusRule"], "off by default"
    rules = [
        d
        for d in render(helm, chart, *rule_values("metrics.prometheusRule.enabled=true"))
        if d["kind"] == "PrometheusRule"
    ]
    assert [r["metadata"]["labels"].get("release") for r in rules] == [None]
    labelled = render(
        helm,
        chart,
        *rule_values("metrics.prometheusRule.enabled=true", "metrics.prometheusRule.labels.release=kps"),
    )
    assert (
        next(d for d in labelled if d["kind"] == "PrometheusRule")["metadata"]["labels"]["release"] == "kps"
    )
    assert alert_names(alerting_rules(helm, chart)) == {
        "CtrJobNotRunning",
        "CtrJobRestarting",
        "CtrCheckpointsStalled",
        "CtrConsumerLagGrowing",
        "CtrDeadLetters",
        "CtrProducerDeliveryFailing",
        "CtrResultsStalled",
    }


def test_the_readme_explains_every_alert(helm, chart):
    kubernetes = (ROOT / "README.md").read_text().split("## Kubernetes", 1)[1]
    explained = set(re.findall(r"^  \| `(Ctr\w+)` \|", kubernetes, re.MULTILINE))
    assert explained == alert_names(alerting_rules(helm, chart))


def test_the_stall_windows_follow_the_job_s_checkpoint_interval_and_window(helm, chart):
    def ranges(*values: str) -> dict[str, list[str]]:
        rules = alerting_rules(helm, chart, *rule_values(*values))["groups"][0]["rules"]
        return {rule["alert"]: re.findall(r"\[([^\]]+)\]", rule["expr"]) for rule in rules}

    defaults = ranges()  # ctr's defaults: 10 s checkpoints, 30 s windows
    assert defaults["CtrCheckpointsStalled"] == ["300s"] and defaults["CtrResultsStalled"] == ["60s"]
    changed = ranges(
        "job.settings.checkpointInterval=1.5m",
        "job.settings.window=500ms",
        "metrics.prometheusRule.missedCheckpoints=4",
        "metrics.prometheusRule.resultsStalledWindows=3",
    )
    assert changed["CtrCheckpointsStalled"] == ["360s"] and changed["CtrResultsStalled"] == ["2s"]


def test_every_alert_passes_its_promtool_unit_tests(helm, chart, tmp_path):
    """tests/alerts/*.yaml against the rules rendered with the default values: every alert fires
    in some test, and promtool finds every expected alert (labels, annotations) and no other."""
    rules = alerting_rules(helm, chart)
    write_rules(rules, tmp_path / "rules.yaml")
    firing = set()
    for unit_test in UNIT_TESTS:
        shutil.copy(unit_test, tmp_path)
        for case in yaml.safe_load(unit_test.read_text())["tests"]:
            firing |= {test["alertname"] for test in case["alert_rule_test"] if test["exp_alerts"]}
    assert firing == alert_names(rules), "alerts without a unit test that makes them fire"
    result = subprocess.run(
        [binary("promtool"), "test", "rules", *(p.name for p in UNIT_TESTS)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.jvm
@pytest.mark.cluster
@pytest.mark.asyncio
async def test_a_real_prometheus_answers_every_dashboard_query_and_fires_the_dead_letter_alert(
    broker, topics, kmock, helm, chart, tmp_path
):
    rules = write_rules(alerting_rules(helm, chart, *rule_values(*RUN_VALUES)), tmp_path / "rules.yaml")
    ports = {"ctr-producer": free_port(), "ctr-job": free_port(), "ctr-operator": free_port()}
    api = emulated_cluster(kmock, tmp_path)
    processes = [
        CollectedOutput(
            start_ctr(
                *produce_args(
                    broker.bootstrap_servers,
                    topics,
                    rate=50,
                    max_click_delay="1s",
                    metrics_port=ports["ctr-producer"],
                )
            )
        ),
        CollectedOutput(
            start_ctr(
                *job_args(
                    broker.bootstrap_servers,
                    topics,
                    tmp_path / "job",
                    "--metrics-port",
                    str(ports["ctr-job"]),
                    "--publish-results",
                    "true",
                    "--results-topic",
                    topics.results,
                    window_ms=WINDOW_S * 1000,
                    join_bound_ms=2000,
                    out_of_orderness="1s",
                )
            )
        ),
        CollectedOutput(
            start_ctr(
                "operator",
                env=operator_env(
                    api,
                    CTR_BOOTSTRAP_SERVERS=broker.bootstrap_servers,
                    CTR_METRICS_PORT=str(ports["ctr-operator"]),
                ),
            )
        ),
    ]
    (tmp_path / "prometheus").mkdir()
    prometheus = Prometheus(
        tmp_path / "prometheus",
        # The job's JobManager reports on its port, its TaskManager on the next (ctr_job.local.launcher).
        {
            name: [f"127.0.0.1:{port}", *([f"127.0.0.1:{port + 1}"] if name == "ctr-job" else [])]
            for name, port in ports.items()
        },
        {"namespace": NAMESPACE},
        [rules],
        SCRAPE_INTERVAL,
    )

    def still_running() -> None:
        for part in processes:
            assert part.process.poll() is None, "".join(part.stderr)[-3000:]

    def every_query_answers(queries: list[str]) -> None:
        unanswered = list(queries)

        def answered() -> bool:
            still_running()
            unanswered[:] = [q for q in unanswered if not prometheus.query(q)]
            return not unanswered

        try:
            wait_for(answered, 240, "every dashboard query to return a series", 1.0)
        except AssertionError as error:
            raise AssertionError(f"{error}; no series for: {unanswered}") from None

    def scenario() -> set[str]:
        """Prometheus up, every target up, every dashboard query answered; then malformed
        messages until the dead-letter alert fires; the alerts firing then."""
        with prometheus:

            def all_up() -> bool:
                still_running()
                return prometheus.targets() == dict.fromkeys(ports, "up")

            wait_for(all_up, 180, "every scrape target to be up", 1.0)
            every_query_answers(evaluated_queries())
            assert "CtrDeadLetters" not in prometheus.firing(), "dead letters before any malformed message"
            produce(broker, topics, EventSet(), malformed=True)
            wait_for(lambda: "CtrDeadLetters" in prometheus.firing(), 90, "CtrDeadLetters to fire", 1.0)
            return prometheus.firing()

    try:
        await create_producer(api, "demo")
        firing = await asyncio.to_thread(scenario)
    finally:
        for part in processes:
            part.process.send_signal(signal.SIGTERM)
        codes = [await asyncio.to_thread(part.finish, 60) for part in processes]
    assert "CtrJobNotRunning" not in firing and "CtrProducerDeliveryFailing" not in firing, firing
    assert codes == [0, 0, 0], [("".join(part.stderr))[-2000:] for part in processes]
