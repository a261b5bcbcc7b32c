"""Live rows benchmark (issue 22): how soon a dashboard reading the live topic sees an event, at a
steady event rate, and how soon each window's final row comes.

For each rate: topics of its own whose records carry the broker's append time
(``message.timestamp.type=LogAppendTime``: the events' and the live rows' times are one clock), then
``ctr job`` on the local Flink cluster with live rows every ``--update-interval``, then — once every
task of the job is RUNNING, so that it starts with no backlog — ``ctr produce`` at the rate. The
job's backlog (its Kafka sources' ``pendingRecords`` on the REST API) is sampled every few seconds.
The measured span starts after ``--warm-up`` seconds of traffic (the job's JIT warm-up), at the
first sample with at most a second of events in the backlog ("after any backlog is read"), or
``--catch-up-limit`` seconds later if the job never catches up (the figures say which); the
impressions appended in the ``--seconds`` from there are measured. After the producer stops, the
job runs on until its consumer group has committed the end of both event topics (it read every
event) and the live topic has been quiet for a few seconds, so the last impressions' rows come too.
Then the topics are read back, the impressions' from their start (each key's count k needs all of
them).

Freshness of an impression: the append time of the first live row of its (campaign, window) whose
``impressions`` count is at least k, where the impression is that key's k-th in append order (all
partitions merged by append time), minus the impression's append time: the moment a dashboard's
count of the key first reaches it. It is an approximation: the job reads the partitions in
parallel, so the k impressions that row counts are not necessarily the first k in append order;
they were all appended before the row was, so a delay is never negative, and with every partition
read in order the error is at most the skew between the partitions' readers. Whether the job keeps
up is the difference of the median freshness over the last and the first third of the measured
span: a job behind its input falls further behind, and that difference grows with the run.

The final rows' delay: a final row's append time minus its window's end, for the windows that end
after the warm-up (a window closes when the watermark, out-of-orderness behind the newest event,
passes its end plus the join bound).

Run: python bench/live.py [--quick] [--rates 10000,100000]
"""

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from common import (
    Figure,
    arguments,
    job_command,
    local_broker,
    percentile,
    produce_command,
    producer_summary,
    report,
    stop,
)
from confluent_kafka import TIMESTAMP_LOG_APPEND_TIME, Consumer, TopicPartition

from ctr.broker import KafkaBroker
from ctr.durations import parse_duration
from ctr.processes import free_port
from ctr.results_contract import LiveRow, parse_time
from ctr.settings.models import ProducerSettings
from ctr.topics import TopicNames
from ctr_job.local.cluster import rest, running_job

#: The topic-level setting that stamps each record with the broker's append time.
APPEND_TIME = {"message.timestamp.type": "LogAppendTime"}
#: How long the job may take from its launch until every task is RUNNING.
JOB_START_TIMEOUT = 300.0
#: After the producer stops and the job has committed offsets at the topics' ends (a checkpoint after
#: it read every event), the live topic quiet this long means the job has sent its last rows...
QUIET = 3.0
#: ... and it may take this long to get there (a job behind its input reads the backlog first).
CATCH_UP_TIMEOUT = 900.0
#: How often the job's backlog is sampled while the producer runs.
BACKLOG_INTERVAL = 2.0
#: The job has caught up when its backlog is at most this many seconds of events.
CAUGHT_UP = 1.0
CLICK_PROBABILITY = ProducerSettings.model_fields["click_probability"].default
#: A (campaign, window start in epoch ms).
Key = tuple[str, int]


@dataclass(frozen=True)
class Setup:
    """What every rate's run shares: the job's windows, live rows and checkpoints, the traffic's
    campaigns and click delay, how long to warm up, to wait for the job to catch up after, and to
    measure."""

    window: str
    join_bound: str
    out_of_orderness: str
    update_interval: str
    checkpoint_interval: str
    max_click_delay: str
    campaigns: int
    warm_up: float
    catch_up_limit: float
    seconds: float
    parallelism: int

    @property
    def window_ms(self) -> int:
        """The window's length in milliseconds."""
        return round(parse_duration(self.window) * 1000)


@dataclass
class RateRun:
    """One rate's run: what was appended and what the live topic showed of it."""

    events_per_second: int  # the target: impressions and clicks
    achieved: float = 0.0  # events appended per second over the measured span
    #: the freshness (ms) of each measured impression, and of those in the first and the last third
    #: of the measured span
    freshness_ms: array = field(default_factory=lambda: array("q"))
    first_third_ms: array = field(default_factory=lambda: array("q"))
    last_third_ms: array = field(default_factory=lambda: array("q"))
    #: per measured impression, its append time minus its event time (ms): the producer's lag
    event_time_lags_ms: array = field(default_factory=lambda: array("q"))
    started_ms: int = 0  # the producer's start (epoch ms)
    first_ms: int = 0  # the measured span's start (epoch ms)
    caught_up: bool = False  # whether the job had caught up then (else the catch-up limit had passed)
    uncounted: int = 0  # measured impressions no live row counted
    final_delays_ms: list[int] = field(default_factory=list)
    live_rows: int = 0
    failures: list[str] = field(default_factory=list)  # the job's, from its REST API
    #: (epoch ms, records) samples of the job's backlog while the producer ran
    backlog: list[tuple[int, int]] = field(default_factory=list)
    problem: str = ""


def event_rates(text: str) -> list[int]:
    """``"10000,100000"`` -> the rates, each a whole number of events/s above 0."""
    try:
        rates = [int(rate) for rate in text.split(",") if rate.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: whole numbers of events/s separated by ','") from None
    if not rates or min(rates) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: at least one rate, each at least 1 event/s")
    return rates


def topics_with_append_time(broker: KafkaBroker) -> TopicNames:
    """Topics of their own on ``broker``: the events' and the live topic with the broker's append
    time as their records' timestamps, the others as the job expects them."""
    names = TopicNames.with_suffix(f"live{time.monotonic_ns()}")
    broker.create_topics((names.impressions, names.clicks, names.live), config=APPEND_TIME)
    broker.create_topics((names.dlq, names.results))
    return names


def say(text: str) -> None:
    """A progress line on stderr (stdout is the figures)."""
    print(f"[bench/live {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    process: subprocess.Popen,
    interval: float = 0.2,
) -> None:
    """Poll ``condition`` every ``interval`` seconds until it holds; fail when ``timeout`` passes or
    ``process`` exits first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise RuntimeError(f"ctr job exited with code {process.returncode} before {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def tasks_running(port: int) -> bool:
    """The job on the REST API at ``port`` is RUNNING, and so is every one of its tasks."""
    job_id = running_job(port)
    detail = rest(port, f"/jobs/{job_id}") if job_id else None
    vertices = (detail or {}).get("vertices", [])
    return bool(vertices) and all(vertex["status"] == "RUNNING" for vertex in vertices)


def backlog(port: int) -> int | None:
    """The records the job's Kafka sources have yet to read (their ``pendingRecords``, summed over
    subtasks and sources), from the REST API at ``port``; None until every source reports it (the
    REST API has it some seconds after the source's first records)."""
    job_id = running_job(port)
    detail = rest(port, f"/jobs/{job_id}") if job_id else None
    sources = [v["id"] for v in (detail or {}).get("vertices", []) if v["name"].startswith("Source:")]
    total = 0
    for vertex in sources:
        path = f"/jobs/{job_id}/vertices/{vertex}"
        listed = rest(port, f"{path}/metrics")
        names = {m["id"].split(".", 1)[1] for m in listed or [] if m["id"].endswith(".pendingRecords")}
        got = rest(port, f"{path}/subtasks/metrics?get={urllib.parse.quote(','.join(sorted(names)))}")
        if not names or not got:
            return None
        total += round(sum(metric["sum"] for metric in got))
    return total if sources else None


def reader(broker: KafkaBroker, group: str = "") -> Consumer:
    """A consumer that commits nothing, for reading topics back and looking up offsets (those
    ``group`` committed, given one; it joins no group)."""
    return Consumer(
        {
            "bootstrap.servers": broker.bootstrap_servers,
            "group.id": group or f"bench-live-{time.monotonic_ns()}",
            "enable.auto.commit": False,
        }
    )


def end_offsets(consumer: Consumer, topic: str) -> dict[int, int]:
    """Each partition's end offset."""
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}


def offsets_at(consumer: Consumer, topic: str, epoch_ms: int) -> dict[int, int]:
    """Each partition's offset of its first record appended at or after ``epoch_ms`` (its end offset
    when there is none)."""
    ends = end_offsets(consumer, topic)
    found = consumer.offsets_for_times([TopicPartition(topic, p, epoch_ms) for p in ends], timeout=10)
    return {tp.partition: tp.offset if tp.offset >= 0 else ends[tp.partition] for tp in found}


def records(
    consumer: Consumer, topic: str, start: dict[int, int], end: dict[int, int]
) -> Iterator[tuple[int, bytes]]:
    """The append time (epoch ms) and value of each record of ``topic`` from the ``start`` to the
    ``end`` offset of each partition, partition by partition in turn as the broker hands them out
    (each partition in offset order)."""
    left = {p for p in start if start[p] < end[p]}
    consumer.assign([TopicPartition(topic, p, start[p]) for p in left])
    idle_since = time.monotonic()
    while left:
        batch = consumer.consume(50_000, 1.0)
        if not batch and time.monotonic() - idle_since > 60:
            raise RuntimeError(f"{topic}: no records for 60 s before partitions {sorted(left)} ended")
        for message in batch:
            idle_since = time.monotonic()
            partition, offset, value = message.partition(), message.offset(), message.value()
            if message.error() or partition not in left or partition is None or offset is None:
                continue
            kind, appended = message.timestamp()
            if kind != TIMESTAMP_LOG_APPEND_TIME:
                raise RuntimeError(f"{topic}: its records do not carry the broker's append time")
            if value is not None:
                yield appended, value
            if offset + 1 >= end[partition]:
                left.discard(partition)
    consumer.unassign()


def impressions_by_key(
    consumer: Consumer, topic: str, window_ms: int, span: tuple[int, int], lags: array
) -> dict[Key, array]:
    """The append times (ms, ascending) of the impressions of each (campaign, window): the whole
    topic, so that each key's are all there. Adds to ``lags`` how long after its event time each
    impression appended in ``span`` (epoch ms, from, to) was appended."""
    appended: dict[Key, array] = {}
    start = dict.fromkeys(end_offsets(consumer, topic), 0)
    for append_ms, value in records(consumer, topic, start, end_offsets(consumer, topic)):
        impression = json.loads(value)
        ts = impression["ts"]
        key = (impression["campaign_id"], ts - ts % window_ms)
        appended.setdefault(key, array("q")).append(append_ms)
        if span[0] <= append_ms < span[1]:
            lags.append(append_ms - ts)
    return {key: array("q", sorted(times)) for key, times in appended.items()}


def live_rows_by_key(consumer: Consumer, topic: str) -> dict[Key, list[tuple[int, LiveRow]]]:
    """Every row of the live topic with its append time, by (campaign, window), in append order
    (a key's rows are in one partition)."""
    rows: dict[Key, list[tuple[int, LiveRow]]] = {}
    start = dict.fromkeys(end_offsets(consumer, topic), 0)
    for append_ms, value in records(consumer, topic, start, end_offsets(consumer, topic)):
        fields = json.loads(value)
        row = LiveRow(*(fields[name] for name in LiveRow._fields))
        key = (row.campaign_id, parse_time(row.window_start))
        rows.setdefault(key, []).append((append_ms, row))
    return rows


def freshness(impressions: array, rows: list[tuple[int, LiveRow]]) -> Iterator[tuple[int, int | None]]:
    """Per impression of a key (append times, ascending): its append time and the ms from it to the
    first of the key's live ``rows`` counting at least as many impressions (None when none does)."""
    row = 0
    for k, appended in enumerate(impressions, start=1):
        while row < len(rows) and rows[row][1].impressions < k:
            row += 1
        yield appended, (rows[row][0] - appended if row < len(rows) else None)


def read_all(consumer: Consumer, topics: tuple[str, ...]) -> bool:
    """The offsets the consumer's group committed are at the end of every partition of ``topics``."""
    for topic in topics:
        ends = end_offsets(consumer, topic)
        committed = consumer.committed([TopicPartition(topic, p) for p in ends], timeout=10)
        if any(tp.offset < ends[tp.partition] for tp in committed):
            return False
    return True


def wait_for_last_rows(consumer: Consumer, names: TopicNames, job: subprocess.Popen) -> None:
    """Wait (at most CATCH_UP_TIMEOUT) until the job's group (``consumer``'s) has committed the end
    of both event topics, then until no live row has come for QUIET seconds."""
    deadline = time.monotonic() + CATCH_UP_TIMEOUT
    topics = (names.impressions, names.clicks)
    wait_until(lambda: read_all(consumer, topics), CATCH_UP_TIMEOUT, "the job to read every event", job)
    last, quiet_since = end_offsets(consumer, names.live), time.monotonic()

    def quiet() -> bool:
        nonlocal last, quiet_since
        now = end_offsets(consumer, names.live)
        if now != last:
            last, quiet_since = now, time.monotonic()
        return time.monotonic() - quiet_since >= QUIET

    wait_until(quiet, max(QUIET, deadline - time.monotonic()), "the live topic to be quiet", job)


def job_failures(port: int) -> list[str]:
    """The exceptions the job on the REST API at ``port`` has failed with (restarts), by name."""
    job_id = running_job(port)
    history = (rest(port, f"/jobs/{job_id}/exceptions") or {}) if job_id else {}
    return [
        entry.get("exceptionName", "?") for entry in history.get("exceptionHistory", {}).get("entries", [])
    ]


def caught_up(run: RateRun, setup: Setup, now_ms: int, records: int | None) -> bool:
    """Whether the measured span starts at ``now_ms``, the job's backlog then ``records`` (None: not
    known yet): after the warm-up, once the backlog is at most CAUGHT_UP seconds of events, or when
    ``setup.catch_up_limit`` has passed since (``run.caught_up`` says which). A backlog still being
    read is not measured: its first impressions would show how long the job took to start."""
    if now_ms < run.started_ms + setup.warm_up * 1000:
        return False
    run.caught_up = records is not None and records <= run.events_per_second * CAUGHT_UP
    return run.caught_up or now_ms >= run.started_ms + (setup.warm_up + setup.catch_up_limit) * 1000


def drive(broker: KafkaBroker, names: TopicNames, run: RateRun, setup: Setup, work: Path) -> None:
    """Run the job, then the producer at ``run``'s rate until ``setup.seconds`` after the job has
    caught up (``caught_up``), then the job until it has sent its last live rows; note in ``run``
    the measured span's start, the job's backlog and its failures. Raises RuntimeError, with the
    job's last error line, when a step fails."""
    events_per_second = run.events_per_second
    port = free_port()
    group = f"bench-live-{time.monotonic_ns()}"
    errors = work / "ctr-job.err"
    with errors.open("w") as stderr:
        job = subprocess.Popen(
            job_command(
                broker.bootstrap_servers,
                names,
                work,
                group_id=group,
                window=setup.window,
                join_bound=setup.join_bound,
                out_of_orderness=setup.out_of_orderness,
                update_interval=setup.update_interval,
                checkpoint_interval=setup.checkpoint_interval,
                parallelism=setup.parallelism,
                task_slots=setup.parallelism,
                web_ui_port=port,
            ),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    producer = None
    consumer = reader(broker, group)
    try:
        wait_until(lambda: tasks_running(port), JOB_START_TIMEOUT, "every task of the job RUNNING", job)
        say(f"{events_per_second:,} events/s: the job's tasks RUNNING; producing")
        producer = subprocess.Popen(
            produce_command(
                broker.bootstrap_servers,
                names,
                rate=round(events_per_second / (1 + CLICK_PROBABILITY)),
                campaigns=setup.campaigns,
                max_click_delay=setup.max_click_delay,
                seed=22,
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        run.started_ms = round(time.time() * 1000)

        def sampled_until_the_end() -> bool:
            now, records = round(time.time() * 1000), backlog(port)
            if records is not None:
                run.backlog.append((now, records))
            if not run.first_ms and caught_up(run, setup, now, records):
                run.first_ms = now
            return bool(run.first_ms) and now >= run.first_ms + setup.seconds * 1000

        longest = setup.warm_up + setup.catch_up_limit + setup.seconds + 60
        wait_until(sampled_until_the_end, longest, "the run's end", job, BACKLOG_INTERVAL)
        producer.send_signal(signal.SIGTERM)
        summary = producer_summary(producer.communicate(timeout=120)[0], producer.returncode)
        if summary["delivery_errors"]:
            raise RuntimeError(f"ctr produce: {summary['delivery_errors']} delivery errors")
        say(f"{events_per_second:,} events/s: producer stopped; waiting for the job's last live rows")
        wait_for_last_rows(consumer, names, job)
        run.failures = job_failures(port)
    except (RuntimeError, subprocess.TimeoutExpired) as err:
        raise RuntimeError(f"{err}: {(errors.read_text().strip().splitlines() or [''])[-1]}") from None
    finally:
        consumer.close()
        for process in (producer, job):
            if process is not None:
                stop(process)


def measure(broker: KafkaBroker, names: TopicNames, run: RateRun, setup: Setup) -> None:
    """Read the topics back into ``run``'s figures: the span measured is ``setup.seconds`` from
    ``run.first_ms``."""
    first_ms = run.first_ms
    last_ms = first_ms + round(setup.seconds * 1000)
    third = (last_ms - first_ms) // 3
    consumer = reader(broker)
    try:
        run.achieved = (
            sum(
                sum(offsets_at(consumer, topic, last_ms).values())
                - sum(offsets_at(consumer, topic, first_ms).values())
                for topic in (names.impressions, names.clicks)
            )
            / setup.seconds
        )
        impressions = impressions_by_key(
            consumer, names.impressions, setup.window_ms, (first_ms, last_ms), run.event_time_lags_ms
        )
        rows = live_rows_by_key(consumer, names.live)
    finally:
        consumer.close()
    run.live_rows = sum(map(len, rows.values()))
    for key, times in impressions.items():
        for appended, delay in freshness(times, rows.get(key, [])):
            if appended >= last_ms:
                break
            if appended < first_ms:
                continue
            if delay is None:
                run.uncounted += 1
                continue
            run.freshness_ms.append(delay)
            if appended < first_ms + third:
                run.first_third_ms.append(delay)
            elif appended >= last_ms - third:
                run.last_third_ms.append(delay)
    run.final_delays_ms = [
        appended - parse_time(row.window_end)
        for key_rows in rows.values()
        for appended, row in key_rows
        if row.final and parse_time(row.window_end) > first_ms
    ]


def run_rate(broker: KafkaBroker, events_per_second: int, setup: Setup, work: Path) -> RateRun:
    """One rate's run on topics of its own (the module's docstring says how it goes)."""
    run = RateRun(events_per_second)
    names = topics_with_append_time(broker)
    try:
        drive(broker, names, run, setup, work)
    except RuntimeError as err:
        run.problem = str(err)
        return run
    say(f"{events_per_second:,} events/s: job stopped; reading the topics back")
    measure(broker, names, run, setup)
    return run


def rate_figures(run: RateRun, setup: Setup) -> list[Figure]:
    """The figures of one rate's run."""
    label = f"{run.events_per_second:,} events/s"
    if run.problem:
        return [Figure(f"{label}: run", float("nan"), "", "", run.problem)]
    delays = [ms / 1000 for ms in run.freshness_ms]
    finals = [ms / 1000 for ms in run.final_delays_ms]
    lags = [ms / 1000 for ms in run.event_time_lags_ms]
    nan = float("nan")
    early, late = ([ms / 1000 for ms in part] for part in (run.first_third_ms, run.last_third_ms))
    drift = percentile(late, 0.5) - percentile(early, 0.5) if early and late else nan
    last_ms = run.first_ms + round(setup.seconds * 1000)
    during = [records for at, records in run.backlog if run.first_ms <= at <= last_ms]
    return [
        Figure(
            f"{label}: achieved",
            run.achieved,
            "events/s",
            f"{run.events_per_second:,}",
            f"impressions + clicks appended per second over the {setup.seconds:g} s measured "
            f"(ctr produce --rate {round(run.events_per_second / (1 + CLICK_PROBABILITY)):,} "
            f"impressions/s, click probability {CLICK_PROBABILITY:g}, {setup.campaigns} campaigns)",
        ),
        Figure(
            f"{label}: freshness p50 (append → first live row counting it)",
            percentile(delays, 0.5) if delays else nan,
            "s",
            "",
            f"{len(delays):,} impressions appended over {setup.seconds:g} s from "
            f"{(run.first_ms - run.started_ms) / 1000:.0f} s into the traffic; live rows every "
            f"{setup.update_interval}",
        ),
        Figure(
            f"{label}: freshness p99",
            percentile(delays, 0.99) if delays else nan,
            "s",
            "≤ 2 s",
        ),
        Figure(
            f"{label}: freshness max",
            max(delays) if delays else nan,
            "s",
            "",
            f"{run.uncounted:,} measured impressions never counted by a live row; "
            f"{run.live_rows:,} live rows in all",
        ),
        Figure(
            f"{label}: the job's backlog over the measured span, max",
            max(during) if during else nan,
            "records",
            "",
            (
                f"caught up (backlog ≤ {CAUGHT_UP:g} s of events) after the {setup.warm_up:g} s warm-up"
                if run.caught_up
                else f"not caught up {setup.catch_up_limit:g} s after the {setup.warm_up:g} s warm-up: "
                "measured from then on anyway"
            )
            + f"; pendingRecords of its Kafka sources (impressions + clicks), every {BACKLOG_INTERVAL:g} s"
            + (
                f": {during[0]:,} at the span's start, {during[-1]:,} at its end"
                if during
                else ": no sample in the span (the REST API has it some seconds after the first records)"
            ),
        ),
        Figure(
            f"{label}: job failures (restarts)",
            len(run.failures),
            "",
            "0",
            ", ".join(run.failures),
        ),
        Figure(
            f"{label}: freshness p50, last third of the span − first third",
            drift,
            "s",
            "≈ 0 (keeps up)",
            "grows with the run's length when the job is behind its input",
        ),
        Figure(
            f"{label}: final rows' delay p50 (final row appended − window end)",
            percentile(finals, 0.5) if finals else nan,
            "s",
            f"as today: ≈ join bound {setup.join_bound} + out-of-orderness {setup.out_of_orderness}",
            f"{len(finals)} final rows; max {max(finals):.2f} s" if finals else "no window closed",
        ),
        Figure(
            f"{label}: the events' append behind their event time, p50",
            percentile(lags, 0.5) if lags else nan,
            "s",
            "",
            "the producer's lag (linger, and a producer short of CPU falling behind its schedule): a "
            "window's end is in event time, so the final rows' delay includes it"
            + (f"; max {max(lags):.2f} s" if lags else ""),
        ),
    ]


def main() -> None:
    parser = arguments(__doc__, "one low rate for a few seconds, short windows (about a minute)")
    parser.add_argument(
        "--rates", type=event_rates, default="10000,100000", help="events/s (impressions + clicks), by ','"
    )
    parser.add_argument("--seconds", type=float, default=90.0, help="measured seconds of each rate")
    parser.add_argument("--warm-up", type=float, default=30.0, help="seconds of traffic not measured")
    parser.add_argument(
        "--catch-up-limit",
        type=float,
        default=120.0,
        help="after the warm-up, seconds to wait for the job's backlog to be read before measuring anyway",
    )
    parser.add_argument("--campaigns", type=int, default=100, help="campaigns of the traffic")
    parser.add_argument("--update-interval", default="1s", help="the job's --update-interval")
    parser.add_argument(
        "--parallelism", type=int, default=2, help="the job's parallelism (one TaskManager, as many slots)"
    )
    args = parser.parse_args()
    setup = Setup(
        window="30s",
        join_bound="15s",
        out_of_orderness="5s",
        update_interval=args.update_interval,
        checkpoint_interval="10s",
        max_click_delay="10s",
        campaigns=args.campaigns,
        warm_up=args.warm_up,
        catch_up_limit=args.catch_up_limit,
        seconds=args.seconds,
        parallelism=args.parallelism,
    )
    rates = args.rates
    if args.quick:
        setup = Setup("2s", "1s", "500ms", args.update_interval, "1s", "1s", 5, 1.0, 15.0, 5.0, 1)
        rates = [1_000]
    figures = []
    say("starting the broker")
    with local_broker() as broker:
        for rate in rates:
            with tempfile.TemporaryDirectory(prefix="ctr-bench-live-") as work:
                run = run_rate(broker, rate, setup, Path(work))
            figures += rate_figures(run, setup)
    report(
        "bench/live",
        figures,
        args.quick,
        f"`ctr job` (local cluster, one TaskManager of {setup.parallelism} slot(s), parallelism "
        f"{setup.parallelism}, {setup.window} windows, join bound {setup.join_bound}, out-of-orderness "
        f"{setup.out_of_orderness}) and `ctr produce` on one machine with the broker; event and live "
        "topics stamped with the broker's append time.",
    )


if __name__ == "__main__":
    main()
