"""``ctr operator`` end to end against an emulated Kubernetes API (kmock), as users run it.

kmock stores objects and serves list/watch/patch, but runs no controllers: the tests play the
API server's part where they must (uid, generation, a Deployment's readyReplicas), and there is
no garbage collector, so deletion through ownerReferences is checked on the references.
"""

import asyncio
import os
import signal
import subprocess
import sys
import uuid

import aiohttp
import pytest
import yaml

from ctr_operator import crd, desired

NAMESPACE = "default"
pytestmark = pytest.mark.asyncio
TIMEOUT = 30.0
BUILTIN = {
    "v1/configmaps": ("ConfigMap", set()), "v1/serviceaccounts": ("ServiceAccount", set()), "v1/pods": ("Pod", {"status"}),
    "v1/events": ("Event", set()), "apps/v1/deployments": ("Deployment", {"status"}),
    "rbac.authorization.k8s.io/v1/roles": ("Role", set()), "rbac.authorization.k8s.io/v1/rolebindings": ("RoleBinding", set()),
}
VERBS = {"create", "delete", "get", "list", "patch", "update", "watch"}


@pytest.fixture
def cluster(kmock, tmp_path):
    """kmock with the resources the operator uses, and a kubeconfig that points to it."""
    kmock.resources[f"{crd.GROUP}/{crd.VERSION}/{crd.PLURAL}"] = kmock.ResourceInfo(
        kind=crd.KIND, namespaced=True, verbs=VERBS, subresources={"status"}, shortnames={crd.SHORT_NAME})
    for key, (kind, subresources) in BUILTIN.items():
        kmock.resources[key] = kmock.ResourceInfo(kind=kind, namespaced=True, verbs=VERBS, subresources=subresources)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "kmock",
        "clusters": [{"name": "kmock", "cluster": {"server": str(kmock.url).rstrip("/")}}],
        "users": [{"name": "kmock", "user": {"token": "test"}}],
        "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "kmock", "namespace": NAMESPACE}}],
    }))
    return kmock, kubeconfig


class Api:
    """The test's own HTTP access to the emulated API."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def producer_path(self, name: str = "") -> str:
        return f"/apis/{crd.GROUP}/{crd.VERSION}/namespaces/{NAMESPACE}/{crd.PLURAL}" + (f"/{name}" if name else "")

    async def request(self, method: str, path: str, body=None, content_type: str = "application/json"):
        async with aiohttp.ClientSession() as session:
            async with session.request(method, self.base + path, json=body, headers={"Content-Type": content_type}) as response:
                return response.status, (await response.json(content_type=None) if response.status < 300 else None)

    async def get(self, path: str):
        status, body = await self.request("GET", path)
        return body if status == 200 else None

    async def patch(self, path: str, body) -> None:
        status, _ = await self.request("PATCH", path, body, "application/merge-patch+json")
        assert status < 300, status


def deployment_path(name: str) -> str:
    return f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{desired.child_name(name)}"


def config_map_path(name: str) -> str:
    return f"/api/v1/namespaces/{NAMESPACE}/configmaps/{desired.child_name(name)}"


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


def start_operator(kubeconfig) -> subprocess.Popen:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "CTR_NAMESPACES": NAMESPACE, "CTR_RESYNC_INTERVAL": "1s",
           "CTR_BOOTSTRAP_SERVERS": "kafka:9092", "CTR_PRODUCER_IMAGE": "ctr-producer:test"}
    return subprocess.Popen([sys.executable, "-m", "ctr.cli", "operator"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


async def stop_operator(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = await asyncio.to_thread(process.communicate, timeout=30)
    return output


async def create_producer(api: Api, name: str, **spec) -> None:
    body = {"apiVersion": f"{crd.GROUP}/{crd.VERSION}", "kind": crd.KIND,
            "metadata": {"name": name, "namespace": NAMESPACE, "uid": str(uuid.uuid4()), "generation": 1},
            "spec": {"rate": 100, "state": "Running", "replicas": 1, **spec}}
    status, _ = await api.request("POST", api.producer_path(), body)
    assert status < 300, status


async def test_lifecycle_of_a_producer(cluster):
    kmock, kubeconfig = cluster
    api = Api(str(kmock.url))
    operator = start_operator(kubeconfig)
    try:
        await create_producer(api, "demo", rate=300, replicas=3, campaigns="a=0.1,b=0.2")
        deployment = await eventually(lambda: api.get(deployment_path("demo")), "the Deployment")
        config_map = await eventually(lambda: api.get(config_map_path("demo")), "the ConfigMap")
        producer = await api.get(api.producer_path("demo"))
        assert not producer["metadata"].get("finalizers"), "a finalizer would make deleting the Producer wait for the operator"
        for owned in (deployment, config_map):
            assert owned["metadata"]["ownerReferences"][0]["uid"] == producer["metadata"]["uid"]
        for path in (f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/demo-producer",
                     f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NAMESPACE}/roles/demo-producer",
                     f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NAMESPACE}/rolebindings/demo-producer"):
            assert (await api.get(path))["metadata"]["ownerReferences"][0]["name"] == "demo"
        assert deployment["spec"]["replicas"] == 3
        assert yaml.safe_load(config_map["data"]["settings.yaml"])["rate"] == 100
        env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["CTR_BOOTSTRAP_SERVERS"] == "kafka:9092" and env["CTR_CONFIG_MAP"] == "demo-producer"
        status = (await eventually(lambda: _status(api, "demo", "Pending"), "status Pending"))
        assert status["conditions"][0]["type"] == "Ready" and status["conditions"][0]["status"] == "False"

        await api.patch(deployment_path("demo") + "/status", {"status": {"readyReplicas": 3}})
        await eventually(lambda: _status(api, "demo", "Running"), "status Running")

        template_before = (await api.get(deployment_path("demo")))["spec"]["template"]
        await api.patch(api.producer_path("demo"), {"metadata": {"generation": 2}, "spec": {"rate": 600, "clickProbability": 0.5}})
        await eventually(lambda: _live(api, "demo", "rate", 200.0), "the new rate in the ConfigMap")
        assert (await api.get(deployment_path("demo")))["spec"]["template"] == template_before, "a rate change restarted the pods"

        await api.patch(api.producer_path("demo"), {"metadata": {"generation": 3}, "spec": {"state": "Paused"}})
        await eventually(lambda: _live(api, "demo", "state", "Paused"), "Paused in the ConfigMap")
        await eventually(lambda: _status(api, "demo", "Paused"), "status Paused")

        await api.patch(api.producer_path("demo"), {"metadata": {"generation": 4}, "spec": {"state": "Stopped"}})
        await eventually(lambda: _replicas(api, "demo", 0), "replicas 0 when Stopped")

        status_code, _ = await api.request("DELETE", deployment_path("demo"))
        assert status_code < 300
        await eventually(lambda: api.get(deployment_path("demo")), "the deleted Deployment to be restored")
        await api.patch(config_map_path("demo"), {"data": {"settings.yaml": "rate: 1\n"}})
        await eventually(lambda: _live(api, "demo", "state", "Paused"), "the edited ConfigMap to be restored")
    finally:
        output = await stop_operator(operator)
    assert "Traceback" not in output, output

    creations_before = _object_creations(kmock)
    requests_before = len(kmock[kmock.method.GET])
    restarted = start_operator(kubeconfig)
    try:
        await eventually(lambda: _reads_since(kmock, requests_before, deployment_path("demo")), "the restarted operator to resume")
        await eventually(lambda: _status(api, "demo", "Stopped"), "status Stopped after the restart")
        assert (await api.get(deployment_path("demo")))["spec"]["replicas"] == 0
    finally:
        output = await stop_operator(restarted)
    assert _object_creations(kmock) == creations_before, "the restarted operator created objects again"
    assert "Traceback" not in output, output


def _object_creations(kmock) -> list[str]:
    return [str(r.url.path) for r in kmock[kmock.method.POST] if "/events" not in str(r.url.path)]


async def _reads_since(kmock, count: int, path: str) -> bool:
    return any(str(r.url.path) == path for r in list(kmock[kmock.method.GET])[count:])


async def _status(api: Api, name: str, phase: str):
    producer = await api.get(api.producer_path(name))
    status = (producer or {}).get("status") or {}
    return status if status.get("phase") == phase else None


async def _live(api: Api, name: str, field: str, value) -> bool:
    config_map = await api.get(config_map_path(name))
    return bool(config_map) and yaml.safe_load(config_map["data"]["settings.yaml"]).get(field) == value


async def _replicas(api: Api, name: str, count: int) -> bool:
    deployment = await api.get(deployment_path(name))
    return bool(deployment) and deployment["spec"]["replicas"] == count


async def test_producer_follows_its_config_map_without_restart(cluster, broker, topics):
    kmock, kubeconfig = cluster
    api = Api(str(kmock.url))
    path = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
    status, _ = await api.request("POST", path, {"apiVersion": "v1", "kind": "ConfigMap",
                                                 "metadata": {"name": "live", "namespace": NAMESPACE},
                                                 "data": {"settings.yaml": "rate: 50\n"}})
    assert status < 300
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    process = subprocess.Popen([sys.executable, "-m", "ctr.cli", "produce", "--bootstrap-servers", broker.bootstrap_servers,
                                "--impressions-topic", topics.impressions, "--clicks-topic", topics.clicks, "--config-map", "live",
                                "--namespace", NAMESPACE, "--progress-interval", "200ms"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []

    async def saw(text: str) -> bool:
        line = await asyncio.to_thread(process.stderr.readline)
        lines.append(line)
        return text in line

    try:
        await eventually(lambda: saw("target 50/s"), "the producer at the ConfigMap's rate")
        await api.patch(f"{path}/live", {"data": {"settings.yaml": "rate: 500\n"}})
        changed = asyncio.get_running_loop().time()
        await eventually(lambda: saw("target 500/s"), "the producer at the new rate")
        assert asyncio.get_running_loop().time() - changed < 2.0
    finally:
        process.send_signal(signal.SIGTERM)
        output, errors = await asyncio.to_thread(process.communicate, timeout=30)
    assert process.returncode == 0, "".join(lines) + errors
