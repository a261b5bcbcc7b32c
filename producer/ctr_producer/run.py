"""The producer's send loop: paced impressions, clicks sent when their time comes, a clean drain."""

import json
import logging
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from confluent_kafka import KafkaError, Producer

from ctr.events import Event, encode, message_key
from ctr.settings.models import LiveSettings, LiveSettingsError, ProducerSettings
from ctr_producer.config_source import ConfigSource
from ctr_producer.metrics import ProducerMetrics
from ctr_producer.schedule import ClickSchedule
from ctr_producer.traffic import TrafficModel

log = logging.getLogger("ctr.produce")

MAX_BATCH = 2000
#: The loop sends what is due, then sleeps this long (unless it is behind): events due meanwhile go
#: out together in the next round, each with its exact ``ts``. Longer rounds cost less CPU.
ROUND = 0.05
FLUSH_TIMEOUT = 30.0


@dataclass
class Summary:
    """What a producer run sent, dropped and failed to send."""

    impressions: int = 0
    clicks: int = 0
    clicks_dropped: int = 0
    delivery_errors: int = 0
    config_errors: int = 0

    def to_json(self) -> str:
        """One JSON line."""
        return json.dumps(asdict(self))


def _log_settings(live: LiveSettings) -> None:
    """Log the live settings the producer takes."""
    log.info(
        "live settings: rate %g/s, click probability %g, max click delay %gs, %d campaigns, %s",
        live.rate,
        live.click_probability,
        live.max_click_delay,
        len(live.campaigns),
        live.state,
    )


class ProducerFatalError(RuntimeError):
    """The Kafka client hit an error it cannot recover from."""


def kafka_config(bootstrap_servers: str) -> dict[str, Any]:
    """The Kafka producer settings: idempotent, acks=all, compressed, only errors reported."""
    return {
        "bootstrap.servers": bootstrap_servers,
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": "lz4",
        "linger.ms": 50,
        "batch.num.messages": 10000,
        "queue.buffering.max.messages": 1_000_000,
        "delivery.report.only.error": True,
    }


class TrafficProducer:
    """Sends impressions at the target rate and each click at its event time."""

    #: Set when ``run`` starts: its start, the rate's epoch and the impressions sent since, the last
    #: progress line's time and impressions, the next one's time.
    _started: float
    _epoch: float
    _sent_since_epoch: int
    _last_progress: tuple[float, int]
    _next_progress: float

    def __init__(
        self,
        config: ProducerSettings,
        live: LiveSettings,
        config_source: ConfigSource | None = None,
        metrics: ProducerMetrics | None = None,
    ) -> None:
        """Start with the validated ``live`` settings (the flags' and environment's, or a config file's
        over them); each document of ``config_source`` applies over the flags' and environment's."""
        self.live = live
        self.summary = Summary()
        self.metrics = metrics or ProducerMetrics()
        self._config = config
        self._traffic = TrafficModel(self.live, config.seed)
        self._schedule = ClickSchedule()
        self._source = config_source
        self._pending: LiveSettings | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._drop_now = threading.Event()
        self._fatal: KafkaError | None = None
        self._kafka = Producer(
            {
                **kafka_config(config.bootstrap_servers),
                "error_cb": self._on_error,
                "on_delivery": self._on_delivery,
            }
        )

    def request_stop(self) -> None:
        """Stop new impressions and drain; a second request drops what is still scheduled."""
        if self._stop.is_set():
            self._drop_now.set()
        self._stop.set()

    def reload_config(self) -> None:
        """Ask the config source to read its settings again."""
        if self._source is not None:
            self._source.reload()

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self._fatal = err
            self._stop.set()
            self._drop_now.set()
        log.warning("kafka: %s", err.str())
        if err.code() == KafkaError._ALL_BROKERS_DOWN:
            log.warning(
                "waiting for the broker: %d messages buffered, kept until it is back", len(self._kafka)
            )

    def _on_delivery(self, err: KafkaError | None, msg: Any) -> None:
        if err is not None:
            self.summary.delivery_errors += 1
            self.metrics.delivery_errors.inc()
            log.error("not delivered to %s (key %s): %s", msg.topic(), msg.key(), err.str())

    def _on_config(self, document: Mapping[str, Any]) -> None:
        """Take a whole live settings document: its fields over the flags' and environment's values
        (``config``'s own live settings)."""
        try:
            new = self._config.updated(document)
        except (LiveSettingsError, ValueError) as err:
            self._on_config_error(str(err))
            return
        with self._lock:
            self._pending = new

    def _on_config_error(self, message: str) -> None:
        self.summary.config_errors += 1
        self.metrics.config_errors.inc()
        log.error("%s; keeping the current settings", message)

    def _send(self, topic: str, event: Event) -> None:
        while True:
            try:
                self._kafka.produce(topic, encode(event), message_key(event))
                return
            except BufferError:
                self._kafka.poll(0.01)

    def _apply_pending(self, now: float) -> None:
        with self._lock:
            new, self._pending = self._pending, None
        if new is None or new == self.live:
            return
        if (new.rate, new.paused) != (self.live.rate, self.live.paused):
            self._epoch, self._sent_since_epoch = now, 0
        _log_settings(new)
        self.live = new
        self._traffic.apply(new)
        self.metrics.target_rate.set(0 if new.paused else new.rate)

    def _send_due_clicks(self, now_ms: int) -> None:
        sent = 0
        for click in self._schedule.pop_due(now_ms):
            self._send(self._config.clicks_topic, click)
            sent += 1
        if sent:
            self.summary.clicks += sent
            self.metrics.clicks.inc(sent)

    def _send_due_impressions(self, now: float) -> None:
        rate = self.live.rate
        due = min(int((now - self._epoch) * rate) + 1 - self._sent_since_epoch, MAX_BATCH)
        max_events = self._config.max_events
        if max_events is not None:
            due = min(due, max_events - self.summary.impressions)
        topic = self._config.impressions_topic
        for _ in range(due):
            ts = int((self._epoch + self._sent_since_epoch / rate) * 1000)
            impression, click = self._traffic.impression(ts)
            self._send(topic, impression)
            self._sent_since_epoch += 1
            if click is not None:
                self._schedule.add(click)
        if due > 0:
            self.summary.impressions += due
            self.metrics.impressions.inc(due)

    def _bounded_run_done(self, now: float) -> bool:
        max_events, duration = self._config.max_events, self._config.duration
        return (max_events is not None and self.summary.impressions >= max_events) or (
            duration is not None and now - self._started >= duration
        )

    def _next_wake(self, now: float) -> float:
        wake = now + ROUND
        if not self.live.paused:
            wake = min(wake, self._epoch + self._sent_since_epoch / self.live.rate)
        next_click = self._schedule.next_due()
        if next_click is not None:
            wake = min(wake, next_click / 1000)
        return wake

    def _progress(self, now: float) -> None:
        if now < self._next_progress:
            return
        elapsed = now - self._last_progress[0]
        achieved = (self.summary.impressions - self._last_progress[1]) / elapsed if elapsed > 0 else 0.0
        target = 0 if self.live.paused else self.live.rate
        self.metrics.achieved_rate.set(achieved)
        print(
            f"[ctr produce] target {target:g}/s achieved {achieved:.1f}/s | "
            f"impressions {self.summary.impressions} clicks {self.summary.clicks} "
            f"pending {len(self._schedule)} errors {self.summary.delivery_errors} "
            f"buffered {len(self._kafka)}",
            file=sys.stderr,
            flush=True,
        )
        self._last_progress = (now, self.summary.impressions)
        self._next_progress = now + self._config.progress_interval

    @property
    def stopped_by_request(self) -> bool:
        """True when the run ended by request_stop (a signal), not by its bound."""
        return self._stop.is_set()

    def run(self) -> Summary:
        """Send until stopped or a bound is reached, drain, flush, and return the summary."""
        now = time.time()
        self._started = self._epoch = now
        self._sent_since_epoch = 0
        self._last_progress = (now, 0)
        self._next_progress = now + self._config.progress_interval
        self.metrics.target_rate.set(0 if self.live.paused else self.live.rate)
        if any(getattr(self.live, name) != getattr(self._config, name) for name in LiveSettings.model_fields):
            _log_settings(self.live)  # a config file's, not the flags'
        if self._source is not None:
            self._source.start(self._on_config, self._on_config_error)
        try:
            while not self._stop.is_set():
                now = time.time()
                self._apply_pending(now)
                self._send_due_clicks(int(now * 1000))
                if self._bounded_run_done(now):
                    break
                if not self.live.paused:
                    self._send_due_impressions(now)
                self._kafka.poll(0)
                self.metrics.pending_clicks.set(len(self._schedule))
                self.metrics.buffered.set(len(self._kafka))
                self._progress(now)
                if self._next_wake(now) > time.time():
                    time.sleep(ROUND)
            self._drain()
        finally:
            if self._source is not None:
                self._source.stop()
            self._flush()
        if self._fatal is not None:
            raise ProducerFatalError(self._fatal.str())
        return self.summary

    def _drain(self) -> None:
        timeout = self._config.drain_timeout
        deadline_ms = int((time.time() + (self.live.max_click_delay if timeout is None else timeout)) * 1000)
        while not self._drop_now.is_set():
            next_due = self._schedule.next_due()
            if next_due is None or next_due > deadline_ms:
                break
            time.sleep(max(0.0, min(next_due / 1000 - time.time(), ROUND)))
            now = time.time()
            self._send_due_clicks(int(now * 1000))
            self._kafka.poll(0)
            self.metrics.pending_clicks.set(len(self._schedule))
            self._progress(now)
        dropped = self._schedule.drop_all()
        if dropped:
            log.warning("dropped %d scheduled clicks not due before the drain deadline", dropped)
        self.summary.clicks_dropped += dropped
        self.metrics.clicks_dropped.inc(dropped)
        self.metrics.pending_clicks.set(0)

    def _flush(self) -> None:
        left = self._kafka.flush(FLUSH_TIMEOUT)
        if left:
            log.error("%d messages still undelivered after %gs", left, FLUSH_TIMEOUT)
            self.summary.delivery_errors += left
            self.metrics.delivery_errors.inc(left)
