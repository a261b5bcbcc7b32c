"""The Flink configuration of the job's cluster, defined once: the FlinkDeployment's
``flinkConfiguration`` (``tools/generate.py`` writes it into helm/templates/job/flink-deployment.yaml,
with template expressions for the places) and the local cluster's config.yaml (``ctr_job.local.cluster``,
with local places).

Only the places differ: the directories, the task slots and the Prometheus reporter's port; the local
cluster also sets its own addresses, high availability and Python interpreter over these
(``ctr_job.local.cluster.local_configuration``).
"""

import json
import textwrap
from dataclasses import dataclass

import yaml

from ctr_job.runtime import PROMETHEUS_REPORTER

#: Why a key has its value, written above it in the chart.
REASONS = {
    "taskmanager.memory.managed.size": "Little managed memory: the state is on the heap "
    "(HashMapStateBackend) and there are no Python UDFs, so Flink's default 40% would mostly go unused; "
    "but SQL's window aggregation buffers its rows there (with none, its operators fail to open: "
    "Initial Segment may not be null).",
    "python.client.executable": "The Python driver runs the job's program with the job image's "
    "interpreter (job/Dockerfile's virtualenv), not whichever python comes first on the PATH.",
    "kubernetes.operator.job.restart.failed": "A job that failed for good is started again from its "
    "last state by the Flink operator.",
}


#: The job image's Python: the interpreter of its virtualenv (job/Dockerfile), in which PyFlink and ctr are.
IMAGE_PYTHON = "/opt/venv/bin/python"


@dataclass(frozen=True)
class Places:
    """Where a cluster keeps its state and serves its metrics (paths without ``file://``)."""

    checkpoint_dir: str
    ha_dir: str
    slots: str
    metrics_port: str


def cluster_configuration(places: Places) -> dict[str, str]:
    """The cluster's Flink options at ``places``."""
    checkpoints = f"file://{places.checkpoint_dir}"
    return {
        "taskmanager.numberOfTaskSlots": places.slots,
        "taskmanager.memory.managed.size": "64m",
        "python.client.executable": IMAGE_PYTHON,
        "high-availability.type": "kubernetes",
        "high-availability.storageDir": f"file://{places.ha_dir}",
        "execution.checkpointing.dir": checkpoints,
        # The job keeps savepoints in <checkpoint-dir>/savepoints (job/ctr_job/runtime.py): the same here.
        "execution.checkpointing.savepoint-dir": f"{checkpoints}/savepoints",
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "kubernetes.operator.job.restart.failed": "true",
        "metrics.reporter.prom.factory.class": PROMETHEUS_REPORTER,
        "metrics.reporter.prom.port": places.metrics_port,
    }


#: The chart's places: template expressions of flink-deployment.yaml.
CHART_PLACES = Places(
    checkpoint_dir="{{ $checkpoints }}",
    ha_dir="{{ $data }}/ha",
    slots="{{ .Values.job.taskSlots | quote }}",
    metrics_port="{{ .Values.metrics.jobPort | quote }}",
)


def _yaml_value(value: str) -> str:
    """``value`` as YAML that reads back as that string (a template expression as it is)."""
    if "{{" in value or yaml.safe_load(value) == value:
        return value
    return json.dumps(value)


def chart_block(indent: str = "    ") -> str:
    """The ``flinkConfiguration`` lines of the chart's FlinkDeployment, each key's reason above it."""
    lines = []
    for key, value in cluster_configuration(CHART_PLACES).items():
        if key in REASONS:
            lines += [f"{indent}# {line}" for line in textwrap.wrap(REASONS[key], 96)]
        lines.append(f"{indent}{key}: {_yaml_value(value)}")
    return "\n".join(lines) + "\n"
