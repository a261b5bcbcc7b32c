"""The producer's Prometheus metrics."""

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server


class ProducerMetrics:
    """Counters and gauges of one producer, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.impressions = Counter("impressions", "Impressions sent", registry=self.registry)
        self.clicks = Counter("clicks", "Clicks sent", registry=self.registry)
        self.delivery_errors = Counter(
            "delivery_errors", "Messages the broker did not take", registry=self.registry
        )
        self.pending_clicks = Gauge(
            "pending_clicks", "Clicks scheduled and not yet sent", registry=self.registry
        )
        self.buffered = Gauge(
            "buffered",
            "Messages handed to the Kafka client and not yet acknowledged by the broker (waiting for it)",
            registry=self.registry,
        )
        self.target_rate = Gauge(
            "target_rate", "Target impressions per second (0 while paused)", registry=self.registry
        )
        self.completed = Gauge(
            "completed",
            "1 once a bounded run (max events or duration) has sent everything",
            registry=self.registry,
        )

    def serve(self, port: int | None) -> None:
        """Serve ``/metrics`` on ``port`` (nothing when None)."""
        if port is not None:
            start_http_server(port, addr="0.0.0.0", registry=self.registry)
