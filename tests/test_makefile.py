"""The Makefile's Kubernetes path without Docker or a cluster: stand-ins record what it runs.

docker, kind, helm and kubectl are replaced by small scripts that log their arguments (kind keeps
whether the cluster exists), so the targets run for real and can be run twice.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from helm_tool import helm_binary

ROOT = Path(__file__).resolve().parent.parent
STAND_IN = """#!/bin/sh
echo "$(basename "$0") $*" >> "$CALLS"
if [ "$(basename "$0")" = kind ] && [ "$1" = get ] && [ -f "$STATE/cluster" ]; then echo ctr; fi
if [ "$(basename "$0")" = kind ] && [ "$1" = create ]; then touch "$STATE/cluster"; fi
if [ "$(basename "$0")" = kind ] && [ "$1" = delete ]; then rm -f "$STATE/cluster"; fi
exit 0
"""


@pytest.fixture
def stand_ins(tmp_path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("docker", "kind", "helm", "kubectl"):
        (bin_dir / tool).write_text(STAND_IN)
        (bin_dir / tool).chmod(0o755)
    return {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "CALLS": str(tmp_path / "calls"),
        "STATE": str(tmp_path),
    }


def make(env: dict[str, str], *targets: str) -> list[str]:
    """Run make targets; return the tool calls they made, one line each."""
    calls = Path(env["CALLS"])
    calls.unlink(missing_ok=True)
    result = subprocess.run(
        ["make", "--no-print-directory", *targets], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return calls.read_text().splitlines() if calls.exists() else []


def test_kind_up_twice_creates_the_cluster_once_and_reuses_it(stand_ins):
    first = make(stand_ins, "kind-up")
    assert any(call.startswith("kind create cluster --config kind-config.yaml") for call in first)
    second = make(stand_ins, "kind-up")
    assert not any(call.startswith("kind create") for call in second)
    assert "kind export kubeconfig --name ctr" in second
    for calls in (first, second):
        repo = next(n for n, call in enumerate(calls) if call.startswith("helm repo add"))
        build = calls.index("helm dependency build helm")
        assert repo < build and calls[repo].endswith("--force-update")
        assert [call.split()[0:2] for call in calls[:3]] == [["docker", "build"]] * 3


def test_images_are_built_for_this_machine_s_platform(stand_ins):
    machine = {"x86_64": "linux/amd64", "aarch64": "linux/arm64"}[os.uname().machine]
    calls = make(stand_ins, "images")
    assert len(calls) == 3 and all(f"--platform {machine}" in call for call in calls)


def test_undeploy_removes_the_custom_resources_before_the_release(stand_ins):
    assert make(stand_ins, "deploy")[-1].startswith("helm upgrade --install ctr ./helm")
    calls = make(stand_ins, "undeploy")
    deletes = [n for n, call in enumerate(calls) if call.startswith("kubectl delete")]
    uninstall = next(n for n, call in enumerate(calls) if call.startswith("helm uninstall"))
    deleted = " ".join(calls[n] for n in deletes)
    for kind in ("producers", "flinkdeployments", "kafkatopics", "kafkas"):
        assert kind in deleted
    assert all(n < uninstall for n in deletes) and all("--wait" in calls[n] for n in deletes)
    assert make(stand_ins, "deploy")[-1].startswith("helm upgrade --install ctr ./helm"), "deploy again"


def test_the_flink_operator_repository_is_the_chart_s():
    makefile = (ROOT / "Makefile").read_text()
    chart = yaml.safe_load((ROOT / "helm" / "Chart.yaml").read_text())
    repositories = {
        d["repository"] for d in chart["dependencies"] if not d["repository"].startswith("oci://")
    }
    assert repositories and all(f"FLINK_OPERATOR_REPO := {repo}" in makefile for repo in repositories)


def test_chart_lock_is_in_sync_and_the_added_repository_satisfies_helm(tmp_path):
    """The real helm, offline: past the lock's digest and the repository check, it fails only to download."""
    chart = tmp_path / "ctr"
    shutil.copytree(ROOT / "helm", chart, ignore=shutil.ignore_patterns("charts"))
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    repositories = [
        {"name": f"repo-{n}", "url": d["repository"]}
        for n, d in enumerate(meta["dependencies"])
        if not d["repository"].startswith("oci://")
    ]
    config = tmp_path / "repositories.yaml"
    config.write_text(
        yaml.safe_dump({"apiVersion": "", "generated": "0001-01-01T00:00:00Z", "repositories": repositories})
    )
    env = {
        **os.environ,
        "HELM_REPOSITORY_CONFIG": str(config),
        "HELM_REPOSITORY_CACHE": str(tmp_path / "cache"),
    }
    for without_repository in (False, True):
        if without_repository:
            config.write_text(yaml.safe_dump({"apiVersion": "", "repositories": []}))
        result = subprocess.run(
            [str(helm_binary()), "dependency", "build", str(chart)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "out of sync" not in result.stderr, result.stderr
        assert ("no repository definition" in result.stderr) == without_repository, result.stderr
