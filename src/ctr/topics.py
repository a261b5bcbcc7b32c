"""The one definition of ctr's Kafka topics: names and default partition counts.

The Helm chart's KafkaTopic values must equal these (a test checks it).
"""

from dataclasses import dataclass

IMPRESSIONS = "impressions"
CLICKS = "clicks"
DLQ = "ctr-dlq"
RESULTS = "ctr-results"
LIVE = "ctr-live"
DEFAULT_PARTITIONS = 3


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

    @classmethod
    def with_suffix(cls, suffix: str) -> "TopicNames":
        """Return the default names with ``-suffix`` appended to each."""
        return cls(*(f"{name}-{suffix}" for name in (IMPRESSIONS, CLICKS, DLQ, RESULTS, LIVE)))
