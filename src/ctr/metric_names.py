"""The names of the producer's Prometheus series that another part reads (the operator scrapes them).

Every part's series start with ``ctr_<part>_`` (Prometheus's one-namespace-per-application rule),
counters end in ``_total`` and units are base units in the name.
"""

PRODUCER_IMPRESSIONS = "ctr_producer_impressions_total"
PRODUCER_CLICKS = "ctr_producer_clicks_total"
PRODUCER_DELIVERY_ERRORS = "ctr_producer_delivery_errors_total"
PRODUCER_COMPLETED = "ctr_producer_run_completed"


def counter_name(series: str) -> str:
    """The name to give prometheus_client's Counter so that it exposes ``series`` (it adds ``_total``)."""
    return series.removesuffix("_total")
