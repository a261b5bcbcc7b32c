"""The objects a ``Producer`` should own, computed by plain functions from its spec."""

from typing import Any

import yaml

from ctr.config_map import CONFIG_KEY
from ctr.durations import format_duration
from ctr.settings.command_line import env_var
from ctr.settings.models import OperatorSettings
from ctr_operator.spec import ProducerSpec

METRICS_PORT = 9100
#: Pods get this long to stop; the producer drains scheduled clicks for all but the margin of it.
#: Fixed, so that a change of maxClickDelay does not restart the pods.
TERMINATION_GRACE_SECONDS = 300
DRAIN_MARGIN_SECONDS = 30
#: Spec fields handed to the producer as environment variables (fixed for the pod's life).
ENV_FIELDS = ("seed", "max_events", "duration")
#: Spec fields that fall back to the operator's own settings.
OPERATOR_FIELDS = ("bootstrap_servers", "impressions_topic", "clicks_topic")


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


def config_map(name: str, spec: ProducerSpec) -> dict[str, Any]:
    """The ConfigMap the producer pods watch for their live settings."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": child_name(name), "labels": labels(name)},
        "data": {CONFIG_KEY: yaml.safe_dump(spec.live_document(), sort_keys=True)},
    }


def service_account(name: str) -> dict[str, Any]:
    """The producer pods' identity."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": child_name(name), "labels": labels(name)},
        "automountServiceAccountToken": True,
    }


def role(name: str) -> dict[str, Any]:
    """Read and watch just this Producer's ConfigMap."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": child_name(name), "labels": labels(name)},
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["configmaps"],
                "resourceNames": [child_name(name)],
                "verbs": ["get", "list", "watch"],
            }
        ],
    }


def role_binding(name: str, namespace: str) -> dict[str, Any]:
    """Bind the Role to the ServiceAccount."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": child_name(name), "labels": labels(name)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": child_name(name)},
        "subjects": [{"kind": "ServiceAccount", "name": child_name(name), "namespace": namespace}],
    }


def _environment(name: str, spec: ProducerSpec, operator: OperatorSettings) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": env_var("config_map"), "value": child_name(name)},
        {"name": env_var("metrics_port"), "value": str(METRICS_PORT)},
        {
            "name": env_var("drain_timeout"),
            "value": format_duration(TERMINATION_GRACE_SECONDS - DRAIN_MARGIN_SECONDS),
        },
        {"name": env_var("namespace"), "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ]
    for field in OPERATOR_FIELDS:
        env.append({"name": env_var(field), "value": getattr(spec, field) or getattr(operator, field)})
    values = spec.model_dump(mode="json")
    for field in ENV_FIELDS:
        if values[field] is not None:
            env.append({"name": env_var(field), "value": str(values[field])})
    return env


def deployment(name: str, spec: ProducerSpec, operator: OperatorSettings) -> dict[str, Any]:
    """The Deployment running ``ctr produce`` (hardened pod, Recreate so rates never overlap)."""
    container = {
        "name": "producer",
        "image": spec.image or operator.producer_image,
        "args": ["produce"],
        "env": _environment(name, spec, operator),
        "ports": [{"name": "metrics", "containerPort": METRICS_PORT}],
        "resources": spec.resources
        or {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "readinessProbe": {"httpGet": {"path": "/metrics", "port": "metrics"}, "periodSeconds": 5},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": child_name(name), "labels": labels(name)},
        "spec": {
            "replicas": spec.pods,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector(name)},
            "template": {
                "metadata": {"labels": labels(name)},
                "spec": {
                    "serviceAccountName": child_name(name),
                    "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 10001,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                },
            },
        },
    }


def owned_objects(
    name: str, namespace: str, spec: ProducerSpec, operator: OperatorSettings
) -> list[dict[str, Any]]:
    """Every object a Producer owns, in creation order."""
    return [
        service_account(name),
        role(name),
        role_binding(name, namespace),
        config_map(name, spec),
        deployment(name, spec, operator),
    ]
