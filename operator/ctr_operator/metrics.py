"""The operator's Prometheus metrics, all under ``ctr_operator_``: reconciliations, their errors and
duration, and the Producers per phase.

The operator has no deletion handler (deleting a Producer never waits for it), so a Producer counts
in ``ctr_operator_producers`` until it has not been reconciled for ``STALE_RESYNCS`` resync
intervals: the resync reconciles every live Producer once per interval.
"""

import functools
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ctr.settings.models import OperatorSettings
from ctr_operator.crd import PHASES

STALE_RESYNCS = 3
REGISTRY = CollectorRegistry()
RECONCILIATIONS = Counter(
    "ctr_operator_reconciliations", "Reconciliations of a Producer, by any trigger", registry=REGISTRY
)
ERRORS = Counter(
    "ctr_operator_reconcile_errors",
    "Reconciliations that raised or left an error in the Producer's status",
    registry=REGISTRY,
)
DURATION = Histogram(
    "ctr_operator_reconcile_duration_seconds", "How long one reconciliation took", registry=REGISTRY
)


class PhaseCollector(Collector):
    """``ctr_operator_producers{phase}``: the last phase of each Producer reconciled lately."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._phases: dict[tuple[str, str], tuple[str, float]] = {}
        self._stale_after = STALE_RESYNCS * OperatorSettings.model_fields["resync_interval"].default

    def record(self, key: tuple[str, str], phase: str, resync_interval: float) -> None:
        """Remember the phase of the Producer ``key`` (namespace, name), seen now."""
        with self._lock:
            self._phases[key] = (phase, time.monotonic())
            self._stale_after = STALE_RESYNCS * resync_interval

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One sample per phase, every phase present (0 when no Producer is in it)."""
        now = time.monotonic()
        with self._lock:
            self._phases = {k: v for k, v in self._phases.items() if now - v[1] <= self._stale_after}
            counts = dict.fromkeys(PHASES, 0)
            for phase, _ in self._phases.values():
                counts[phase] = counts.get(phase, 0) + 1
        family = GaugeMetricFamily("ctr_operator_producers", "Producers per phase", labels=["phase"])
        for phase, count in counts.items():
            family.add_metric([phase], count)
        yield family


PRODUCERS = PhaseCollector()
REGISTRY.register(PRODUCERS)

Reconcile = Callable[[Any, Mapping[str, Any], OperatorSettings], dict[str, Any]]


def measured(reconcile: Reconcile) -> Reconcile:
    """Wrap ``reconcile(api, producer, settings) -> status`` so that each call is counted and timed,
    its errors counted and the Producer's phase recorded."""

    @functools.wraps(reconcile)
    def wrapper(api_client: Any, producer: Mapping[str, Any], operator: OperatorSettings) -> dict[str, Any]:
        RECONCILIATIONS.inc()
        with DURATION.time():
            try:
                new_status = reconcile(api_client, producer, operator)
            except Exception:
                ERRORS.inc()
                raise
        if new_status.get("lastError"):
            ERRORS.inc()
        meta = producer["metadata"]
        PRODUCERS.record((meta["namespace"], meta["name"]), new_status["phase"], operator.resync_interval)
        return new_status

    return wrapper


def serve(port: int | None) -> None:
    """Serve ``/metrics`` on ``port`` (nothing when None)."""
    if port is not None:
        start_http_server(port, addr="0.0.0.0", registry=REGISTRY)
