"""The observed state of a Producer: phase, Ready condition and counts, as plain functions."""

import datetime
from typing import Any, Mapping, Optional

from ctr_operator.desired import replicas

#: Container waiting reasons that mean the spec cannot work as it is.
FAILING_REASONS = {"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CrashLoopBackOff", "CreateContainerConfigError"}


def phase(spec: Mapping[str, Any], ready_replicas: int, completed: bool, error: Optional[str]) -> str:
    """Pending, Running, Paused, Stopped, Completed or Failed."""
    if error is not None:
        return "Failed"
    state = spec.get("state", "Running")
    if state == "Stopped":
        return "Stopped" if ready_replicas == 0 else "Pending"
    if ready_replicas < replicas(spec):
        return "Pending"
    if completed:
        return "Completed"
    return "Paused" if state == "Paused" else "Running"


def pod_error(pods: list[Mapping[str, Any]]) -> Optional[str]:
    """The first reason, among the pods' containers, that the producer cannot run."""
    for pod in pods:
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in FAILING_REASONS:
                return f"{waiting['reason']}: {waiting.get('message', '').strip()}".rstrip(": ")
    return None


def delivery_error(count: int) -> Optional[str]:
    """A message when the producers failed to deliver messages (Kafka unreachable for long, for instance)."""
    return f"{count} messages not delivered to Kafka (is bootstrapServers reachable?)" if count else None


def status(spec: Mapping[str, Any], generation: int, ready_replicas: int, events_sent: Optional[int], completed: bool,
           error: Optional[str], previous: Mapping[str, Any]) -> dict[str, Any]:
    """The status to write; the Ready condition's transition time moves only when it flips."""
    current_phase = phase(spec, ready_replicas, completed, error)
    ready = current_phase in ("Running", "Paused", "Stopped", "Completed")
    reason = {"Failed": "CannotRun", "Pending": "Reconciling"}.get(current_phase, current_phase)
    message = error or f"{ready_replicas}/{replicas(spec)} producer pods ready, state {spec.get('state', 'Running')}"
    old = next((c for c in previous.get("conditions") or [] if c.get("type") == "Ready"), {})
    flag = "True" if ready else "False"
    since = old.get("lastTransitionTime") if old.get("status") == flag else None
    condition = {"type": "Ready", "status": flag, "reason": reason, "message": message, "observedGeneration": generation,
                 "lastTransitionTime": since or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    result: dict[str, Any] = {"phase": current_phase, "observedGeneration": generation, "readyReplicas": ready_replicas,
                              "conditions": [condition], "lastError": error or ""}
    if events_sent is not None:
        result["eventsSent"] = events_sent
    return result
