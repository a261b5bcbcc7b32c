"""A Flink cluster of processes on 127.0.0.1, started from PyFlink's own launchers the way the Flink
Kubernetes Operator starts one: a JobManager in application mode that runs a program (an entry class
and its arguments, as a FlinkDeployment's ``job`` names them), and TaskManagers.

Its configuration is the distribution's config.yaml (PyFlink's, as the image's), the cluster's
options over it (``ctr_job.cluster_config``, as the operator puts a FlinkDeployment's
``flinkConfiguration`` over the image's), and last the local places: addresses, ports, directories,
memory sizes, and no high availability (there is no Kubernetes API to keep it in: a JobManager lost
is started again with ``--from-checkpoint latest``).
"""

import json
import os
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import yaml

from ctr.processes import ChildProcess, free_port
from ctr_job.runtime import LOCAL_GC, LOG4J_PROPERTIES

#: How long the JobManager's REST API may take to answer after it started.
REST_TIMEOUT = 120.0
#: How long a TaskManager may take to stop on SIGTERM.
STOP_TIMEOUT = 30.0


def pyflink_home() -> Path:
    """The Flink distribution inside the PyFlink wheel (bin/, conf/, lib/, opt/, plugins/)."""
    import pyflink

    return Path(pyflink.__file__).resolve().parent


def _flatten(tree: dict, prefix: str = "") -> dict[str, str]:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat


def distribution_configuration() -> dict[str, str]:
    """The distribution's conf/config.yaml, as flat keys."""
    return _flatten(yaml.safe_load((pyflink_home() / "conf" / "config.yaml").read_text()))


def local_configuration(
    cluster: dict[str, str], rest_port: int, tmp_dir: Path, heap: str, metrics: bool
) -> dict[str, str]:
    """The local cluster's whole configuration: the distribution's, the ``cluster`` options, the local places.

    ``heap`` is the JobManager's heap and each TaskManager's task heap (its managed memory as the
    cluster's options say). Without ``metrics`` the Prometheus reporter is dropped; with it, its port
    must be a range of one port per process (the JobManager starts first and takes the first).
    """
    options = {
        "jobmanager.rpc.address": "localhost",
        "jobmanager.rpc.port": str(free_port()),
        "jobmanager.bind-host": "localhost",
        "taskmanager.host": "localhost",
        "taskmanager.bind-host": "localhost",
        "rest.address": "127.0.0.1",
        "rest.bind-address": "127.0.0.1",
        "rest.port": str(rest_port),
        "high-availability.type": "NONE",
        "io.tmp.dirs": str(tmp_dir),
        "python.client.executable": sys.executable,
        "jobmanager.memory.heap.size": heap,
        "taskmanager.memory.task.heap.size": heap,
    }
    dropped: tuple[str, ...] = ("jobmanager.memory.process.size", "taskmanager.memory.process.size")
    if not metrics:
        dropped += ("metrics.reporter.prom.",)
    merged = {**distribution_configuration(), **cluster, **options}
    return {key: value for key, value in merged.items() if not key.startswith(dropped)}


def jvm_args() -> str:
    """``JVM_ARGS`` of the cluster's JVMs: the given ones, and the local garbage collector unless they
    name one."""
    given = os.environ.get("JVM_ARGS", "")
    return " ".join(
        part for part in (given, "" if re.search(r"-XX:[+]Use\w*GC\b", given) else LOCAL_GC) if part
    )


def rest(port: int, path: str, method: str = "GET") -> dict | None:
    """The answer of the Flink REST API on 127.0.0.1:``port`` to ``method path``; None while it does not
    answer."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None
    return json.loads(body) if body else {}


def jobs(port: int) -> list[dict] | None:
    """The jobs /jobs/overview lists on the REST API at ``port`` (id ``jid``, ``state``); None while it
    does not answer."""
    overview = rest(port, "/jobs/overview")
    return None if overview is None else overview.get("jobs", [])


def running_job(port: int) -> str | None:
    """The id of the job the REST API at ``port`` reports RUNNING, else None."""
    running = [job["jid"] for job in jobs(port) or [] if job["state"] == "RUNNING"]
    return running[0] if running else None


class LocalCluster:
    """The JobManager and TaskManagers of one program; files in ``work`` (config, lib, logs)."""

    def __init__(
        self,
        work: Path,
        configuration: dict[str, str],
        jars: list[Path],
        log_level: str,
        taskmanagers: int,
    ) -> None:
        self.work = work.resolve()
        self.rest_port = int(configuration["rest.port"])
        self.taskmanagers = taskmanagers
        self.jobmanager_output = self.work / "jobmanager.out"
        self.jobmanager = ChildProcess(self.jobmanager_output)
        self.taskmanager_processes: list[ChildProcess] = []
        self._env = self._prepare(configuration, jars, log_level)

    @property
    def web_ui(self) -> str:
        """The address of the Flink Web UI (and REST API)."""
        return f"http://127.0.0.1:{self.rest_port}"

    def _prepare(self, configuration: dict[str, str], jars: list[Path], log_level: str) -> dict[str, str]:
        home = pyflink_home()
        conf, lib = self.work / "flink-conf", self.work / "flink-lib"
        for folder in (conf, lib, self.work / "pids"):
            folder.mkdir(parents=True, exist_ok=True)
        (conf / "config.yaml").write_text(yaml.safe_dump(configuration, sort_keys=True))
        (conf / "log4j-console.properties").write_text(LOG4J_PROPERTIES.format(level=log_level))
        for old in lib.iterdir():
            old.unlink()
        # As the job image: the distribution's lib/, the Python driver, ctr's jar and the connectors.
        for jar in [
            *sorted((home / "lib").glob("*.jar")),
            *sorted((home / "opt").glob("flink-python-*.jar")),
            *jars,
        ]:
            (lib / jar.name).symlink_to(jar.resolve())
        return {
            "FLINK_HOME": str(home),
            "FLINK_CONF_DIR": str(conf),
            "FLINK_LIB_DIR": str(lib),
            "FLINK_PLUGINS_DIR": str(home / "plugins"),
            "FLINK_LOG_DIR": str(self.work),
            "FLINK_PID_DIR": str(self.work / "pids"),
            "JVM_ARGS": jvm_args(),
        }

    def start(self, entry_class: str, args: list[str], stopped: Callable[[], bool] = lambda: False) -> None:
        """Start the JobManager running ``entry_class`` with ``args``, wait for its REST API (or until
        ``stopped``), then start the TaskManagers. ChildExited or TimeoutError if the JobManager does
        not come up."""
        home = pyflink_home()
        self.jobmanager.start(
            [
                str(home / "bin" / "standalone-job.sh"),
                "start-foreground",
                "--job-classname",
                entry_class,
                *args,
            ],
            self._env,
        )
        self.jobmanager.wait_ready(lambda: stopped() or self.jobs() is not None, REST_TIMEOUT)
        for _ in range(0 if stopped() else self.taskmanagers):
            self.taskmanager_processes.append(self._start_taskmanager(len(self.taskmanager_processes)))

    def _start_taskmanager(self, number: int) -> ChildProcess:
        process = ChildProcess(self.work / f"taskmanager-{number}.out")
        process.start([str(pyflink_home() / "bin" / "taskmanager.sh"), "start-foreground"], self._env)
        return process

    def replace_exited_taskmanagers(self) -> list[tuple[int, int]]:
        """Start a new TaskManager for each one that exited (as Kubernetes restarts a pod); return the
        numbers and exit codes of those that exited."""
        exited = []
        for number, process in enumerate(self.taskmanager_processes):
            code = process.exit_code()
            if code is not None:
                exited.append((number, code))
                process.stop()
                self.taskmanager_processes[number] = self._start_taskmanager(number)
        return exited

    def jobs(self) -> list[dict] | None:
        """The jobs /jobs/overview lists (id ``jid``, ``state``); None while the REST API does not answer."""
        return jobs(self.rest_port)

    def running_job(self) -> str | None:
        """The id of the job when the REST API reports it RUNNING, else None."""
        return running_job(self.rest_port)

    def cancel(self, job_id: str) -> bool:
        """Ask the JobManager to cancel the job; False if its REST API does not answer."""
        return rest(self.rest_port, f"/jobs/{job_id}?mode=cancel", method="PATCH") is not None

    def stop(self, timeout: float) -> None:
        """Stop the JobManager (SIGTERM; SIGKILL after ``timeout``), then every TaskManager."""
        self.jobmanager.stop(timeout)
        for process in self.taskmanager_processes:
            process.stop(STOP_TIMEOUT)
