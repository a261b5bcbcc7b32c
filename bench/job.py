"""Job benchmark: throughput of the job's plan (the Java ClickFlags operator between SQL sources and
SQL windows), with its live rows on and off, against the earlier SQL plan (LEFT interval join,
COUNT(DISTINCT) windows), Flink options on both, a SQL plan without distinct state, and a parse-only
ceiling, all in the same run on PyFlink's mini-cluster (one JVM); the job's plan as ``ctr job`` runs
it, on the local Flink cluster (a JobManager in application mode and 1, then 2 TaskManagers), over
the same events beside the mini-cluster's run; freshness of committed windows in a live run; scale
in campaigns (throughput, peak memory, open files).

The comparison plans are bench/job_plans.py's; it builds their Java classes (bench/java) with Maven first.

Run: python bench/job.py [--quick] [--clusters-only]
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import psutil
from common import (
    Figure,
    OpenFiles,
    TreeMemory,
    arguments,
    early_and_late,
    job_command,
    local_broker,
    percentile,
    produce_command,
    profile_breakdown,
    report,
    stop,
)
from confluent_kafka import Producer
from job_plans import JAR as BENCH_JAR
from job_plans import BoundedSql, build, build_java

from ctr.broker import KafkaBroker
from ctr.campaigns import parse_campaigns
from ctr.events import Click, Impression, encode, message_key
from ctr.processes import free_port
from ctr.reference import reference_ctr
from ctr.results_contract import parse_time
from ctr.settings.models import LiveSettings, LocalJobSettings
from ctr.topics import DEFAULT_PARTITIONS, TopicNames
from ctr_job.checkpoints import latest_checkpoint
from ctr_job.local.cluster import running_job
from ctr_producer.traffic import TrafficModel
from ctr_results.files import read_results

EVENT_TIME_RATE = 20_000
#: Each plan also runs on this first share of the input: the difference of the two runs is its
#: throughput with the job's start and stop taken out.
PREFIX_SHARE = 0.2
WINDOW_MS, JOIN_BOUND_MS = 30_000, 15_000


@dataclass(frozen=True)
class Plan:
    """One way to run the job on the preloaded input: how it is built, its parallelism, extra Flink
    options and JVM arguments, and how often its live rows go to the run's live topic (0: none)."""

    name: str
    build: str = "click-flags"  # one of job_plans.BUILDS
    parallelism: int = 2
    options: tuple[tuple[str, str], ...] = ()
    jvm_heap: str = LocalJobSettings.model_fields["jvm_heap"].default
    update_interval_ms: int = 0


#: The JVM's default maximum heap on this machine (a quarter of its memory), as the SQL plan ran before
#: the job had a heap setting.
FORMER_HEAP = f"{max(1, round(psutil.virtual_memory().total / 4 / 2**30))}g"
JOB = Plan("click-flags")
#: The job's plan as ``ctr job`` runs it by default: live rows every second (--update-interval 1s).
LIVE = Plan("click-flags, live rows every 1 s", update_interval_ms=1000)
OLD = Plan("sql-interval-join", "sql-interval-join", jvm_heap=FORMER_HEAP)
CEILING = Plan("parse-only", "parse-only")
EXCHANGE = Plan("keyed-exchange (parse, send each event to its key, drop it)", "keyed-exchange")
MINI_BATCH = (
    ("table.exec.mini-batch.enabled", "true"),
    ("table.exec.mini-batch.allow-latency", "1 s"),
    ("table.exec.mini-batch.size", "5000"),
)
#: Every plan of the throughput comparison, in the order they run; each label says what it varies.
PLANS = (
    JOB,
    LIVE,
    OLD,
    CEILING,
    EXCHANGE,
    Plan("click-flags, parallelism 1", parallelism=1),
    Plan("click-flags, object reuse", options=(("pipeline.object-reuse", "true"),)),
    Plan("click-flags, heap 4g", jvm_heap="4g"),
    Plan(
        "sql-interval-join, object reuse",
        "sql-interval-join",
        options=(("pipeline.object-reuse", "true"),),
        jvm_heap=FORMER_HEAP,
    ),
    Plan(
        "sql-interval-join, mini-batch + local-global",
        "sql-interval-join",
        options=(*MINI_BATCH, ("table.optimizer.agg-phase-strategy", "TWO_PHASE")),
        jvm_heap=FORMER_HEAP,
    ),
    Plan(
        "sql-interval-join, split distinct",
        "sql-interval-join",
        options=(*MINI_BATCH, ("table.optimizer.distinct-agg.split.enabled", "true")),
        jvm_heap=FORMER_HEAP,
    ),
    Plan(
        "sql-interval-join, buffer timeout 1 s",
        "sql-interval-join",
        options=(("execution.buffer-timeout.interval", "1 s"),),
        jvm_heap=FORMER_HEAP,
    ),
    Plan("sql-interval-join, heap 1g (the job's new default)", "sql-interval-join"),
    Plan("sql-flag-windows", "sql-flag-windows", jvm_heap=FORMER_HEAP),
)
#: The plans every run has, the quick one too, and those each round runs again.
MAIN_PLANS = (JOB, LIVE, OLD, CEILING)
#: Reading a backlog, a partition can go without records for a while under backpressure; an idle
#: timeout shorter than that marks it idle, the watermark passes it, and its events come late.
BACKFILL_IDLE_TIMEOUT = 600.0
PLAN_TIMEOUT = 1200.0
#: A bounded job ends with a final checkpoint, at the next tick of the interval: a short interval
#: keeps that wait (up to one interval, at random) from swamping a short run. The local cluster's
#: runs commit their last windows at the same interval.
BACKFILL_CHECKPOINT_INTERVAL = 1.0


@dataclass(frozen=True)
class Layout:
    """A local Flink cluster for ``ctr job``: ``taskmanagers`` TaskManagers of ``slots`` slots each,
    the job at parallelism = all the slots."""

    taskmanagers: int
    slots: int

    @property
    def parallelism(self) -> int:
        return self.taskmanagers * self.slots

    @property
    def name(self) -> str:
        managers = f"{self.taskmanagers} TaskManager{'s' if self.taskmanagers > 1 else ''}"
        slots = f"{self.slots} slot{'s' if self.slots > 1 else ''}"
        return f"{CLUSTER_FIGURES}, {managers} × {slots} (parallelism {self.parallelism})"


def layouts(text: str) -> tuple[Layout, ...]:
    """``"1x2,2x1"`` -> TaskManagers × slots each; parallelism at most the topics' partitions (a source
    subtask without a partition would hold the watermark back until the idle timeout)."""
    parsed = []
    for item in filter(None, text.split(",")):
        taskmanagers, _, slots = item.strip().partition("x")
        layout = Layout(int(taskmanagers), int(slots or 1))
        if not 1 <= layout.parallelism <= DEFAULT_PARTITIONS:
            raise argparse.ArgumentTypeError(
                f"{item}: parallelism (TaskManagers × slots) must be 1 to {DEFAULT_PARTITIONS}, "
                "the bench topics' partitions"
            )
        parsed.append(layout)
    return tuple(parsed)


#: 1 TaskManager of 2 slots, then 2 of 1: parallelism 2 as the mini-cluster's run of the job's plan,
#: one slot per core on this 2-core machine; the second crosses TaskManagers (network, serialization).
CLUSTERS = layouts("1x2,2x1")
QUICK_CLUSTERS = layouts("1x2")
#: The prefix of every local-cluster figure's name (--clusters-only replaces those rows only).
CLUSTER_FIGURES = "local cluster"


def preload(
    broker: KafkaBroker, names: TopicNames, impressions: int, campaigns: int
) -> tuple[list, list, list[dict]]:
    """Put seeded traffic on the topics, each in event-time order as the live producer sends it.

    Returns the events and two sets of end offsets per topic: those of the first PREFIX_SHARE of
    the traffic in event time (both topics cut at the same instant), and those of all of it.
    """
    live = LiveSettings(rate=EVENT_TIME_RATE, campaigns=parse_campaigns(str(campaigns)))
    model = TrafficModel(live, seed=7)
    end_offsets = {
        topic: dict.fromkeys(range(DEFAULT_PARTITIONS), 0) for topic in (names.impressions, names.clicks)
    }

    def delivered(err, msg) -> None:
        assert err is None, err
        offsets = end_offsets[msg.topic()]
        offsets[msg.partition()] = max(offsets.get(msg.partition(), 0), msg.offset() + 1)

    producer = Producer(
        {
            "bootstrap.servers": broker.bootstrap_servers,
            "linger.ms": 50,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 2_000_000,
            "on_delivery": delivered,
        }
    )
    base = 1_700_000_000_000 - 1_700_000_000_000 % WINDOW_MS
    shown, clicked = [], []
    for k in range(impressions):
        impression, click = model.impression(base + k * 1000 // EVENT_TIME_RATE)
        shown.append(impression)
        if click is not None:
            clicked.append(click)
    clicked.sort(key=lambda c: c.ts)
    cut = shown[int(len(shown) * PREFIX_SHARE)].ts
    snapshots: dict[str, list[dict[int, int]]] = {names.impressions: [], names.clicks: []}
    for topic, events in ((names.impressions, shown), (names.clicks, clicked)):
        for part in ([e for e in events if e.ts < cut], [e for e in events if e.ts >= cut]):
            for k, event in enumerate(part):
                producer.produce(topic, encode(event), message_key(event))
                if k % 50_000 == 0:
                    producer.poll(0)
            assert producer.flush(120) == 0
            snapshots[topic].append(dict(end_offsets[topic]))
    return shown, clicked, [{topic: snapshots[topic][n] for topic in snapshots} for n in (0, 1)]


def produce_sentinels(broker: KafkaBroker, names: TopicNames, shown: list, clicked: list) -> None:
    """After the preloaded events, one an hour later in every partition of both topics: the watermark
    of ``ctr job`` (unbounded sources) passes every real window, so each is committed (the sentinels'
    own windows never close). The bounded runs end at the offsets before them."""
    future = max(event.ts for event in (*shown, *clicked)) + 3_600_000
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers, "enable.idempotence": True})
    for partition in range(DEFAULT_PARTITIONS):
        impression = Impression(f"sentinel-{partition}", "sentinel", "zz-sentinel", future)
        producer.produce(names.impressions, encode(impression), message_key(impression), partition=partition)
        click = Click(f"sentinel-click-{partition}", impression.impr_id, "sentinel", future)
        producer.produce(names.clicks, encode(click), message_key(click), partition=partition)
    assert producer.flush(30) == 0, "sentinels were not delivered"


@dataclass
class PlanRun:
    """One plan run to the end of its bounded input, in its own process."""

    seconds: float | None  # None when it failed or did not finish within PLAN_TIMEOUT
    peak_mib: float  # of the process tree: JVM and Python
    peak_open_files: int  # of the process tree
    problem: str = ""  # why it failed


@dataclass
class Throughput:
    """One plan's figures on one preloaded input."""

    events_per_second: (
        float  # start and stop taken out; 0 when the plan failed, NaN when the input was too small
    )
    whole_run_events_per_second: float
    peak_mib: float
    peak_open_files: int
    problem: str
    events: int = 0  # the input's
    start_taken_out: bool = True  # False: events_per_second is the whole run's


def run_plan(
    plan: Plan, names: TopicNames, broker: KafkaBroker, end_offsets: dict, work: Path, profile: Path | None
) -> PlanRun:
    """Run one plan to the end of the bounded input in its own process (with a JFR recording into
    ``profile`` if given)."""
    config = {
        "plan": asdict(plan),
        "bootstrap_servers": broker.bootstrap_servers,
        "topics": (names.impressions, names.clicks, names.dlq, names.live),
        "end_offsets": {
            topic: {str(p): o for p, o in offsets.items()} for topic, offsets in end_offsets.items()
        },
        "work": str(work),
    }
    environment = dict(os.environ)
    if profile is not None:
        environment["JVM_ARGS"] = f"-XX:StartFlightRecording=filename={profile},settings=profile"
    process = subprocess.Popen(
        [sys.executable, __file__, "--run-plan", json.dumps(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    with TreeMemory(process.pid) as memory, OpenFiles(process.pid) as files:
        try:
            stdout, stderr = process.communicate(timeout=PLAN_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            return PlanRun(None, memory.peak_mib, files.peak, f"did not finish within {PLAN_TIMEOUT:g} s")
    if process.returncode != 0:
        causes = [line.split(": ", 1)[-1] for line in stderr.splitlines() if line.startswith("Caused by:")]
        return PlanRun(
            None,
            memory.peak_mib,
            files.peak,
            f"failed: {causes[-1] if causes else stderr.strip().splitlines()[-1]}",
        )
    return PlanRun(json.loads(stdout.strip().splitlines()[-1])["seconds"], memory.peak_mib, files.peak)


def _run_plan_here(config: dict) -> None:
    """The child side of run_plan: build the plan from the job's own code and time it.

    It runs on PyFlink's mini-cluster, in one JVM, not on ``ctr job``'s local cluster: the plans'
    figures in docs/benchmarks.md were measured there, each plan against the same single process.
    """
    from ctr_job.cli import job_jars
    from ctr_job.runtime import flink_configuration, prepare_jvm_environment, table_environment

    plan = Plan(**{**config["plan"], "options": tuple(map(tuple, config["plan"]["options"]))})
    work = Path(config["work"])
    impressions, clicks, dlq, live = config["topics"]
    job_settings = LocalJobSettings(
        checkpoint_dir=str(work / "checkpoints"),
        checkpoint_interval=BACKFILL_CHECKPOINT_INTERVAL,
        parallelism=plan.parallelism,
        idle_timeout=BACKFILL_IDLE_TIMEOUT,
        jvm_heap=plan.jvm_heap,
    )
    prepare_jvm_environment(work / "logs", "INFO", work / "tmp", job_settings.jvm_heap)
    sql = BoundedSql(
        bootstrap_servers=config["bootstrap_servers"],
        impressions_topic=impressions,
        clicks_topic=clicks,
        dlq_topic=dlq,
        group_id=f"bench-{time.monotonic_ns()}",
        output_path=(work / "results").resolve().as_uri(),
        window_ms=WINDOW_MS,
        join_bound_ms=JOIN_BOUND_MS,
        out_of_orderness_ms=5000,
        live_topic=live if plan.update_interval_ms else "",
        update_interval_ms=plan.update_interval_ms,
        end_offsets={
            t: {int(p): o for p, o in offsets.items()} for t, offsets in config["end_offsets"].items()
        },
    )
    jars = [*job_jars("auto"), BENCH_JAR]
    options = flink_configuration(job_settings, jars, work / "tmp", None)
    table_env = table_environment({**options, **dict(plan.options)})
    build(table_env, plan.build, sql).execute().wait()
    ended = time.time()
    print(json.dumps({"seconds": ended - first_split_added(work / "logs")}))


#: What a Kafka source reader logs (at INFO) when it gets its first partitions: it starts reading.
READING_STARTS = "Adding split(s) to reader"


def first_split_added(log_dir: Path) -> float:
    """When the first source reader got its partitions (epoch seconds), from Flink's logs (the
    mini-cluster's one, or every process's of a local cluster): planning, code generation and
    deployment before it do not count."""
    times = [
        datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        for log in log_dir.glob("*.log")
        for line in log.read_text(errors="replace").splitlines()
        if READING_STARTS in line
    ]
    if not times:
        raise RuntimeError(f"no '{READING_STARTS}' in Flink's log under {log_dir}")
    return min(times)


def check_output(results: Path, expected: list, name: str) -> None:
    """The committed rows under ``results`` equal the reference ``expected`` (late counts aside)."""
    got = read_results(results)
    assert [r[:5] for r in got] == [r[:5] for r in expected], (
        f"the output of {name} differs from the reference"
    )


@dataclass
class ClusterRun:
    """``ctr job`` on a local cluster over the preloaded events, until its last window is committed."""

    layout: Layout
    seconds: float | None  # from the first partition read; None when it failed
    seconds_from_running: float | None  # from the job RUNNING on the REST API
    peak_mib: float  # of the process tree: ctr job, the JobManager (and its Python driver), the TaskManagers
    problem: str = ""


def run_on_cluster(
    layout: Layout, names: TopicNames, broker: KafkaBroker, expected: list, work: Path
) -> ClusterRun:
    """Run ``ctr job`` on ``layout`` from the topics' start (a group of its own) until it has committed
    as many rows as ``expected`` (the sentinels close every window), then stop it (SIGTERM) and check
    its rows."""
    port = free_port()
    command = job_command(
        broker.bootstrap_servers,
        names,
        work,
        group_id=f"bench-{time.monotonic_ns()}",
        taskmanagers=layout.taskmanagers,
        task_slots=layout.slots,
        parallelism=layout.parallelism,
        checkpoint_interval=f"{BACKFILL_CHECKPOINT_INTERVAL:g}s",
        idle_timeout=f"{BACKFILL_IDLE_TIMEOUT:g}s",
        flink_log_level="INFO",
        web_ui_port=port,
    )
    errors = work / "ctr-job.err"
    running_at = ended = None
    problem = ""
    with errors.open("w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
    with TreeMemory(process.pid) as memory:
        try:
            deadline = time.monotonic() + PLAN_TIMEOUT
            while ended is None:
                if process.poll() is not None:
                    problem = (
                        f"ctr job exited with code {process.returncode}: "
                        + (errors.read_text().strip().splitlines() or [""])[-1]
                    )
                    break
                if time.monotonic() > deadline:
                    problem = f"did not commit every window within {PLAN_TIMEOUT:g} s"
                    break
                if running_at is None and running_job(port) is not None:
                    running_at = time.time()
                if running_at is not None and len(read_results(work / "results")) >= len(expected):
                    ended = time.time()
                time.sleep(0.2)
        finally:
            stop(process)
    if ended is None or running_at is None:
        return ClusterRun(layout, None, None, memory.peak_mib, problem)
    check_output(work / "results", expected, layout.name)
    return ClusterRun(layout, ended - first_split_added(work / "logs"), ended - running_at, memory.peak_mib)


def throughput(
    broker: KafkaBroker,
    impressions: int,
    campaigns: int,
    plans: tuple[Plan, ...],
    check: bool,
    profile_dir: Path | None = None,
    rounds: int = 1,
    clusters: tuple[Layout, ...] = (),
    take_out_start: bool = True,
) -> tuple[dict[str, Throughput], list[ClusterRun]]:
    """Per plan on one preloaded input, its figures; then ``ctr job`` on each of the local
    ``clusters`` over the same events. Output of every plan that writes results checked against the
    reference when ``check`` (always on the clusters); the whole runs of the job's and the SQL plan
    profiled with JFR into ``profile_dir`` if given. The job's plan (with and without live rows), the
    SQL plan and the ceiling run ``rounds`` times, in turn, and keep their best run (the machine is
    shared: its load varies from run to run). Without ``take_out_start`` a plan runs once, over all
    the input, and its rate is that whole run's."""
    names = TopicNames.with_suffix(f"jb{time.monotonic_ns()}")
    broker.create_pipeline_topics(names)
    shown, clicked, (prefix_offsets, end_offsets) = preload(broker, names, impressions, campaigns)
    events = len(shown) + len(clicked)
    prefix_events = sum(sum(offsets.values()) for offsets in prefix_offsets.values())
    expected = reference_ctr(shown, clicked, WINDOW_MS, JOIN_BOUND_MS) if check or clusters else []
    measured: dict[str, Throughput] = {}
    schedule = [plan for turn in range(rounds) for plan in plans if turn == 0 or plan in MAIN_PLANS]
    for turn, plan in enumerate(schedule):
        first_turn = turn < len(plans)
        profile = (
            profile_dir / f"{plan.build}.jfr"
            if profile_dir is not None and plan in (JOB, OLD) and first_turn
            else None
        )
        with tempfile.TemporaryDirectory() as prefix_work, tempfile.TemporaryDirectory() as work:
            prefix = (
                run_plan(plan, names, broker, prefix_offsets, Path(prefix_work), None)
                if take_out_start
                else PlanRun(0.0, 0.0, 0)
            )
            whole = run_plan(plan, names, broker, end_offsets, Path(work), profile)
            if whole.seconds is None or prefix.seconds is None:
                measured.setdefault(
                    plan.name,
                    Throughput(
                        0.0,
                        0.0,
                        whole.peak_mib,
                        whole.peak_open_files,
                        whole.problem or prefix.problem,
                        events,
                    ),
                )
                print(f"{plan.name}: {whole.problem or prefix.problem}", file=sys.stderr, flush=True)
                continue
            if check and plan.build not in ("parse-only", EXCHANGE.build):
                check_output(Path(work) / "results", expected, plan.name)
        extra_seconds = whole.seconds - prefix.seconds
        rate, problem = (
            (events / whole.seconds, "")
            if not take_out_start
            else ((events - prefix_events) / extra_seconds, "")
            if extra_seconds > 0
            else (
                float("nan"),
                "the input is too small to take the start out: "
                "the whole run was not slower than its first fifth",
            )
        )
        run = Throughput(
            rate,
            events / whole.seconds,
            whole.peak_mib,
            whole.peak_open_files,
            problem,
            events,
            take_out_start,
        )
        best = measured.get(plan.name)
        if best is None or not best.events_per_second >= run.events_per_second:
            measured[plan.name] = run
        print(f"{plan.name}: {rate:,.0f} events/s", file=sys.stderr, flush=True)
    if clusters:
        produce_sentinels(broker, names, shown, clicked)
    runs = []
    for layout in clusters:
        with tempfile.TemporaryDirectory() as work:
            run = run_on_cluster(layout, names, broker, expected, Path(work))
        runs.append(run)
        said = f"{events / run.seconds:,.0f} events/s" if run.seconds else run.problem
        print(f"{layout.name}: {said}", file=sys.stderr, flush=True)
    return measured, runs


def freshness(
    broker: KafkaBroker, seconds: float, rate: int, **job_settings: object
) -> tuple[list[float], list[int]]:
    """Live run: delays (s) from each window's end to its rows' commit, and checkpoint sizes over time."""
    names = TopicNames.with_suffix(f"jf{time.monotonic_ns()}")
    broker.create_pipeline_topics(names)
    work = Path(tempfile.mkdtemp())
    producer = subprocess.Popen(
        produce_command(broker.bootstrap_servers, names, rate=rate),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    job = subprocess.Popen(
        job_command(broker.bootstrap_servers, names, work, **job_settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    delays, state_sizes, seen = [], [], set()
    deadline = time.monotonic() + seconds
    next_state = time.monotonic()
    try:
        while time.monotonic() < deadline:
            now = time.time()
            for row in read_results(work / "results"):
                if row not in seen:
                    seen.add(row)
                    delays.append(now - parse_time(row.window_end) / 1000)
            if time.monotonic() >= next_state:
                checkpoint = latest_checkpoint(work / "checkpoints")
                if checkpoint is not None:
                    state_sizes.append(sum(f.stat().st_size for f in checkpoint.rglob("*") if f.is_file()))
                next_state += 5
            time.sleep(0.2)
    finally:
        for process in (producer, job):
            process.terminate()
            process.wait(60)
        shutil.rmtree(work, ignore_errors=True)
    return delays, state_sizes


def _short(chain: str) -> str:
    """A task thread's name, its operator chain shortened in the middle (its subtask index kept)."""
    return chain if len(chain) <= 90 else f"{chain[:70]} … {chain[-8:]}"


def profile_context(profile_dir: Path) -> str:
    """Where the CPU of the job's and the SQL plan's whole runs went, from their JFR recordings."""
    lines = [
        f"CPU profile (JFR, samples of Flink's task threads over the whole {JOB.name} and {OLD.name} runs):"
    ]
    for plan in (JOB, OLD):
        recording = profile_dir / f"{plan.build}.jfr"
        if not recording.is_file():
            continue
        categories, chains = profile_breakdown(recording)
        lines.append(f"- {plan.name}: " + ", ".join(f"{name} {share:.0%}" for name, share in categories))
        lines.append(
            "  - by task thread: " + "; ".join(f"{_short(chain)} {share:.0%}" for chain, share in chains[:4])
        )
    return "\n".join(lines)


def _ratio(ours: float, theirs: float) -> float:
    return ours / theirs if theirs else float("nan")


def throughput_figures(measured: dict[str, Throughput], impressions: int, plans: tuple[Plan, ...]) -> list:
    """The figures of the throughput comparison: the job's plan, its ratios to the ceiling, to the SQL
    plan and of its run with live rows to it, every other plan against the plan it varies, and
    parallelism 2 against 1."""
    ours = measured[JOB.name]
    figures = [
        Figure(
            "throughput, job plan (ClickFlags operator + SQL windows), output = reference",
            ours.events_per_second,
            "events/s",
            "",
            f"{impressions:,} impressions + clicks, parallelism 2, best of the rounds; "
            + (
                "start and stop taken out (each run timed from its first partition read; the difference "
                f"of a run over the first fifth and one over all); {ours.whole_run_events_per_second:,.0f} "
                "events/s over the whole run from its first read"
                if ours.start_taken_out
                else "one run each, over all the input, from its first read (start and stop not taken out)"
            )
            + (f"; {ours.problem}" if ours.problem else ""),
        ),
        Figure(
            "job plan / parse-only ceiling",
            _ratio(ours.events_per_second, measured[CEILING.name].events_per_second),
            "×",
            "≥ 0.5 ×",
            f"parse-only {measured[CEILING.name].events_per_second:,.0f} events/s",
        ),
        Figure(
            "job plan / sql-interval-join (the earlier SQL plan)",
            _ratio(ours.events_per_second, measured[OLD.name].events_per_second),
            "×",
            "≥ 3 ×",
            f"sql-interval-join {measured[OLD.name].events_per_second:,.0f} events/s (heap {OLD.jvm_heap}, "
            "the JVM's default here, as it ran before), output = reference",
        ),
        Figure(
            "job plan with live rows every 1 s / without",
            _ratio(measured[LIVE.name].events_per_second, ours.events_per_second),
            "×",
            "≥ 0.9 ×",
            f"{measured[LIVE.name].events_per_second:,.0f} events/s with live rows (to a topic of the run, "
            "update interval 1 s), output = reference; the same input and timing as the job plan's"
            + (f"; {measured[LIVE.name].problem}" if measured[LIVE.name].problem else ""),
        ),
    ]
    for plan in plans:
        if plan in MAIN_PLANS:
            continue
        base = OLD if plan.build.startswith("sql-") else CEILING if plan == EXCHANGE else JOB
        got = measured[plan.name]
        figures.append(
            Figure(
                plan.name,
                got.events_per_second,
                "events/s",
                "",
                f"{_ratio(got.events_per_second, measured[base.name].events_per_second):.2f} × {base.name}"
                + (f"; {got.problem}" if got.problem else ""),
            )
        )
    single = next((p for p in plans if p.build == JOB.build and p.parallelism == 1), None)
    if single is not None:
        rate = measured[single.name].events_per_second
        figures.append(
            Figure(
                "job plan: events/s per slot at parallelism 1 and 2",
                rate,
                "events/s",
                "",
                f"parallelism 2: {ours.events_per_second / 2:,.0f} per slot, "
                f"{_ratio(ours.events_per_second, rate):.2f} × parallelism 1 "
                "(2 cores, shared with the broker)",
            )
        )
    return figures


def cluster_figures(baseline: Throughput, runs: list[ClusterRun]) -> list[Figure]:
    """The figures of the local-cluster runs beside the mini-cluster's whole run of the job's plan
    (``baseline``) over the same events: events/s and peak memory of each, its ratio to the
    mini-cluster, and the last layout's rate over the first's."""
    events = baseline.events
    figures = [
        Figure(
            f"{CLUSTER_FIGURES} comparison: the job's plan on the mini-cluster (one JVM), parallelism "
            f"{JOB.parallelism}, whole run",
            baseline.whole_run_events_per_second,
            "events/s",
            "",
            f"{events:,} events, output = reference; timed from the first partition read (Flink's log) "
            "to the end of the bounded input, its final checkpoint included; peak memory "
            f"{baseline.peak_mib:,.0f} MiB (JVM + Python)"
            + (f"; {baseline.problem}" if not baseline.events_per_second else ""),
        )
    ]
    for run in runs:
        rate = events / run.seconds if run.seconds else 0.0
        figures += [
            Figure(
                f"{run.layout.name}: throughput, output = reference",
                rate,
                "events/s",
                "",
                (
                    f"ctr job (JobManager in application mode, PythonDriver, the chart's Flink options) over "
                    f"the same {events:,} events, then a sentinel per partition; timed as the mini-cluster's "
                    "whole run, from the first partition read (the TaskManagers' logs) to the last window's "
                    f"rows committed (polled every 0.2 s; {BACKFILL_CHECKPOINT_INTERVAL:g} s checkpoints); "
                    f"{events / run.seconds_from_running:,.0f} events/s from the job RUNNING on the REST "
                    "API (TaskManager start and task deployment included)"
                )
                if run.seconds and run.seconds_from_running
                else run.problem,
            ),
            Figure(
                f"{run.layout.name} / the mini-cluster",
                _ratio(rate, baseline.whole_run_events_per_second),
                "×",
                "",
                "the job's plan, parallelism as said, the same events, timed the same way",
            ),
            Figure(
                f"{run.layout.name}: peak memory (ctr job, JobManager + its Python driver, TaskManagers)",
                run.peak_mib,
                "MiB",
                "",
                f"the mini-cluster's run: {baseline.peak_mib:,.0f} MiB (one JVM + Python); --jvm-heap "
                f"{LocalJobSettings.model_fields['jvm_heap'].default} (the JobManager's heap, each "
                "TaskManager's task heap)",
            ),
        ]
    if len(runs) > 1 and runs[0].seconds and runs[-1].seconds:
        first, last = runs[0], runs[-1]
        figures.append(
            Figure(
                f"{CLUSTER_FIGURES}: {last.layout.taskmanagers} TaskManagers / {first.layout.taskmanagers}",
                first.seconds / last.seconds,
                "×",
                "",
                f"{last.layout.name} over {first.layout.name}; {os.cpu_count()} cores, shared with the "
                "broker and the JobManager",
            )
        )
    return figures


def main() -> None:
    parser = arguments(__doc__, "a run of about a minute")
    parser.add_argument(
        "--impressions", type=int, default=1_000_000, help="impressions preloaded for the throughput runs"
    )
    parser.add_argument(
        "--campaigns", default="10,1000,10000,100000,1000000", help="campaign counts of the scale runs"
    )
    parser.add_argument(
        "--plans",
        help="only these plans (names separated by ';'), besides the job's (with and without live rows), "
        "the SQL and the ceiling",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="runs of the job's plan (with and without live rows), the SQL plan and the ceiling, in turn; "
        "each keeps its best",
    )
    parser.add_argument(
        "--profile", metavar="DIR", help="record a JFR profile of the job's and the SQL plan's runs into DIR"
    )
    parser.add_argument(
        "--scale-impressions", type=int, default=300_000, help="impressions preloaded for the scale runs"
    )
    parser.add_argument("--live-rates", default="10000", help="impressions/s of the live freshness runs")
    parser.add_argument("--live-seconds", type=float, default=180.0, help="length of each live freshness run")
    parser.add_argument(
        "--clusters",
        type=layouts,
        help="local clusters of ctr job, as TaskManagers x slots each (parallelism = all the slots), "
        "separated by ','; default 1x2,2x1 (1x2 with --quick); '' for none",
    )
    parser.add_argument(
        "--clusters-only",
        action="store_true",
        help="only the job's plan on the mini-cluster (one whole run) and on the local clusters, no "
        "other plan, scale or freshness run (a few minutes); their rows replace those recorded",
    )
    parser.add_argument("--run-plan", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_plan:
        _run_plan_here(json.loads(args.run_plan))
        return
    if args.clusters is None:
        args.clusters = QUICK_CLUSTERS if args.quick else CLUSTERS
    if args.quick:
        # The smoke test's size: each plan once over a small input (no run over its first fifth), no
        # scale or freshness runs, the local cluster at 1 TaskManager.
        args.impressions, args.campaigns, args.live_seconds, args.rounds = 20_000, "", 0, 1
    plans = MAIN_PLANS if args.quick else PLANS
    if args.plans:
        chosen = args.plans.split(";")
        plans = (*MAIN_PLANS, *(plan for plan in PLANS if plan.name in chosen and plan not in MAIN_PLANS))
    build_java()
    profile_dir = Path(args.profile).resolve() if args.profile else None
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
    if args.clusters_only:
        with local_broker() as broker:
            measured, runs = throughput(
                broker, args.impressions, 10, (JOB,), check=True, clusters=args.clusters, take_out_start=False
            )
        figures = cluster_figures(measured[JOB.name], runs)
        report("bench/job", figures, args.quick, replacing=CLUSTER_FIGURES)
        return
    figures = []
    with local_broker() as broker:
        measured, runs = throughput(
            broker,
            args.impressions,
            10,
            plans,
            check=True,
            profile_dir=profile_dir,
            rounds=args.rounds,
            clusters=args.clusters,
            take_out_start=not args.quick,
        )
        figures += throughput_figures(measured, args.impressions, plans)
        if runs:
            figures += cluster_figures(measured[JOB.name], runs)
        context = profile_context(profile_dir) if profile_dir is not None else None
        for count in (int(c) for c in args.campaigns.split(",") if c):
            scaled = throughput(broker, args.scale_impressions, count, (JOB,), check=True)[0][JOB.name]
            note = f"{args.scale_impressions:,} impressions, output = reference" + (
                f"; {scaled.problem}" if scaled.problem else ""
            )
            figures.append(
                Figure(f"{count:,} campaigns: throughput", scaled.events_per_second, "events/s", "", note)
            )
            figures.append(Figure(f"{count:,} campaigns: peak memory (JVM + Python)", scaled.peak_mib, "MiB"))
            figures.append(
                Figure(
                    f"{count:,} campaigns: peak open files (JVM + Python)",
                    scaled.peak_open_files,
                    "files",
                    "",
                    f"hard open-file limit {resource.getrlimit(resource.RLIMIT_NOFILE)[1]:,} "
                    "(the JVM raises its own soft limit to it)",
                )
            )
        for live_rate in (int(r) for r in args.live_rates.split(",") if args.live_seconds):
            delays, states = freshness(broker, args.live_seconds, live_rate)
            target = 15 + 5 + 10 + 2
            note = f"{len(delays)} rows in {args.live_seconds:g} s" if delays else "no window committed"
            figures.append(
                Figure(
                    f"freshness p50, {live_rate:,} impressions/s",
                    percentile(delays, 0.5) if delays else float("nan"),
                    "s",
                    f"≤ {target} s",
                    note,
                )
            )
            figures.append(
                Figure(
                    f"freshness p99, {live_rate:,} impressions/s",
                    percentile(delays, 0.99) if delays else float("nan"),
                    "s",
                    f"≤ {target} s",
                )
            )
            early, late = early_and_late([size / 2**20 for size in states])
            figures.append(
                Figure(
                    f"checkpoint size after warm-up, {live_rate:,}/s: first third → last third",
                    late - early,
                    "MiB",
                    "flat",
                    f"{early:.1f} → {late:.1f} MiB on average, {len(states)} samples 5 s apart",
                )
            )
    report("bench/job", figures, args.quick, context)


if __name__ == "__main__":
    main()
