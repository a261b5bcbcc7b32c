"""``ctr results`` on a hand-made output directory (in this process, and once as the installed ``ctr``
command), and a short ``ctr demo`` run end to end (stopped with Ctrl-C once it shows a committed window)."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from helpers.processes import CollectedOutput, run_ctr, stop, wait_for


def partition(results, day: str, campaign: str):
    from ctr.results_contract import campaign_bucket

    path = results / f"window_day={day}" / f"campaign_bucket={campaign_bucket(campaign)}"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def output_dir(tmp_path):
    results = tmp_path / "results"
    (partition(results, "2024-01-01", "b") / "part-1-0-0").write_text(
        "b,2024-01-01 00:00:30,2024-01-01 00:01:00,10,5,0.5\n"
        "b,2024-01-01 00:00:00,2024-01-01 00:00:30,4,1,0.25\n"
    )
    (partition(results, "2024-01-01", "a") / "part-2-0-0").write_text(
        "a,2024-01-01 00:00:30,2024-01-01 00:01:00,8,2,0.25\n"
    )
    (partition(results, "2024-01-01", "a") / ".part-2-0-1.inprogress.123").write_text(
        "a,2024-01-01 00:01:00,2024-01-01 00:01:30,9,9,1.0\n"
    )
    (partition(results, "2024-01-01", "a") / "_SUCCESS").write_text("")
    return results


def test_results_csv_is_sorted_and_skips_uncommitted_files(ctr_cli, output_dir):
    result = ctr_cli("results", str(output_dir), "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == [
        "campaign_id,window_start,window_end,impressions,clicks,ctr",
        "b,2024-01-01 00:00:00,2024-01-01 00:00:30,4,1,0.25",
        "a,2024-01-01 00:00:30,2024-01-01 00:01:00,8,2,0.25",
        "b,2024-01-01 00:00:30,2024-01-01 00:01:00,10,5,0.5",
    ]


def test_results_json_table_and_plot(ctr_cli, output_dir, tmp_path):
    rows = json.loads(ctr_cli("results", str(output_dir), "--format", "json").stdout)
    assert [(r["campaign_id"], r["impressions"]) for r in rows] == [("b", 4), ("a", 8), ("b", 10)]
    plot = tmp_path / "ctr.png"
    table = ctr_cli("results", str(output_dir), "--plot", str(plot))
    assert "50.00%" in table.stdout and "campaign" in table.stdout
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_results_of_one_campaign_or_since_a_time_read_only_their_partitions(ctr_cli, output_dir):
    from ctr.results_contract import campaign_bucket

    assert campaign_bucket("a") != campaign_bucket("b")
    (partition(output_dir, "2023-12-31", "b") / "part-0-0-0").write_text("not, a, row\n")
    (partition(output_dir, "2024-01-02", "a") / "part-3-0-0").write_text(
        "a,2024-01-02 00:00:00,2024-01-02 00:00:30,3,3,1.0\n"
    )
    a = ctr_cli("results", str(output_dir), "--format", "csv", "--campaign", "a")
    assert a.returncode == 0, a.stderr
    assert a.stdout.strip().splitlines()[1:] == [
        "a,2024-01-01 00:00:30,2024-01-01 00:01:00,8,2,0.25",
        "a,2024-01-02 00:00:00,2024-01-02 00:00:30,3,3,1.0",
    ]
    since = ctr_cli("results", str(output_dir), "--format", "csv", "--since", "2024-01-01 00:00:30")
    assert since.returncode == 0, since.stderr
    assert [line.split(",")[:2] for line in since.stdout.strip().splitlines()[1:]] == [
        ["a", "2024-01-01 00:00:30"],
        ["b", "2024-01-01 00:00:30"],
        ["a", "2024-01-02 00:00:00"],
    ]
    bad = ctr_cli("results", str(output_dir), "--since", "yesterday")
    assert bad.returncode == 2 and "--since" in bad.stderr


def test_demo_says_when_a_window_is_committed():
    from ctr.settings.models import DemoSettings
    from ctr_demo.cli import commit_delay, next_commit, status_line
    from ctr_demo.progress import Progress

    config = DemoSettings(window=30, join_bound=15, out_of_orderness=5, checkpoint_interval=10)
    assert commit_delay(config) == (20, 30)
    assert next_commit(config, 1_700_000_010.0) == 1_700_000_040 + 30
    line = status_line(Progress(1234, 1000, 1_700_000_000_000), 100.0, 70.0)
    assert (
        "sent 1,234 events" in line and "read 1,000" in line and "22:13:20 UTC" in line and "in 30s" in line
    )
    assert "not yet" in status_line(Progress(0, 0, None), 100.0, 100.0)


def test_demo_draws_open_windows_in_place_on_a_terminal_and_plain_lines_when_piped(output_dir, capsys):
    from ctr.results_contract import LiveRow
    from ctr.settings.models import DemoSettings
    from ctr_demo.cli import DemoDirs, Watch, live_lines
    from ctr_demo.live_view import WRAP_OFF, WRAP_ON, InPlace

    screen = InPlace(lambda: os.terminal_size((80, 24)))
    assert screen.draw(["open", "row", "status"]) == WRAP_OFF + "open\nrow\nstatus" + WRAP_ON
    assert screen.draw(["status"]) == WRAP_OFF + "\r\x1b[2A\x1b[Jstatus" + WRAP_ON
    assert screen.above("committed") == "\r\x1b[Jcommitted\n"
    assert screen.draw(["status"]) == WRAP_OFF + "status" + WRAP_ON
    short = InPlace(lambda: os.terminal_size((80, 4)))
    assert short.draw(["open", "a", "b", "c", "d", "status"]) == WRAP_OFF + "open\n… 4 more\nstatus" + WRAP_ON
    assert short.draw(["status"]) == WRAP_OFF + "\r\x1b[2A\x1b[Jstatus" + WRAP_ON
    live = LiveRow("campaign-1", "2024-01-01 00:01:00", "2024-01-01 00:01:30", 20, 1, 0.05, False)
    lines = live_lines([live, live._replace(final=True)], {"campaign-1": 0.05}, 1.0)
    assert "every 1s" in lines[0] and lines[1].endswith(" live ") and lines[2].endswith(" final")
    assert live_lines([], {}, 1.0) == []
    dirs = DemoDirs(output_dir, output_dir / "c", output_dir / "l", output_dir / "b")
    Watch(DemoSettings(), dirs, {}, None, 0.0).show_new_rows()
    piped = capsys.readouterr().out
    assert "campaign" in piped and "\x1b" not in piped and "\r" not in piped


def test_the_installed_ctr_command_runs_its_subcommands(output_dir):
    """The ``ctr`` script pip installed (the project's entry point and its subcommands' entry points),
    as a user runs it: a subcommand's output, and a bad setting's exit code."""
    ctr = Path(sys.executable).parent / "ctr"
    result = subprocess.run(
        [str(ctr), "results", str(output_dir), "--format", "csv"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "campaign_id,window_start,window_end,impressions,clicks,ctr"
    assert len(result.stdout.strip().splitlines()) == 4
    bad = subprocess.run([str(ctr), "produce", "--rate", "-5"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--rate" in bad.stderr, bad.stderr


def test_results_of_a_missing_directory_exits_2(ctr_cli, tmp_path):
    result = ctr_cli("results", str(tmp_path / "nothing"))
    assert result.returncode == 2 and "not a directory" in result.stderr


def test_the_demo_watches_until_its_duration_or_until_a_process_exits(tmp_path, capsys):
    """``--duration`` ends the demo's watch as Ctrl-C does (True: a demo that ran its course); one of
    its processes exiting ends it at once (False: the demo exits 1, naming the process)."""
    from ctr.settings.models import DemoSettings
    from ctr_demo.cli import DemoDirs, Watch

    class Process:
        def __init__(self, returncode: int | None) -> None:
            self.pid, self.returncode = os.getpid(), returncode

        def poll(self) -> int | None:
            return self.returncode

    config = DemoSettings(data_dir=str(tmp_path), duration=2)
    dirs = DemoDirs.emptied(tmp_path)
    started = time.monotonic()
    watch = Watch(config, dirs, {"job": Process(None), "producer": Process(None)}, None, 0.0)
    assert watch.until(threading.Event()) is True
    assert 2 <= time.monotonic() - started < 10
    assert watch.peak > 0, "the job's memory was not read"
    exited = Watch(config, dirs, {"job": Process(None), "producer": Process(3)}, None, 0.0)
    assert exited.until(threading.Event()) is False
    assert "the producer exited with code 3" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.broker
@pytest.mark.jvm
def test_short_demo_commits_windows_consistent_with_the_producer(tmp_path):
    """``ctr demo`` on a terminal (as users run it) until it shows its first committed window, then
    Ctrl-C (SIGINT), as its opening line says: the open windows' live rows drawn in place below the
    committed rows; it stops the producer and the job and says what they did."""
    demo = CollectedOutput.in_terminal(
        "demo",
        "--data-dir",
        str(tmp_path / "demo"),
        "--rate",
        "50",
        "--window",
        "10s",
        "--join-bound",
        "5s",
        "--max-click-delay",
        "4s",
        "--out-of-orderness",
        "1s",
        "--checkpoint-interval",
        "2s",
        "--idle-timeout",
        "2s",
        "--web-ui-port",
        "0",
    )
    try:
        wait_for(
            lambda: demo.process.poll() is not None or "true CTR" in "".join(demo.stdout),
            240,
            "the demo to show a committed window",
            interval=0.2,
        )
        demo.process.send_signal(signal.SIGINT)
        code = demo.finish(180)
    finally:
        stop(demo)
    stdout, stderr = "".join(demo.stdout), "".join(demo.stderr)
    assert code == 0, stdout + stderr
    sent = re.search(r"producer sent (\d+) impressions and (\d+) clicks", stdout)
    committed = re.search(r"(\d+) committed windows in", stdout)
    assert sent and committed and int(committed.group(1)) >= 1, stdout
    csv_rows = run_ctr("results", str(tmp_path / "demo" / "results"), "--format", "json", timeout=60).stdout
    rows = json.loads(csv_rows)
    assert {row["campaign_id"] for row in rows} <= {"campaign-1", "campaign-2", "campaign-3"}
    assert all(0 <= row["clicks"] <= row["impressions"] for row in rows)
    assert sum(row["impressions"] for row in rows) <= int(sent.group(1))
    assert sum(row["clicks"] for row in rows) <= int(sent.group(2))
    assert "true CTR" in stdout
    assert "committed 6-8s after it ends" in stdout, stdout
    assert "open windows (live: counts so far, every 1s" in stdout, stdout
    assert re.search(r"campaign-\d +\d{4}-\d\d-\d\d [\d:]+ - [\d:]+ .* live", stdout), stdout
    assert "\x1b[J" in stdout
    assert re.search(r"Flink Web UI at http://127\.0\.0\.1:\d+\. ", stdout), stdout
    assert re.search(r"peak resident memory \(JVM and Python\) was [\d,]+ MiB with --jvm-heap 1g", stdout)


def test_results_read_rfc_4180_fields_and_skip_bad_lines_with_a_warning(ctr_cli, tmp_path):
    """Quoted fields (commas, doubled quotes, a line break) read back exactly; a line that is no CTR
    row is a one-line warning naming its file and line, and the other rows are still read."""
    results = tmp_path / "results"
    odd = 'a,"b"\n c'
    good = partition(results, "2024-01-01", odd) / "part-0-0-0"
    good.write_text('"a,""b""\n c","2024-01-01 00:00:00","2024-01-01 00:00:30",4,1,0.25\n', newline="")
    bad = partition(results, "2024-01-01", "b") / "part-1-0-0"
    bad.write_bytes(
        b"b,2024-01-01 00:00:00,2024-01-01 00:00:30,2,1,0.5\n"
        b"b,2024-01-01 00:00:00,2024-01-01\n"
        b"b,2024-01-01 00:00:30,2024-01-01 00:01:00,two,1,0.5\n"
        b"\xff,2024-01-01 00:00:30,2024-01-01 00:01:00,2,1,0.5\n"
        b'"b,2024-01-01 00:01:00,2024-01-01 00:01:30,1,1,1.0\n'
    )
    result = ctr_cli("results", str(results), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert [(r["campaign_id"], r["impressions"]) for r in json.loads(result.stdout)] == [(odd, 4), ("b", 2)]
    warnings = result.stderr.strip().splitlines()
    assert [re.search(rf"skipped {re.escape(str(bad))} line (\d+),", w).group(1) for w in warnings] == [
        "2",
        "3",
        "4",
        "5",
    ]
    assert "Traceback" not in result.stderr
