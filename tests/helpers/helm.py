"""The helm v3 binary for the chart tests (built once from Helm's own Go module at a pinned version),
the chart as those tests render it, and rendering."""

import copy
import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm"
#: The upstream CRDs (Strimzi's, the Flink operator's, the Prometheus operator's), when this machine has them.
SHARED_CRDS = ROOT.parent / "shared" / "crds"
#: The namespace the tests render the chart into.
NAMESPACE = "ctr"
#: The values that turn every monitoring object on: the PodMonitors, the dashboard, the alerting rules.
MONITORING_VALUES = [
    "--set",
    "metrics.podMonitors.enabled=true",
    "--set",
    "metrics.dashboard.enabled=true",
    "--set",
    "metrics.prometheusRule.enabled=true",
]
MODULE = "helm.sh/helm/v3"
VERSION = "v3.19.0"
#: What Helm's Makefile links into its release binaries of VERSION (`helm version` of the release):
#: the tag's commit, and the Kubernetes version of its client-go (v0.34.0), which `helm template`
#: and `helm lint` assume without a cluster (unset, Helm assumes 1.20).
LDFLAGS = {
    "internal/version.version": VERSION,
    "internal/version.gitCommit": "3d8990f0836691f0229297773f3524598f46bda6",
    "internal/version.gitTreeState": "clean",
    "pkg/chartutil.k8sVersionMajor": "1",
    "pkg/chartutil.k8sVersionMinor": "34",
    "pkg/lint/rules.k8sVersionMajor": "1",
    "pkg/lint/rules.k8sVersionMinor": "34",
}


class HelmUnavailable(RuntimeError):
    """helm cannot be built here (no Go toolchain)."""


def helm_binary() -> Path:
    """Path of helm v3.19.0 (``$CTR_HELM`` if set), built into the user cache by `go install` first."""
    if os.environ.get("CTR_HELM"):
        return Path(os.environ["CTR_HELM"])
    cache = Path(os.environ.get("CTR_CACHE_DIR", Path.home() / ".cache" / "ctr")) / f"helm-{VERSION}"
    target = cache / "helm"
    if target.is_file():
        return target
    go = shutil.which("go")
    if go is None:
        raise HelmUnavailable(
            f"go is missing: the chart tests build helm {VERSION} from its Go module; "
            "install Go >= 1.24 (https://go.dev/doc/install; Debian 13: apt-get install golang-go) "
            "or set CTR_HELM to a helm v3 binary"
        )
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as gobin:
        subprocess.run(
            [
                go,
                "install",
                "-trimpath",
                "-ldflags=-s -w "
                + " ".join(f"-X {MODULE}/{name}={value}" for name, value in LDFLAGS.items()),
                f"{MODULE}/cmd/helm@{VERSION}",
            ],
            env={**os.environ, "GOBIN": gobin, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"},
            check=True,
        )
        (Path(gobin) / "helm").replace(target)
    return target


def chart_without_dependencies(directory: Path) -> Path:
    """A copy of helm/ in ``directory``/ctr with the dependencies stripped from Chart.yaml (the
    operators' charts cannot be fetched offline): our own templates, exactly as they are."""
    copy_dir = directory / "ctr"
    shutil.copytree(CHART, copy_dir, ignore=shutil.ignore_patterns("charts", "Chart.lock"))
    meta = yaml.safe_load((copy_dir / "Chart.yaml").read_text())
    meta.pop("dependencies")
    (copy_dir / "Chart.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    return copy_dir


def render(helm: str, chart: Path, *args: str, release: str = "ctr") -> list[dict]:
    """The objects ``helm template RELEASE CHART --namespace NAMESPACE ARGS`` renders (a copy of the
    session's first rendering of the same command: a chart copy is never changed once rendered)."""
    return copy.deepcopy(template(helm, "template", release, str(chart), "--namespace", NAMESPACE, *args))


@functools.cache
def template(helm: str, *args: str) -> list[dict]:
    """The objects ``helm ARGS`` prints (``template ...``), rendered once per session; do not change them."""
    result = subprocess.run([helm, *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    # libyaml's loader: a release with its subcharts' CRDs is megabytes of YAML.
    return [doc for doc in yaml.load_all(result.stdout, Loader=yaml.CSafeLoader) if doc]
