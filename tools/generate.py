"""Write the files generated from the settings registry: the Producer CRD, the chart's values schema,
the chart's copy of ``ctr job``'s defaults, the chart's default ``job.taskSlots`` (``--task-slots``); and
the FlinkDeployment's ``flinkConfiguration`` from the one definition of the cluster's Flink configuration
(``ctr_job.cluster_config``).

Run: python tools/generate.py   (``make generate``); ``--check`` fails, naming the file, when one is stale
(a test runs it).
"""

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from ctr.settings.models import JobSettings, LocalJobSettings
from ctr.settings.schema import properties
from ctr_job.cluster_config import chart_block
from ctr_operator.crd import crd_yaml
from ctr_operator.spec import ProducerSpec

ROOT = Path(__file__).resolve().parent.parent
CRD_FILES = (ROOT / "k8s" / "producer-crd.yaml", ROOT / "helm" / "crds" / "producer-crd.yaml")
VALUES_SCHEMA = ROOT / "helm" / "values.schema.json"
VALUES = ROOT / "helm" / "values.yaml"
#: ``ctr job``'s settings of the local Flink cluster that the chart sets as ``job.<camelCase name>``,
#: their default the setting's (the chart's TaskManagers are the local cluster's).
CHART_CLUSTER_SETTINGS = ["task_slots"]
FLINK_DEPLOYMENT = ROOT / "helm" / "templates" / "job" / "flink-deployment.yaml"
#: The lines of FLINK_DEPLOYMENT between these two (its flinkConfiguration) are generated.
BLOCK_START = "    # generated from job/ctr_job/cluster_config.py (make generate): edit it there\n"
BLOCK_END = "    # end of the generated block\n"
#: ``ctr job``'s defaults of the settings in job.settings, for templates that need a value unset there
#: (helm hides values.schema.json from ``.Files``).
JOB_DEFAULTS = ROOT / "helm" / "files" / "job-defaults.json"
#: ``ctr job`` settings the chart sets itself (templates/job/flink-deployment.yaml): not in job.settings.
CHART_SETS_FOR_THE_JOB = {
    "bootstrap_servers",
    "impressions_topic",
    "clicks_topic",
    "dlq_topic",
    "output_dir",
    "checkpoint_dir",
    "log_dir",
    "parallelism",
    "job_jars",
    "restart_strategy",
    "kafka_wait",
    "metrics_port",
    "results_topic",
    "publish_results",
    "live_topic",
}


def _object(props: dict[str, Any], description: str) -> dict[str, Any]:
    return {"type": "object", "description": description, "additionalProperties": False, "properties": props}


def values_schema(current: dict[str, Any]) -> dict[str, Any]:
    """The chart's values schema with its ``job.settings`` and ``producer`` blocks from the models."""
    schema = json.loads(json.dumps(current))
    job_fields = [name for name in JobSettings.model_fields if name not in CHART_SETS_FOR_THE_JOB]
    schema["properties"]["job"]["properties"]["settings"] = _object(
        properties(JobSettings, job_fields),
        "flags of `ctr job` by camelCase name (generated from ctr's settings)",
    )
    for field, schema_of in properties(LocalJobSettings, CHART_CLUSTER_SETTINGS).items():
        schema["properties"]["job"]["properties"][field] = schema_of
    kafka_wait = properties(JobSettings, ["kafka_wait"])["kafkaWait"]
    schema["properties"]["job"]["properties"]["kafkaWait"] = {
        k: v for k, v in kafka_wait.items() if k != "default"
    }
    schema["properties"]["producer"] = _object(
        {
            "enabled": {"type": "boolean"},
            "spec": _object(
                properties(ProducerSpec), "the demo Producer's spec (generated from ProducerSpec)"
            ),
        },
        "a Producer resource from these values",
    )
    return schema


def with_flink_configuration(template: str) -> str:
    """The FlinkDeployment ``template`` with its generated ``flinkConfiguration`` block rewritten."""
    start = template.index(BLOCK_START) + len(BLOCK_START)
    return template[:start] + chart_block() + template[template.index(BLOCK_END) :]


def with_cluster_defaults(values: str) -> str:
    """helm/values.yaml ``values`` with each of CHART_CLUSTER_SETTINGS' lines under ``job:`` set to the
    setting's default."""
    for field, schema_of in properties(LocalJobSettings, CHART_CLUSTER_SETTINGS).items():
        line = re.compile(rf"^(job:\n(?:(?:  .*|)\n)*?  {field}: ).*$", re.M)
        if not line.search(values):
            raise ValueError(f"helm/values.yaml has no job.{field}")
        default = json.dumps(schema_of["default"])
        values = line.sub(lambda match, default=default: match.group(1) + default, values, count=1)
    return values


def generated() -> dict[Path, str]:
    """Each generated file and the text it must hold."""
    files = {path: crd_yaml() for path in CRD_FILES}
    schema = values_schema(json.loads(VALUES_SCHEMA.read_text()))
    files[VALUES_SCHEMA] = json.dumps(schema, indent=2) + "\n"
    settings = schema["properties"]["job"]["properties"]["settings"]["properties"]
    defaults = {name: field["default"] for name, field in settings.items() if "default" in field}
    files[JOB_DEFAULTS] = json.dumps(defaults, indent=2) + "\n"
    files[FLINK_DEPLOYMENT] = with_flink_configuration(FLINK_DEPLOYMENT.read_text())
    files[VALUES] = with_cluster_defaults(VALUES.read_text())
    return files


def main() -> int:
    """Write the generated files, or with ``--check`` report the stale ones; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file is stale")
    args = parser.parse_args()
    stale = [path for path, text in generated().items() if not path.is_file() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is stale: run make generate", file=sys.stderr)
        return 1 if stale else 0
    for path, text in generated().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
