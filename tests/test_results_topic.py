"""The CTR rows on the results topic (equal to the reference and to the CSV files, row for row) and on
the live topic (live rows that end with the final ones), read back by ``ctr results --topic`` (once,
and following them)."""

import json

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from ctr.results_contract import CtrRow, LiveRow
from ctr.topics import TopicNames
from ctr_results.formats import format_batch

from helpers.kafka import read_topic
from helpers.results import comparable, live_row_violations, results_from_topic, rows_of_json


@pytest.mark.slow
def test_rows_on_the_topic_equal_the_reference(published_run):
    assert published_run["from_topic"].returncode == 0, published_run["from_topic"].stderr
    on_topic = rows_of_json(published_run["from_topic"].stdout)
    assert comparable(on_topic) == comparable(published_run["expected"])


@pytest.mark.slow
def test_rows_on_the_topic_and_in_the_files_agree_row_for_row(published_run):
    on_topic = rows_of_json(published_run["from_topic"].stdout)
    assert sorted(on_topic) == sorted(published_run["rows"])


@pytest.mark.slow
def test_records_are_keyed_by_campaign_and_window(published_run):
    topic = published_run["topics"].results
    messages = read_topic(published_run["broker"], topic, len(published_run["expected"]))
    for message in messages:
        key, value = json.loads(message.key()), json.loads(message.value())
        assert key == {"campaign_id": value["campaign_id"], "window_start": value["window_start"]}
        assert set(value) == set(CtrRow._fields)


@pytest.mark.slow
def test_live_topic_rows_are_keyed_by_window_never_decrease_and_end_with_the_final_rows(published_run):
    topic = published_run["topics"].live
    messages = read_topic(published_run["broker"], topic, len(published_run["expected"]))
    live = []
    for message in messages:
        key, value = json.loads(message.key()), json.loads(message.value())
        assert key == {"campaign_id": value["campaign_id"], "window_start": value["window_start"]}
        live.append(LiveRow(**value))
    assert live_row_violations(live, published_run["expected"]) == []


@pytest.mark.slow
def test_follow_prints_live_rows_then_final_rows_and_final_only_final_ones(published_run):
    """``ctr results --topic --follow`` and ``--topic --follow --final``, started before the job: the
    first prints live rows as windows fill, ending each window with its final row; the second prints
    only the final rows, each once its window closes; both exit 0 on SIGTERM."""
    for code, stderr in published_run["follower_exits"].values():
        assert code == 0, stderr
    followed = published_run["followed"]
    final_only = [CtrRow(**row) for row in followed["final"]]
    assert comparable(final_only) == comparable(published_run["expected"])
    live = [LiveRow(**row) for row in followed["live"]]
    assert live_row_violations(live, published_run["expected"]) == []
    assert any(not row.final for row in live), "no live row before the final ones"


def test_reading_a_missing_topic_fails_clearly(broker):
    missing = TopicNames.with_suffix("never-created")
    for extra, topic in (((), missing.live), (("--final",), missing.results)):
        result = results_from_topic(broker, missing, *extra)
        assert result.returncode == 1 and f"{topic} does not exist" in result.stderr


def test_follow_and_final_need_topic_and_topic_takes_no_directory(ctr_cli, tmp_path):
    for flag in ("--follow", "--final"):
        result = ctr_cli("results", flag)
        assert result.returncode == 2 and f"{flag} needs --topic" in result.stderr
    result = ctr_cli("results", str(tmp_path), "--topic")
    assert result.returncode == 2 and "--topic" in result.stderr


def test_follow_formats_print_the_header_once():
    row = CtrRow("a", "2026-01-01 00:00:00", "2026-01-01 00:00:30", 4, 1, 0.25)
    assert format_batch([row], "csv", True).splitlines()[0].startswith("campaign_id,")
    assert format_batch([row], "csv", False) == "a,2026-01-01 00:00:00,2026-01-01 00:00:30,4,1,0.25"
    assert json.loads(format_batch([row, row], "json", False).splitlines()[1]) == row._asdict()
    assert "campaign" not in format_batch([row], "table", False)
    live = LiveRow(*row, final=False)
    assert format_batch([live], "csv", True).splitlines()[0].endswith(",ctr,final")
    assert format_batch([live], "table", False).endswith(" live ")
    assert format_batch([live._replace(final=True)], "table", True).splitlines()[1].endswith(" final")
    assert json.loads(format_batch([live], "json", True)) == {**row._asdict(), "final": False}


def _row_value(row: CtrRow) -> bytes:
    return json.dumps(row._asdict()).encode()


def test_reader_keeps_the_last_value_per_key_drops_tombstones_and_skips_bad_records(broker, topics):
    first = CtrRow("a", "2026-01-01 00:00:00", "2026-01-01 00:00:30", 4, 1, 0.25)
    updated = first._replace(clicks=2, ctr=0.5)
    gone = first._replace(campaign_id="b")
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
    for key, value in (
        (b"a", _row_value(first)),
        (b"b", _row_value(gone)),
        (b"bad", b"not a row"),
        (b"a", _row_value(updated)),
        (b"b", None),
    ):
        producer.produce(topics.results, value, key, partition=0)
    assert producer.flush(10) == 0
    result = results_from_topic(broker, topics, "--final")
    assert result.returncode == 0, result.stderr
    assert rows_of_json(result.stdout) == [updated]
    assert "skipped the record" in result.stderr and "not a CTR row" in result.stderr


def test_read_committed_hides_aborted_and_open_transactions(broker, topics):
    """Kafka's read_committed, which a consumer of the results topic relies on: committed records only."""
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers, "transactional.id": topics.results})
    producer.init_transactions(10)
    for value, commit in ((b"committed-1", True), (b"aborted", False), (b"committed-2", True)):
        producer.begin_transaction()
        producer.produce(topics.results, value, key=value, partition=0)
        producer.flush(10)
        (producer.commit_transaction if commit else producer.abort_transaction)(10)
    producer.begin_transaction()
    producer.produce(topics.results, b"open", key=b"open", partition=0)
    producer.flush(10)
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap_servers,
            "group.id": topics.results,
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
        }
    )
    consumer.assign([TopicPartition(topics.results, 0, 0)])
    seen = []
    try:
        for _ in range(100):
            message = consumer.poll(1.0)
            if message is not None and message.error() is not None:
                break
            if message is not None:
                seen.append(message.value())
    finally:
        consumer.close()
        producer.abort_transaction(10)
    assert seen == [b"committed-1", b"committed-2"]
