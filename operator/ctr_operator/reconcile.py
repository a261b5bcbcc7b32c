"""Level-based reconciliation of one Producer against the Kubernetes API: idempotent, safe to repeat."""

import logging
import math
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, cast

import kopf
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from ctr import metric_names as names
from ctr.settings.models import OperatorSettings, validation_message
from ctr_operator import crd, desired, status
from ctr_operator.metrics import measured
from ctr_operator.spec import ProducerSpec

log = logging.getLogger("ctr.operator")
MERGE_PATCH = "application/merge-patch+json"
METRICS_TIMEOUT = 2.0

#: kind -> (API class, the suffix of its ``*_namespaced_<suffix>`` methods)
KINDS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "ServiceAccount": (client.CoreV1Api, "service_account"),
    "ConfigMap": (client.CoreV1Api, "config_map"),
    "Role": (client.RbacAuthorizationV1Api, "role"),
    "RoleBinding": (client.RbacAuthorizationV1Api, "role_binding"),
    "Deployment": (client.AppsV1Api, "deployment"),
}


def is_subset(wanted: Any, actual: Any) -> bool:
    """True when everything in ``wanted`` is in ``actual`` (the server may add defaults)."""
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(
            is_subset(value, actual.get(key)) for key, value in wanted.items()
        )
    if isinstance(wanted, list):
        return isinstance(actual, list) and len(wanted) == len(actual) and all(map(is_subset, wanted, actual))
    if isinstance(wanted, (int, float)) and isinstance(actual, (int, float)) and not isinstance(wanted, bool):
        return float(wanted) == float(actual)
    return wanted == actual


def apply(api_client: client.ApiClient, obj: dict[str, Any], namespace: str) -> str | None:
    """Create ``obj`` or patch it to match; return "created", "updated" or None when it already matched."""
    # Not server-side apply: it does not tell created, updated and unchanged apart (each an Event).
    api_class, suffix = KINDS[obj["kind"]]
    api = api_class(api_client)
    name = obj["metadata"]["name"]
    try:
        current = getattr(api, f"read_namespaced_{suffix}")(name, namespace)
    except ApiException as err:
        if err.status != 404:
            raise
        getattr(api, f"create_namespaced_{suffix}")(namespace, obj)
        return "created"
    if is_subset(obj, api_client.sanitize_for_serialization(current)):
        return None
    getattr(api, f"patch_namespaced_{suffix}")(name, namespace, obj, _content_type=MERGE_PATCH)
    return "updated"


def record_event(
    api_client: client.ApiClient,
    producer: Mapping[str, Any],
    reason: str,
    message: str,
    warning: bool = False,
) -> None:
    """Post a Kubernetes Event about the Producer (failures to post are logged, never raised)."""
    meta = producer["metadata"]
    event = client.CoreV1Event(
        api_version="v1",
        kind="Event",
        metadata=client.V1ObjectMeta(
            name=f"{meta['name']}.{uuid.uuid4().hex[:16]}", namespace=meta["namespace"]
        ),
        involved_object=client.V1ObjectReference(
            api_version=f"{crd.GROUP}/{crd.VERSION}",
            kind=crd.KIND,
            name=meta["name"],
            namespace=meta["namespace"],
            uid=meta["uid"],
        ),
        reason=reason,
        message=message,
        type="Warning" if warning else "Normal",
        source=client.V1EventSource(component="ctr-operator"),
        reporting_component="ctr-operator",
    )
    try:
        client.CoreV1Api(api_client).create_namespaced_event(meta["namespace"], event)
    except ApiException as err:
        log.warning("could not post event %s for %s: %s", reason, meta["name"], err.reason)


def series_totals(text: str) -> dict[str, float]:
    """Each series' value in a Prometheus text exposition, the samples of its labels summed; NaN samples
    are left out. ValueError when the text is not an exposition."""
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if not math.isnan(sample.value):
                totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


def _scrape(pod_ip: str) -> dict[str, float]:
    with urllib.request.urlopen(
        f"http://{pod_ip}:{desired.METRICS_PORT}/metrics", timeout=METRICS_TIMEOUT
    ) as response:
        return series_totals(response.read().decode())


class PodObservation(NamedTuple):
    """What the producer pods show: themselves, events sent (None if unknown), completion, delivery errors."""

    pods: list[dict[str, Any]]
    events_sent: int | None
    completed: bool
    delivery_errors: int


def observe_pods(api_client: client.ApiClient, name: str, namespace: str) -> PodObservation:
    """Read the producer pods and scrape their metrics."""
    selector = ",".join(f"{k}={v}" for k, v in desired.selector(name).items())
    listed = client.CoreV1Api(api_client).list_namespaced_pod(namespace, label_selector=selector).items
    pods = [api_client.sanitize_for_serialization(pod) for pod in listed]
    sent, completed, scraped, errors = 0, True, 0, 0
    for pod in pods:
        ip = (pod.get("status") or {}).get("podIP")
        if not ip:
            continue
        try:
            metrics = _scrape(ip)
        except (OSError, ValueError):
            continue
        scraped += 1
        sent += int(metrics.get(names.PRODUCER_IMPRESSIONS, 0) + metrics.get(names.PRODUCER_CLICKS, 0))
        completed = completed and metrics.get(names.PRODUCER_COMPLETED, 0) == 1
        errors += int(metrics.get(names.PRODUCER_DELIVERY_ERRORS, 0))
    return PodObservation(pods, sent if scraped else None, bool(scraped) and completed, errors)


def _comparable(observed: Mapping[str, Any]) -> dict[str, Any]:
    conditions = [
        {k: v for k, v in c.items() if k != "lastTransitionTime"} for c in observed.get("conditions") or []
    ]
    return {**observed, "conditions": conditions}


def _write_status(
    api_client: client.ApiClient, producer: Mapping[str, Any], new_status: dict[str, Any]
) -> None:
    previous = producer.get("status") or {}
    if _comparable(new_status) != _comparable(previous):
        meta = producer["metadata"]
        client.CustomObjectsApi(api_client).patch_namespaced_custom_object_status(
            crd.GROUP,
            crd.VERSION,
            meta["namespace"],
            crd.PLURAL,
            meta["name"],
            {"status": new_status},
            _content_type=MERGE_PATCH,
        )


@measured
def reconcile(
    api_client: client.ApiClient, producer: Mapping[str, Any], operator: OperatorSettings
) -> dict[str, Any]:
    """Make the Producer's objects match its spec, post an Event per change, write and return its status.

    A spec the model rejects changes no object: the status says Failed and why.
    """
    meta = producer["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    previous = producer.get("status") or {}
    try:
        spec = ProducerSpec.model_validate(producer.get("spec") or {})
    except ValidationError as err:
        invalid_spec = f"invalid spec: {validation_message(err)}"
        if invalid_spec != previous.get("lastError"):
            record_event(api_client, producer, "InvalidSpec", invalid_spec, warning=True)
        invalid = status.invalid_spec_status(meta.get("generation", 0), invalid_spec, previous)
        _write_status(api_client, producer, invalid)
        return invalid
    error: status.Problem | None = None
    for obj in desired.owned_objects(name, namespace, spec, operator):
        obj["metadata"]["namespace"] = namespace
        # Garbage collection deletes the object with the Producer; deleting a Producer waits for nothing.
        kopf.append_owner_reference(
            obj, owner=kopf.Body(cast(kopf.RawBody, producer)), block_owner_deletion=False
        )
        try:
            action = apply(api_client, obj, namespace)
        except ApiException as err:
            error = status.Problem(
                "ReconcileFailed", f"{obj['kind']} {obj['metadata']['name']}: {err.status} {err.reason}"
            )
            record_event(api_client, producer, error.reason, error.message, warning=True)
            continue
        if action is not None:
            log.info("%s %s %s/%s", action, obj["kind"], namespace, obj["metadata"]["name"])
            record_event(
                api_client, producer, action.capitalize(), f"{obj['kind']} {obj['metadata']['name']} {action}"
            )
    deployment = client.AppsV1Api(api_client).read_namespaced_deployment(desired.child_name(name), namespace)
    ready = (deployment.status.ready_replicas if deployment.status else None) or 0
    observed = observe_pods(api_client, name, namespace)
    sent = observed.events_sent
    delivery_errors = observed.delivery_errors if sent is not None else None
    recent = status.recent_delivery_errors(delivery_errors, previous.get("deliveryErrors"))
    error = error or status.pod_error(observed.pods) or status.delivery_error(recent)
    new_status = status.status(
        spec,
        meta.get("generation", 0),
        ready,
        sent if sent is not None else previous.get("eventsSent"),
        delivery_errors if delivery_errors is not None else previous.get("deliveryErrors"),
        observed.completed,
        error,
        previous,
    )
    if error and error.message != previous.get("lastError"):
        record_event(api_client, producer, error.reason, error.message, warning=True)
    if new_status["phase"] != previous.get("phase"):
        record_event(
            api_client, producer, "Phase", f"phase {previous.get('phase', '-')} -> {new_status['phase']}"
        )
    _write_status(api_client, producer, new_status)
    return new_status
