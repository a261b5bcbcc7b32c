"""Flink's configuration for the CTR job, and the process environment of its local JVM."""

import os
import re
from pathlib import Path
from typing import Any

from ctr.settings.models import JobSettings

LOG4J_PROPERTIES = """\
rootLogger.level = {level}
rootLogger.appenderRef.file.ref = MainAppender
appender.main.name = MainAppender
appender.main.type = File
appender.main.fileName = ${{sys:log.file}}
appender.main.append = true
appender.main.layout.type = PatternLayout
appender.main.layout.pattern = %d{{yyyy-MM-dd HH:mm:ss,SSS}} %-5p %c - %m%n
"""


def _ms(seconds: float) -> str:
    return f"{round(seconds * 1000)} ms"


#: The local JVM's garbage collector: on a small machine shared with the broker, the parallel
#: collector gave the job about 1.4 times the throughput of the default G1 (docs/benchmarks.md).
#: A GC named in ``JVM_ARGS`` wins.
LOCAL_GC = "-XX:+UseParallelGC"
#: Flink's own Prometheus reporter (the FlinkDeployment names the same factory).
PROMETHEUS_REPORTER = "org.apache.flink.metrics.prometheus.PrometheusReporterFactory"


def prepare_jvm_environment(log_dir: Path, level: str, tmp_dir: Path, heap: str) -> None:
    """Send Flink's log to ``log_dir`` at ``level`` and its temporary files to ``tmp_dir``, pick the
    local JVM's garbage collector (``LOCAL_GC``) unless ``JVM_ARGS`` names one, and its maximum heap
    (``heap``, as ``-Xmx``) unless ``JVM_ARGS`` sets one.

    Must run before the first PyFlink call starts the JVM.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    properties = log_dir / "log4j.properties"
    properties.write_text(LOG4J_PROPERTIES.format(level=level))
    os.environ["FLINK_LOG_DIR"] = str(log_dir.resolve())
    os.environ["LOG4J_PROPERTIES"] = str(properties.resolve())
    given = os.environ.get("JVM_ARGS", "")
    collector = "" if re.search(r"-XX:[+]Use\w*GC\b", given) else LOCAL_GC
    maximum = "" if re.search(r"-Xmx\d", given) else f"-Xmx{heap}"
    os.environ["JVM_ARGS"] = " ".join(
        part for part in (given, collector, maximum, f"-Djava.io.tmpdir={tmp_dir.resolve()}") if part
    )


#: Flink's options for each ``--restart-strategy``, given ``--restart-attempts``.
RESTART_STRATEGIES = {
    "fixed-delay": lambda attempts: {
        "restart-strategy.type": "fixed-delay",
        "restart-strategy.fixed-delay.attempts": str(attempts),
        "restart-strategy.fixed-delay.delay": "2 s",
    },
    "exponential-delay": lambda _: {
        "restart-strategy.type": "exponential-delay",
        "restart-strategy.exponential-delay.initial-backoff": "1 s",
        "restart-strategy.exponential-delay.max-backoff": "5 min",
        "restart-strategy.exponential-delay.backoff-multiplier": "2.0",
        "restart-strategy.exponential-delay.reset-backoff-threshold": "1 h",
        "restart-strategy.exponential-delay.jitter-factor": "0.1",
        "restart-strategy.exponential-delay.attempts-before-reset-backoff": "2147483647",
    },
}


def prometheus_reporter(port: int) -> dict[str, str]:
    """Flink's own Prometheus reporter on ``port`` (its jar is in Flink's plugins folder: PyFlink's, the
    image's)."""
    return {
        "metrics.reporter.prom.factory.class": PROMETHEUS_REPORTER,
        "metrics.reporter.prom.port": str(port),
    }


def flink_configuration(
    settings: JobSettings, jars: list[Path], tmp_dir: Path, restore_from: Path | None
) -> dict[str, str]:
    """The Flink options of the job: streaming, exactly-once checkpoints retained, bounded restarts."""
    config = {
        "execution.runtime-mode": "streaming",
        "pipeline.name": "ctr",
        "parallelism.default": str(settings.parallelism),
        "table.local-time-zone": "UTC",
        "table.exec.source.idle-timeout": _ms(settings.idle_timeout),
        "execution.checkpointing.interval": _ms(settings.checkpoint_interval),
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "execution.checkpointing.storage": "filesystem",
        "execution.checkpointing.dir": Path(settings.checkpoint_dir).resolve().as_uri(),
        "execution.checkpointing.savepoint-dir": (
            Path(settings.checkpoint_dir).resolve() / "savepoints"
        ).as_uri(),
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "execution.checkpointing.num-retained": "3",
        # A checkpoint that fails (its storage full or unwritable) fails alone: the job keeps running
        # and commits again with the next checkpoint that succeeds (docs/reliability.md).
        "execution.checkpointing.tolerable-failed-checkpoints": str(2**31 - 1),
        "state.backend.type": "hashmap",
        # A uid for every SQL operator (the Java ones set theirs): a checkpoint then maps onto the job
        # at another parallelism, where Flink's generated ids, which follow the chaining, differ.
        "table.exec.uid.generation": "ALWAYS",
        **RESTART_STRATEGIES[settings.restart_strategy](settings.restart_attempts),
        "io.tmp.dirs": str(tmp_dir.resolve()),
    }
    if settings.metrics_port is not None:
        config.update(prometheus_reporter(settings.metrics_port))
    if jars:
        config["pipeline.jars"] = ";".join(path.resolve().as_uri() for path in jars)
    if restore_from is not None:
        config["execution.state-recovery.path"] = restore_from.resolve().as_uri()
    return config


def table_environment(configuration: dict[str, str]) -> Any:
    """A streaming StreamTableEnvironment with ``configuration`` (its jars also on the client's class
    loader, so that the job can call ctr's Java classes while it builds the plan)."""
    from pyflink.common import Configuration
    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.table import EnvironmentSettings, StreamTableEnvironment

    config = Configuration()
    for key, value in configuration.items():
        config.set_string(key, value)
    table_env = StreamTableEnvironment.create(
        StreamExecutionEnvironment.get_execution_environment(config),
        EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(config).build(),
    )
    if "pipeline.jars" in configuration:
        table_env.get_config().set("pipeline.jars", configuration["pipeline.jars"])
    return table_env
