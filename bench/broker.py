"""Broker benchmark: the local Apache Kafka broker's start and stop times, the events/s one producer
delivers to it, and its resident memory under that load (what the demo needs).

Run: python bench/broker.py [--quick]
"""

import json
import subprocess
import tempfile
import time
from pathlib import Path

from common import Figure, TreeMemory, arguments, produce_command, report

from ctr.broker import DEFAULT_HEAP, KafkaBroker
from ctr.topics import TopicNames

TOP_RATE = 1_000_000
LOAD_RATE = 10_000


def fresh_topics(broker: KafkaBroker) -> TopicNames:
    """Topics of their own on ``broker``."""
    names = TopicNames.with_suffix(f"bench{time.monotonic_ns()}")
    broker.create_pipeline_topics(names)
    return names


def delivered_rate(broker: KafkaBroker, impressions: int) -> float:
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


def timed(action) -> float:
    """Seconds ``action()`` took."""
    started = time.monotonic()
    action()
    return time.monotonic() - started


def restarts_under_load(broker: KafkaBroker, restarts: int) -> tuple[list[float], list[float], list[float]]:
    """Stop (SIGTERM) and start ``broker`` ``restarts`` times, then kill (SIGKILL) and start it as often,
    while a producer sends 10,000 impressions/s: the seconds of each stop, each start after a stop and
    each start after a kill."""
    command = produce_command(broker.bootstrap_servers, fresh_topics(broker), rate=LOAD_RATE, seed=2)
    producer = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stops, starts, starts_after_kill = [], [], []
    try:
        for _ in range(restarts):
            stops.append(timed(broker.stop))
            starts.append(timed(broker.start))
        for _ in range(restarts):
            broker.kill()
            starts_after_kill.append(timed(broker.start))
    finally:
        producer.terminate()
        producer.wait(120)
    return stops, starts, starts_after_kill


def main() -> None:
    parser = arguments(__doc__, "a run of about two minutes")
    parser.add_argument("--impressions", type=int, default=500_000, help="impressions of the rate run")
    parser.add_argument("--restarts", type=int, default=3, help="stops and kills of the broker under load")
    args = parser.parse_args()
    if args.quick:
        args.impressions, args.restarts = 50_000, 1
    with tempfile.TemporaryDirectory(prefix="ctr-bench-broker-") as work:
        broker = KafkaBroker(Path(work) / "broker")
        first_start = timed(broker.start)
        try:
            assert broker.pid is not None
            with TreeMemory(broker.pid) as memory:
                rate = delivered_rate(broker, args.impressions)
            stops, starts, starts_after_kill = restarts_under_load(broker, args.restarts)
        finally:
            broker.stop()
    figures = [
        Figure("first start (format, start, accepts topics)", first_start, "s"),
        Figure("delivered rate, one producer", rate, "events/s", note=f"{args.impressions:,} impressions"),
        Figure(
            "broker resident memory while it takes that rate",
            memory.peak_mib,
            "MiB",
            note=f"peak; heap {DEFAULT_HEAP}",
        ),
        Figure(f"longest stop (SIGTERM) at {LOAD_RATE:,} impressions/s", max(stops), "s"),
        Figure("longest start after a stop", max(starts), "s", note="until it accepts topics"),
        Figure("longest start after a kill (SIGKILL)", max(starts_after_kill), "s", note="log recovery"),
    ]
    report("bench/broker", figures, args.quick)


if __name__ == "__main__":
    main()
