"""The observed state of a Producer: phase, Ready condition and counts, as plain functions."""

import datetime
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from ctr_operator.spec import ProducerSpec

#: Container waiting reasons that mean the spec cannot work as it is.
FAILING_REASONS = {
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
}


class Problem(NamedTuple):
    """Why a Producer is Failed now: the Ready condition's reason and message."""

    reason: str
    message: str


def phase(spec: ProducerSpec, ready_replicas: int, completed: bool, error: Problem | None) -> str:
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


def pod_error(pods: Sequence[Mapping[str, Any]]) -> Problem | None:
    """The first reason, among the pods' containers, that the producer cannot run."""
    for pod in pods:
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in FAILING_REASONS:
                message = f"{waiting['reason']}: {waiting.get('message', '').strip()}".rstrip(": ")
                return Problem("CannotRun", message)
    return None


def recent_delivery_errors(total: int | None, previous_total: int | None) -> int:
    """Messages the pods failed to deliver since the last observation: the growth of their counter.

    ``total`` is None when no pod could be scraped; pods that restarted count from 0 again.
    """
    if total is None:
        return 0
    if previous_total is None or total < previous_total:
        return total
    return total - previous_total


def delivery_error(recent: int) -> Problem | None:
    """Failed while messages are not delivered (Kafka unreachable, for instance); clears once they are."""
    if not recent:
        return None
    return Problem(
        "DeliveryFailing",
        f"{recent} messages not delivered to Kafka since the last check (is bootstrapServers reachable?)",
    )


def _ready_condition(
    ready: bool, reason: str, message: str, generation: int, previous: Mapping[str, Any]
) -> dict[str, Any]:
    """The Ready condition; its transition time moves only when it flips."""
    old: Mapping[str, Any] = next(
        (c for c in previous.get("conditions") or [] if c.get("type") == "Ready"), {}
    )
    flag = "True" if ready else "False"
    since = old.get("lastTransitionTime") if old.get("status") == flag else None
    return {
        "type": "Ready",
        "status": flag,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": since or datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def status(
    spec: ProducerSpec,
    generation: int,
    ready_replicas: int,
    events_sent: int | None,
    delivery_errors: int | None,
    completed: bool,
    error: Problem | None,
    previous: Mapping[str, Any],
) -> dict[str, Any]:
    """The status to write for a valid spec; ``events_sent`` and ``delivery_errors`` are the pods'
    counters (None when unknown)."""
    current_phase = phase(spec, ready_replicas, completed, error)
    ready = current_phase in ("Running", "Paused", "Stopped", "Completed")
    if error is not None:
        reason, message = error
    else:
        reason = "Reconciling" if current_phase == "Pending" else current_phase
        message = f"{ready_replicas}/{spec.pods} producer pods ready, state {spec.state}"
    result: dict[str, Any] = {
        "phase": current_phase,
        "observedGeneration": generation,
        "readyReplicas": ready_replicas,
        "conditions": [_ready_condition(ready, reason, message, generation, previous)],
        "lastError": error.message if error else "",
    }
    if events_sent is not None:
        result["eventsSent"] = events_sent
    if delivery_errors is not None:
        result["deliveryErrors"] = delivery_errors
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
