"""The producer's Prometheus metrics, all under ``ctr_producer_``."""

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from ctr import metric_names as names


class ProducerMetrics:
    """Counters and gauges of one producer, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.impressions = Counter(
            names.counter_name(names.PRODUCER_IMPRESSIONS), "Impressions sent", registry=registry
        )
        self.clicks = Counter(names.counter_name(names.PRODUCER_CLICKS), "Clicks sent", registry=registry)
        self.clicks_dropped = Counter(
            "ctr_producer_clicks_dropped", "Scheduled clicks dropped at the drain deadline", registry=registry
        )
        self.delivery_errors = Counter(
            names.counter_name(names.PRODUCER_DELIVERY_ERRORS),
            "Messages the broker did not take",
            registry=registry,
        )
        self.config_errors = Counter(
            "ctr_producer_config_errors", "Live settings documents rejected", registry=registry
        )
        self.pending_clicks = Gauge(
            "ctr_producer_pending_clicks", "Clicks scheduled and not yet sent", registry=registry
        )
        self.buffered = Gauge(
            "ctr_producer_buffered_messages",
            "Messages handed to the Kafka client and not yet acknowledged by the broker (waiting for it)",
            registry=registry,
        )
        self.target_rate = Gauge(
            "ctr_producer_target_impressions_per_second",
            "Target impressions per second (0 while paused)",
            registry=registry,
        )
        self.achieved_rate = Gauge(
            "ctr_producer_achieved_impressions_per_second",
            "Impressions per second sent over the last progress interval",
            registry=registry,
        )
        self.completed = Gauge(
            names.PRODUCER_COMPLETED,
            "1 once a bounded run (max events or duration) has sent everything",
            registry=registry,
        )

    def serve(self, port: int | None) -> None:
        """Serve ``/metrics`` on ``port`` (nothing when None)."""
        if port is not None:
            start_http_server(port, addr="0.0.0.0", registry=self.registry)
