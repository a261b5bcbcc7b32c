"""``ctr broker``: run the embedded broker in the foreground with ctr's topics."""

import argparse
import signal
import threading
from pathlib import Path

from ctr import topics
from ctr.broker import BrokerError, EmbeddedBroker
from ctr.settings.command_line import add_command, env_var, resolve
from ctr.settings.models import BrokerSettings


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``broker`` subcommand."""
    add_command(
        subparsers,
        "broker",
        "run an embedded Kafka-protocol broker (tansu) with ctr's topics",
        "Start tansu on 127.0.0.1, create the topics, print the bootstrap address, stop on Ctrl-C.",
        BrokerSettings,
        run,
    )


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run the broker until SIGINT or SIGTERM; return the exit code."""
    config = resolve(parser, args, BrokerSettings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    names = topics.TopicNames().all()
    data_dir = None if config.broker_data_dir is None else Path(config.broker_data_dir)
    broker = EmbeddedBroker(
        port=config.broker_port,
        storage=config.broker_storage,
        data_dir=data_dir,
        log_path=None if data_dir is None else data_dir / "tansu.log",
    )
    kept = f"kept in {data_dir}" if data_dir else f"storage {broker.storage}"
    try:
        broker.start()
        broker.create_topics(names, config.partitions)
        print(
            f"ctr broker: {broker.bootstrap_servers} (topics {', '.join(names)}, "
            f"{config.partitions} partitions, {kept}); Ctrl-C stops it",
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
