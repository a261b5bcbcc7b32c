"""Campaign ids that are any JSON string, through the real job: an id within the rule of ctr.events
(MAX_STRING_LENGTH characters, no control character or unpaired surrogate) is counted and read back
exactly, from the CSV files (by ``ctr results`` in every format, and by Python's ``csv``) and from the
results topic; an id outside it is dead-lettered with the reason ctr.events gives. Late events, sent
once every window is committed, are dead-lettered with reason ``late``."""

import csv
import io
import json
import random

import pytest

from ctr.events import MAX_STRING_LENGTH, Click, Impression, MalformedEvent, decode_impression, encode
from ctr.reference import reference_ctr
from ctr.results_contract import BUCKET_PARTITION, DAY_PARTITION, CtrRow, campaign_bucket, window_day
from ctr_results.files import committed_files
from ctr_results.formats import format_table

from helpers.commands import job_args
from helpers.events import BASE, JOIN_BOUND_MS, WINDOW_MS, EventSet, produce, produce_sentinels
from helpers.job_runs import stop_job, wait_for_results
from helpers.kafka import fresh_topics, read_topic
from helpers.processes import CollectedOutput, run_ctr, start_ctr
from helpers.results import comparable, results_from_topic, rows_of_json

#: Ids the job counts: CSV's and paths' special characters, non-ASCII, the longest allowed.
COUNTED = [
    "a,b",
    'say "hi"',
    '"',
    '","',
    "back\\slash",
    "../x",
    "a/b",
    "/abs",
    "",
    " padded ",
    "'single'",
    "#hash",
    "café",
    "日本語",
    "😀 emoji",
    "\u200bzero-width",
    "x" * (MAX_STRING_LENGTH - 1) + "é",
]
#: Ids the job dead-letters.
REJECTED = [
    "line\nbreak",
    "carriage\rreturn",
    "tab\there",
    "nul\x00",
    "line\u2028separator",
    "half \ud800 surrogate",
    "y" * (MAX_STRING_LENGTH + 1),
]


def events_of(ids: list[str]) -> EventSet:
    """A few impressions per campaign over two windows, some of them clicked."""
    rng = random.Random(20)
    events = EventSet()
    for n, campaign in enumerate(ids):
        for k in range(4):
            shown = Impression(f"odd-{n}-{k}", "u", campaign, BASE + rng.randrange(2 * WINDOW_MS))
            events.add_impression(shown, rng)
            if k % 2 == 0:
                events.add_click(Click(f"odd-click-{n}-{k}", shown.impr_id, "u", shown.ts + 1_000), rng)
    return events


def rejection(impression: Impression) -> str | None:
    """Why ctr.events rejects this impression's message, or None when it is valid."""
    try:
        decode_impression(encode(impression))
    except MalformedEvent as err:
        return str(err)
    return None


def rows_of_csv(text: str) -> list[CtrRow]:
    """CTR rows of CSV text with a header, read with Python's csv module."""
    records = list(csv.reader(io.StringIO(text, newline="")))
    assert records[0] == list(CtrRow._fields)
    return [CtrRow(c, s, e, int(i), int(k), float(r)) for c, s, e, i, k, r in filter(None, records[1:])]


@pytest.fixture(scope="module")
def odd_ids_run(broker, tmp_path_factory):
    """One job run over the odd ids, publishing the results topic too; then two late events."""
    assert all(rejection(Impression("i", "u", campaign, BASE)) is None for campaign in COUNTED)
    topics = fresh_topics(broker)
    work = tmp_path_factory.mktemp("odd-ids")
    events = events_of(COUNTED + REJECTED)
    valid = [impression for impression in events.plain_impressions() if rejection(impression) is None]
    expected = reference_ctr(valid, events.plain_clicks(), WINDOW_MS, JOIN_BOUND_MS)
    extra = ("--publish-results", "true", "--results-topic", topics.results)
    job = CollectedOutput(start_ctr(*job_args(broker.bootstrap_servers, topics, work, *extra)))
    try:
        produce(broker, topics, events)
        produce_sentinels(broker, topics, events)
        wait_for_results(work / "results", expected, job)
        late = EventSet(
            impressions=[(0, Impression("late-impression", "u", "a,b", BASE))],
            clicks=[(0, Click("late-click", "odd-0-0", "u", BASE + 1_000))],
        )
        produce(broker, topics, late)
        rejected = len(events.impressions) - len(valid)
        letters = [json.loads(m.value()) for m in read_topic(broker, topics.dlq, rejected + 2)]
        from_topic = results_from_topic(broker, topics, "--final")
    finally:
        stop_job(job)
    return {
        "events": events,
        "expected": expected,
        "results": work / "results",
        "letters": letters,
        "from_topic": from_topic,
        "topics": topics,
    }


def results(run: dict, form: str) -> str:
    """``ctr results --format form`` of the run's files: its stdout (it must succeed, warning nothing)."""
    result = run_ctr("results", str(run["results"]), "--format", form, timeout=60)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return result.stdout


@pytest.mark.slow
@pytest.mark.jvm
def test_every_counted_id_reads_back_exactly_in_csv_json_and_table(odd_ids_run):
    expected = odd_ids_run["expected"]
    assert {row.campaign_id for row in expected} == set(COUNTED)
    assert comparable(rows_of_csv(results(odd_ids_run, "csv"))) == comparable(expected)
    assert comparable(rows_of_json(results(odd_ids_run, "json"))) == comparable(expected)
    assert results(odd_ids_run, "table") == format_table(expected) + "\n"


@pytest.mark.slow
@pytest.mark.jvm
def test_the_files_are_rfc_4180_in_the_bucket_of_their_campaign(odd_ids_run):
    """Each committed file read with Python's csv module alone: its rows are the reference's, each in
    the partition directories of its window's day and its campaign's bucket, as the reader computes
    them (ctr.results_contract)."""
    rows = []
    for path in committed_files(odd_ids_run["results"]):
        for record in csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")):
            row = CtrRow(*record[:3], int(record[3]), int(record[4]), float(record[5]))
            assert len(record) == 6
            assert path.parent.name == f"{BUCKET_PARTITION}={campaign_bucket(row.campaign_id)}"
            assert path.parent.parent.name == f"{DAY_PARTITION}={window_day(row.window_start)}"
            rows.append(row)
    assert comparable(rows) == comparable(odd_ids_run["expected"])


@pytest.mark.slow
@pytest.mark.jvm
def test_one_campaign_is_read_from_its_bucket(odd_ids_run):
    for campaign in ("a,b", "../x", "日本語"):
        result = run_ctr("results", str(odd_ids_run["results"]), "--format", "json", "--campaign", campaign)
        assert result.returncode == 0, result.stderr
        mine = [row for row in odd_ids_run["expected"] if row.campaign_id == campaign]
        assert comparable(rows_of_json(result.stdout)) == comparable(mine)


@pytest.mark.slow
@pytest.mark.jvm
def test_the_results_topic_gives_back_the_same_ids(odd_ids_run):
    from_topic = odd_ids_run["from_topic"]
    assert from_topic.returncode == 0, from_topic.stderr
    assert comparable(rows_of_json(from_topic.stdout)) == comparable(odd_ids_run["expected"])


@pytest.mark.slow
@pytest.mark.jvm
def test_ids_outside_the_rule_are_dead_lettered_with_the_python_reason(odd_ids_run):
    topics = odd_ids_run["topics"]
    reasons = {letter["payload"]: letter["reason"] for letter in odd_ids_run["letters"] if letter["payload"]}
    impressions = odd_ids_run["events"].plain_impressions()
    assert reasons == {
        encode(impression).decode(): rejection(impression)
        for impression in impressions
        if rejection(impression) is not None
    }
    assert set(reasons.values()) == {
        "field campaign_id has a control character",
        "field campaign_id has an unpaired surrogate",
        f"field campaign_id is longer than {MAX_STRING_LENGTH} characters",
    }
    late = [letter for letter in odd_ids_run["letters"] if letter["reason"] == "late"]
    assert sorted((letter["source_topic"], letter["payload"]) for letter in late) == sorted(
        [(topics.impressions, None), (topics.clicks, None)]
    )
    assert all(isinstance(letter["source_offset"], int) for letter in late)
