"""``ctr operator`` end to end, as users run it, against an emulated Kubernetes API (kmock) and,
when ``KUBECONFIG`` points to a reachable cluster, against that cluster too.

kmock stores objects and serves list/watch/patch but runs no controllers and no garbage
collector: there the test plays the API server's part (uid, generation) and the Deployment
controller's (readyReplicas), and checks deletion through the ownerReferences it relies on.
"""

import asyncio
import json
import os
import signal
import uuid
from pathlib import Path

import pytest
import pytest_asyncio
import yaml

from ctr_operator import crd

from helpers.commands import produce_args
from helpers.figures import report_figures
from helpers.kubernetes import (
    Api,
    change_spec,
    create_producer,
    emulated_cluster,
    eventually,
    identities,
    live_setting_is,
    replicas_are,
    start_operator,
    status_of,
    stop_operator,
)
from helpers.processes import CollectedOutput, start_ctr

pytestmark = pytest.mark.asyncio
ROOT = Path(__file__).resolve().parent.parent


class ClusterApi(Api):
    """A real cluster through the kubernetes client, in a namespace of the test's own."""

    emulated = False

    def __init__(self, kubeconfig: Path) -> None:
        from kubernetes import client, config

        self.kubeconfig, self.namespace = kubeconfig, f"ctr-e2e-{uuid.uuid4().hex[:6]}"
        self.client = config.new_client_from_config(str(kubeconfig))
        self.client_module = client

    async def request(self, method, path, body=None, content_type="application/json"):
        from kubernetes.client.exceptions import ApiException

        configuration = self.client.configuration
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        headers.update(
            {
                auth["key"]: auth["value"]
                for auth in configuration.auth_settings().values()
                if auth["in"] == "header"
            }
        )

        def call():
            try:
                response = self.client.rest_client.request(
                    method, configuration.host + path, headers=headers, body=body
                )
            except ApiException as err:
                return err.status, None
            if response.status >= 300:
                return response.status, None
            return response.status, json.loads(
                response.read() if hasattr(response, "read") else response.data
            )

        return await asyncio.to_thread(call)


async def real_cluster() -> Api:
    path = os.environ.get("KUBECONFIG")
    if not path:
        pytest.skip("no real cluster: KUBECONFIG is not set (the kmock variant covers the operator here)")
    api = ClusterApi(Path(path))
    status, _ = await api.request("GET", "/version")
    if status != 200:
        pytest.skip(f"no real cluster: the API server in {path} does not answer")
    status, _ = await api.request(
        "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd.producer_crd()
    )
    assert status < 300 or status == 409, status
    await api.request(
        "POST",
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": api.namespace}},
    )
    return api


@pytest_asyncio.fixture(params=["kmock", "kubeconfig"])
async def api(request, kmock, tmp_path):
    """The API under test: kmock, or the cluster that KUBECONFIG points to (skipped without one)."""
    if request.param == "kmock":
        yield emulated_cluster(kmock, tmp_path)
        return
    cluster = await real_cluster()
    yield cluster
    await cluster.request("DELETE", f"/api/v1/namespaces/{cluster.namespace}")


async def test_lifecycle_of_a_producer(api):
    operator = start_operator(api)
    try:
        await create_producer(api, "demo", rate=300, replicas=3, campaigns="a=0.1,b=0.2")
        deployment = await eventually(lambda: api.get(api.deployment("demo")), "the Deployment")
        config_map = await eventually(lambda: api.get(api.config_map("demo")), "the ConfigMap")
        producer = await api.get(api.producers("demo"))
        assert not producer["metadata"].get("finalizers"), (
            "a finalizer would make deleting the Producer wait for the operator"
        )
        for path in api.owned_paths("demo"):
            owned = await eventually(lambda path=path: api.get(path), path)
            reference = owned["metadata"]["ownerReferences"][0]
            assert (reference["kind"], reference["name"], reference["uid"]) == (
                crd.KIND,
                "demo",
                producer["metadata"]["uid"],
            )
        assert deployment["spec"]["replicas"] == 3
        assert yaml.safe_load(config_map["data"]["settings.yaml"])["rate"] == 100
        env = {
            e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        assert env["CTR_BOOTSTRAP_SERVERS"] == "kafka:9092" and env["CTR_CONFIG_MAP"] == "demo-producer"
        status = await eventually(lambda: status_of(api, "demo"), "a status")
        assert status["conditions"][0]["type"] == "Ready" and status["observedGeneration"] >= 1

        if api.emulated:
            assert status["phase"] == "Pending" and status["conditions"][0]["status"] == "False"
            await api.patch(api.deployment("demo") + "/status", {"status": {"readyReplicas": 3}})
            await eventually(lambda: status_of(api, "demo", "Running"), "status Running")

        template_before = (await api.get(api.deployment("demo")))["spec"]["template"]
        await change_spec(api, "demo", {"rate": 600, "clickProbability": 0.5}, 2)
        await eventually(lambda: live_setting_is(api, "demo", "rate", 200.0), "the new rate in the ConfigMap")
        assert (await api.get(api.deployment("demo")))["spec"]["template"] == template_before, (
            "a rate change restarted the pods"
        )

        await change_spec(api, "demo", {"state": "Paused"}, 3)
        await eventually(lambda: live_setting_is(api, "demo", "state", "Paused"), "Paused in the ConfigMap")
        if api.emulated:
            await eventually(lambda: status_of(api, "demo", "Paused"), "status Paused")

        await change_spec(api, "demo", {"state": "Stopped"}, 4)
        await eventually(lambda: replicas_are(api, "demo", 0), "replicas 0 when Stopped")

        status_code, _ = await api.request("DELETE", api.deployment("demo"))
        assert status_code < 300
        await eventually(lambda: replicas_are(api, "demo", 0), "the deleted Deployment to be restored")
        await api.patch(api.config_map("demo"), {"data": {"settings.yaml": "rate: 1\n"}})
        await eventually(
            lambda: live_setting_is(api, "demo", "state", "Paused"), "the edited ConfigMap to be restored"
        )
    finally:
        output = await stop_operator(operator)
    assert "Traceback" not in output, output

    before = await identities(api, "demo")
    restarted = start_operator(api)
    try:
        await change_spec(api, "demo", {"clickProbability": 0.3}, 5)
        await eventually(
            lambda: live_setting_is(api, "demo", "clickProbability", 0.3),
            "the restarted operator to reconcile",
        )
        assert (await api.get(api.deployment("demo")))["spec"]["replicas"] == 0
    finally:
        output = await stop_operator(restarted)
    assert await identities(api, "demo") == before, "the restarted operator created objects again"
    assert "Traceback" not in output, output


async def test_producer_follows_its_config_map_without_restart(api, broker, topics):
    path = f"/api/v1/namespaces/{api.namespace}/configmaps"
    status, _ = await api.request(
        "POST",
        path,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "live", "namespace": api.namespace},
            "data": {"settings.yaml": "rate: 50\n"},
        },
    )
    assert status < 300
    process = start_ctr(
        *produce_args(
            broker.bootstrap_servers,
            topics,
            config_map="live",
            namespace=api.namespace,
            progress_interval="200ms",
        ),
        env={"KUBECONFIG": str(api.kubeconfig)},
    )
    output = CollectedOutput(process)

    async def saw(text: str) -> bool:
        """Whether a stderr line read since the last one seen says ``text``: the lines are read by
        threads (CollectedOutput), so that a producer gone quiet fails ``eventually`` at its deadline
        instead of blocking a read."""
        return output.next_stderr(lambda line: text in line) is not None

    try:
        await eventually(lambda: saw("target 50/s"), "the producer at the ConfigMap's rate")
        await api.patch(f"{path}/live", {"data": {"settings.yaml": "rate: 500\n"}})
        changed = asyncio.get_running_loop().time()
        await eventually(lambda: saw("target 500/s"), "the producer at the new rate")
        report_figures(
            "operator",
            "a producer follows its ConfigMap",
            changed_after_s=f"{asyncio.get_running_loop().time() - changed:.1f}",
        )
        assert process.poll() is None, "the producer restarted (or exited) to take the change"
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(output.finish, 30)
    assert code == 0, "".join(output.stderr)
