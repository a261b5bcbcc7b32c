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

from helpers.helm import helm_binary

ROOT = Path(__file__).resolve().parent.parent
STAND_IN = """#!/bin/sh
echo "$(basename "$0") $*" >> "$CALLS"
if [ "$(basename "$0")" = docker ] && [ "$1" = buildx ] && [ -n "$NO_BUILDX" ]; then exit 1; fi
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
        images = [n for n, call in enumerate(calls) if call.startswith("docker build ")]
        load = next(n for n, call in enumerate(calls) if call.startswith("kind load"))
        assert len(images) == 3 and max(images) < load


#: What the Makefile runs besides the stand-ins (a PATH of these alone hides the machine's tools).
SYSTEM_TOOLS = ("sh", "git", "uname", "dirname", "xargs", "cut", "grep", "sed", "basename", "make")


@pytest.mark.parametrize("missing", ["docker", "buildx", "kind", "helm", "kubectl"])
def test_kind_up_names_a_missing_tool_before_it_builds_anything(stand_ins, tmp_path, missing):
    system = tmp_path / "system"
    system.mkdir()
    for tool in SYSTEM_TOOLS:
        (system / tool).symlink_to(shutil.which(tool))
    bin_dir = Path(stand_ins["PATH"].split(":")[0])
    env = {**stand_ins, "PATH": f"{bin_dir}:{system}"}
    if missing == "buildx":
        env["NO_BUILDX"] = "1"
    else:
        (bin_dir / missing).unlink()
    result = subprocess.run(
        [str(system / "make"), "--no-print-directory", "kind-up"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert f"{missing} is missing" in result.stdout + result.stderr
    calls = Path(env["CALLS"]).read_text().splitlines() if Path(env["CALLS"]).exists() else []
    assert not [call for call in calls if not call.startswith("docker buildx version")], calls


def test_kind_up_loads_and_deploy_installs_the_tag_it_built(stand_ins):
    tag = subprocess.run(
        ["make", "--no-print-directory", "-s", "image-tag"],
        cwd=ROOT,
        env=stand_ins,
        capture_output=True,
        text=True,
    ).stdout.strip()
    commit = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    assert tag.startswith(commit.stdout.strip())
    calls = make(stand_ins, "kind-up") + make(stand_ins, "deploy")
    built = {call.split(" -t ")[1].split()[0] for call in calls if call.startswith("docker build ")}
    assert built == {f"ctr-{name}:{tag}" for name in ("job", "producer", "operator")}
    load = next(call for call in calls if call.startswith("kind load docker-image"))
    assert set(load.split()[5:]) == built
    assert f"--set images.tag={tag}" in calls[-1]


def _git(repo: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args]
    return subprocess.run(command, cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def test_the_image_tag_names_the_content(tmp_path):
    """The commit when the tree is clean; another tag for every different set of uncommitted changes."""
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ROOT / "Makefile", repo)
    shutil.copytree(ROOT / "tools", repo / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "job.py").write_text("one\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "first")

    def tag() -> str:
        result = subprocess.run(["make", "-s", "image-tag"], cwd=repo, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    clean = tag()
    assert clean == _git(repo, "rev-parse", "--short=12", "HEAD")
    (repo / "job.py").write_text("two\n")
    first_change = tag()
    (repo / "job.py").write_text("three\n")
    second_change = tag()
    assert first_change.startswith(f"{clean}-dirty-") and second_change.startswith(f"{clean}-dirty-")
    assert len({clean, first_change, second_change}) == 3
    (repo / "job.py").write_text("one\n")
    assert tag() == clean
    (repo / "new.py").write_text("new\n")
    untracked = tag()
    assert untracked.startswith(f"{clean}-dirty-") and untracked not in (first_change, second_change)
    (repo / "new.py").unlink()
    _git(repo, "commit", "-q", "-am", "second", "--allow-empty")
    (repo / "job.py").write_text("two\n")
    _git(repo, "commit", "-q", "-am", "third")
    assert tag() not in (clean, first_change)


def test_images_are_built_for_this_machine_s_platform(stand_ins):
    machine = {"x86_64": "linux/amd64", "aarch64": "linux/arm64"}[os.uname().machine]
    calls = [call for call in make(stand_ins, "images") if call.startswith("docker build ")]
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
