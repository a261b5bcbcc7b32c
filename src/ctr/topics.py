"""The one definition of ctr's Kafka topics: names, default partition counts and topic-level settings.

The Helm chart's KafkaTopic values must equal these (a test checks it), and ``ctr broker``, the demo
and the tests create their topics with them.
"""

from dataclasses import asdict, dataclass

IMPRESSIONS = "impressions"
CLICKS = "clicks"
DLQ = "ctr-dlq"
RESULTS = "ctr-results"
LIVE = "ctr-live"
DEFAULT_PARTITIONS = 3

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS


@dataclass(frozen=True)
class TopicSettings:
    """A topic's Kafka settings, as the chart's ``topics.<role>`` values name them."""

    retention_ms: int
    #: None: Kafka's default (delete), as a chart topic without ``cleanupPolicy``.
    cleanup_policy: str | None = None
    #: How soon a segment is closed (None: Kafka's default, a week); only closed segments are
    #: compacted and expire.
    segment_ms: int | None = None

    def kafka_config(self) -> dict[str, str]:
        """Return the settings by Kafka's topic-level names (``retention.ms``, ``cleanup.policy``,
        ``segment.ms``)."""
        config = {"retention.ms": str(self.retention_ms)}
        if self.cleanup_policy is not None:
            config["cleanup.policy"] = self.cleanup_policy
        if self.segment_ms is not None:
            config["segment.ms"] = str(self.segment_ms)
        return config


#: Each topic's settings by its role (a field of TopicNames). Events and live rows are kept a day,
#: dead letters and final rows a week; the row topics are compacted (a reader keeps each window's
#: last row, keyed by campaign and window start) and expire too, their segments closed hourly so
#: that both happen within the hour rather than the week.
SETTINGS = {
    "impressions": TopicSettings(DAY_MS),
    "clicks": TopicSettings(DAY_MS),
    "dlq": TopicSettings(WEEK_MS),
    "results": TopicSettings(WEEK_MS, "compact,delete", HOUR_MS),
    "live": TopicSettings(DAY_MS, "compact,delete", HOUR_MS),
}


@dataclass(frozen=True)
class TopicNames:
    """The topic names one pipeline uses (tests give each run its own)."""

    impressions: str = IMPRESSIONS
    clicks: str = CLICKS
    dlq: str = DLQ
    results: str = RESULTS
    live: str = LIVE

    def all(self) -> tuple[str, str, str, str, str]:
        """Return the names in creation order."""
        return (self.impressions, self.clicks, self.dlq, self.results, self.live)

    def settings(self) -> dict[str, TopicSettings]:
        """Return each name's settings (those of its role), in creation order."""
        return {name: SETTINGS[role] for role, name in asdict(self).items()}

    @classmethod
    def with_suffix(cls, suffix: str) -> "TopicNames":
        """Return the default names with ``-suffix`` appended to each."""
        return cls(*(f"{name}-{suffix}" for name in (IMPRESSIONS, CLICKS, DLQ, RESULTS, LIVE)))


#: The names a pipeline uses unless told otherwise (the chart's, ``ctr broker``'s, the demo's).
DEFAULT_NAMES = TopicNames()
