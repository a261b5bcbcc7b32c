"""The operator's plain functions (desired objects, status) and the Producer CRD's schema."""

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from ctr.durations import parse_duration
from ctr.settings.command_line import env_var
from ctr.settings.models import LiveSettings, OperatorSettings
from ctr_operator import crd, desired, status
from ctr_operator.reconcile import series_totals
from ctr_operator.spec import ProducerSpec

from helpers.schemas import schema_errors, served_schema, strict

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS = OperatorSettings(producer_image="ctr-producer:1", bootstrap_servers="kafka:9092")


def spec_of(**fields) -> ProducerSpec:
    """A Producer spec as the operator validates it."""
    return ProducerSpec.model_validate(fields)


def test_crd_files_are_the_generated_definition():
    for path in (ROOT / "k8s" / "producer-crd.yaml", ROOT / "helm" / "crds" / "producer-crd.yaml"):
        assert yaml.safe_load(path.read_text()) == crd.producer_crd(), f"regenerate {path}: make generate"


def test_crd_has_status_subresource_and_printer_columns():
    version = crd.producer_crd()["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]] == [
        "State",
        "Rate",
        "Phase",
        "Sent",
        "Age",
    ]


def test_config_map_splits_the_rate_and_maps_states():
    spec = spec_of(
        rate=300, replicas=3, clickProbability=0.4, maxClickDelay="5s", campaigns="a,b", state="Stopped"
    )
    live = yaml.safe_load(desired.config_map("p", spec)["data"]["settings.yaml"])
    assert live == {
        "rate": 100.0,
        "clickProbability": 0.4,
        "maxClickDelay": "5s",
        "campaigns": "a,b",
        "state": "Paused",
    }
    assert (
        yaml.safe_load(desired.config_map("p", spec_of(rate=10))["data"]["settings.yaml"])["state"]
        == "Running"
    )


def test_config_map_is_a_valid_live_settings_document():
    spec = spec_of(rate=50, campaigns="x=0.5", campaignWeights="1", state="Paused")
    document = yaml.safe_load(desired.config_map("p", spec)["data"]["settings.yaml"])
    assert LiveSettings().updated(document).paused


def test_a_stopped_producer_gives_each_pod_paused_live_settings_and_its_share_of_the_rate():
    live = spec_of(rate=30, replicas=3, state="Stopped", campaigns="a,b").live()
    assert isinstance(live, LiveSettings) and live.paused and live.rate == 10
    assert [c.name for c in live.campaigns] == ["a", "b"]
    assert not spec_of(rate=30, state="Running").live().paused


def test_series_totals_sum_the_labels_of_a_series_and_leave_out_nan():
    text = """# HELP ctr_producer_impressions_total Impressions sent
# TYPE ctr_producer_impressions_total counter
ctr_producer_impressions_total{campaign="a"} 3.0
ctr_producer_impressions_total{campaign="b",zone="x y"} 4.0
# TYPE ctr_producer_run_completed gauge
ctr_producer_run_completed NaN
# TYPE ctr_producer_clicks_total counter
ctr_producer_clicks_total 1e3
"""
    totals = series_totals(text)
    assert totals["ctr_producer_impressions_total"] == 7.0
    assert totals["ctr_producer_clicks_total"] == 1000.0
    assert "ctr_producer_run_completed" not in totals
    with pytest.raises(ValueError):
        series_totals("not an exposition {")


@pytest.mark.parametrize(
    ("state", "replicas", "expected"),
    [("Running", 2, 2), ("Paused", 2, 2), ("Stopped", 2, 0), (None, None, 1)],
)
def test_replicas_follow_state(state, replicas, expected):
    spec = spec_of(
        rate=10, **({"state": state} if state else {}), **({"replicas": replicas} if replicas else {})
    )
    assert desired.deployment("p", spec, DEFAULTS)["spec"]["replicas"] == expected


def test_deployment_fields():
    spec = spec_of(
        rate=10, image="mine:2", resources={"limits": {"cpu": "2"}}, seed=7, impressionsTopic="imps"
    )
    deployment = desired.deployment("p", spec, DEFAULTS)
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert container["image"] == "mine:2" and container["resources"] == {"limits": {"cpu": "2"}}
    assert env[env_var("seed")] == "7" and env[env_var("impressions_topic")] == "imps"
    assert env[env_var("bootstrap_servers")] == "kafka:9092" and env[env_var("config_map")] == "p-producer"
    assert (
        deployment["spec"]["strategy"] == {"type": "Recreate"} and pod["serviceAccountName"] == "p-producer"
    )
    assert pod["securityContext"]["runAsNonRoot"] and container["securityContext"]["capabilities"] == {
        "drop": ["ALL"]
    }
    assert pod["terminationGracePeriodSeconds"] > parse_duration(env[env_var("drain_timeout")])
    assert (
        desired.deployment("p", spec_of(rate=10), DEFAULTS)["spec"]["template"]["spec"]["containers"][0][
            "image"
        ]
        == "ctr-producer:1"
    )


def test_live_changes_leave_the_pod_template_alone():
    base = spec_of(rate=10, state="Running")
    changed = spec_of(rate=99, state="Paused", clickProbability=0.9, maxClickDelay="1m", campaigns="7")
    assert (
        desired.deployment("p", base, DEFAULTS)["spec"]["template"]
        == desired.deployment("p", changed, DEFAULTS)["spec"]["template"]
    )


def test_role_reads_only_its_config_map():
    (rule,) = desired.role("p")["rules"]
    assert rule == {
        "apiGroups": [""],
        "resources": ["configmaps"],
        "resourceNames": ["p-producer"],
        "verbs": ["get", "list", "watch"],
    }
    binding = desired.role_binding("p", "ns")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "p-producer", "namespace": "ns"}]


@pytest.mark.parametrize(
    ("spec", "ready", "completed", "error", "phase"),
    [
        ({"rate": 1}, 0, False, None, "Pending"),
        ({"rate": 1}, 1, False, None, "Running"),
        ({"rate": 1, "state": "Paused"}, 1, False, None, "Paused"),
        ({"rate": 1, "state": "Stopped"}, 1, False, None, "Pending"),
        ({"rate": 1, "state": "Stopped"}, 0, False, None, "Stopped"),
        ({"rate": 1, "maxEvents": 5}, 1, True, None, "Completed"),
        ({"rate": 1}, 0, False, "ImagePullBackOff: no such image", "Failed"),
    ],
)
def test_phases(spec, ready, completed, error, phase):
    assert status.phase(spec_of(**spec), ready, completed, error) == phase


def test_pod_error_and_condition():
    pods = [
        {
            "status": {
                "containerStatuses": [
                    {"state": {"waiting": {"reason": "ImagePullBackOff", "message": "pull failed"}}}
                ]
            }
        }
    ]
    error = status.pod_error(pods)
    assert error == status.Problem("CannotRun", "ImagePullBackOff: pull failed")
    observed = status.status(spec_of(rate=1), 3, 0, None, None, False, error, {})
    assert (
        observed["phase"] == "Failed"
        and observed["lastError"] == error.message
        and observed["observedGeneration"] == 3
    )
    assert (
        observed["conditions"][0]["status"] == "False" and observed["conditions"][0]["reason"] == "CannotRun"
    )
    again = status.status(spec_of(rate=1), 3, 0, None, None, False, error, observed)
    assert again["conditions"][0]["lastTransitionTime"] == observed["conditions"][0]["lastTransitionTime"]


def test_delivery_errors_fail_the_producer_only_while_they_happen():
    """One bad minute (Kafka unreachable during a slow first start) must not leave it Failed for good."""
    spec = spec_of(rate=1)

    def observe(total: int | None, previous: dict) -> dict:
        error = status.delivery_error(status.recent_delivery_errors(total, previous.get("deliveryErrors")))
        return status.status(spec, 1, 1, 5, total, False, error, previous)

    first = observe(0, {})
    assert first["phase"] == "Running" and first["deliveryErrors"] == 0
    failing = observe(12, first)
    assert failing["phase"] == "Failed" and "12 messages not delivered" in failing["lastError"]
    assert failing["conditions"][0]["reason"] == "DeliveryFailing"
    recovered = observe(12, failing)
    assert recovered["phase"] == "Running" and recovered["lastError"] == ""
    assert recovered["conditions"][0]["status"] == "True"
    restarted_pod = observe(3, recovered)
    assert restarted_pod["phase"] == "Failed" and "3 messages" in restarted_pod["lastError"]
    assert status.recent_delivery_errors(None, 12) == 0, "no pod scraped: nothing known to fail"


def check(documents: list[dict]) -> list[str]:
    """Why the API server would refuse ``documents`` (strict field validation, kubectl's default), as
    ``$.spec.rate: ...`` lines; [] when it takes them all."""
    schema = strict(served_schema(crd.producer_crd(), f"{crd.GROUP}/{crd.VERSION}"))
    return [error for document in documents for error in schema_errors(schema, document)]


def test_example_crs_are_valid():
    examples = [
        yaml.safe_load(path.read_text())
        for path in sorted((ROOT / "k8s").glob("producer-*.yaml"))
        if "crd" not in path.name
    ]
    assert len(examples) >= 2
    assert check(examples) == []


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"rate": 0}, "rate"),
        ({"rate": -5}, "rate"),
        ({"rate": 2_000_000}, "rate"),
        ({"rate": 1, "clickProbability": 1.5}, "clickProbability"),
        ({"rate": 1, "clickProbability": -0.1}, "clickProbability"),
        ({"rate": 1, "maxClickDelay": "-1s"}, "maxClickDelay"),
        ({"rate": 1, "maxClickDelay": "ten"}, "maxClickDelay"),
        ({"rate": 1, "state": "Sleeping"}, "state"),
        ({"rate": 1, "colour": "red"}, "colour"),
        ({"rate": 1, "replicas": 0}, "replicas"),
        ({"rate": 1, "campaigns": "a=2"}, "campaigns"),
    ],
)
def test_bad_crs_are_rejected_naming_the_field(spec, field):
    errors = check(
        [
            {
                "apiVersion": f"{crd.GROUP}/{crd.VERSION}",
                "kind": crd.KIND,
                "metadata": {"name": "bad"},
                "spec": spec,
            }
        ]
    )
    assert errors and all(field in error for error in errors), errors
    with pytest.raises(ValidationError, match=field):
        ProducerSpec.model_validate(spec)


def test_a_spec_the_schema_cannot_check_is_rejected_by_the_model_with_a_failed_status():
    with pytest.raises(ValidationError, match="2 weights for 1 campaigns"):
        spec_of(campaigns="a", campaignWeights="1,2")
    failed = status.invalid_spec_status(
        4, "invalid spec: campaignWeights has 2 weights for 1 campaigns", {"eventsSent": 9}
    )
    assert failed["phase"] == "Failed" and failed["eventsSent"] == 9 and failed["observedGeneration"] == 4
    assert (
        failed["conditions"][0]["reason"] == "InvalidSpec"
        and "2 weights" in failed["conditions"][0]["message"]
    )
