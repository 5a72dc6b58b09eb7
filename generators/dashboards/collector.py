"""Collector health: the OpenTelemetry Collector's own metrics, as Vigil's collectors expose them.

Vigil's collector config keeps units and type suffixes (``without_units: false``,
``without_type_suffix: false``), so counters end in ``_total`` and the process metrics are
``otelcol_process_cpu_seconds_total`` and ``otelcol_process_memory_rss_bytes`` (checked against
a real v0.159 collector). Ratios and drop rates come from the ``collector`` rule bundle.
"""

from __future__ import annotations

from typing import Any

from generators.dashboards.core import (
    BYTES,
    CORES,
    COUNT,
    PER_SECOND,
    PERCENT_UNIT,
    SECONDS,
    Board,
    Query,
    above,
    bargauge_panel,
    below,
    bundle_alerts,
    rate,
    recorded,
    selector,
    standard_variables,
    stat_panel,
    targets_up_panel,
    timeseries_panel,
)

NAME = "collector-health"

SIGNALS = ("spans", "metric_points", "log_records")


def _per_signal(metric: str, by: str) -> list[Query]:
    """One query per signal of ``otelcol_<metric>_<signal>_total``, legend ``<by> <signal>``."""
    return [Query(rate(f"otelcol_{metric}_{s}_total", by=by), f"{{{{{by}}}}} {s}") for s in SIGNALS]


def _sum_signals(metric: str) -> str:
    return " + ".join(f"({rate(f'otelcol_{metric}_{s}_total')} or vector(0))" for s in SIGNALS)


def build() -> dict[str, Any]:
    """The collector-health dashboard as JSON data."""
    board = Board(
        NAME,
        "Vigil / Collector health",
        "The OpenTelemetry Collectors of MonitoringStacks: what their receivers accept and "
        "refuse, what their exporters send and fail to send, sending queues and dropped data, "
        "the memory limiter, and the collector processes.",
        ["collector", "opentelemetry"],
        standard_variables("otelcol_process_uptime_seconds_total"),
        alerts=bundle_alerts("collector"),
    )
    board.row("Overview").add(
        targets_up_panel(
            "Collectors up",
            "Share of the selected collector pods Prometheus reached at the last scrape. "
            "OtelCollectorDown fires for a pod unreachable for 5 minutes.",
        ),
        stat_panel(
            "Accepted",
            "Spans, metric points and log records the receivers accepted per second.",
            [Query(_sum_signals("receiver_accepted"))],
            unit=PER_SECOND,
            steps=below(0.001),
        ),
        stat_panel(
            "Sent",
            "Spans, metric points and log records the exporters sent per second.",
            [Query(_sum_signals("exporter_sent"))],
            unit=PER_SECOND,
            steps=below(0.001),
        ),
        stat_panel(
            "Worst send failure ratio",
            "Highest share of items an exporter failed to send over 5 minutes "
            "(otelcol:exporter_send_failed:ratio_rate5m). Red above 1 %.",
            [Query(f"max({recorded('otelcol:exporter_send_failed:ratio_rate5m')}) or vector(0)")],
            unit=PERCENT_UNIT,
            steps=above(0.01, warn=0.001),
        ),
        stat_panel(
            "Fullest queue",
            "Fill level of the fullest sending queue (otelcol:exporter_queue_utilisation:ratio). Red above 80 %.",
            [Query(f"max({recorded('otelcol:exporter_queue_utilisation:ratio')}) or vector(0)")],
            unit=PERCENT_UNIT,
            steps=above(0.8, warn=0.5),
        ),
        stat_panel(
            "Dropped",
            "Items per second dropped because a sending queue was full "
            "(otelcol:exporter_enqueue_failed:rate5m). Red above 0.",
            [Query(f"sum({recorded('otelcol:exporter_enqueue_failed:rate5m')}) or vector(0)")],
            unit=PER_SECOND,
            steps=above(1e-9),
        ),
    )
    board.row("Receivers").add(
        timeseries_panel(
            "Accepted by receiver",
            "Items accepted per second, per receiver and signal.",
            _per_signal("receiver_accepted", "receiver"),
            unit=PER_SECOND,
        ),
        timeseries_panel(
            "Refused by receiver",
            "Items refused per second, per receiver and signal: the pipeline pushed back, "
            "usually because the memory limiter is refusing data.",
            _per_signal("receiver_refused", "receiver"),
            unit=PER_SECOND,
            steps=above(1e-9),
        ),
        timeseries_panel(
            "Receiver refused ratio",
            "Share of received items a receiver refused over 5 minutes "
            "(otelcol:receiver_refused:ratio_rate5m). OtelCollectorReceiverRefusedData fires "
            "above 1 %.",
            [
                Query(
                    recorded("otelcol:receiver_refused:ratio_rate5m"),
                    "{{job}} {{receiver}} {{signal}}",
                )
            ],
            unit=PERCENT_UNIT,
            steps=above(0.01),
            width=24,
        ),
    )
    board.row("Exporters").add(
        timeseries_panel(
            "Sent by exporter",
            "Exporter throughput: items sent per second, per exporter and signal.",
            _per_signal("exporter_sent", "exporter"),
            unit=PER_SECOND,
        ),
        timeseries_panel(
            "Send failures by exporter",
            "Items an exporter failed to send per second (after retries), per exporter and signal.",
            _per_signal("exporter_send_failed", "exporter"),
            unit=PER_SECOND,
            steps=above(1e-9),
        ),
        timeseries_panel(
            "Send failure ratio",
            "Share of items an exporter failed to send over 5 minutes "
            "(otelcol:exporter_send_failed:ratio_rate5m). OtelCollectorExporterSendFailures "
            "fires above 1 %.",
            [
                Query(
                    recorded("otelcol:exporter_send_failed:ratio_rate5m"),
                    "{{job}} {{exporter}} {{signal}}",
                )
            ],
            unit=PERCENT_UNIT,
            steps=above(0.01),
            width=24,
        ),
    )
    board.row("Queues and dropped data").add(
        timeseries_panel(
            "Queue size and capacity",
            "Items waiting in each exporter's sending queue, with the queue's capacity.",
            [
                Query(
                    f"max by (exporter, data_type) (otelcol_exporter_queue_size{selector()})",
                    "{{exporter}} {{data_type}} size",
                ),
                Query(
                    f"max by (exporter, data_type) (otelcol_exporter_queue_capacity{selector()})",
                    "{{exporter}} {{data_type}} capacity",
                ),
            ],
            unit=COUNT,
        ),
        bargauge_panel(
            "Queue fill level",
            "Fill level of each sending queue (otelcol:exporter_queue_utilisation:ratio). "
            "OtelCollectorExporterQueueNearlyFull fires above 80 %.",
            [
                Query(
                    recorded("otelcol:exporter_queue_utilisation:ratio"),
                    "{{instance}} {{exporter}} {{data_type}}",
                )
            ],
            unit=PERCENT_UNIT,
            steps=above(0.8, warn=0.5),
            maximum=1,
        ),
        timeseries_panel(
            "Dropped items",
            "Items per second dropped because a sending queue was full "
            "(otelcol:exporter_enqueue_failed:rate5m). OtelCollectorExporterDroppingData fires "
            "above 0.",
            [
                Query(
                    recorded("otelcol:exporter_enqueue_failed:rate5m"),
                    "{{job}} {{exporter}} {{signal}}",
                )
            ],
            unit=PER_SECOND,
            steps=above(1e-9),
        ),
        timeseries_panel(
            "Enqueue failures by exporter",
            "Items per second that could not be added to a sending queue, per exporter and signal.",
            _per_signal("exporter_enqueue_failed", "exporter"),
            unit=PER_SECOND,
            steps=above(1e-9),
        ),
    )
    board.row("Memory limiter").add(
        timeseries_panel(
            "Memory limiter: accepted",
            "Items the memory_limiter processor let through per second, per signal.",
            _per_signal("processor_memory_limiter_accepted", "processor"),
            unit=PER_SECOND,
        ),
        timeseries_panel(
            "Memory limiter: refused",
            "Items the memory_limiter processor refused per second "
            "(otelcol:processor_refused:rate5m): the collector is above its memory limit. "
            "OtelCollectorProcessorRefusedData fires above 0.",
            [
                Query(
                    recorded("otelcol:processor_refused:rate5m"),
                    "{{job}} {{processor}} {{signal}}",
                )
            ],
            unit=PER_SECOND,
            steps=above(1e-9),
        ),
    )
    pod = "{{pod}}"
    board.row("Process").add(
        timeseries_panel(
            "Memory (RSS)",
            "Resident memory of each collector process. The memory_limiter starts refusing "
            "data as this nears the container's memory limit.",
            [Query(f"otelcol_process_memory_rss_bytes{selector()}", pod)],
            unit=BYTES,
            width=8,
        ),
        timeseries_panel(
            "Go heap",
            "Bytes allocated on the Go heap of each collector process.",
            [Query(f"otelcol_process_runtime_heap_alloc_bytes{selector()}", pod)],
            unit=BYTES,
            width=8,
        ),
        timeseries_panel(
            "CPU",
            "CPU time each collector process uses per second, in cores.",
            [
                Query(
                    f"rate(otelcol_process_cpu_seconds_total{selector()}[$__rate_interval])",
                    pod,
                )
            ],
            unit=CORES,
            width=8,
        ),
        timeseries_panel(
            "Uptime",
            "Time since each collector process started; a drop is a restart.",
            [Query(f"otelcol_process_uptime_seconds_total{selector()}", pod)],
            unit=SECONDS,
            width=24,
            height=6,
        ),
    )
    board.alerts_row(
        "The collector bundle's alerts that are pending or firing now: availability, send "
        "failures, full queues, dropped data and refused data.",
    )
    return board.build()
