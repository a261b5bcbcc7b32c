"""The tests' access to a Kubernetes API for the operator: kmock emulating one (kmock stores objects
and serves list/watch/patch but runs no controllers; tests/test_operator_e2e.py adds a real
cluster's), Producers created and changed there, and ``ctr operator`` run against it."""

import asyncio
import os
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from ctr_operator import crd, desired

from helpers.processes import CTR

#: How long a test waits for the operator to act (``eventually``).
TIMEOUT = 30.0
#: The built-in resources the operator uses, as kmock serves them: kind, subresources.
BUILTIN = {
    "v1/configmaps": ("ConfigMap", set()),
    "v1/serviceaccounts": ("ServiceAccount", set()),
    "v1/pods": ("Pod", {"status"}),
    "v1/events": ("Event", set()),
    "apps/v1/deployments": ("Deployment", {"status"}),
    "rbac.authorization.k8s.io/v1/roles": ("Role", set()),
    "rbac.authorization.k8s.io/v1/rolebindings": ("RoleBinding", set()),
}
VERBS = {"create", "delete", "get", "list", "patch", "update", "watch"}


class Api:
    """The test's own access to the API: the same calls against kmock or a real cluster."""

    emulated: bool
    namespace: str
    kubeconfig: Path

    async def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, Any]:
        raise NotImplementedError

    async def get(self, path: str) -> dict | None:
        status, body = await self.request("GET", path)
        return body if status == 200 else None

    async def patch(self, path: str, body: Any) -> None:
        status, _ = await self.request("PATCH", path, body, "application/merge-patch+json")
        assert status < 300, status

    def producers(self, name: str = "") -> str:
        return f"/apis/{crd.GROUP}/{crd.VERSION}/namespaces/{self.namespace}/{crd.PLURAL}" + (
            f"/{name}" if name else ""
        )

    def deployment(self, name: str) -> str:
        return f"/apis/apps/v1/namespaces/{self.namespace}/deployments/{desired.child_name(name)}"

    def config_map(self, name: str) -> str:
        return f"/api/v1/namespaces/{self.namespace}/configmaps/{desired.child_name(name)}"

    def owned_paths(self, name: str) -> list[str]:
        child = desired.child_name(name)
        return [
            self.deployment(name),
            self.config_map(name),
            f"/api/v1/namespaces/{self.namespace}/serviceaccounts/{child}",
            f"/apis/rbac.authorization.k8s.io/v1/namespaces/{self.namespace}/roles/{child}",
            f"/apis/rbac.authorization.k8s.io/v1/namespaces/{self.namespace}/rolebindings/{child}",
        ]


class EmulatedApi(Api):
    """kmock over HTTP."""

    emulated = True

    def __init__(self, kmock, kubeconfig: Path) -> None:
        self.kmock, self.kubeconfig, self.namespace = kmock, kubeconfig, "default"

    async def request(self, method, path, body=None, content_type="application/json"):
        async with aiohttp.ClientSession() as session:
            async with session.request(
                method,
                str(self.kmock.url).rstrip("/") + path,
                json=body,
                headers={"Content-Type": content_type},
            ) as response:
                return response.status, (
                    await response.json(content_type=None) if response.status < 300 else None
                )


def emulated_cluster(kmock, tmp_path: Path) -> Api:
    """kmock serving the Producer CRD and ``BUILTIN``, and a kubeconfig for it in ``tmp_path``."""
    kmock.resources[f"{crd.GROUP}/{crd.VERSION}/{crd.PLURAL}"] = kmock.ResourceInfo(
        kind=crd.KIND, namespaced=True, verbs=VERBS, subresources={"status"}, shortnames={crd.SHORT_NAME}
    )
    for key, (kind, subresources) in BUILTIN.items():
        kmock.resources[key] = kmock.ResourceInfo(
            kind=kind, namespaced=True, verbs=VERBS, subresources=subresources
        )
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "kmock",
                "clusters": [{"name": "kmock", "cluster": {"server": str(kmock.url).rstrip("/")}}],
                "users": [{"name": "kmock", "user": {"token": "test"}}],
                "contexts": [
                    {
                        "name": "kmock",
                        "context": {"cluster": "kmock", "user": "kmock", "namespace": "default"},
                    }
                ],
            }
        )
    )
    return EmulatedApi(kmock, kubeconfig)


async def eventually(check, what: str, timeout: float = TIMEOUT):
    """Await ``check()`` until it returns something truthy; fail after ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(0.1)


async def create_producer(api: Api, name: str, **spec) -> None:
    """Create a Running Producer ``name`` (rate 100, one replica, ``spec`` over that)."""
    metadata: dict[str, Any] = {"name": name, "namespace": api.namespace}
    if api.emulated:
        metadata.update(uid=str(uuid.uuid4()), generation=1)
    body = {
        "apiVersion": f"{crd.GROUP}/{crd.VERSION}",
        "kind": crd.KIND,
        "metadata": metadata,
        "spec": {"rate": 100, "state": "Running", "replicas": 1, **spec},
    }
    status, _ = await api.request("POST", api.producers(), body)
    assert status < 300, status


async def change_spec(api: Api, name: str, spec: dict, generation: int) -> None:
    """Patch the spec; on kmock also bump the generation, as the API server does."""
    body: dict[str, Any] = {"spec": spec}
    if api.emulated:
        body["metadata"] = {"generation": generation}
    await api.patch(api.producers(name), body)


async def identities(api: Api, name: str) -> dict[str, Any]:
    """What tells each owned object's incarnation: its uid, or on kmock the objects created so far."""
    if api.emulated:
        return {
            "creations": [
                str(r.url.path) for r in api.kmock[api.kmock.method.POST] if "/events" not in str(r.url.path)
            ]
        }
    return {path: (await api.get(path))["metadata"]["uid"] for path in api.owned_paths(name)}


async def status_of(api: Api, name: str, phase: str | None = None) -> dict | None:
    """The Producer's status once it has a phase (``phase`` if given), else None."""
    producer = await api.get(api.producers(name))
    status = (producer or {}).get("status") or {}
    return status if status.get("phase") and (phase is None or status["phase"] == phase) else None


async def live_setting_is(api: Api, name: str, field: str, value) -> bool:
    """Whether the Producer's ConfigMap gives its pods ``field``: ``value``."""
    config_map = await api.get(api.config_map(name))
    return bool(config_map) and yaml.safe_load(config_map["data"]["settings.yaml"]).get(field) == value


async def replicas_are(api: Api, name: str, count: int) -> bool:
    """Whether the Producer's Deployment asks for ``count`` replicas."""
    deployment = await api.get(api.deployment(name))
    return bool(deployment) and deployment["spec"]["replicas"] == count


def operator_env(api: Api, **settings: str) -> dict[str, str]:
    """The environment of ``ctr operator`` against ``api``: its namespace, a 1 s resync, a Kafka address
    for the producers it makes, then ``settings`` (``CTR_METRICS_PORT="9090"``)."""
    return {
        "KUBECONFIG": str(api.kubeconfig),
        "CTR_NAMESPACES": api.namespace,
        "CTR_RESYNC_INTERVAL": "1s",
        "CTR_BOOTSTRAP_SERVERS": "kafka:9092",
        "CTR_PRODUCER_IMAGE": "ctr-producer:test",
        **settings,
    }


def start_operator(api: Api) -> subprocess.Popen:
    """``ctr operator`` against ``api``, its stderr in its stdout (``stop_operator`` returns both)."""
    return subprocess.Popen(
        [*CTR, "operator"],
        env={**os.environ, **operator_env(api)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


async def stop_operator(process: subprocess.Popen) -> str:
    """SIGTERM the operator; its output once it exited."""
    process.send_signal(signal.SIGTERM)
    output, _ = await asyncio.to_thread(process.communicate, timeout=30)
    return output


async def kill_operator(process: subprocess.Popen) -> str:
    """SIGKILL the operator; its output once it exited."""
    process.send_signal(signal.SIGKILL)
    output, _ = await asyncio.to_thread(process.communicate, timeout=30)
    return output
