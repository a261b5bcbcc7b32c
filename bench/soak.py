"""Soak: the whole one-machine pipeline at a steady rate with a live rate change and a pause/resume;
no error, memory flat after warm-up, and every committed row equal to the reference computed from
the events read back from the topics.

Run: python bench/soak.py [--quick]
"""

import json
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from common import (
    Figure,
    LiveHeap,
    TreeMemory,
    after_warm_up,
    arguments,
    early_and_late,
    job_command,
    local_broker,
    produce_command,
    producer_summary,
    report,
    trend_per_minute,
)
from confluent_kafka import Consumer, Producer, TopicPartition

from ctr.broker import KafkaBroker
from ctr.durations import parse_duration
from ctr.events import Click, Impression, decode_click, decode_impression, encode, message_key
from ctr.reference import reference_ctr
from ctr.settings.models import LocalJobSettings
from ctr.topics import TopicNames
from ctr_results.files import read_results


def read_back(broker: KafkaBroker, topic: str, count: int, decode) -> list:
    """Every message of ``topic`` (``count`` expected), decoded."""
    consumer = Consumer(
        {"bootstrap.servers": broker.bootstrap_servers, "group.id": "soak", "enable.auto.commit": False}
    )
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    events, idle_since = [], time.monotonic()
    while len(events) < count or time.monotonic() - idle_since < 2:
        batch = consumer.consume(20_000, 0.5)
        if batch:
            idle_since = time.monotonic()
        events += [decode(m.value()) for m in batch if not m.error()]
        if time.monotonic() - idle_since > 60:
            break
    consumer.close()
    return events


def close_all_windows(broker: KafkaBroker, names: TopicNames) -> None:
    """One far-future event per partition so that every real window closes."""
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
    future = int(time.time() * 1000) + 3_600_000
    for topic, make in (
        (names.impressions, lambda p: Impression(f"end-{p}", "end", "zz-end", future)),
        (names.clicks, lambda p: Click(f"end-click-{p}", f"end-{p}", "end", future)),
    ):
        for partition in producer.list_topics(topic, timeout=10).topics[topic].partitions:
            event = make(partition)
            producer.produce(topic, encode(event), message_key(event), partition=partition)
    assert producer.flush(30) == 0


def main() -> None:
    parser = arguments(__doc__, "a half-minute run")
    parser.add_argument("--minutes", type=float, default=15.0, help="length of the run")
    parser.add_argument("--rate", type=int, default=20_000, help="impressions per second")
    parser.add_argument(
        "--jvm-heap",
        default=LocalJobSettings.model_fields["jvm_heap"].default,
        help="the job's --jvm-heap (default: the job's default)",
    )
    args = parser.parse_args()
    window, checkpoint = "30s", "10s"
    if args.quick:
        # The smoke test's size: every phase (the rate change, the pause, the resume) and every figure,
        # in half a minute of traffic; the job starts while it runs and reads it all from the earliest offset.
        args.minutes, args.rate, window, checkpoint = 0.5, 2_000, "10s", "2s"
    window_seconds = parse_duration(window)
    seconds = args.minutes * 60
    work = Path(tempfile.mkdtemp())
    config = work / "live.json"
    config.write_text(json.dumps({"rate": args.rate}))
    with local_broker() as broker:
        names = TopicNames.with_suffix("soak")
        broker.create_pipeline_topics(names)
        producer = subprocess.Popen(
            produce_command(broker.bootstrap_servers, names, config_file=config, max_click_delay="10s"),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        job = subprocess.Popen(
            job_command(
                broker.bootstrap_servers,
                names,
                work,
                window=window,
                checkpoint_interval=checkpoint,
                jvm_heap=args.jvm_heap,
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        started = time.monotonic()
        plan = [
            (seconds / 3, {"rate": args.rate // 2}),
            (seconds / 2, {"rate": args.rate // 2, "state": "Paused"}),
            (seconds / 2 + min(30, seconds / 10), {"rate": args.rate, "state": "Running"}),
        ]
        # The live heap at the same point of every window: 5 s into a 30 s window, away from the moment
        # windows fire (20 s in: join bound 15 s + out-of-orderness 5 s after a window's end).
        with (
            TreeMemory(job.pid, interval=2.0) as job_memory,
            TreeMemory(producer.pid, interval=2.0) as producer_memory,
            LiveHeap(job.pid, window_seconds, phase=window_seconds / 6) as job_heap,
        ):
            for at, document in plan:
                time.sleep(max(0.0, started + at - time.monotonic()))
                config.write_text(json.dumps(document))
            time.sleep(max(0.0, started + seconds - time.monotonic()))
            traffic_end = time.monotonic()
            producer.send_signal(signal.SIGTERM)
            summary = producer_summary(producer.communicate(timeout=120)[0], producer.returncode)
            close_all_windows(broker, names)
            impressions = read_back(broker, names.impressions, summary["impressions"], decode_impression)
            clicks = read_back(broker, names.clicks, summary["clicks"], decode_click)
            real = [i for i in impressions if i.campaign_id != "zz-end"]
            expected = reference_ctr(real, clicks, round(window_seconds * 1000), 15_000)
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and len(read_results(work / "results")) < len(expected):
                time.sleep(1)
            job.send_signal(signal.SIGTERM)
            job_errors = job.communicate(timeout=120)[1]
        committed = read_results(work / "results")
    by_key = {(r.campaign_id, r.window_start): r[:5] for r in expected}
    wrong = [r for r in committed if by_key.get((r.campaign_id, r.window_start)) != r[:5]]
    for row in wrong:
        print(
            f"differs: committed {tuple(row[:5])}, "
            f"reference {by_key.get((row.campaign_id, row.window_start))}"
        )
    missing = len(expected) - len(committed)

    resumed = started + plan[-1][0]

    def memory_figure(what: str, samples: list[tuple[float, int]], each: str = "") -> Figure:
        """``what`` over the last phase, at the full rate from the resume to the end of the traffic:
        first third → last third after warm-up, the trend after warm-up and, with ``each``, every sample."""
        at_full_rate = [(at, size / 2**20) for at, size in samples if resumed <= at <= traffic_end]
        early, late = early_and_late([size for _, size in at_full_rate])
        trend = trend_per_minute(after_warm_up(at_full_rate))
        note = f"{early:,.0f} → {late:,.0f} MiB"
        if trend is not None:
            note += f"; trend {trend[0]:+,.1f} ± {trend[1]:,.1f} MiB/min"
        if each:
            note += f"; {each}: {', '.join(f'{size:,.0f}' for _, size in at_full_rate)}"
        return Figure(
            f"{what} at the full rate after the resume, first third → last third after warm-up",
            late - early,
            "MiB",
            "flat",
            note,
        )

    errors = summary["delivery_errors"] + summary["config_errors"] + (job.returncode != 0)
    figures = [
        Figure(
            "events sent",
            summary["impressions"] + summary["clicks"],
            "events",
            "",
            f"{seconds / 60:g} min at {args.rate:,}/s with a rate change and a pause",
        ),
        Figure(
            "errors (delivery, config, job exit)",
            errors,
            "",
            "0",
            job_errors.strip().splitlines()[-1] if errors and job_errors.strip() else "",
        ),
        Figure(
            "committed rows different from the reference",
            len(wrong),
            "rows",
            "0",
            f"{len(committed)} rows committed",
        ),
        Figure("windows not committed", missing, "rows", "0"),
        Figure(
            "job peak memory (JVM and Python, the whole process tree)",
            job_memory.peak_mib,
            "MiB",
            "",
            f"--jvm-heap {args.jvm_heap}",
        ),
        memory_figure("job memory (JVM and Python)", job_memory.samples),
        memory_figure("job live heap (after a full GC)", job_heap.samples, each="one sample per window"),
        memory_figure("producer memory", producer_memory.samples),
    ]
    report("bench/soak", figures, args.quick)


if __name__ == "__main__":
    main()
