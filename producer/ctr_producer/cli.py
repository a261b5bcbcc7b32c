"""``ctr produce``: run the ad-traffic simulator."""

import argparse
import logging
import signal
import sys

from ctr.processes import on_stop, stop_event
from ctr.settings.command_line import add_command, fail, flag, resolve
from ctr.settings.models import LiveSettings, ProducerSettings
from ctr_producer.config_source import ConfigSource, FileConfigSource
from ctr_producer.metrics import ProducerMetrics
from ctr_producer.run import ProducerFatalError, TrafficProducer

log = logging.getLogger("ctr.produce")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``produce`` subcommand."""
    add_command(
        subparsers,
        "produce",
        "send simulated impressions and clicks to Kafka",
        "Send impressions at a target rate and, for a share of them, a click after a random delay.",
        ProducerSettings,
        run,
    )


def _live_settings(
    parser: argparse.ArgumentParser, config: ProducerSettings
) -> tuple[LiveSettings, ConfigSource | None]:
    """The live settings to start with, and the source of their changes. A config file is read and
    validated here, once: its fields over the flags' and environment's values (a bad file ends the
    program with exit code 2). A ConfigMap's settings come later, from its watch."""
    if config.config_map is not None:
        from ctr_producer.config_map_source import ConfigMapConfigSource

        return config.live(), ConfigMapConfigSource(config.config_map, config.namespace)
    if config.config_file is None:
        return config.live(), None
    path = str(config.config_file)
    try:
        source = FileConfigSource(path)
        return config.updated(source.document), source
    except (OSError, ValueError) as err:
        fail(parser, f"{flag('config_file')} {path}: {err}")


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run the producer until a bound, SIGTERM or SIGINT; print the summary; return the exit code."""
    config = resolve(parser, args, ProducerSettings)
    live, source = _live_settings(parser, config)
    metrics = ProducerMetrics()
    metrics.serve(config.metrics_port)
    producer = TrafficProducer(config, live, source, metrics)
    on_stop(producer.request_stop)
    signal.signal(signal.SIGHUP, lambda *_: producer.reload_config())
    try:
        summary = producer.run()
    except ProducerFatalError as err:
        log.error("fatal Kafka error: %s", err)
        print(producer.summary.to_json(), flush=True)
        return 1
    if config.config_map is not None and not producer.stopped_by_request:
        metrics.completed.set(1)
        print(
            "[ctr produce] bounded run complete; waiting for SIGTERM "
            "(a Deployment would restart an exited pod)",
            file=sys.stderr,
            flush=True,
        )
        stop_event().wait()
    s = summary
    print(
        f"[ctr produce] done: impressions {s.impressions}, clicks {s.clicks}, "
        "clicks dropped at the drain deadline "
        f"{s.clicks_dropped}, delivery errors {s.delivery_errors}, config errors {s.config_errors}",
        file=sys.stderr,
        flush=True,
    )
    print(summary.to_json(), flush=True)
    return 0
