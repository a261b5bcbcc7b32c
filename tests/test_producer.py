"""``ctr produce`` against the real broker: schema, keys, click model, shutdown and live changes."""

import math
import os
import signal
import time
from collections import Counter

import pytest

from ctr.events import decode_click, decode_impression

from helpers.commands import produce_args
from helpers.figures import report_figures
from helpers.kafka import read_topic
from helpers.processes import CollectedOutput, run_ctr, start_ctr
from helpers.producer import progress, summary_of, write_atomically


def read_events(broker, topics, summary: dict):
    impressions = read_topic(broker, topics.impressions, summary["impressions"])
    clicks = read_topic(broker, topics.clicks, summary["clicks"])
    return impressions, clicks


def check_clicks_follow_impressions(impressions: list, clicks: list, max_delay_ms: int) -> None:
    by_id = {i.impr_id: i for i in impressions}
    click_ids = [c.click_id for c in clicks]
    assert len(click_ids) == len(set(click_ids)), "a click was sent twice"
    for click in clicks:
        impression = by_id.get(click.impr_id)
        assert impression is not None, f"click {click.click_id} has no impression"
        assert click.user_id == impression.user_id
        assert 0 <= click.ts - impression.ts <= max_delay_ms


def test_seeded_bounded_run(broker, topics):
    result = run_ctr(
        *produce_args(
            broker.bootstrap_servers,
            topics,
            rate=4000,
            max_events=4000,
            campaigns=4,
            click_probability=0.3,
            max_click_delay="2s",
            seed=7,
        )
    )
    assert result.returncode == 0, result.stderr
    summary = summary_of(result.stdout)
    assert summary["impressions"] == 4000
    assert summary["clicks_dropped"] == summary["delivery_errors"] == 0
    impression_messages, click_messages = read_events(broker, topics, summary)
    assert len(impression_messages) == 4000 and len(click_messages) == summary["clicks"]
    impressions = [decode_impression(m.value()) for m in impression_messages]
    clicks = [decode_click(m.value()) for m in click_messages]
    assert all(m.key().decode() == e.impr_id for m, e in zip(impression_messages, impressions))
    assert all(m.key().decode() == e.impr_id for m, e in zip(click_messages, clicks))
    assert Counter(i.campaign_id for i in impressions) == {f"campaign-{n}": 1000 for n in range(1, 5)}
    check_clicks_follow_impressions(impressions, clicks, 2000)
    assert abs(len(clicks) / 4000 - 0.3) < 5 * math.sqrt(0.3 * 0.7 / 4000)


def test_same_seed_same_events(broker, new_topics):
    runs = []
    for _ in range(2):
        names = new_topics()
        result = run_ctr(
            *produce_args(
                broker.bootstrap_servers, names, rate=5000, max_events=600, max_click_delay="0s", seed=42
            )
        )
        assert result.returncode == 0, result.stderr
        summary = summary_of(result.stdout)
        impressions, clicks = read_events(broker, names, summary)
        runs.append(
            (
                sorted((m.partition(), m.offset(), decode_impression(m.value())[:3]) for m in impressions),
                sorted((m.partition(), m.offset(), decode_click(m.value())[:3]) for m in clicks),
            )
        )
    assert runs[0] == runs[1]


def sigterm_mid_run(broker, topics, **settings: str) -> tuple[float, dict, list, list]:
    """Run the producer until clicks are pending, SIGTERM it; return the stop time, summary and events."""
    process = start_ctr(
        *produce_args(broker.bootstrap_servers, topics, rate=500, progress_interval="200ms", **settings)
    )
    output = CollectedOutput(process)
    output.wait_for_stderr(
        lambda line: "impressions" in line and "pending 0 " not in line, 30, "clicks pending"
    )
    stopped_at = time.time()
    process.send_signal(signal.SIGTERM)
    assert output.finish(30) == 0, "".join(output.stderr)
    summary = summary_of("".join(output.stdout))
    impressions, clicks = read_events(broker, topics, summary)
    assert len(impressions) == summary["impressions"] and len(clicks) == summary["clicks"]
    return (
        stopped_at,
        summary,
        [decode_impression(m.value()) for m in impressions],
        [decode_click(m.value()) for m in clicks],
    )


def test_sigterm_drains_scheduled_clicks(broker, topics):
    """After SIGTERM the impressions stop and the clicks already scheduled are still sent: clicks come
    after the last impression, none is dropped. (An order of events, not a bound on how soon the
    signal is handled: the test's clock and the producer's differ by the machine's load.)"""
    stopped_at, summary, impressions, clicks = sigterm_mid_run(broker, topics, max_click_delay="2s")
    assert summary["clicks_dropped"] == 0 and summary["delivery_errors"] == 0
    check_clicks_follow_impressions(impressions, clicks, 2000)
    last_impression = max(i.ts for i in impressions)
    drained = [c for c in clicks if c.ts > last_impression]
    report_figures(
        "producer",
        "SIGTERM mid-run",
        last_impression_after_signal_ms=last_impression - int(stopped_at * 1000),
        clicks_after_last_impression=len(drained),
    )
    assert drained, "no click was sent after the last impression: nothing was drained"


def test_drain_deadline_drops_and_counts_late_clicks(broker, topics):
    """--drain-timeout 500ms with clicks up to 5 s after their impression: the drain ends at its deadline,
    long before the last impression's clicks would be due, and counts what it drops."""
    _, summary, impressions, clicks = sigterm_mid_run(
        broker, topics, max_click_delay="5s", drain_timeout="500ms"
    )
    assert summary["clicks_dropped"] > 0
    last_impression = max(i.ts for i in impressions)
    assert max(c.ts for c in clicks) < last_impression + 2_500, "clicks were drained past the deadline"


def test_live_rate_change_and_pause_resume(broker, topics, tmp_path):
    config = tmp_path / "live.yaml"
    config.write_text("rate: 100\n")
    process = start_ctr(
        *produce_args(
            broker.bootstrap_servers,
            topics,
            config_file=config,
            max_click_delay="1s",
            click_probability=0.5,
            progress_interval="250ms",
        )
    )
    output = CollectedOutput(process)
    output.wait_for_stderr(
        lambda line: "achieved 9" in line or "achieved 10" in line, 30, "the producer at 100/s"
    )

    changed_at = time.time()
    write_atomically(config, "rate: 2000\n")
    output.wait_for_stderr(lambda line: "achieved 19" in line or "achieved 20" in line, 30, "the new rate")
    write_atomically(config, "rate: fast\n")
    output.wait_for_stderr(
        lambda line: "keeping the current settings" in line, 30, "the bad value to be refused"
    )
    paused_at = time.time()
    write_atomically(config, "rate: 2000\nstate: Paused\n")
    output.wait_for_stderr(lambda line: "target 0/s" in line, 30, "the pause")
    paused_seen = time.time()  # the producer printed that it is paused: it had stopped sending before
    output.wait_for_stderr(
        lambda line: "target 0/s" in line and "pending 0 " in line, 30, "clicks to drain while paused"
    )
    resumed_at = time.time()
    write_atomically(config, "rate: 2000\nstate: Running\n")
    resumed = progress(output.wait_for_stderr(lambda line: "target 2000/s" in line, 30, "the resume"))
    output.wait_for_stderr(
        lambda line: progress(line).get("impressions", 0) > resumed["impressions"], 30, "impressions again"
    )
    process.send_signal(signal.SIGTERM)
    assert output.finish(30) == 0, "".join(output.stderr)

    summary = summary_of("".join(output.stdout))
    assert summary["config_errors"] == 1 and summary["clicks_dropped"] == 0
    impression_messages, click_messages = read_events(broker, topics, summary)
    impressions = [decode_impression(m.value()) for m in impression_messages]
    clicks = [decode_click(m.value()) for m in click_messages]
    check_clicks_follow_impressions(impressions, clicks, 1000)
    times = sorted(i.ts / 1000 for i in impressions)

    def count(start: float, end: float) -> int:
        return sum(start <= t < end for t in times)

    fast_from = next(
        (t for k, t in enumerate(times[:-100]) if t >= changed_at and times[k + 100] - t <= 100 / 2000 * 1.2),
        None,
    )
    report_figures(
        "producer",
        "live changes from the config file",
        new_rate_after_s=f"{fast_from - changed_at:.2f}" if fast_from else "never",
        last_impression_after_pause_s=f"{max(t for t in times if t < resumed_at) - paused_at:.2f}",
    )
    # The order of events, each seen by the test in the producer's output before the next change.
    assert fast_from is not None and fast_from < paused_at, "no run at the new rate before the pause"
    assert count(paused_seen, resumed_at) == 0, "impressions were sent after the producer said it paused"
    assert count(resumed_at, math.inf) > 0, "impressions did not resume"


@pytest.mark.parametrize(
    ("args", "env", "names"),
    [
        (["--rate", "-5"], {}, "--rate"),
        (["--rate", "0"], {}, "--rate"),
        (["--click-probability", "1.5"], {}, "--click-probability"),
        (["--max-click-delay", "ten"], {}, "--max-click-delay"),
        (["--campaigns", "a,a"], {}, "--campaigns"),
        (["--campaigns", "a=2"], {}, "--campaigns"),
        (["--metrics-port", "99999"], {}, "--metrics-port"),
        (["--config-file", "/does/not/exist.yaml"], {}, "--config-file"),
        ([], {"CTR_RATE": "lots"}, "CTR_RATE"),
        ([], {"CTR_STATE": "Sleeping"}, "CTR_STATE"),
    ],
)
def test_bad_settings_exit_2_naming_the_setting(ctr_cli, args, env, names):
    result = ctr_cli("produce", *args, env=env)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert names in result.stderr


@pytest.mark.parametrize(
    ("text", "field"),
    [("rate: -1\n", "rate"), ("speed: 3\n", "speed"), ("[1, 2]\n", "mapping"), ("rate: [\n", "YAML")],
)
def test_bad_config_file_exits_2(ctr_cli, tmp_path, text, field):
    config = tmp_path / "live.yaml"
    config.write_text(text)
    result = ctr_cli("produce", "--config-file", str(config))
    assert result.returncode == 2
    assert "--config-file" in result.stderr and field in result.stderr


def test_metrics_endpoint_and_sighup_reload(broker, topics, tmp_path):
    import urllib.request

    from ctr.broker import free_port

    config = tmp_path / "live.json"
    config.write_text('{"rate": 20}')
    port = free_port()
    process = start_ctr(
        *produce_args(
            broker.bootstrap_servers, topics, config_file=config, metrics_port=port, progress_interval="200ms"
        )
    )
    output = CollectedOutput(process)
    try:
        output.wait_for_stderr(lambda line: "target 20/s" in line, 30, "the producer at 20/s")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            metrics = response.read().decode()
        for name in (
            "ctr_producer_impressions_total",
            "ctr_producer_clicks_total",
            "ctr_producer_delivery_errors_total",
            "ctr_producer_pending_clicks",
            "ctr_producer_target_impressions_per_second",
        ):
            assert f"\n{name} " in metrics, name
        stat = config.stat()
        replacement = tmp_path / "replacement.json"
        replacement.write_text('{"rate": 40}')
        os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        os.replace(replacement, config)
        assert (config.stat().st_mtime_ns, config.stat().st_size) == (stat.st_mtime_ns, stat.st_size), (
            "polling would see it"
        )
        process.send_signal(signal.SIGHUP)
        output.wait_for_stderr(lambda line: "target 40/s" in line, 10, "the SIGHUP reload")
    finally:
        process.send_signal(signal.SIGTERM)
    assert output.finish(30) == 0
