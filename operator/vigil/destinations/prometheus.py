"""prometheus: serve metrics on a scrape endpoint of the collector (a ServiceMonitor scrapes it)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from vigil.destinations.base import ConfigValue, Destination, Exporter, ExporterContext, Scrape, SinkOptions
from vigil.destinations.remote_write import LabelKey
from vigil.models.base import LABEL_NAME, PROMETHEUS_LABELS_RULE, GoDuration, UnprivilegedPort, VigilModel


class PrometheusDestination(VigilModel):
    """Serve metrics on a scrape endpoint of the collector (a ServiceMonitor scrapes it)."""

    port: UnprivilegedPort = Field(default=8889, description="Port the collector serves /metrics on for this sink.")
    namespace: Annotated[str, StringConstraints(pattern=LABEL_NAME, max_length=64)] | None = Field(
        default=None, description="Prefix of every metric name, e.g. aureus."
    )
    const_labels: Annotated[
        dict[LabelKey, Annotated[str, StringConstraints(max_length=1024)]], PROMETHEUS_LABELS_RULE
    ] = Field(default_factory=dict, max_length=32, description="Labels added to every metric.")
    metric_expiration: GoDuration = Field(default="5m", description="How long a metric not updated stays exposed.")
    resource_to_telemetry_conversion: bool = Field(
        default=False, description="Turn resource attributes into metric labels."
    )
    scrape_interval: Annotated[str, StringConstraints(pattern=r"^([0-9]+(ms|s|m|h))+$")] = Field(
        default="30s", description="How often Prometheus scrapes this endpoint."
    )


def exporter(d: PrometheusDestination, _: SinkOptions, __: ExporterContext) -> Exporter:
    """A ``prometheus`` exporter listening on the sink's port."""
    config: dict[str, ConfigValue] = {"endpoint": f"0.0.0.0:{d.port}"}
    if d.namespace:
        config["namespace"] = d.namespace
    if d.const_labels:
        config["const_labels"] = dict(sorted(d.const_labels.items()))
    config["metric_expiration"] = d.metric_expiration
    config["resource_to_telemetry_conversion"] = {"enabled": d.resource_to_telemetry_conversion}
    return Exporter("prometheus", config)


def scrape(d: PrometheusDestination) -> Scrape:
    """The port Prometheus scrapes, and how often."""
    return Scrape(d.port, d.scrape_interval)


DESTINATION = Destination(
    field="prometheus",
    model=PrometheusDestination,
    description="Prometheus scrape endpoint served by the collector (metrics only).",
    components=("prometheus",),
    exporter=exporter,
    signals=("metrics",),
    scrape=scrape,
    example={"port": 9464, "namespace": "aureus"},
)
