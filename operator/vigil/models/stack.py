"""MonitoringStack: a collector, what it receives, where it sends, and what Prometheus scrapes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from vigil.models.base import (
    SPACE,
    CelRule,
    LabelValueName,
    ObjectName,
    Port,
    Quantity,
    StringMap,
    VigilModel,
    fits_go_duration,
    object_default,
)
from vigil.models.bundles import RuleBundleSelection
from vigil.models.common import Condition, LabelSelector, ObjectMeta, ObjectReference
from vigil.models.dashboards import DashboardSelection

ScrapeDuration = Annotated[str, StringConstraints(pattern=r"^([0-9]+(ms|s|m|h))+$", max_length=32)]


class ResourceRequirements(VigilModel):
    """CPU and memory for the collector container."""

    requests: dict[Literal["cpu", "memory", "ephemeral-storage"], Quantity] = Field(
        default_factory=lambda: {"cpu": "100m", "memory": "256Mi"},  # type: ignore[arg-type]
        description="Guaranteed resources.",
    )
    limits: dict[Literal["cpu", "memory", "ephemeral-storage"], Quantity] = Field(
        default_factory=lambda: {"memory": "512Mi"},  # type: ignore[arg-type]
        description="Upper bounds. A memory limit is what the memory_limiter processor keys on.",
    )


class Toleration(VigilModel):
    """A Kubernetes toleration."""

    key: str | None = Field(default=None, description="Taint key; empty matches every key.")
    operator: Literal["Exists", "Equal"] = Field(default="Equal", description="Exists or Equal.")
    value: str | None = Field(default=None, description="Taint value for Equal.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        default=None, description="Taint effect; empty matches every effect."
    )
    toleration_seconds: int | None = Field(default=None, description="For NoExecute: how long the pod stays bound.")


class Collector(VigilModel):
    """The OpenTelemetry Collector Deployment."""

    replicas: int = Field(
        default=1,
        ge=1,
        le=50,
        description="Collector pods; above 1 a PodDisruptionBudget is added.",
    )
    image: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = Field(
        default=None,
        description="Collector image. Unset: the operator's default (--collector-image), the otelcol-vigil "
        "image of this release. Any image must contain the components Vigil renders (the upstream contrib "
        "distribution does, but reads Secret values containing '$' as config syntax; see docs).",
    )
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = Field(
        default="IfNotPresent", description="Kubernetes image pull policy."
    )
    resources: ResourceRequirements = Field(default_factory=ResourceRequirements, description="Container resources.")
    node_selector: StringMap = Field(default_factory=dict, description="Node labels to run on.")
    tolerations: list[Toleration] = Field(default_factory=list, max_length=32, description="Taints the pods tolerate.")
    affinity: dict[str, Any] | None = Field(
        default=None,
        description="Kubernetes affinity, passed through unchanged.",
        json_schema_extra={"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    )
    priority_class_name: Annotated[str, StringConstraints(max_length=253)] | None = Field(
        default=None, description="PriorityClass of the pods."
    )
    pod_labels: StringMap = Field(default_factory=dict, description="Extra labels on the pods.")
    pod_annotations: StringMap = Field(default_factory=dict, description="Extra annotations on the pods.")


class OTLPGrpc(VigilModel):
    """The collector's OTLP/gRPC listener."""

    enabled: bool = Field(default=True, description="Listen for OTLP over gRPC.")
    port: Port = Field(default=4317, description="Container and Service port.")


class OTLPHttp(VigilModel):
    """The collector's OTLP/HTTP listener."""

    enabled: bool = Field(default=True, description="Listen for OTLP over HTTP.")
    port: Port = Field(default=4318, description="Container and Service port.")


class OTLPReceiver(VigilModel):
    """Where apps send OTLP."""

    cel_rules = (
        CelRule(
            rule="self.grpc.enabled || self.http.enabled",
            message="enable at least one of grpc and http",
            check=lambda m: m.grpc.enabled or m.http.enabled,
        ),
        CelRule(
            rule="!(self.grpc.enabled && self.http.enabled) || self.grpc.port != self.http.port",
            message="grpc and http need different ports",
            check=lambda m: not (m.grpc.enabled and m.http.enabled) or m.grpc.port != m.http.port,
        ),
    )

    grpc: OTLPGrpc = Field(
        default_factory=OTLPGrpc,
        description="OTLP/gRPC listener.",
        json_schema_extra=object_default(OTLPGrpc),
    )
    http: OTLPHttp = Field(
        default_factory=OTLPHttp,
        description="OTLP/HTTP listener.",
        json_schema_extra=object_default(OTLPHttp),
    )


class Receivers(VigilModel):
    """What the collector receives."""

    otlp: OTLPReceiver = Field(
        default_factory=OTLPReceiver,
        description="OTLP listeners.",
        json_schema_extra=object_default(OTLPReceiver),
    )


def _monitoring_enabled() -> LabelSelector:
    return LabelSelector(match_labels={"monitoring": "enabled"})


class ScrapeTarget(VigilModel):
    """Apps Prometheus scrapes directly: becomes one ServiceMonitor."""

    cel_rules = (
        CelRule(
            rule="duration(self.scrapeTimeout) <= duration(self.interval)",
            message="scrapeTimeout must not be longer than interval",
            check=lambda m: (
                fits_go_duration(m.scrape_timeout, m.interval) and _seconds(m.scrape_timeout) <= _seconds(m.interval)
            ),
        ),
    )

    name: LabelValueName = Field(description="Name of this entry; part of the ServiceMonitor name.")
    selector: LabelSelector = Field(
        default_factory=_monitoring_enabled,
        description="Services to scrape, in the stack's namespace (default: monitoring=enabled).",
        json_schema_extra={"default": {"matchLabels": {"monitoring": "enabled"}}},
    )
    port: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=15)] = Field(
        default="metrics", description="Name of the Service port that serves metrics."
    )
    path: Annotated[str, StringConstraints(pattern=rf"^/[^{SPACE}]*$", max_length=1024)] = Field(
        default="/metrics", description="HTTP path of the metrics."
    )
    interval: ScrapeDuration = Field(default="30s", description="Scrape interval.")
    scrape_timeout: ScrapeDuration = Field(default="10s", description="Scrape timeout.")


class SinkSelection(VigilModel):
    """Which TelemetrySinks in the stack's namespace the collector exports to."""

    cel_rules = (
        CelRule(
            rule="has(self.selector) || size(self.names) > 0",
            message="select sinks by selector, by names, or both",
            check=lambda m: m.selector is not None or len(m.names) > 0,
        ),
    )

    selector: LabelSelector | None = Field(default=None, description="Sinks whose labels match (same namespace only).")
    names: list[ObjectName] = Field(
        default_factory=list, max_length=64, description="Sinks by name (same namespace only)."
    )

    def selects(self, name: str, labels: Mapping[str, str]) -> bool:
        """Whether the sink ``name`` with ``labels`` (in the stack's namespace) is selected."""
        return name in self.names or (self.selector is not None and self.selector.matches(labels))


class SelfMonitoring(VigilModel):
    """A ServiceMonitor for the collector's own metrics."""

    enabled: bool = Field(default=True, description="Create the collector's ServiceMonitor.")
    interval: ScrapeDuration = Field(default="30s", description="Scrape interval.")


class MonitoringStackSpec(VigilModel):
    """Desired state of a MonitoringStack."""

    collector: Collector = Field(
        default_factory=Collector,
        description="The collector Deployment.",
        json_schema_extra=object_default(Collector),
    )
    sinks: SinkSelection = Field(description="Which TelemetrySinks to export to.")
    receivers: Receivers = Field(
        default_factory=Receivers,
        description="What the collector receives.",
        json_schema_extra=object_default(Receivers),
    )
    scrape: list[ScrapeTarget] = Field(
        default_factory=list,
        max_length=32,
        description="Apps for Prometheus to scrape directly, one ServiceMonitor each.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    self_monitoring: SelfMonitoring = Field(
        default_factory=SelfMonitoring,
        description="Scrape the collector's own metrics.",
        json_schema_extra=object_default(SelfMonitoring),
    )
    rule_bundles: list[RuleBundleSelection] = Field(
        default_factory=list,
        max_length=16,
        description="Built-in rule bundles (rules/bundles.yaml) installed as one PrometheusRule "
        "<stack>-rules, with threshold overrides.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    dashboards: DashboardSelection = Field(
        default_factory=DashboardSelection,
        description="Built-in Grafana dashboards to install and how Grafana finds them.",
        json_schema_extra=object_default(DashboardSelection),
    )
    prometheus_labels: StringMap | None = Field(
        default=None,
        description="Labels your Prometheus selects ServiceMonitors and PrometheusRules by, e.g. "
        "release: kube-prometheus-stack. Unset: the operator's default (Helm value).",
    )


class MonitoringStackStatus(VigilModel):
    """Observed state of a MonitoringStack."""

    observed_generation: int = Field(default=0, description="Generation last reconciled.")
    conditions: list[Condition] = Field(default_factory=list, description="Ready, Degraded and Stalled.")
    selected_sinks: list[str] = Field(default_factory=list, description="Sinks the collector exports to.")
    sink_count: int = Field(default=0, description="Number of selected sinks.")
    generated_objects: list[ObjectReference] = Field(
        default_factory=list, description="Objects the operator created for this stack."
    )
    config_hash: str = Field(default="", description="Hash of the collector config rolled out.")
    selected_bundles: list[str] = Field(default_factory=list, description="Rule bundles installed.")
    selected_dashboards: list[str] = Field(default_factory=list, description="Dashboards installed.")


class MonitoringStack(VigilModel):
    """A MonitoringStack object as stored in the API server."""

    api_version: Literal["vigil.dev/v1alpha1"] = Field(description="vigil.dev/v1alpha1")
    kind: Literal["MonitoringStack"] = Field(description="MonitoringStack")
    metadata: ObjectMeta = Field(description="Standard object metadata.")
    spec: MonitoringStackSpec = Field(description="Desired state.")
    status: MonitoringStackStatus | None = Field(default=None, description="Observed state.")


_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def _seconds(duration: str) -> float:
    return sum(float(n) * _UNITS[u] for n, u in re.findall(r"([0-9]+)(ms|s|m|h)", duration))
