"""Producer benchmark: top sustained rate, rate accuracy per 10 s window, CPU at 1,000/s, memory with
clicks pending.

Run: python bench/producer.py [--quick]
"""

import json
import os
import subprocess
import time
from collections import Counter

import psutil
from common import Figure, arguments, local_broker, produce_command, report
from confluent_kafka import Consumer, TopicPartition

from ctr.broker import KafkaBroker
from ctr.topics import TopicNames

TOP_RATE = 1_000_000


def produce(
    broker: KafkaBroker, names: TopicNames, one_core: bool = False, **settings: object
) -> tuple[dict, float, float]:
    """Run ``ctr produce`` with ``settings`` to completion; return its summary, steady CPU use (share of a
    core) and peak RSS (MiB).

    CPU is sampled while the producer sends, between a quarter and nine tenths of the run, so that
    start-up (imports, connecting) and the drain are left out.
    """
    command = produce_command(broker.bootstrap_servers, names, **settings)
    pin = (lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})) if one_core else None
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, preexec_fn=pin)
    handle = psutil.Process(process.pid)
    samples: list[tuple[float, float]] = []
    peak = 0
    while process.poll() is None:
        try:
            with handle.oneshot():
                times, rss = handle.cpu_times(), handle.memory_info().rss
        except psutil.NoSuchProcess:
            break
        samples.append((time.monotonic(), times.user + times.system))
        peak = max(peak, rss)
        time.sleep(0.25)
    stdout = process.stdout.read()
    assert process.wait() == 0, f"ctr produce failed: {command}"
    summary = json.loads(stdout.decode().strip().splitlines()[-1])
    first, last = samples[len(samples) // 4], samples[int(len(samples) * 0.9)]
    cpu_share = (last[1] - first[1]) / (last[0] - first[0]) if last[0] > first[0] else 0.0
    return summary, cpu_share, peak / 2**20


def send_times(broker: KafkaBroker, topic: str, count: int) -> list[float]:
    """The producer-side timestamps (CreateTime, seconds) of the first ``count`` messages of ``topic``."""
    consumer = Consumer(
        {"bootstrap.servers": broker.bootstrap_servers, "group.id": "bench", "enable.auto.commit": False}
    )
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    times: list[float] = []
    deadline = time.monotonic() + 120
    while len(times) < count and time.monotonic() < deadline:
        for message in consumer.consume(10_000, 1.0):
            if not message.error():
                times.append(message.timestamp()[1] / 1000)
    consumer.close()
    return sorted(times)


def window_deviation(times: list[float], rate: float, window: float) -> float:
    """The largest deviation (%) of the achieved rate from ``rate`` over whole windows of ``window`` s."""
    start = times[0]
    counts = Counter(int((t - start) // window) for t in times)
    whole = [counts[k] for k in range(int((times[-1] - start) // window))]
    return max(abs(c / window - rate) / rate * 100 for c in whole)


def main() -> None:
    parser = arguments(__doc__, "a run of under a minute")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of the top-rate runs")
    parser.add_argument(
        "--accuracy-seconds", type=float, default=30.0, help="seconds of each rate-accuracy run"
    )
    parser.add_argument("--rates", default="100,1000,10000,50000", help="target rates of the accuracy runs")
    args = parser.parse_args()
    if args.quick:
        # The smoke test's size: every run and figure, each run short (an accuracy run still spans
        # whole windows of 2 s).
        args.duration, args.accuracy_seconds, args.rates = 2.0, 4.0, "100,1000"
    window = 10.0 if not args.quick else 2.0
    figures = []
    with local_broker() as broker:

        def fresh() -> TopicNames:
            names = TopicNames.with_suffix(f"bench{time.monotonic_ns()}")
            broker.create_pipeline_topics(names)
            return names

        summary, cpu, _ = produce(
            broker,
            fresh(),
            one_core=True,
            rate=TOP_RATE,
            duration=f"{args.duration}s",
            max_click_delay="1s",
            seed=1,
        )
        top = (summary["impressions"] + summary["clicks"]) / args.duration
        figures.append(
            Figure(
                "top sustained rate, one process",
                top,
                "events/s",
                "≥ 100,000 events/s",
                f"{summary['impressions'] / args.duration:,.0f} impressions/s; pinned to one core",
            )
        )
        for rate in (float(r) for r in args.rates.split(",")):
            names = fresh()
            summary, cpu, _ = produce(
                broker, names, rate=f"{rate:g}", duration=f"{args.accuracy_seconds}s", max_click_delay="1s"
            )
            times = send_times(broker, names.impressions, summary["impressions"])
            figures.append(
                Figure(
                    f"rate accuracy at {rate:,.0f}/s, worst {window:g} s window",
                    window_deviation(times, rate, window),
                    "%",
                    "within ±1 %",
                )
            )
            if rate == 1000:
                figures.append(Figure("CPU at 1,000 impressions/s", cpu * 100, "% of a core", "< 5 %"))
        summary, _, peak = produce(
            broker, fresh(), rate=TOP_RATE, duration=f"{args.duration}s", max_click_delay="10s"
        )
        pending = summary["impressions"] / args.duration * 0.25 * 10
        figures.append(
            Figure(
                "peak memory, 10 s of clicks pending at the top rate",
                peak,
                "MiB",
                "",
                f"up to {pending:,.0f} clicks scheduled (rate × 0.25 × 10 s)",
            )
        )
    report("bench/producer", figures, args.quick)


if __name__ == "__main__":
    main()
