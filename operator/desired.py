"""The objects a ``Producer`` should own, computed by plain functions from its spec."""

from typing import Any, Mapping

import yaml

from ctr import settings
from ctr_producer.config_map_source import CONFIG_KEY

METRICS_PORT = 9100
#: Pods get this long to stop; the producer drains scheduled clicks for all but the margin of it.
#: Fixed, so that a change of maxClickDelay does not restart the pods.
TERMINATION_GRACE_SECONDS = 300
DRAIN_MARGIN_SECONDS = 30
LIVE_FIELDS = [s.field for s in settings.LIVE_SETTINGS]
#: spec fields handed to the producer as environment variables (fixed for the pod's life).
ENV_SETTINGS = (settings.BOOTSTRAP_SERVERS, settings.IMPRESSIONS_TOPIC, settings.CLICKS_TOPIC, settings.SEED,
                settings.MAX_EVENTS, settings.DURATION)


def child_name(producer: str) -> str:
    """Name of every object a Producer owns."""
    return f"{producer}-producer"


def labels(producer: str) -> dict[str, str]:
    """The labels of a Producer's objects."""
    return {
        "app.kubernetes.io/name": "ctr-producer",
        "app.kubernetes.io/instance": producer,
        "app.kubernetes.io/component": "producer",
        "app.kubernetes.io/part-of": "ctr",
        "app.kubernetes.io/managed-by": "ctr-operator",
    }


def selector(producer: str) -> dict[str, str]:
    """The labels that select a Producer's pods."""
    return {"app.kubernetes.io/name": "ctr-producer", "app.kubernetes.io/instance": producer}


def replicas(spec: Mapping[str, Any]) -> int:
    """Pods to run: 0 when Stopped, else ``spec.replicas`` (1)."""
    return 0 if spec.get("state") == "Stopped" else int(spec.get("replicas", 1))


def live_settings(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The live settings document of one pod: the rate is split between the replicas; Stopped pauses."""
    document = {field: spec[field] for field in LIVE_FIELDS if field in spec and field != "state"}
    document["rate"] = float(spec["rate"]) / max(1, int(spec.get("replicas", 1)))
    document["state"] = "Running" if spec.get("state", "Running") == "Running" else "Paused"
    return document


def config_map(name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The ConfigMap the producer pods watch for their live settings."""
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": child_name(name), "labels": labels(name)},
        "data": {CONFIG_KEY: yaml.safe_dump(live_settings(spec), sort_keys=True)},
    }


def service_account(name: str) -> dict[str, Any]:
    """The producer pods' identity."""
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": child_name(name), "labels": labels(name)},
            "automountServiceAccountToken": True}


def role(name: str) -> dict[str, Any]:
    """Read and watch just this Producer's ConfigMap."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": child_name(name), "labels": labels(name)},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [child_name(name)], "verbs": ["get", "list", "watch"]}],
    }


def role_binding(name: str, namespace: str) -> dict[str, Any]:
    """Bind the Role to the ServiceAccount."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": child_name(name), "labels": labels(name)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": child_name(name)},
        "subjects": [{"kind": "ServiceAccount", "name": child_name(name), "namespace": namespace}],
    }


def _environment(name: str, spec: Mapping[str, Any], defaults: Mapping[str, str]) -> list[dict[str, Any]]:
    env = [{"name": settings.CONFIG_MAP.env, "value": child_name(name)},
           {"name": settings.METRICS_PORT.env, "value": str(METRICS_PORT)},
           {"name": settings.DRAIN_TIMEOUT.env, "value": f"{TERMINATION_GRACE_SECONDS - DRAIN_MARGIN_SECONDS}s"},
           {"name": settings.NAMESPACE.env, "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}]
    for setting in ENV_SETTINGS:
        value = spec.get(setting.field, defaults.get(setting.field))
        if value is not None:
            env.append({"name": setting.env, "value": str(value)})
    return env


def deployment(name: str, spec: Mapping[str, Any], defaults: Mapping[str, str]) -> dict[str, Any]:
    """The Deployment running ``ctr produce`` (hardened pod, Recreate so rates never overlap)."""
    container = {
        "name": "producer",
        "image": spec.get("image", defaults.get("image")),
        "args": ["produce"],
        "env": _environment(name, spec, defaults),
        "ports": [{"name": "metrics", "containerPort": METRICS_PORT}],
        "resources": spec.get("resources") or {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
        "readinessProbe": {"httpGet": {"path": "/metrics", "port": "metrics"}, "periodSeconds": 5},
    }
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": child_name(name), "labels": labels(name)},
        "spec": {
            "replicas": replicas(spec),
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector(name)},
            "template": {
                "metadata": {"labels": labels(name)},
                "spec": {
                    "serviceAccountName": child_name(name),
                    "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [container],
                },
            },
        },
    }


def owned_objects(name: str, namespace: str, spec: Mapping[str, Any], defaults: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every object a Producer owns, in creation order."""
    return [service_account(name), role(name), role_binding(name, namespace), config_map(name, spec), deployment(name, spec, defaults)]
