"""The ``Producer`` CustomResourceDefinition, built from the same settings as ``ctr produce``.

``k8s/producer-crd.yaml`` and ``helm/crds/producer-crd.yaml`` are this definition written out
(a test checks that they are).
"""

from typing import Any

from ctr import settings

GROUP = "ctr.dev"
VERSION = "v1alpha1"
KIND = "Producer"
PLURAL = "producers"
SHORT_NAME = "ctrp"
STATES = ("Running", "Paused", "Stopped")
PHASES = ("Pending", "Running", "Paused", "Stopped", "Completed", "Failed")
MAX_REPLICAS = 20
DURATION_PATTERN = r"^[0-9]+(\.[0-9]+)?(ms|s|m|h)$"
_NAME = r"""[^,=/\s"']+"""
_TRUE_CTR = r"(=(0(\.[0-9]+)?|1(\.0+)?))?"
CAMPAIGNS_PATTERN = f"^([0-9]+|{_NAME}{_TRUE_CTR}(,{_NAME}{_TRUE_CTR})*)$"
DEFAULT_IMAGE = "ctr-producer:0.1.0"


def _setting(setting: settings.Setting, schema: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return setting.field, {"description": setting.help, **schema}


def spec_schema() -> dict[str, Any]:
    """The OpenAPI schema of ``spec``: bounds and patterns equal the CLI's."""
    properties = dict([
        _setting(settings.RATE, {"type": "number", "exclusiveMinimum": True, "minimum": 0, "maximum": 1_000_000}),
        _setting(settings.CLICK_PROBABILITY, {"type": "number", "minimum": 0, "maximum": 1}),
        _setting(settings.MAX_CLICK_DELAY, {"type": "string", "pattern": DURATION_PATTERN}),
        _setting(settings.CAMPAIGNS, {"type": "string", "pattern": CAMPAIGNS_PATTERN}),
        _setting(settings.CAMPAIGN_WEIGHTS, {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?(,[0-9]+(\.[0-9]+)?)*$"}),
        _setting(settings.SEED, {"type": "integer", "minimum": 0}),
        _setting(settings.MAX_EVENTS, {"type": "integer", "minimum": 1}),
        _setting(settings.DURATION, {"type": "string", "pattern": DURATION_PATTERN}),
        _setting(settings.BOOTSTRAP_SERVERS, {"type": "string", "minLength": 1}),
        _setting(settings.IMPRESSIONS_TOPIC, {"type": "string", "minLength": 1}),
        _setting(settings.CLICKS_TOPIC, {"type": "string", "minLength": 1}),
    ])
    properties["state"] = {"description": "Running sends traffic; Paused sends only scheduled clicks; Stopped drains and scales to 0",
                           "type": "string", "enum": list(STATES), "default": "Running"}
    properties["image"] = {"description": "container image of the producer", "type": "string", "minLength": 1}
    properties["replicas"] = {"description": "producer pods; the rate is split between them", "type": "integer", "minimum": 1, "maximum": MAX_REPLICAS, "default": 1}
    properties["resources"] = {"description": "resources of the producer container", "type": "object",
                               "x-kubernetes-preserve-unknown-fields": True}
    return {"type": "object", "required": ["rate"], "properties": properties}


def status_schema() -> dict[str, Any]:
    """The OpenAPI schema of ``status``."""
    condition = {"type": "object", "required": ["type", "status"], "properties": {
        "type": {"type": "string"}, "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
        "reason": {"type": "string"}, "message": {"type": "string"}, "lastTransitionTime": {"type": "string", "format": "date-time"},
        "observedGeneration": {"type": "integer"},
    }}
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {
        "phase": {"type": "string", "enum": list(PHASES)},
        "observedGeneration": {"type": "integer"},
        "readyReplicas": {"type": "integer"},
        "eventsSent": {"type": "integer"},
        "lastError": {"type": "string"},
        "conditions": {"type": "array", "items": condition},
    }}


def producer_crd() -> dict[str, Any]:
    """The whole CustomResourceDefinition."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}", "labels": {"app.kubernetes.io/name": "ctr", "app.kubernetes.io/component": "producer-operator"}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": KIND, "plural": PLURAL, "singular": KIND.lower(), "shortNames": [SHORT_NAME], "categories": ["ctr"]},
            "versions": [{
                "name": VERSION, "served": True, "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "State", "type": "string", "jsonPath": ".spec.state"},
                    {"name": "Rate", "type": "number", "jsonPath": ".spec.rate"},
                    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                    {"name": "Sent", "type": "integer", "jsonPath": ".status.eventsSent"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "description": "A simulated ad-traffic producer managed by the ctr operator.",
                    "required": ["spec"],
                    "properties": {
                        "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
                        "spec": spec_schema(), "status": status_schema(),
                    },
                }},
            }],
        },
    }


def crd_yaml() -> str:
    """The CRD as the YAML file that ``k8s/`` and the chart ship."""
    import yaml

    return "# Generated by `make crd` from operator/crd.py; a test checks that it is up to date.\n" + yaml.safe_dump(producer_crd(), sort_keys=False)


if __name__ == "__main__":
    print(crd_yaml(), end="")
