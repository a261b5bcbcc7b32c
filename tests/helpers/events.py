"""Seeded event sets with the hard cases of CTR, and helpers to put them on the broker."""

import random
from dataclasses import dataclass, field

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from ctr.broker import KafkaBroker
from ctr.events import Click, Impression, encode, message_key
from ctr.topics import TopicNames

WINDOW_MS = 30_000
JOIN_BOUND_MS = 15_000
OUT_OF_ORDERNESS_MS = 5_000
BASE = 1_700_000_000_000 - 1_700_000_000_000 % WINDOW_MS
JITTER_MS = 3_000

MALFORMED_IMPRESSIONS = [
    b"not json at all",
    b"[1, 2, 3]",
    b'{"impr_id": 5, "user_id": "u", "campaign_id": "c", "ts": 1700000001000}',
    b'{"impr_id": "m1", "user_id": "u", "campaign_id": "c"}',
    b'{"impr_id": "m2", "user_id": "u", "campaign_id": "c", "ts": "soon"}',
    b'{"impr_id": "m3", "user_id": "u", "campaign_id": ["c"], "ts": 1700000001000}',
    b"",
    b'{"impr_id": "m4", "user_id": "u", "campaign_id": "c", "ts": 1700000001000} trailing',
    b'{"impr_id": "m5", "user_id": null, "campaign_id": "c", "ts": 1700000001000}',
    b'{"impr_id": "m6", "user_id": "u", "campaign_id": "c", "ts": 123456789012345678901234}',
]
MALFORMED_CLICKS = [
    b'{"click_id": "k1", "user_id": "u", "ts": 1700000001000}',
    b'{"click_id": "k2", "impr_id": "x", "user_id": "u", "ts": 17.5}',
    b"{broken",
]


@dataclass
class EventSet:
    """Impressions and clicks, each with the key it is ordered by when produced."""

    impressions: list[tuple[int, Impression]] = field(default_factory=list)
    clicks: list[tuple[int, Click]] = field(default_factory=list)

    def add_impression(self, impression: Impression, rng: random.Random) -> None:
        self.impressions.append((impression.ts + rng.randint(0, JITTER_MS), impression))

    def add_click(self, click: Click, rng: random.Random, order: int | None = None) -> None:
        self.clicks.append((click.ts + rng.randint(0, JITTER_MS) if order is None else order, click))

    def plain_impressions(self) -> list[Impression]:
        return [event for _, event in self.impressions]

    def plain_clicks(self) -> list[Click]:
        return [event for _, event in self.clicks]

    def split(self, before_ts: int) -> tuple["EventSet", "EventSet"]:
        """The events ordered before ``before_ts``, and the rest."""
        return (
            EventSet(
                [e for e in self.impressions if e[0] < before_ts],
                [e for e in self.clicks if e[0] < before_ts],
            ),
            EventSet(
                [e for e in self.impressions if e[0] >= before_ts],
                [e for e in self.clicks if e[0] >= before_ts],
            ),
        )


def hard_cases(seed: int, count: int = 400, span_ms: int = 4 * WINDOW_MS) -> EventSet:
    """Random traffic over ``span_ms`` plus every edge case of the CTR definition."""
    rng = random.Random(seed)
    events = EventSet()
    campaigns = ["alpha", "beta", "gamma"]

    def impression(name: str, ts: int, campaign: str | None = None) -> Impression:
        made = Impression(name, f"user-{rng.randrange(50)}", campaign or rng.choice(campaigns), ts)
        events.add_impression(made, rng)
        return made

    def click(name: str, of: Impression, delay: int, order: int | None = None) -> None:
        events.add_click(Click(name, of.impr_id, of.user_id, of.ts + delay), rng, order)

    for n in range(count):
        made = impression(f"i{seed}-{n}", BASE + rng.randrange(span_ms))
        if rng.random() < 0.3:
            click(f"c{seed}-{n}", made, rng.randint(0, JOIN_BOUND_MS + 5_000))
            if rng.random() < 0.1:
                click(f"c{seed}-{n}-again", made, rng.randint(0, JOIN_BOUND_MS))
    click("edge-at-bound", impression("edge-at", BASE + 10_000, "alpha"), JOIN_BOUND_MS)
    click("edge-past-bound", impression("edge-past", BASE + 20_000, "alpha"), JOIN_BOUND_MS + 1)
    twice = impression("edge-twice", BASE + 40_000, "beta")
    click("edge-twice-1", twice, 1_000)
    click("edge-twice-2", twice, 2_000)
    click("edge-before-impression", impression("edge-early-click", BASE + 50_000, "gamma"), -1_000)
    click(
        "edge-sent-first",
        impression("edge-late-impression", BASE + 61_000, "gamma"),
        500,
        order=BASE + 61_000 - 1,
    )
    click("edge-last-ms", impression("edge-window-end", BASE + WINDOW_MS - 1, "beta"), 100)
    impression("edge-window-start", BASE + WINDOW_MS, "beta")
    events.clicks.append((BASE + 70_000, Click("edge-orphan", "never-shown", "user-1", BASE + 70_000)))
    impression("edge-never-clicked", BASE + 75_000, "delta")
    return events


def _partitions(broker: KafkaBroker, topic: str) -> list[int]:
    metadata = AdminClient({"bootstrap.servers": broker.bootstrap_servers}).list_topics(topic, timeout=10)
    return sorted(metadata.topics[topic].partitions)


def produce(broker: KafkaBroker, topics: TopicNames, events: EventSet, malformed: bool = False) -> None:
    """Send ``events`` in their order (and, if asked, the malformed messages) and wait for delivery."""
    producer = Producer(
        {"bootstrap.servers": broker.bootstrap_servers, "enable.idempotence": True, "acks": "all"}
    )
    for topic, ordered in ((topics.impressions, events.impressions), (topics.clicks, events.clicks)):
        for _, event in sorted(ordered, key=lambda pair: pair[0]):
            producer.produce(topic, encode(event), message_key(event))
    if malformed:
        for topic, payloads in (
            (topics.impressions, MALFORMED_IMPRESSIONS),
            (topics.clicks, MALFORMED_CLICKS),
        ):
            for payload in payloads:
                producer.produce(topic, payload, b"malformed")
        producer.produce(topics.impressions, None, b"tombstone")
    assert producer.flush(30) == 0, "events were not delivered"


def malformed_count() -> int:
    """How many malformed messages ``produce(..., malformed=True)`` sends (the tombstone included)."""
    return len(MALFORMED_IMPRESSIONS) + len(MALFORMED_CLICKS) + 1


#: The campaign of the sentinels: its window stays open (live rows only, no final row).
SENTINEL_CAMPAIGN = "zz-sentinel"


def produce_sentinels(broker: KafkaBroker, topics: TopicNames, events: EventSet) -> None:
    """One far-future event in every partition of both topics, so that every real window closes."""
    future = max(ts for ts, _ in events.impressions + events.clicks) + 3_600_000
    producer = Producer(
        {"bootstrap.servers": broker.bootstrap_servers, "enable.idempotence": True, "acks": "all"}
    )
    for partition in _partitions(broker, topics.impressions):
        sentinel = Impression(f"sentinel-{partition}", "sentinel", SENTINEL_CAMPAIGN, future)
        producer.produce(topics.impressions, encode(sentinel), message_key(sentinel), partition=partition)
    for partition in _partitions(broker, topics.clicks):
        sentinel = Click(f"sentinel-click-{partition}", f"sentinel-{partition}", "sentinel", future)
        producer.produce(topics.clicks, encode(sentinel), message_key(sentinel), partition=partition)
    assert producer.flush(30) == 0, "sentinels were not delivered"
