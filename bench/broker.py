"""Broker benchmark: what the durable embedded broker costs against the memory one (delivered
events/s from one producer), and how long its stop and start take under load (the request gate
waits for tansu's requests at a stop).

Run: python bench/broker.py [--quick]
"""

import json
import subprocess
import tempfile
import time
from pathlib import Path

from common import Figure, arguments, produce_command, report

from ctr.broker import EmbeddedBroker
from ctr.topics import TopicNames

TOP_RATE = 1_000_000
LOAD_RATE = 10_000


def fresh_topics(broker: EmbeddedBroker) -> TopicNames:
    """Topics of their own on ``broker``."""
    names = TopicNames.with_suffix(f"bench{time.monotonic_ns()}")
    broker.create_topics(names.all())
    return names


def delivered_rate(broker: EmbeddedBroker, impressions: int) -> float:
    """Events (impressions and their clicks) per second from the start of ``ctr produce`` sending
    ``impressions`` as fast as it can to its exit, every event delivered."""
    command = produce_command(
        broker.bootstrap_servers, fresh_topics(broker), rate=TOP_RATE, max_events=impressions, seed=1
    )
    started = time.monotonic()
    finished = subprocess.run(command, capture_output=True, text=True, timeout=900)
    elapsed = time.monotonic() - started
    if finished.returncode != 0:
        raise RuntimeError(f"ctr produce failed: {finished.stderr[-2000:]}")
    summary = json.loads(finished.stdout.strip().splitlines()[-1])
    if summary["delivery_errors"]:
        raise RuntimeError(f"{summary['delivery_errors']} delivery errors")
    return (summary["impressions"] + summary["clicks"]) / elapsed


def stops_under_load(broker: EmbeddedBroker, stops: int) -> tuple[list[float], list[float], list[int]]:
    """Stop and start the durable ``broker`` ``stops`` times while a producer sends 10,000 impressions/s:
    the seconds each stop and each start took, and the requests each stop waited for."""
    command = produce_command(broker.bootstrap_servers, fresh_topics(broker), rate=LOAD_RATE, seed=2)
    producer = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stop_seconds, start_seconds, waited_for = [], [], []
    try:
        for _ in range(stops):
            time.sleep(3)
            started = time.monotonic()
            broker.stop(keep_storage=True)
            stop_seconds.append(time.monotonic() - started)
            waited_for.append(broker.last_stop.requests_answered)
            started = time.monotonic()
            broker.start()
            start_seconds.append(time.monotonic() - started)
    finally:
        producer.terminate()
        producer.wait(120)
    return stop_seconds, start_seconds, waited_for


def main() -> None:
    parser = arguments(__doc__, "a run of under a minute")
    parser.add_argument("--impressions", type=int, default=500_000, help="impressions of each rate run")
    parser.add_argument("--stops", type=int, default=5, help="stops of the durable broker under load")
    args = parser.parse_args()
    if args.quick:
        args.impressions, args.stops = 50_000, 2
    figures = []
    with EmbeddedBroker() as memory:
        memory_rate = delivered_rate(memory, args.impressions)
    figures.append(Figure("memory broker: delivered rate, one producer", memory_rate, "events/s"))
    with tempfile.TemporaryDirectory(prefix="ctr-bench-broker-") as work:
        with EmbeddedBroker(data_dir=Path(work) / "broker") as durable:
            durable_rate = delivered_rate(durable, args.impressions)
            stop_seconds, start_seconds, waited_for = stops_under_load(durable, args.stops)
    figures.append(
        Figure(
            "durable broker: delivered rate, one producer",
            durable_rate,
            "events/s",
            note=f"{durable_rate / memory_rate:.2f}× the memory broker; tansu on weed mini, behind the gate",
        )
    )
    figures.append(
        Figure(
            f"durable broker: longest stop at {LOAD_RATE:,} impressions/s",
            max(stop_seconds),
            "s",
            note=f"{args.stops} stops; waited for {'/'.join(map(str, waited_for))} requests",
        )
    )
    figures.append(
        Figure(
            "durable broker: longest start after a stop",
            max(start_seconds),
            "s",
            note="until it answers metadata; the S3 server keeps running",
        )
    )
    report("bench/broker", figures, args.quick)


if __name__ == "__main__":
    main()
