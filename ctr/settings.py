"""The one definition of every ctr setting and of the names it goes by.

A setting named ``max-click-delay`` is the flag ``--max-click-delay``, the environment variable
``CTR_MAX_CLICK_DELAY``, and the field ``maxClickDelay`` in a config file, a ``Producer``
custom resource and the Helm values. A flag beats the environment, which beats the default.
"""

import argparse
import os
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Optional

from ctr import topics
from ctr.campaigns import parse_campaigns, parse_weights
from ctr.durations import parse_duration

ENV_PREFIX = "CTR_"


@dataclass(frozen=True)
class Setting:
    """One configurable value: its name, how to parse it, its default and what it means."""

    name: str
    parse: Callable[[str], Any]
    default: Optional[str]
    help: str
    live: bool = False

    @property
    def flag(self) -> str:
        """The command-line flag."""
        return f"--{self.name}"

    @property
    def env(self) -> str:
        """The environment variable."""
        return ENV_PREFIX + self.name.upper().replace("-", "_")

    @property
    def field(self) -> str:
        """The camelCase key in config files, ``Producer`` specs and Helm values."""
        head, *rest = self.name.split("-")
        return head + "".join(part.capitalize() for part in rest)

    @property
    def dest(self) -> str:
        """The attribute name on parsed arguments."""
        return self.name.replace("-", "_")

    def parse_text(self, text: str) -> Any:
        """Parse ``text`` as this setting, raising ValueError that names the problem."""
        return self.parse(str(text).strip())


def _number(kind: Callable[[str], Any], low: float, high: float = float("inf"), low_open: bool = False) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a {'whole number' if kind is int else 'number'}") from None
        if value < low or (low_open and value == low) or value > high:
            bound = f"{'>' if low_open else '>='} {low:g}" + (f" and <= {high:g}" if high != float("inf") else "")
            raise ValueError(f"{text} is out of range (must be {bound})")
        return value

    return parse


def _text(text: str) -> str:
    if not text:
        raise ValueError("must not be empty")
    return text


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        for choice in choices:
            if text.lower() == choice.lower():
                return choice
        raise ValueError(f"{text!r} is not one of {', '.join(choices)}")

    return parse


def _readable_file(text: str) -> str:
    if not os.path.isfile(text) or not os.access(text, os.R_OK):
        raise ValueError(f"{text!r} is not a readable file")
    return text


def _duration(text: str) -> float:
    return parse_duration(text)


BOOTSTRAP_SERVERS = Setting("bootstrap-servers", _text, "localhost:9092", "Kafka bootstrap servers (host:port[,host:port])")
IMPRESSIONS_TOPIC = Setting("impressions-topic", _text, topics.IMPRESSIONS, "topic of impression events")
CLICKS_TOPIC = Setting("clicks-topic", _text, topics.CLICKS, "topic of click events")
DLQ_TOPIC = Setting("dlq-topic", _text, topics.DLQ, "dead-letter topic for malformed messages")
PARTITIONS = Setting("partitions", _number(int, 1), str(topics.DEFAULT_PARTITIONS), "partitions of each topic created")

RATE = Setting("rate", _number(float, 0, 1_000_000, low_open=True), "10", "target impressions per second", live=True)
CLICK_PROBABILITY = Setting("click-probability", _number(float, 0, 1), "0.25", "probability that an impression is clicked (campaigns with a true CTR use that instead)", live=True)
MAX_CLICK_DELAY = Setting("max-click-delay", _duration, "10s", "a click comes a uniform random delay in [0, this] after its impression", live=True)
CAMPAIGNS = Setting("campaigns", parse_campaigns, "5", "a count N (campaign-1..N) or a list name[=trueCTR],...", live=True)
CAMPAIGN_WEIGHTS = Setting("campaign-weights", parse_weights, None, "relative weights w1,w2,... of the campaigns (round-robin when unset)", live=True)
STATE = Setting("state", _choice("Running", "Paused"), "Running", "Running sends impressions; Paused sends only already scheduled clicks", live=True)
SEED = Setting("seed", _number(int, 0), None, "seed for a reproducible run (random when unset)")
MAX_EVENTS = Setting("max-events", _number(int, 1), None, "stop after this many impressions (unbounded when unset)")
DURATION = Setting("duration", _duration, None, "stop after this long (unbounded when unset)")
DRAIN_TIMEOUT = Setting("drain-timeout", _duration, None, "on shutdown, send clicks coming due within this long (default: max-click-delay)")
CONFIG_FILE = Setting("config-file", _readable_file, None, "JSON/YAML file of live settings, re-read when it changes and on SIGHUP")
CONFIG_MAP = Setting("config-map", _text, None, "name of a Kubernetes ConfigMap of live settings (key settings.yaml), watched through the API")
NAMESPACE = Setting("namespace", _text, None, "Kubernetes namespace of the config map (default: the pod's own)")
METRICS_PORT = Setting("metrics-port", _number(int, 1, 65535), None, "serve Prometheus metrics on this port")
PROGRESS_INTERVAL = Setting("progress-interval", _duration, "5s", "how often to print a progress line to stderr")

PRODUCER_SETTINGS: tuple[Setting, ...] = (
    BOOTSTRAP_SERVERS, IMPRESSIONS_TOPIC, CLICKS_TOPIC, RATE, CLICK_PROBABILITY, MAX_CLICK_DELAY,
    CAMPAIGNS, CAMPAIGN_WEIGHTS, STATE, SEED, MAX_EVENTS, DURATION, DRAIN_TIMEOUT, CONFIG_FILE,
    CONFIG_MAP, NAMESPACE, METRICS_PORT, PROGRESS_INTERVAL,
)
LIVE_SETTINGS: tuple[Setting, ...] = tuple(s for s in PRODUCER_SETTINGS if s.live)


def add_command(subparsers: argparse._SubParsersAction, name: str, summary: str, description: str,
                command_settings: Iterable[Setting], run: Callable[[argparse.ArgumentParser, argparse.Namespace], int]) -> argparse.ArgumentParser:
    """Add the subcommand ``name`` with one flag per setting; ``run(parser, args)`` carries it out."""
    parser = subparsers.add_parser(name, help=summary, description=description)
    add_settings(parser, command_settings)
    parser.set_defaults(handler=lambda args: run(parser, args))
    return parser


def add_settings(parser: argparse.ArgumentParser, settings: Iterable[Setting]) -> None:
    """Add one flag per setting to ``parser``; its value is parsed by the setting."""
    for setting in settings:
        default = f" (default: {setting.default})" if setting.default is not None else ""
        parser.add_argument(
            setting.flag, dest=setting.dest, default=None, metavar=setting.dest.upper(),
            help=f"{setting.help}{default} [env {setting.env}]",
        )


def _given_text(args: argparse.Namespace, setting: Setting) -> tuple[Optional[str], str]:
    given = getattr(args, setting.dest, None)
    if given is not None:
        return given, setting.flag
    if os.environ.get(setting.env):
        return os.environ[setting.env], setting.env
    return setting.default, f"default of {setting.flag}"


def resolve_settings(parser: argparse.ArgumentParser, args: argparse.Namespace, settings: Iterable[Setting]) -> dict[str, Any]:
    """Return each setting's value (flag, else environment, else default), keyed by ``dest``.

    A bad value ends the program with exit code 2 and a one-line message that names the flag
    or environment variable.
    """
    values: dict[str, Any] = {}
    for setting in settings:
        text, source = _given_text(args, setting)
        try:
            values[setting.dest] = None if text is None else setting.parse_text(text)
        except ValueError as err:
            fail(parser, f"{source}: {err}")
    return values


def settings_environment(args: argparse.Namespace, settings: Iterable[Setting]) -> dict[str, str]:
    """The settings' texts as environment variables, to hand them to a child ``ctr`` process."""
    environment = {}
    for setting in settings:
        text, _ = _given_text(args, setting)
        if text is not None:
            environment[setting.env] = text
    return environment


def fail(parser: argparse.ArgumentParser, message: str) -> None:
    """End the program with exit code 2 and ``message`` on one line of stderr."""
    parser.exit(2, f"{parser.prog}: error: {message}\n")

BROKER_PORT = Setting("broker-port", _number(int, 1, 65535), None, "port of the embedded broker on 127.0.0.1 (a free one when unset)")
BROKER_STORAGE = Setting("broker-storage", _text, "memory://tansu/", "tansu storage engine URL (memory://tansu/ or s3://...)")
BROKER_SETTINGS: tuple[Setting, ...] = (BROKER_PORT, BROKER_STORAGE, PARTITIONS)

OUTPUT_DIR = Setting("output-dir", _text, "ctr-data/results", "directory of the committed CSV results (campaign_id=<id>/part-...)")
CHECKPOINT_DIR = Setting("checkpoint-dir", _text, "ctr-data/checkpoints", "directory of the job's checkpoints (retained on cancellation)")
CHECKPOINT_INTERVAL = Setting("checkpoint-interval", _duration, "10s", "how often the job checkpoints, and so commits results")
WINDOW = Setting("window", _duration, "30s", "size of the tumbling CTR windows")
JOIN_BOUND = Setting("join-bound", _duration, "15s", "a click counts if it comes within this long after its impression")
OUT_OF_ORDERNESS = Setting("out-of-orderness", _duration, "5s", "how late an event may come (watermark = max event time - this)")
IDLE_TIMEOUT = Setting("idle-timeout", _duration, "60s", "a partition with no events for this long stops holding the watermark back")
PARALLELISM = Setting("parallelism", _number(int, 1), "1", "parallelism of the job")
FROM_CHECKPOINT = Setting("from-checkpoint", _text, None, "a checkpoint path to start from, or 'latest' for the newest retained one in checkpoint-dir")
GROUP_ID = Setting("group-id", _text, "ctr-job", "Kafka consumer group of the job (offsets committed on checkpoints)")
RESTART_ATTEMPTS = Setting("restart-attempts", _number(int, 0), "3", "restarts after a failure before the job fails for good")
LOG_DIR = Setting("log-dir", _text, "ctr-data/logs", "directory of Flink's own log files")
FLINK_LOG_LEVEL = Setting("flink-log-level", _choice("ERROR", "WARN", "INFO", "DEBUG"), "WARN", "level of Flink's own log")
JOB_JARS = Setting("job-jars", _text, "auto", "jars the job adds to Flink: 'auto' (the Kafka connector and kafka-clients fetched once from PyPI, ctr's event format compiled once with javac), 'classpath' (all on Flink's classpath already, as in the job image), or paths a.jar,b.jar,c.jar")

JOB_SETTINGS: tuple[Setting, ...] = (
    BOOTSTRAP_SERVERS, IMPRESSIONS_TOPIC, CLICKS_TOPIC, DLQ_TOPIC, OUTPUT_DIR, CHECKPOINT_DIR, CHECKPOINT_INTERVAL,
    WINDOW, JOIN_BOUND, OUT_OF_ORDERNESS, IDLE_TIMEOUT, PARALLELISM, FROM_CHECKPOINT, GROUP_ID, RESTART_ATTEMPTS,
    LOG_DIR, FLINK_LOG_LEVEL, JOB_JARS,
)

NAMESPACES = Setting("namespaces", _text, None, "namespaces whose Producers the operator manages, a,b (all namespaces when unset)")
PEERING = Setting("peering", _text, "standalone", "'standalone' (one operator replica) or the name of a kopf peering object for several")
RESYNC_INTERVAL = Setting("resync-interval", _duration, "30s", "how often the operator reconciles every Producer and refreshes its status")
PRODUCER_IMAGE = Setting("producer-image", _text, "ctr-producer:0.1.0", "image of producer pods whose Producer names none")

OPERATOR_SETTINGS: tuple[Setting, ...] = (
    NAMESPACES, PEERING, RESYNC_INTERVAL, PRODUCER_IMAGE, BOOTSTRAP_SERVERS, IMPRESSIONS_TOPIC, CLICKS_TOPIC,
)

DATA_DIR = Setting("data-dir", _text, "ctr-data/demo", "where the demo keeps results, checkpoints and logs (cleared at start)")

#: The demo runs the producer and the job with these settings; a demo shows a known true CTR per campaign.
DEMO_SETTINGS: tuple[Setting, ...] = (
    DATA_DIR, DURATION, replace(RATE, default="100"), CLICK_PROBABILITY, MAX_CLICK_DELAY,
    replace(CAMPAIGNS, default="campaign-1=0.05,campaign-2=0.10,campaign-3=0.20"), SEED,
    WINDOW, JOIN_BOUND, OUT_OF_ORDERNESS, CHECKPOINT_INTERVAL, IDLE_TIMEOUT, PARALLELISM,
)

#: Which ``ctr`` subcommand takes which settings.
COMMAND_SETTINGS: dict[str, tuple[Setting, ...]] = {"produce": PRODUCER_SETTINGS, "job": JOB_SETTINGS, "demo": DEMO_SETTINGS, "operator": OPERATOR_SETTINGS,
                                                   "broker": BROKER_SETTINGS}


def settings_table() -> str:
    """The Markdown table of every setting and the names it goes by (docs/architecture.md holds it)."""
    rows: dict[str, list[tuple[str, Setting]]] = {}
    for command, group in COMMAND_SETTINGS.items():
        for setting in group:
            rows.setdefault(setting.name, []).append((command, setting))
    lines = ["| flag | environment variable | field | commands | default | meaning |", "|---|---|---|---|---|---|"]
    for uses in rows.values():
        setting = uses[0][1]
        live = " (live)" if setting.live else ""
        default = f"`{setting.default}`" if setting.default is not None else "—"
        default += "".join(f" ({command}: `{other.default}`)" for command, other in uses[1:] if other.default != setting.default)
        commands = ", ".join(command for command, _ in uses)
        lines.append(f"| `{setting.flag}` | `{setting.env}` | `{setting.field}`{live} | {commands} | {default} | {setting.help} |")
    return "\n".join(lines) + "\n"
