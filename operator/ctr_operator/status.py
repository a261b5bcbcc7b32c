"""The observed state of a Producer: phase, Ready condition and counts, as plain functions."""

import datetime
from collections.abc import Mapping
from typing import Any

from ctr_operator.spec import ProducerSpec

#: Container waiting reasons that mean the spec cannot work as it is.
FAILING_REASONS = {
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
}


def phase(spec: ProducerSpec, ready_replicas: int, completed: bool, error: str | None) -> str:
    """Pending, Running, Paused, Stopped, Completed or Failed."""
    if error is not None:
        return "Failed"
    if spec.state == "Stopped":
        return "Stopped" if ready_replicas == 0 else "Pending"
    if ready_replicas < spec.pods:
        return "Pending"
    if completed:
        return "Completed"
    return "Paused" if spec.state == "Paused" else "Running"


def pod_error(pods: list[Mapping[str, Any]]) -> str | None:
    """The first reason, among the pods' containers, that the producer cannot run."""
    for pod in pods:
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in FAILING_REASONS:
                return f"{waiting['reason']}: {waiting.get('message', '').strip()}".rstrip(": ")
    return None


def delivery_error(count: int) -> str | None:
    """A message when the producers failed to deliver messages (Kafka unreachable for long, for instance)."""
    return f"{count} messages not delivered to Kafka (is bootstrapServers reachable?)" if count else None


def _ready_condition(
    ready: bool, reason: str, message: str, generation: int, previous: Mapping[str, Any]
) -> dict[str, Any]:
    """The Ready condition; its transition time moves only when it flips."""
    old = next((c for c in previous.get("conditions") or [] if c.get("type") == "Ready"), {})
    flag = "True" if ready else "False"
    since = old.get("lastTransitionTime") if old.get("status") == flag else None
    return {
        "type": "Ready",
        "status": flag,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": since
        or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def status(
    spec: ProducerSpec,
    generation: int,
    ready_replicas: int,
    events_sent: int | None,
    completed: bool,
    error: str | None,
    previous: Mapping[str, Any],
) -> dict[str, Any]:
    """The status to write for a valid spec."""
    current_phase = phase(spec, ready_replicas, completed, error)
    ready = current_phase in ("Running", "Paused", "Stopped", "Completed")
    reason = {"Failed": "CannotRun", "Pending": "Reconciling"}.get(current_phase, current_phase)
    message = error or f"{ready_replicas}/{spec.pods} producer pods ready, state {spec.state}"
    result: dict[str, Any] = {
        "phase": current_phase,
        "observedGeneration": generation,
        "readyReplicas": ready_replicas,
        "conditions": [_ready_condition(ready, reason, message, generation, previous)],
        "lastError": error or "",
    }
    if events_sent is not None:
        result["eventsSent"] = events_sent
    return result


def invalid_spec_status(generation: int, error: str, previous: Mapping[str, Any]) -> dict[str, Any]:
    """The status of a Producer whose spec the operator rejects: Failed, and why; its pods are left
    as they are."""
    return {
        **previous,
        "phase": "Failed",
        "observedGeneration": generation,
        "lastError": error,
        "conditions": [_ready_condition(False, "InvalidSpec", error, generation, previous)],
    }
