"""The operator's own Prometheus metrics (served on /metrics by `vigil run`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECONCILES = Counter("vigil_reconcile_total", "Reconciles by kind and result (success or error).", ["kind", "result"])
RECONCILE_SECONDS = Histogram("vigil_reconcile_duration_seconds", "Time one reconcile took.", ["kind"])
WATCH_EVENTS = Counter("vigil_watch_events_total", "Watch events received, by kind.", ["kind"])
API_REQUESTS = Counter(
    "vigil_api_requests_total",
    "Requests Vigil sent to the Kubernetes API server.",
    ["verb", "resource", "code"],
)
MANAGED = Gauge("vigil_managed_objects", "Custom resources Vigil manages, by kind.", ["kind"])
INDEX_EVENTS = Counter(
    "vigil_index_events_total",
    "Objects the operator's indexes took in, by kind; counted before any handler may run.",
    ["kind"],
)
HANDLERS_READY = Gauge(
    "vigil_handlers_ready",
    "1 once the indexes hold every object and handlers run; 0 with index events counted is a stall.",
)
COLLECTOR_VALIDATIONS = Counter(
    "vigil_collector_validations_total",
    "Collector configs checked before rollout: result is valid or invalid for an `otelcol validate` run, "
    "cached for a verdict reused without running the collector.",
    ["result"],
)
CHILD_WATCH_EVENTS = Counter(
    "vigil_child_watch_events_total",
    "Events of the watches that keep the metadata of generated objects current, by kind and event type.",
    ["kind", "type"],
)
COLLECTOR_READS = Counter(
    "vigil_collector_metric_reads_total",
    "Reads of a collector pod's own metrics (status.dataFlow), by result: ok, unreachable or unreadable.",
    ["result"],
)
