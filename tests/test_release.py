"""The whole release, rendered with its real subcharts, as `helm dependency build` assembles it.

../shared/charts holds the Strimzi 1.2.0 and Flink operator 1.15.0 charts packaged from their
release tags, ../shared/crds their CRDs: every rendered object is validated (built-in kinds for
the chart's Kubernetes floor, custom resources against their CRDs), no two objects share kind,
namespace and name, and everything a pod or a custom resource refers to is rendered or created
by an operator the chart installs.
"""

import copy
import re
import shutil
from collections import Counter
from pathlib import Path

import jsonschema
import pytest
import yaml

from ctr_operator import crd

from helpers.helm import MONITORING_VALUES, helm_binary, template
from helpers.schemas import crd_from_file, kubernetes_errors, served_schema, strict

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SUBCHARTS = sorted((SHARED / "charts").glob("*.tgz"))
NAMESPACE = "ctr"
RELEASE = "ctr"
VARIANTS = {
    "default": [],
    "small": ["--values", str(ROOT / "helm" / "values-small.yaml")],
    "producer": ["--set", "producer.enabled=true", "--set", "producer.spec.rate=250"],
    "persistent": ["--set", "kafka.storage.type=persistent-claim", "--set", "kafka.replicas=3"],
    "monitoring": MONITORING_VALUES,
}
CUSTOM_RESOURCE_DEFINITIONS = {
    "Kafka": SHARED / "crds" / "strimzi-040-Crd-kafka.yaml",
    "KafkaTopic": SHARED / "crds" / "strimzi-043-Crd-kafkatopic.yaml",
    "KafkaNodePool": SHARED / "crds" / "strimzi-045-Crd-kafkanodepool.yaml",
    "FlinkDeployment": SHARED / "crds" / "flink-flinkdeployments.flink.apache.org-v1.yml",
    "PodMonitor": SHARED / "crds" / "prometheus-operator-monitoring.coreos.com_podmonitors.yaml",
    "PrometheusRule": SHARED / "crds" / "prometheus-operator-monitoring.coreos.com_prometheusrules.yaml",
}
#: Kubernetes' own objects that every namespace has.
BUILT_IN = {("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt")}

pytestmark = pytest.mark.skipif(
    len(SUBCHARTS) < 2 or not (SHARED / "crds").is_dir(),
    reason=f"the upstream charts and CRDs are not here ({SHARED}/charts, {SHARED}/crds): release unchecked",
)


@pytest.fixture(scope="module")
def release_chart(tmp_path_factory) -> Path:
    """A copy of helm/ with the real subcharts in charts/, as `helm dependency build` leaves it."""
    chart = tmp_path_factory.mktemp("release") / "ctr"
    shutil.copytree(ROOT / "helm", chart, ignore=shutil.ignore_patterns("charts"))
    (chart / "charts").mkdir()
    for package in SUBCHARTS:
        shutil.copy(package, chart / "charts")
    return chart


def render(chart: Path, *args: str) -> list[dict]:
    """Every object of the release, with the namespace it lands in."""
    documents = copy.deepcopy(
        template(
            str(helm_binary()),
            "template",
            RELEASE,
            str(chart),
            "--namespace",
            NAMESPACE,
            "--include-crds",
            *args,
        )
    )
    for document in documents:
        if document["kind"] not in ("CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"):
            document["metadata"].setdefault("namespace", NAMESPACE)
    return documents


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def release(request, release_chart) -> tuple[str, list[dict]]:
    return request.param, render(release_chart, *VARIANTS[request.param])


def kubernetes_floor() -> str:
    meta = yaml.safe_load((ROOT / "helm" / "Chart.yaml").read_text())
    return re.search(r"(\d+\.\d+\.\d+)", meta["kubeVersion"]).group(1)


def test_both_operators_and_our_objects_are_rendered(release):
    _, documents = release
    kinds = Counter(d["kind"] for d in documents)
    assert kinds["CustomResourceDefinition"] >= 5, "the operators' CRDs and ours"
    deployments = {d["metadata"]["name"] for d in documents if d["kind"] == "Deployment"}
    assert {"strimzi-cluster-operator", "flink-kubernetes-operator", f"{RELEASE}-operator"} <= deployments


def test_no_two_objects_share_kind_namespace_and_name(release):
    _, documents = release
    keys = Counter((d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in documents)
    assert [key for key, count in keys.items() if count > 1] == []


def test_built_in_objects_validate_for_the_chart_s_kubernetes_floor(release):
    _, documents = release
    built_in = [
        d for d in documents if "." not in d["apiVersion"].split("/")[0] or "k8s.io" in d["apiVersion"]
    ]
    assert kubernetes_errors(built_in, kubernetes_floor()) == []


def test_custom_resources_validate_against_their_definitions(release):
    variant, documents = release
    definitions = {kind: crd_from_file(path) for kind, path in CUSTOM_RESOURCE_DEFINITIONS.items()}
    definitions[crd.KIND] = crd.producer_crd()
    checked = Counter()
    for document in documents:
        group = document["apiVersion"].split("/")[0]
        if "." not in group or group.endswith("k8s.io"):
            continue
        assert document["kind"] in definitions, f"no definition to check {document['kind']} against"
        definition = definitions[document["kind"]]
        assert group == definition["spec"]["group"]
        schema = strict(served_schema(definition, document["apiVersion"])["properties"]["spec"])
        errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(document["spec"]), key=str)
        assert not errors, f"{document['kind']} {document['metadata']['name']}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
        )
        checked[document["kind"]] += 1
    assert {"Kafka", "KafkaNodePool", "KafkaTopic", "FlinkDeployment"} <= set(checked)
    if variant == "monitoring":
        assert {"PodMonitor", "PrometheusRule"} <= set(checked)


def _pod_specs(document: dict) -> list[dict]:
    spec = document.get("spec") or {}
    if document["kind"] == "Pod":
        return [spec]
    if document["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return [spec["template"]["spec"]]
    if document["kind"] == "FlinkDeployment":
        return [spec.get("podTemplate", {}).get("spec", {})]
    return []


def _references(pod: dict) -> set[tuple[str, str]]:
    """(kind, name) of every ServiceAccount, ConfigMap, Secret and PVC a pod spec refers to."""
    found = set()
    if pod.get("serviceAccountName"):
        found.add(("ServiceAccount", pod["serviceAccountName"]))
    for volume in pod.get("volumes") or []:
        for key, kind, field in (
            ("configMap", "ConfigMap", "name"),
            ("secret", "Secret", "secretName"),
            ("persistentVolumeClaim", "PersistentVolumeClaim", "claimName"),
        ):
            if key in volume and not volume[key].get("optional"):
                found.add((kind, volume[key][field]))
    for container in [*(pod.get("containers") or []), *(pod.get("initContainers") or [])]:
        for env in container.get("env") or []:
            source = env.get("valueFrom") or {}
            for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                if key in source and not source[key].get("optional"):
                    found.add((kind, source[key]["name"]))
        for env in container.get("envFrom") or []:
            for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                if key in env and not env[key].get("optional"):
                    found.add((kind, env[key]["name"]))
    return found


def _created_by_operators(documents: list[dict]) -> set[tuple[str, str]]:
    """What the installed operators create for the custom resources rendered (their documented names)."""
    created = set()
    for document in documents:
        name = document["metadata"]["name"]
        if document["kind"] == "Kafka":
            created |= {("Service", f"{name}-kafka-bootstrap"), ("Service", f"{name}-kafka-brokers")}
        if document["kind"] == "FlinkDeployment":
            created |= {("Service", f"{name}-rest"), ("Service", name)}
    return created


def test_every_reference_is_rendered_or_created_by_an_installed_operator(release):
    variant, documents = release
    rendered = {(d["kind"], d["metadata"]["name"]) for d in documents}
    available = rendered | _created_by_operators(documents) | BUILT_IN
    missing = set()
    for document in documents:
        for pod in _pod_specs(document):
            missing |= _references(pod) - available
        if document["kind"] == "FlinkDeployment":
            account = document["spec"].get("serviceAccount")
            if account and ("ServiceAccount", account) not in available:
                missing.add(("ServiceAccount", account))
        for env in _environment(document):
            if env.get("name") == "CTR_BOOTSTRAP_SERVERS":
                service = env["value"].split(":")[0]
                if ("Service", service) not in available:
                    missing.add(("Service", service))
    assert not missing, (
        f"{variant}: referred to but neither rendered nor created by an operator: {sorted(missing)}"
    )


def _environment(document: dict) -> list[dict]:
    return [
        env for pod in _pod_specs(document) for c in pod.get("containers") or [] for env in c.get("env") or []
    ]


def test_services_and_args_name_the_kafka_the_release_runs(release):
    _, documents = release
    kafka = next(d for d in documents if d["kind"] == "Kafka")["metadata"]["name"]
    job = next(d for d in documents if d["kind"] == "FlinkDeployment")["spec"]["job"]["args"]
    assert job[job.index("--bootstrap-servers") + 1] == f"{kafka}-kafka-bootstrap:9092"


def _mebibytes(quantity: str) -> float:
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)(Mi|Gi|m|g)", str(quantity)).groups()
    return float(number) * (1024 if unit in ("Gi", "g") else 1)


def requested_memory(documents: list[dict]) -> float:
    """MiB the release's pods request: containers' requests, Flink's process sizes, Kafka nodes'."""
    total = 0.0
    for document in documents:
        if document["kind"] == "FlinkDeployment":
            total += sum(
                _mebibytes(document["spec"][role]["resource"]["memory"])
                for role in ("jobManager", "taskManager")
            )
        elif document["kind"] == "KafkaNodePool":
            requests = document["spec"]["resources"]["requests"]
            total += _mebibytes(requests["memory"]) * document["spec"]["replicas"]
        else:
            for pod in _pod_specs(document):
                for container in pod.get("containers") or []:
                    memory = (container.get("resources") or {}).get("requests", {}).get("memory")
                    total += _mebibytes(memory) if memory else 0
    return total


def test_readme_states_the_memory_the_release_requests(release_chart):
    """README's figures for Docker's memory are the rendered requests (kind's node needs ~1 GiB more)."""
    readme = (ROOT / "README.md").read_text()
    default = requested_memory(render(release_chart))
    small = requested_memory(render(release_chart, *VARIANTS["small"]))
    assert f"request {default / 1024:.1f} GiB" in readme and f"request {small / 1024:.1f} GiB" in readme
    assert small + 1024 <= 4096, "the small profile fits Docker's 4 GiB with kind's node"


def test_the_kafka_version_is_one_the_installed_strimzi_runs(release):
    _, documents = release
    version = next(d for d in documents if d["kind"] == "Kafka")["spec"]["kafka"]["version"]
    operator = next(
        d
        for d in documents
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "strimzi-cluster-operator"
    )
    env = {
        e["name"]: e.get("value", "") for e in operator["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    supported = re.findall(r"^\s*(\d+\.\d+\.\d+)=", env["STRIMZI_KAFKA_IMAGES"], re.M)
    assert version in supported, f"Kafka {version} is not one of {supported}"


def test_the_job_role_grants_what_the_flink_operator_s_own_job_role_does(release):
    _, documents = release
    roles = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Role"}

    def verbs(role: dict) -> dict[tuple[str, str], set[str]]:
        return {
            (group, resource): set(rule["verbs"])
            for rule in role["rules"]
            for group in rule["apiGroups"]
            for resource in rule["resources"]
        }

    assert verbs(roles[f"{RELEASE}-flink"]) == verbs(roles["flink"])


def test_kafka_creates_no_topic_a_client_asks_for(release):
    _, documents = release
    kafka = next(d for d in documents if d["kind"] == "Kafka")
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False


def test_the_small_profile_gives_the_flink_operator_a_heap_that_fits_its_limit(release_chart):
    """The operator's JVM gets a fixed heap (JVM_ARGS); its limit keeps 192 MiB for the rest of the JVM."""
    documents = render(release_chart, *VARIANTS["small"])
    operator = next(
        d
        for d in documents
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "flink-kubernetes-operator"
    )
    container = next(
        c
        for c in operator["spec"]["template"]["spec"]["containers"]
        if c["name"] == "flink-kubernetes-operator"
    )
    env = {e["name"]: e.get("value") or "" for e in container["env"]}
    heap = re.search(r"-Xmx(\d+)m\b", env["JVM_ARGS"])
    assert heap, f"no -Xmx in JVM_ARGS: {env['JVM_ARGS']!r}"
    limit = _mebibytes(container["resources"]["limits"]["memory"])
    assert int(heap.group(1)) + 192 <= limit, f"-Xmx{heap.group(1)}m in a {limit:.0f} MiB limit"
