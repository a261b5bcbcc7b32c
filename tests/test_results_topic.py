"""The CTR rows on the results topic: equal to the reference and to the CSV files, row for row, read
back by ``ctr results --topic`` (once, and following as windows close)."""

import json

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from ctr.results_contract import CtrRow
from ctr_results.formats import format_batch

from helpers.kafka import read_topic
from helpers.results import comparable, results_from_topic, rows_of_json


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
def test_follow_prints_rows_as_windows_close(published_run):
    """``ctr results --topic --follow`` started before the job prints every row once its window closes,
    and exits 0 on SIGTERM."""
    code, stderr = published_run["follower_exit"]
    assert code == 0, stderr
    assert comparable(published_run["followed"]) == comparable(published_run["expected"])


def test_reading_a_missing_topic_fails_clearly(broker):
    result = results_from_topic(broker, "no-such-topic")
    assert result.returncode == 1 and "no-such-topic does not exist" in result.stderr


def test_follow_needs_topic_and_topic_takes_no_directory(ctr_cli, tmp_path):
    assert ctr_cli("results", "--follow").returncode == 2
    result = ctr_cli("results", str(tmp_path), "--topic")
    assert result.returncode == 2 and "--topic" in result.stderr


def test_follow_formats_print_the_header_once():
    row = CtrRow("a", "2026-01-01 00:00:00", "2026-01-01 00:00:30", 4, 1, 0.25)
    assert format_batch([row], "csv", True).splitlines()[0].startswith("campaign_id,")
    assert format_batch([row], "csv", False) == "a,2026-01-01 00:00:00,2026-01-01 00:00:30,4,1,0.25"
    assert json.loads(format_batch([row, row], "json", False).splitlines()[1]) == row._asdict()
    assert "campaign" not in format_batch([row], "table", False)


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
    result = results_from_topic(broker, topics.results)
    assert result.returncode == 0, result.stderr
    assert rows_of_json(result.stdout) == [updated]
    assert "skipped the record" in result.stderr and "not a CTR row" in result.stderr


def test_read_committed_hides_aborted_and_open_transactions(broker, topics):
    """Kafka's read_committed, which a consumer of the results topic relies on: committed records only."""
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers, "transactional.id": topics.results})
    producer.init_transactions(10)
    for value, commit in ((b"committed-1", True), (b"aborted", False), (b"committed-2", True)):
        producer.begin_transaction()
        producer.produce(topics.results, value, partition=0)
        producer.flush(10)
        (producer.commit_transaction if commit else producer.abort_transaction)(10)
    producer.begin_transaction()
    producer.produce(topics.results, b"open", partition=0)
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
