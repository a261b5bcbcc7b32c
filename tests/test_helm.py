"""The chart, checked offline with the real helm v3 binary and real schemas (no cluster here).

The dependency charts (Strimzi, Flink operator) cannot be downloaded here, so every test renders
a temporary copy of the chart with the dependencies stripped from Chart.yaml: our own templates,
exactly as they are, without the operators' charts.
"""

import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import jsonschema
import pytest
import yaml

from ctr import topics
from ctr.settings.command_line import env_var, flag
from ctr.settings.models import JobSettings, OperatorSettings
from ctr_operator import crd

from helpers.helm import LDFLAGS, MONITORING_VALUES, SHARED_CRDS, VERSION, render
from helpers.schemas import crd_from_file, kubernetes_errors, served_schema, strict

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = {
    "default": [],
    "persistent": [
        "--set",
        "kafka.storage.type=persistent-claim",
        "--set",
        "kafka.replicas=3",
        "--set",
        "job.storage.class=standard",
    ],
    "operators-disabled": [
        "--set",
        "strimzi-kafka-operator.enabled=false",
        "--set",
        "flink-kubernetes-operator.enabled=false",
    ],
    "producer": ["--set", "producer.enabled=true", "--set", "producer.spec.rate=250"],
    "monitoring": MONITORING_VALUES,
}
UPSTREAM = {
    "Kafka": "strimzi-040-Crd-kafka.yaml",
    "KafkaTopic": "strimzi-043-Crd-kafkatopic.yaml",
    "KafkaNodePool": "strimzi-045-Crd-kafkanodepool.yaml",
    "FlinkDeployment": "flink-flinkdeployments.flink.apache.org-v1.yml",
}


def test_chart_declares_both_operators_with_conditions():
    meta = yaml.safe_load((ROOT / "helm" / "Chart.yaml").read_text())
    dependencies = {d["name"]: d for d in meta["dependencies"]}
    assert set(dependencies) == {"strimzi-kafka-operator", "flink-kubernetes-operator"}
    for name, dependency in dependencies.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", dependency["version"]), f"{name} is not pinned"
        assert dependency["condition"] == f"{name}.enabled"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_lint_strict(helm, chart, variant):
    result = subprocess.run(
        [helm, "lint", "--strict", str(chart), *VARIANTS[variant]], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_builtin_objects_validate_for_kubernetes_1_30(helm, chart, variant):
    documents = [
        d
        for d in render(helm, chart, *VARIANTS[variant])
        if "/" not in d["apiVersion"]
        or d["apiVersion"].split("/")[0].endswith("k8s.io")
        or d["apiVersion"].startswith("apps/")
    ]
    assert {d["kind"] for d in documents} >= {
        "Deployment",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "PersistentVolumeClaim",
        "Service",
        "Pod",
    }
    assert kubernetes_errors(documents, "1.30.0") == []


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_custom_resources_validate_against_the_upstream_crds(helm, chart, variant):
    if not SHARED_CRDS.is_dir():
        pytest.skip(
            f"the upstream CRDs are not here ({SHARED_CRDS} is absent): "
            "Kafka, KafkaNodePool, KafkaTopic, FlinkDeployment unchecked"
        )
    documents = render(helm, chart, *VARIANTS[variant])
    checked = set()
    for document in documents:
        if document["kind"] in UPSTREAM:
            upstream = crd_from_file(SHARED_CRDS / UPSTREAM[document["kind"]])
            assert document["apiVersion"].split("/")[0] == upstream["spec"]["group"]
            assert set(document) <= {"apiVersion", "kind", "metadata", "spec"}
            schema = strict(served_schema(upstream, document["apiVersion"])["properties"]["spec"])
            errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(document["spec"]), key=str)
            assert not errors, f"{document['kind']} {document['metadata']['name']}: " + "; ".join(
                f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
            )
            checked.add(document["kind"])
    assert checked == set(UPSTREAM)


def test_producers_validate_against_our_crd(helm, chart):
    schema = strict(served_schema(crd.producer_crd(), f"{crd.GROUP}/{crd.VERSION}")["properties"]["spec"])
    producers = [d for d in render(helm, chart, *VARIANTS["producer"]) if d["kind"] == crd.KIND]
    producers += [
        yaml.safe_load(p.read_text()) for p in (ROOT / "k8s").glob("producer-*.yaml") if "crd" not in p.name
    ]
    assert len(producers) >= 3
    for producer in producers:
        jsonschema.Draft4Validator(schema).validate(producer["spec"])


def test_values_schema_rejects_wrong_types(helm, chart):
    for bad in (
        "kafka.replicas=many",
        "producer.spec.rate=-1",
        "job.settings.window=30",
        "job.ui.nodePort=80",
        "kafka.storage.type=tape",
        "images.pullPolicy=Sometimes",
    ):
        result = subprocess.run(
            [helm, "template", "ctr", str(chart), "--set", bad], capture_output=True, text=True
        )
        assert result.returncode != 0, f"{bad} was accepted"
        assert bad.split("=")[0].split(".")[-1] in result.stderr


def test_every_value_is_documented():
    text = (ROOT / "helm" / "values.yaml").read_text()
    documented = set(re.findall(r"## @param (\S+)", text))

    def leaves(node, prefix=""):
        for key, value in node.items():
            path = f"{prefix}{key}"
            if isinstance(value, dict) and value and not any(path.startswith(d) for d in documented):
                yield from leaves(value, path + ".")
            else:
                yield path

    missing = [
        path
        for path in leaves(yaml.safe_load(text))
        if not any(path == d or path.startswith(d + ".") for d in documented)
    ]
    assert not missing, f"values without a ## @param line: {missing}"


def test_chart_readme_table_is_generated_from_the_values():
    sys.path.insert(0, str(ROOT / "tools"))
    from helm_values_table import readme_with_table

    readme = (ROOT / "helm" / "README.md").read_text()
    assert readme_with_table(readme) == readme, "run make helm-docs"


def test_topics_equal_the_code(helm, chart):
    values = yaml.safe_load((ROOT / "helm" / "values.yaml").read_text())["topics"]
    names = topics.TopicNames()
    assert {key: (t["name"], t["partitions"]) for key, t in values.items()} == {
        role: (name, topics.DEFAULT_PARTITIONS) for role, name in asdict(names).items()
    }
    rendered = {
        d["spec"]["topicName"]: (d["spec"]["partitions"], {k: str(v) for k, v in d["spec"]["config"].items()})
        for d in render(helm, chart)
        if d["kind"] == "KafkaTopic"
    }
    assert rendered == {
        name: (topics.DEFAULT_PARTITIONS, settings.kafka_config())
        for name, settings in names.settings().items()
    }


def flink_deployment(helm, chart) -> dict:
    return next(d for d in render(helm, chart) if d["kind"] == "FlinkDeployment")


def test_flink_deployment_runs_the_image_s_job(helm, chart):
    dockerfile = (ROOT / "job" / "Dockerfile").read_text()
    job = flink_deployment(helm, chart)["spec"]["job"]
    args = job["args"]
    copied = re.search(r"^COPY job/ctr_job/flink_entry.py (\S+)$", dockerfile, re.M).group(1)
    assert args[:2] == ["-py", copied]
    flink_version = re.search(r"^ARG FLINK_VERSION=(\S+)$", dockerfile, re.M).group(1)
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'"apache-flink=={flink_version}"' in pyproject
    assert job["jarURI"] == f"local:///opt/flink/opt/flink-python-{flink_version}.jar"
    assert flink_deployment(helm, chart)["spec"]["flinkVersion"] == "v" + "_".join(
        flink_version.split(".")[:2]
    )
    assert (
        job["entryClass"] == "org.apache.flink.client.python.PythonDriver"
        and job["upgradeMode"] == "last-state"
    )


def test_flink_deployment_flags_are_flags_of_ctr_job(helm, chart):
    args = flink_deployment(helm, chart)["spec"]["job"]["args"][2:]
    flags = [a for a in args if a.startswith("--")]
    by_flag = {flag(name): name for name in JobSettings.model_fields}
    assert flags and set(flags) <= set(by_flag), set(flags) - set(by_flag)
    assert len(args) == 2 * len(flags), "every flag takes a value"
    JobSettings.model_validate({by_flag[given]: value for given, value in zip(args[::2], args[1::2])})


def test_the_values_schema_offers_the_job_flags_the_chart_does_not_set(helm, chart):
    sys.path.insert(0, str(ROOT / "tools"))
    from generate import CHART_SETS_FOR_THE_JOB

    args = flink_deployment(helm, chart)["spec"]["job"]["args"][2:]
    assert {flag(name) for name in CHART_SETS_FOR_THE_JOB} == set(args[::2])


def test_the_chart_keeps_savepoints_where_the_job_does(helm, chart):
    from ctr.settings.models import JobSettings as Settings
    from ctr_job.runtime import flink_configuration

    spec = flink_deployment(helm, chart)["spec"]
    args = spec["job"]["args"]
    job = flink_configuration(
        Settings(checkpoint_dir=args[args.index("--checkpoint-dir") + 1]), [], Path("/tmp"), None
    )
    for key in ("execution.checkpointing.dir", "execution.checkpointing.savepoint-dir"):
        assert spec["flinkConfiguration"][key] == job[key], key


def test_in_the_cluster_the_job_restarts_without_end_and_the_operator_restarts_a_failed_one(helm, chart):
    spec = flink_deployment(helm, chart)["spec"]
    args = spec["job"]["args"]
    assert args[args.index("--restart-strategy") + 1] == "exponential-delay"
    assert spec["flinkConfiguration"]["kubernetes.operator.job.restart.failed"] == "true"
    assert args[args.index("--kafka-wait") + 1] == "10m"


def test_the_task_slots_are_one_setting_of_one_name_and_one_default(helm, chart):
    """The chart's job.taskSlots is ``--task-slots`` by its camelCase name, its default the setting's
    (tools/generate.py writes it into values.yaml); the FlinkDeployment hands it to Flink, a profile
    overrides it."""
    from ctr.settings.models import LocalJobSettings

    info = LocalJobSettings.model_fields["task_slots"]
    values = yaml.safe_load((ROOT / "helm" / "values.yaml").read_text())["job"]
    assert info.alias == "taskSlots" and values[info.alias] == info.default
    assert "slots" not in values["taskManager"], "one name: job.taskSlots"
    config = flink_deployment(helm, chart)["spec"]["flinkConfiguration"]
    assert config["taskmanager.numberOfTaskSlots"] == str(info.default)
    small = next(d for d in render(helm, chart, *PROFILES["small"]) if d["kind"] == "FlinkDeployment")
    assert small["spec"]["flinkConfiguration"]["taskmanager.numberOfTaskSlots"] == "1"


def test_job_settings_in_values_become_flags_the_job_takes(helm, chart):
    args = flink_deployment_with(
        helm, chart, "--set", "job.settings.window=1m", "--set", "job.settings.restartAttempts=5"
    )
    assert args[args.index("--window") + 1] == "1m" and args[args.index("--restart-attempts") + 1] == "5"


def flink_deployment_with(helm, chart, *values: str) -> list[str]:
    return next(d for d in render(helm, chart, *values) if d["kind"] == "FlinkDeployment")["spec"]["job"][
        "args"
    ]


def test_flink_pods_keep_state_on_the_volume(helm, chart):
    spec = flink_deployment(helm, chart)["spec"]
    pod = spec["podTemplate"]["spec"]
    mount = pod["containers"][0]["volumeMounts"][0]
    assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == "ctr-flink-data"
    assert pod["securityContext"]["fsGroup"] == 9999
    data = mount["mountPath"]
    assert spec["flinkConfiguration"]["execution.checkpointing.dir"] == f"file://{data}/checkpoints"
    assert spec["flinkConfiguration"]["high-availability.type"] == "kubernetes"
    args = spec["job"]["args"]
    assert args[args.index("--output-dir") + 1].startswith(data) and args[
        args.index("--checkpoint-dir") + 1
    ].startswith(data)


def test_image_names_equal_the_makefile_and_the_tag_is_the_one_given(helm, chart):
    makefile = (ROOT / "Makefile").read_text()
    names = dict(re.findall(r"^(\w+)_IMAGE := ([\w-]+):\$\(IMAGE_TAG\)$", makefile, re.M))
    values = yaml.safe_load((ROOT / "helm" / "values.yaml").read_text())["images"]
    assert (values["job"], values["producer"], values["operator"]) == (
        names["JOB"],
        names["PRODUCER"],
        names["OPERATOR"],
    )
    tag = "0123456789ab-dirty-01234567"
    documents = render(helm, chart, "--set", f"images.tag={tag}")
    operator = next(d for d in documents if d["kind"] == "Deployment")
    container = operator["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert (
        container["image"] == f"{names['OPERATOR']}:{tag}"
        and env["CTR_PRODUCER_IMAGE"] == f"{names['PRODUCER']}:{tag}"
    )
    job = next(d for d in documents if d["kind"] == "FlinkDeployment")
    assert job["spec"]["image"] == f"{names['JOB']}:{tag}"
    assert set(env) <= {env_var(name) for name in OperatorSettings.model_fields}


def pods_of(documents: list[dict]) -> list[tuple[str, dict]]:
    pods = []
    for document in documents:
        if document["kind"] == "Deployment":
            pods.append((document["metadata"]["name"], document["spec"]["template"]["spec"]))
        elif document["kind"] == "Pod":
            pods.append((document["metadata"]["name"], document["spec"]))
        elif document["kind"] == "FlinkDeployment":
            pods.append((document["metadata"]["name"], document["spec"]["podTemplate"]["spec"]))
    return pods


def test_our_pods_are_hardened(helm, chart):
    pods = pods_of(render(helm, chart))
    assert len(pods) == 3
    for name, pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False and context["capabilities"] == {
                "drop": ["ALL"]
            }, name
            if name != "ctr-job":
                assert context["readOnlyRootFilesystem"] is True, name
                assert container["resources"]["requests"] and container["resources"]["limits"], name


def test_kind_config_maps_the_flink_ui_port():
    config = yaml.safe_load((ROOT / "kind-config.yaml").read_text())
    mapping = config["nodes"][0]["extraPortMappings"][0]
    node_port = yaml.safe_load((ROOT / "helm" / "values.yaml").read_text())["job"]["ui"]["nodePort"]
    assert config["kind"] == "Cluster" and mapping["containerPort"] == node_port
    assert f"localhost:{mapping['hostPort']}" in (ROOT / "README.md").read_text()


def test_helm_is_the_pinned_version(helm):
    result = subprocess.run(
        [helm, "version", "--template", "{{.Version}} {{.GitCommit}}"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [VERSION, LDFLAGS["internal/version.gitCommit"]]


def test_the_test_pod_waits_for_objects_the_release_renders(helm, chart):
    """Under any release name, every object `helm test` waits for is one the chart creates."""
    documents = render(helm, chart, release="shop")
    rendered = {(d["kind"].lower(), d["metadata"]["name"]) for d in documents}
    pod = next(d for d in documents if d["kind"] == "Pod" and d["metadata"]["name"] == "shop-test-pipeline")
    waited = [
        tuple(arg.split("/", 1))
        for container in pod["spec"]["containers"]
        for arg in container["args"][1:]
        if not arg.startswith("-")
    ]
    assert {kind for kind, _ in waited} == {"flinkdeployment", "kafkatopic"}
    assert len([w for w in waited if w[0] == "kafkatopic"]) == len(topics.TopicNames().all())
    assert set(waited) <= rendered, sorted(set(waited) - rendered)


def _seconds(duration: str) -> float:
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration).groups()
    return float(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


def _notes(helm: str, chart: Path, *args: str) -> str:
    """NOTES.txt as `helm install` prints it (`helm template` leaves it out): rendered into a ConfigMap."""
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "ctr"
        shutil.copytree(chart, copy)
        notes = (copy / "templates" / "NOTES.txt").read_text()
        (copy / "templates" / "_notes.tpl").write_text('{{- define "notes" -}}' + notes + "{{- end -}}")
        (copy / "templates" / "notes.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\n"
            'data:\n  notes: {{ include "notes" . | toJson }}\n'
        )
        documents = render(helm, copy, *args)
    return next(d for d in documents if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "notes")[
        "data"
    ]["notes"]


def test_the_documented_helm_test_timeout_covers_the_test_pod_s_wait(helm, chart):
    """`helm test` gives up after 5 minutes unless told: every `helm test` shown passes a longer --timeout."""
    wait = _seconds(yaml.safe_load((ROOT / "helm" / "values.yaml").read_text())["tests"]["timeout"])
    texts = {
        "README.md": (ROOT / "README.md").read_text(),
        "helm/README.md": (ROOT / "helm" / "README.md").read_text(),
        "NOTES.txt": _notes(helm, chart),
    }
    for name, text in texts.items():
        commands = re.findall(r"helm test [^\n`]*", text)
        assert commands, f"{name} shows no helm test"
        for command in commands:
            timeout = re.search(r"--timeout[ =](\S+)", command)
            assert timeout and _seconds(timeout.group(1)) >= wait + 60, f"{name}: {command}"
    longer = _notes(helm, chart, "--set", "tests.timeout=30m")
    timeout = re.search(r"helm test .*--timeout (\S+)", longer).group(1)
    assert _seconds(timeout) >= 31 * 60


def test_notes_and_readme_warn_of_job_not_found_and_port_forward_to_a_free_port(helm, chart):
    notes = _notes(helm, chart)
    kubernetes = (ROOT / "README.md").read_text().split("\n## Kubernetes\n", 1)[1]
    assert "Job Not Found" in notes and "Job Not Found" in kubernetes
    count = {3: "three", 4: "four", 5: "five"}[len(topics.TopicNames().all())]
    assert f"the {count} topics" in kubernetes
    forwards = re.findall(r"port-forward \S+ (\S+)", notes)
    assert forwards and all(f.split(":")[0] != "8081" for f in forwards), forwards


def _mib(size: str) -> float:
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)(m|g|Mi|Gi)", str(size)).groups()
    return float(number) * (1024 if unit in ("g", "Gi") else 1)


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def task_heap(process: float, config: dict) -> float:
    """MiB of task heap Flink's memory model leaves a TaskManager of this process size (Flink's defaults)."""
    flink = process - 256 - _clamp(0.1 * process, 192, 1024)  # metaspace, JVM overhead
    network = _clamp(0.1 * flink, 64, 1024)
    size = config.get("taskmanager.memory.managed.size")
    managed = _mib(size) if size else 0.4 * flink
    return flink - network - managed - 128 - 128  # framework heap and off-heap; no task off-heap


def jobmanager_heap(process: float) -> float:
    """MiB of JVM heap Flink's memory model leaves a JobManager of this process size."""
    return process - 256 - _clamp(0.1 * process, 192, 1024) - 128  # metaspace, overhead, off-heap


PROFILES = {"default": [], "small": ["--values", str(ROOT / "helm" / "values-small.yaml")]}
#: Task heap per TaskManager and JobManager heap, MiB, as values.yaml, values-small.yaml and README state.
STATED_HEAPS = {"default": (1108, 960), "small": (192, 288)}


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_each_profile_leaves_flink_a_sane_heap(helm, chart, profile):
    spec = next(d for d in render(helm, chart, *PROFILES[profile]) if d["kind"] == "FlinkDeployment")["spec"]
    config = spec["flinkConfiguration"]
    assert config["taskmanager.memory.managed.size"] == "64m", (
        "heap state, no Python UDFs: SQL's windows only"
    )
    tm = task_heap(_mib(spec["taskManager"]["resource"]["memory"]), config)
    jm = jobmanager_heap(_mib(spec["jobManager"]["resource"]["memory"]))
    assert tm >= 128 * int(config["taskmanager.numberOfTaskSlots"]), f"{tm} MiB of task heap"
    assert jm >= 256, f"{jm} MiB of JobManager heap (it also runs the job's Python driver)"
    assert (int(tm), int(jm)) == STATED_HEAPS[profile]
    stated_in = ROOT / "helm" / ("values.yaml" if profile == "default" else "values-small.yaml")
    for text in (stated_in.read_text(), (ROOT / "README.md").read_text()):
        assert f"{int(tm)} MiB" in text and f"{int(jm)} MiB" in text


def test_the_memory_model_gives_what_flink_logs_for_its_default_sizes():
    # Flink's default config.yaml: a 1728m TaskManager logs a 384mb task heap,
    # a 1600m JobManager a 1024mb heap.
    assert task_heap(1728, {}) == pytest.approx(384)
    assert jobmanager_heap(1600) == pytest.approx(1024)
    assert task_heap(1024, {}) == pytest.approx(25.6), "the small profile before: 40% managed memory"


def test_the_operator_runs_kopf_standalone(helm, chart):
    operator = next(d for d in render(helm, chart) if d["kind"] == "Deployment")
    env = {e["name"]: e["value"] for e in operator["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["CTR_PEERING"] == "standalone" and operator["spec"]["replicas"] == 1
    result = subprocess.run(
        [helm, "template", "ctr", str(chart), "--set", "operator.peering=shared"],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "peering" in result.stderr, (
        "no peering: the chart has no KopfPeering CRD"
    )


def test_kind_pins_a_node_image_of_the_chart_s_kubernetes():
    config = yaml.safe_load((ROOT / "kind-config.yaml").read_text())
    floor = re.search(
        r"(\d+)\.(\d+)", yaml.safe_load((ROOT / "helm" / "Chart.yaml").read_text())["kubeVersion"]
    )
    for node in config["nodes"]:
        image = re.fullmatch(r"kindest/node:v(\d+)\.(\d+)\.(\d+)", node["image"])
        assert image, f"{node['image']}: a kindest/node tag"
        assert tuple(map(int, image.groups()[:2])) >= tuple(map(int, floor.groups()))
    minimum = re.search(r"kind(?:\]\([^)]*\))? (v\d+\.\d+\.\d+) or later", (ROOT / "README.md").read_text())
    assert minimum and f"kind {minimum.group(1)} or later" in (ROOT / "Makefile").read_text()


def test_without_go_helm_names_what_to_install(tmp_path, monkeypatch):
    from helpers.helm import HelmUnavailable, helm_binary

    monkeypatch.delenv("CTR_HELM", raising=False)
    monkeypatch.setenv("CTR_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(HelmUnavailable) as missing:
        helm_binary()
    assert "\n" not in str(missing.value) and "install Go" in str(missing.value)
