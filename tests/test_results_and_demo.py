"""``ctr results`` on a hand-made output directory, and a short ``ctr demo`` run end to end."""

import json
import re

import pytest
from support import run_ctr


@pytest.fixture
def output_dir(tmp_path):
    results = tmp_path / "results"
    (results / "campaign_id=b").mkdir(parents=True)
    (results / "campaign_id=a").mkdir()
    (results / "campaign_id=b" / "part-1-0-0").write_text(
        "2024-01-01 00:00:30,2024-01-01 00:01:00,10,5,0.5\n2024-01-01 00:00:00,2024-01-01 00:00:30,4,1,0.25\n"
    )
    (results / "campaign_id=a" / "part-2-0-0").write_text(
        "2024-01-01 00:00:30,2024-01-01 00:01:00,8,2,0.25\n"
    )
    (results / "campaign_id=a" / ".part-2-0-1.inprogress.123").write_text(
        "2024-01-01 00:01:00,2024-01-01 00:01:30,9,9,1.0\n"
    )
    (results / "campaign_id=a" / "_SUCCESS").write_text("")
    return results


def test_results_csv_is_sorted_and_skips_uncommitted_files(output_dir):
    result = run_ctr("results", str(output_dir), "--format", "csv", timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == [
        "campaign_id,window_start,window_end,impressions,clicks,ctr",
        "b,2024-01-01 00:00:00,2024-01-01 00:00:30,4,1,0.25",
        "a,2024-01-01 00:00:30,2024-01-01 00:01:00,8,2,0.25",
        "b,2024-01-01 00:00:30,2024-01-01 00:01:00,10,5,0.5",
    ]


def test_results_json_table_and_plot(output_dir, tmp_path):
    rows = json.loads(run_ctr("results", str(output_dir), "--format", "json", timeout=60).stdout)
    assert [(r["campaign_id"], r["impressions"]) for r in rows] == [("b", 4), ("a", 8), ("b", 10)]
    plot = tmp_path / "ctr.png"
    table = run_ctr("results", str(output_dir), "--plot", str(plot), timeout=120)
    assert "50.00%" in table.stdout and "campaign" in table.stdout
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_results_of_a_missing_directory_exits_2(tmp_path):
    result = run_ctr("results", str(tmp_path / "nothing"), timeout=60)
    assert result.returncode == 2 and "not a directory" in result.stderr


@pytest.mark.slow
def test_short_demo_commits_windows_consistent_with_the_producer(tmp_path):
    result = run_ctr(
        "demo",
        "--duration",
        "75s",
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
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sent = re.search(r"producer sent (\d+) impressions and (\d+) clicks", result.stdout)
    committed = re.search(r"(\d+) committed windows in", result.stdout)
    assert sent and committed and int(committed.group(1)) >= 1, result.stdout
    csv_rows = run_ctr("results", str(tmp_path / "demo" / "results"), "--format", "json", timeout=60).stdout
    rows = json.loads(csv_rows)
    assert {row["campaign_id"] for row in rows} <= {"campaign-1", "campaign-2", "campaign-3"}
    assert all(0 <= row["clicks"] <= row["impressions"] for row in rows)
    assert sum(row["impressions"] for row in rows) <= int(sent.group(1))
    assert sum(row["clicks"] for row in rows) <= int(sent.group(2))
    assert "true CTR" in result.stdout
