"""``ctr broker``: run the local Kafka broker in the foreground with ctr's topics."""

import argparse
from pathlib import Path

from ctr import topics
from ctr.broker import KAFKA_VERSION, BrokerError, KafkaBroker
from ctr.processes import stop_event
from ctr.settings.command_line import add_command, env_var, resolve
from ctr.settings.models import BrokerSettings


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``broker`` subcommand."""
    add_command(
        subparsers,
        "broker",
        f"run Apache Kafka {KAFKA_VERSION} on 127.0.0.1 with ctr's topics",
        f"Start Apache Kafka {KAFKA_VERSION} (one KRaft node, its topics kept in --broker-data-dir), "
        "create the topics, print the bootstrap address, stop on Ctrl-C.",
        BrokerSettings,
        run,
    )


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run the broker until SIGINT or SIGTERM; return the exit code."""
    config = resolve(parser, args, BrokerSettings)
    stop = stop_event()
    names = topics.DEFAULT_NAMES.all()
    data_dir = Path(config.broker_data_dir)
    broker = KafkaBroker(data_dir, port=config.broker_port, heap=config.broker_heap)
    print(f"ctr broker: starting Apache Kafka {KAFKA_VERSION} in {data_dir}", flush=True)
    try:
        broker.start()
        broker.create_pipeline_topics(partitions=config.partitions)
        print(
            f"ctr broker: {broker.bootstrap_servers} (topics {', '.join(names)}, "
            f"{config.partitions} partitions, kept in {data_dir}, log {broker.log_path}); Ctrl-C stops it",
            flush=True,
        )
        print(f"export {env_var('bootstrap_servers')}={broker.bootstrap_servers}", flush=True)
        while not stop.wait(1.0):
            broker.check_alive()
    except BrokerError as err:
        print(f"ctr broker: {err}", flush=True)
        return 1
    finally:
        broker.stop()
    print("ctr broker: stopped", flush=True)
    return 0
