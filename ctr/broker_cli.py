"""``ctr broker``: run the embedded broker in the foreground with ctr's topics."""

import argparse
import signal
import threading

from ctr import settings, topics
from ctr.broker import BrokerError, EmbeddedBroker


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``broker`` subcommand."""
    settings.add_command(subparsers, "broker", "run an embedded Kafka-protocol broker (tansu) with ctr's topics",
                         "Start tansu on 127.0.0.1, create the topics, print the bootstrap address, stop on Ctrl-C.",
                         settings.BROKER_SETTINGS, run)


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run the broker until SIGINT or SIGTERM; return the exit code."""
    values = settings.resolve_settings(parser, args, settings.BROKER_SETTINGS)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    broker = EmbeddedBroker(port=values["broker_port"], storage=values["broker_storage"])
    try:
        broker.start()
        broker.create_topics(topics.TopicNames().all(), values["partitions"])
        print(f"ctr broker: {broker.bootstrap_servers} (topics {', '.join(topics.TopicNames().all())}, "
              f"{values['partitions']} partitions); Ctrl-C stops it", flush=True)
        print(f"export {settings.BOOTSTRAP_SERVERS.env}={broker.bootstrap_servers}", flush=True)
        while not stop.wait(1.0):
            broker.check_alive()
    except BrokerError as err:
        print(f"ctr broker: {err}", flush=True)
        return 1
    finally:
        broker.stop()
    print("ctr broker: stopped", flush=True)
    return 0
