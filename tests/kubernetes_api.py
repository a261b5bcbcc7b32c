"""The tests' access to a Kubernetes API for the operator: kmock emulating one (kmock stores objects
and serves list/watch/patch but runs no controllers; tests/test_operator_e2e.py adds a real
cluster's), and Producers created there."""

import asyncio
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from ctr_operator import crd, desired

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
