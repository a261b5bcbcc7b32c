"""Plain functions: durations, campaign lists, live settings and the traffic model."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import psutil
import pytest
from pydantic import ValidationError

from ctr.campaigns import Campaign, parse_campaigns
from ctr.durations import format_duration, parse_duration
from ctr.events import Click, Impression, MalformedEvent, decode_click, decode_impression, encode
from ctr.processes import stop_event
from ctr.settings.models import JobSettings, LiveSettings, LiveSettingsError
from ctr_demo.memory import tree_rss
from ctr_producer.traffic import TrafficModel


@pytest.mark.parametrize(
    ("text", "seconds"), [("500ms", 0.5), ("30s", 30), ("2m", 120), ("1h", 3600), ("1.5s", 1.5), ("0s", 0)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["30", "-1s", "5 minutes", "", "1d"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize("value", ["0.4ms", "1.0005s", 0.0005])
def test_a_duration_setting_finer_than_a_millisecond_is_refused(value):
    """Flink and Kafka count whole milliseconds: 0.4ms would turn live rows half on."""
    with pytest.raises(ValidationError, match="not a whole number of milliseconds"):
        JobSettings(update_interval=value)
    assert JobSettings(update_interval="250ms").update_interval == 0.25


def test_campaigns_by_count_and_by_name():
    assert parse_campaigns("2") == (Campaign("campaign-1"), Campaign("campaign-2"))
    assert parse_campaigns("a, b=0.25") == (Campaign("a"), Campaign("b", 0.25))


def test_events_round_trip_and_reject_malformed():
    impression = Impression("i1", "u1", "c1", 1700000000000)
    click = Click("k1", "i1", "u1", 1700000001000)
    assert decode_impression(encode(impression)) == impression
    tricky = Impression('quote"back\\slash', "ünï", "c\n1", -5)
    assert json.loads(encode(tricky)) == tricky._asdict()
    assert encode(impression) == json.dumps(impression._asdict(), separators=(",", ":")).encode()
    assert decode_click(encode(click)) == click
    for payload, reason in [
        (b"{", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"impr_id":"i"}', "missing field"),
        (b'{"impr_id":"i","user_id":"u","campaign_id":"c","ts":"soon"}', "ts is not BIGINT"),
        (b'{"impr_id":"i","user_id":"u","campaign_id":"c","ts":9223372036854775808}', "ts is not BIGINT"),
    ]:
        with pytest.raises(MalformedEvent, match=reason):
            decode_impression(payload)


def live(**changes) -> LiveSettings:
    return LiveSettings(campaigns=parse_campaigns("3")).updated(changes)


def test_live_settings_updates_and_errors():
    assert live(rate="250", state="Paused").paused and live(rate=250).rate == 250
    assert live(campaigns=["a", "b"]).campaigns == (Campaign("a"), Campaign("b"))
    assert live(campaigns={"a": 0.1, "b": None}).campaigns == (Campaign("a", 0.1), Campaign("b"))
    for changes, field in [
        ({"rate": -1}, "rate"),
        ({"clickProbability": 3}, "clickProbability"),
        ({"colour": 1}, "colour"),
        ({"campaignWeights": "1,2"}, "campaignWeights"),
    ]:
        with pytest.raises(LiveSettingsError, match=field):
            live(**changes)


def test_weighted_campaigns_and_true_ctr():
    model = TrafficModel(live(campaigns="a=0.1,b=0.5", campaignWeights="3,1", maxClickDelay="2s"), seed=3)
    n = 20_000
    shown, clicked = Counter(), Counter()
    for k in range(n):
        impression, click = model.impression(k)
        shown[impression.campaign_id] += 1
        if click is not None:
            clicked[impression.campaign_id] += 1
            assert 0 <= click.ts - impression.ts <= 2000 and click.impr_id == impression.impr_id
    assert abs(shown["a"] / n - 0.75) < 5 * math.sqrt(0.75 * 0.25 / n)
    for name, p in (("a", 0.1), ("b", 0.5)):
        assert abs(clicked[name] / shown[name] - p) < 5 * math.sqrt(p * (1 - p) / shown[name])


def test_round_robin_and_seed():
    def events(seed: int) -> list:
        model = TrafficModel(live(), seed=seed)
        return [model.impression(k) for k in range(6)]

    first, again, other = events(9), events(9), events(10)
    assert [i.campaign_id for i, _ in first] == ["campaign-1", "campaign-2", "campaign-3"] * 2
    assert first == again != other


def test_local_jvm_gets_the_parallel_collector_and_the_heap_setting_unless_jvm_args_name_them(
    tmp_path, monkeypatch
):
    from ctr_job.runtime import LOCAL_GC, prepare_jvm_environment

    monkeypatch.delenv("JVM_ARGS", raising=False)
    prepare_jvm_environment(tmp_path / "logs", "WARN", tmp_path / "tmp", "1g")
    assert os.environ["JVM_ARGS"].split() == [
        LOCAL_GC,
        "-Xmx1g",
        f"-Djava.io.tmpdir={(tmp_path / 'tmp').resolve()}",
    ]
    monkeypatch.setenv("JVM_ARGS", "-Xmx2g -XX:+UseG1GC")
    prepare_jvm_environment(tmp_path / "logs", "WARN", tmp_path / "tmp", "1g")
    assert (
        os.environ["JVM_ARGS"].split()[:2] == ["-Xmx2g", "-XX:+UseG1GC"]
        and LOCAL_GC not in os.environ["JVM_ARGS"]
        and "-Xmx1g" not in os.environ["JVM_ARGS"]
    )


def test_a_failed_job_names_the_remedy_of_a_known_cause():
    from ctr_job.cli import failure_message

    cause = "java.nio.file.FileSystemException: /r/window_day=d/.part-0.inprogress: Too many open files"
    assert failure_message(cause).startswith(cause) and "ulimit -n" in failure_message(cause)
    assert failure_message("java.lang.IllegalStateException: boom") == "java.lang.IllegalStateException: boom"


def test_tree_rss_counts_the_descendants_and_none_for_a_gone_process():
    holds = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'input()'])"
    parent = subprocess.Popen([sys.executable, "-c", holds], stdin=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while not psutil.Process(parent.pid).children() and time.monotonic() < deadline:
            time.sleep(0.05)
        (child,) = psutil.Process(parent.pid).children()
        assert (
            tree_rss(parent.pid) > psutil.Process(parent.pid).memory_info().rss + child.memory_info().rss / 2
        )
    finally:
        parent.communicate(b"\n", timeout=10)
    assert tree_rss(parent.pid) is None


def test_stop_event_is_set_by_sigint_and_by_sigterm():
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        for signum in saved:
            stop = stop_event()
            assert not stop.is_set()
            os.kill(os.getpid(), signum)
            assert stop.wait(5), signum
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def test_forbidden_characters_are_exactly_unicode_s_cc_zl_zp_and_cs():
    """The Python rule names the same characters as the Java format's Character.getType check."""
    import unicodedata

    from ctr.events import FORBIDDEN_CHARACTER

    every = [chr(point) for point in range(0x110000)]
    assert {c for c in every if FORBIDDEN_CHARACTER.search(c)} == {
        c for c in every if unicodedata.category(c) in ("Cc", "Zl", "Zp", "Cs")
    }


@pytest.mark.parametrize(
    ("campaign", "reason"),
    [
        ('a,b "q" ../x a/b café 😀', None),
        ("x" * 256, None),
        ("x" * 257, "field campaign_id is longer than 256 characters"),
        ("a\nb", "field campaign_id has a control character"),
        ("a\tb", "field campaign_id has a control character"),
        ("a\u2028b", "field campaign_id has a control character"),
        ("a\ud800b", "field campaign_id has an unpaired surrogate"),
    ],
)
def test_a_string_field_within_the_id_rule_decodes_and_one_outside_it_is_malformed(campaign, reason):
    message = encode(Impression("i", "u", campaign, 1))
    if reason is None:
        assert decode_impression(message).campaign_id == campaign
    else:
        with pytest.raises(MalformedEvent, match=f"^{reason}$"):
            decode_impression(message)
