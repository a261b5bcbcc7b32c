"""Prometheus for the tests: an endpoint scraped and its samples; a real Prometheus server and promtool
(Debian's ``prometheus`` package); the chart's alerting rules as Prometheus reads them; the Grafana
dashboard's queries."""

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from ctr.broker import free_port

from helpers.helm import render
from helpers.processes import wait_for

INSTALL = "apt-get install -y prometheus (Debian's package: prometheus and promtool)"
#: The chart's Grafana dashboard.
DASHBOARD = Path(__file__).resolve().parents[2] / "helm" / "dashboards" / "ctr.json"


def scrape(port: int) -> str:
    """The text of a Prometheus endpoint on 127.0.0.1."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return response.read().decode()


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """(name, labels, value) of every sample of a Prometheus text exposition."""
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def dashboard_queries() -> list[str]:
    """The PromQL expression of every target of every panel of the dashboard, as written there."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def binary(name: str) -> str:
    """The path of ``prometheus`` or ``promtool``; fails, saying how to install it, when absent."""
    path = shutil.which(name)
    assert path, f"{name} is missing: {INSTALL}"
    return path


def alerting_rules(helm: str, chart: Path, *values: str) -> dict:
    """The groups of the chart's PrometheusRule rendered with ``values`` (the rule switch on): a
    Prometheus rules file's content."""
    documents = render(helm, chart, "--set", "metrics.prometheusRule.enabled=true", *values)
    (rule,) = [d for d in documents if d["kind"] == "PrometheusRule"]
    return rule["spec"]


def write_rules(rules: dict, path: Path) -> Path:
    """Write ``rules`` (``alerting_rules``) as a rules file at ``path``."""
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    return path


class Prometheus:
    """Prometheus on a free 127.0.0.1 port with its storage in ``directory``, scraping ``targets``
    (scrape job name -> its host:port targets) every ``interval`` seconds, each target labelled with
    ``labels`` (as a PodMonitor labels a pod with its namespace), and evaluating the rules files
    ``rules``."""

    def __init__(
        self,
        directory: Path,
        targets: dict[str, list[str]],
        labels: dict[str, str],
        rules: list[Path],
        interval: int = 1,
    ) -> None:
        self.directory, self.interval = directory, interval
        self.config = directory / "prometheus.yml"
        self.config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": f"{interval}s", "evaluation_interval": f"{interval}s"},
                    "rule_files": [str(path) for path in rules],
                    "scrape_configs": [
                        {"job_name": name, "static_configs": [{"targets": addresses, "labels": labels}]}
                        for name, addresses in targets.items()
                    ],
                }
            )
        )
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "Prometheus":
        """Start the server and wait until it is ready."""
        log = (self.directory / "prometheus.log").open("w")
        self.process = subprocess.Popen(
            [
                binary("prometheus"),
                f"--config.file={self.config}",
                f"--storage.tsdb.path={self.directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_for(
            self._ready, timeout, f"Prometheus to be ready (log: {self.directory / 'prometheus.log'})", 0.2
        )
        return self

    def _ready(self) -> bool:
        assert self.process.poll() is None, (self.directory / "prometheus.log").read_text()[-3000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    def api(self, path: str, **params: str):
        """The ``data`` of a successful answer of Prometheus' HTTP API at /api/v1/``path``."""
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as response:
            answer = json.load(response)
        assert answer["status"] == "success", answer
        return answer["data"]

    def query(self, expr: str) -> list[dict]:
        """The series an instant query of ``expr`` returns (a vector's; a scalar as one series)."""
        data = self.api("query", query=expr)
        if data["resultType"] == "vector":
            return data["result"]
        return [{"metric": {}, "value": data["result"]}] if data["resultType"] == "scalar" else []

    def targets(self) -> dict[str, str]:
        """The health of every scrape job: "up" when each of its targets is, else a target's other health."""
        health: dict[str, str] = {}
        for target in self.api("targets")["activeTargets"]:
            job = target["labels"]["job"]
            health[job] = target["health"] if health.get(job, "up") == "up" else health[job]
        return health

    def firing(self) -> set[str]:
        """The names of the alerts firing now."""
        return {a["labels"]["alertname"] for a in self.api("alerts")["alerts"] if a["state"] == "firing"}

    def stop(self) -> None:
        """Stop the server."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(30)

    def __enter__(self) -> "Prometheus":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
