"""MonitoringStack: a collector, what it receives, where it sends, and what Prometheus scrapes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints

from vigil import api
from vigil.models.base import (
    DNS_SUBDOMAIN,
    SPACE,
    AnnotationMap,
    CelRule,
    LabelKey,
    LabelMap,
    LabelValue,
    LabelValueName,
    ObjectName,
    Port,
    Quantity,
    VigilModel,
    fits_go_duration,
    matches,
    object_default,
    quantity_value,
)
from vigil.models.bundles import BundleAlerting, RuleBundleSelection
from vigil.models.common import Condition, LabelSelector, ObjectMeta, ObjectReference
from vigil.models.dashboards import DashboardSelection
from vigil.models.health import HealthCheck

ScrapeDuration = Annotated[str, StringConstraints(pattern=r"^([0-9]+(ms|s|m|h))+$", max_length=32)]


RESOURCE_NAMES = ("cpu", "memory", "ephemeral-storage")
ResourceName = Literal["cpu", "memory", "ephemeral-storage"]


def _not_above_limits(m: ResourceRequirements) -> bool:
    for name, limit in m.limits.items():
        request = m.requests.get(name)
        if request is not None and (quantity_value(request) or 0) > (quantity_value(limit) or 0):
            return False
    return True


class ResourceRequirements(VigilModel):
    """CPU and memory for the collector container."""

    cel_rules = (
        CelRule(
            rule="!has(self.requests) || !has(self.limits) || self.limits.all(r, !(r in self.requests) || "
            "quantity(string(self.requests[r])).compareTo(quantity(string(self.limits[r]))) <= 0)",
            message="requests must not be more than limits (the API server refuses such a pod)",
            check=_not_above_limits,
        ),
    )

    requests: dict[ResourceName, Quantity] = Field(
        default_factory=lambda: {"cpu": "100m", "memory": "256Mi"},  # type: ignore[arg-type]
        max_length=len(RESOURCE_NAMES),
        description="Guaranteed resources, as Kubernetes quantities (e.g. 100m, 256Mi).",
    )
    limits: dict[ResourceName, Quantity] = Field(
        default_factory=lambda: {"memory": "512Mi"},  # type: ignore[arg-type]
        max_length=len(RESOURCE_NAMES),
        description="Upper bounds. A memory limit is what the memory_limiter processor keys on.",
    )


CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
"""Node labels (and taint keys) of control-plane nodes: tenants' collectors never go there."""
_CONTROL_PLANE_CEL = "[" + ", ".join(f"'{k}'" for k in CONTROL_PLANE_LABELS) + "]"
_CONTROL_PLANE_WORDS = " or ".join(CONTROL_PLANE_LABELS)


class Toleration(VigilModel):
    """A Kubernetes toleration (never of control-plane taints)."""

    cel_rules = (
        CelRule(
            rule="has(self.key)",
            message="key is required: a toleration without a key tolerates every taint, those of "
            "control-plane nodes included",
            check=lambda m: m.key is not None,
        ),
        CelRule(
            rule=f"!has(self.key) || !(self.key in {_CONTROL_PLANE_CEL})",
            message=f"tolerations must not tolerate control-plane taints ({_CONTROL_PLANE_WORDS})",
            check=lambda m: m.key not in CONTROL_PLANE_LABELS,
        ),
        CelRule(
            rule="self.operator != 'Exists' || !has(self.value) || self.value == ''",
            message="value must be empty when operator is Exists",
            check=lambda m: m.operator != "Exists" or not m.value,
        ),
        CelRule(
            rule="!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
            message="tolerationSeconds applies to effect NoExecute only",
            check=lambda m: m.toleration_seconds is None or m.effect == "NoExecute",
        ),
    )

    key: LabelKey | None = Field(default=None, description="Taint key, e.g. dedicated.")
    operator: Literal["Exists", "Equal"] = Field(default="Equal", description="Exists or Equal.")
    value: LabelValue | None = Field(default=None, description="Taint value for Equal.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        default=None, description="Taint effect; empty matches every effect."
    )
    toleration_seconds: int | None = Field(
        default=None, ge=0, le=31536000, description="For NoExecute: how long the pod stays bound."
    )


class NodeSelectorRequirement(VigilModel):
    """One expression on node labels (nodeAffinity)."""

    cel_rules = (
        CelRule(
            rule="(self.operator in ['In', 'NotIn']) == (size(self.values) > 0) || self.operator in ['Gt', 'Lt']",
            message="values must be non-empty for In/NotIn and empty for Exists/DoesNotExist",
            check=lambda m: m.operator in ("Gt", "Lt") or (m.operator in ("In", "NotIn")) == (len(m.values) > 0),
        ),
        CelRule(
            rule="!(self.operator in ['Gt', 'Lt']) || (size(self.values) == 1 && self.values[0].matches('^[0-9]+$'))",
            message="Gt and Lt take exactly one value, an integer",
            check=lambda m: m.operator not in ("Gt", "Lt") or (len(m.values) == 1 and m.values[0].isdigit()),
        ),
        CelRule(
            rule=f"!(self.key in {_CONTROL_PLANE_CEL}) || self.operator == 'DoesNotExist'",
            message=f"node affinity may only keep off control-plane nodes ({_CONTROL_PLANE_WORDS}): "
            "use operator DoesNotExist",
            check=lambda m: m.key not in CONTROL_PLANE_LABELS or m.operator == "DoesNotExist",
        ),
    )

    key: LabelKey = Field(description="Node label key.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"] = Field(
        description="How the label's value is compared with values."
    )
    values: list[LabelValue] = Field(
        default_factory=list, max_length=64, description="Values for In/NotIn; one integer for Gt/Lt."
    )


class NodeFieldRequirement(VigilModel):
    """One expression on node fields: metadata.name only."""

    key: Literal["metadata.name"] = Field(description="The node field: metadata.name.")
    operator: Literal["In", "NotIn"] = Field(description="In or NotIn.")
    values: list[Annotated[str, StringConstraints(pattern=DNS_SUBDOMAIN, max_length=253)]] = Field(
        min_length=1, max_length=1, description="Exactly one node name."
    )


class NodeSelectorTerm(VigilModel):
    """Node requirements that must all hold."""

    match_expressions: list[NodeSelectorRequirement] = Field(
        default_factory=list, max_length=16, description="Requirements on node labels."
    )
    match_fields: list[NodeFieldRequirement] = Field(
        default_factory=list, max_length=4, description="Requirements on node fields."
    )


class NodeSelector(VigilModel):
    """Terms of which at least one must hold."""

    node_selector_terms: list[NodeSelectorTerm] = Field(
        min_length=1, max_length=16, description="Alternatives: a node matching any term qualifies."
    )


class PreferredSchedulingTerm(VigilModel):
    """A node term the scheduler prefers, with a weight."""

    weight: int = Field(ge=1, le=100, description="Weight, 1-100.")
    preference: NodeSelectorTerm = Field(description="The preferred nodes.")


class NodeAffinity(VigilModel):
    """Which nodes the collector runs on."""

    required_during_scheduling_ignored_during_execution: NodeSelector | None = Field(
        default=None, description="Nodes the pods must run on."
    )
    preferred_during_scheduling_ignored_during_execution: list[PreferredSchedulingTerm] = Field(
        default_factory=list, max_length=16, description="Nodes the pods prefer."
    )


class PodAffinityTerm(VigilModel):
    """Pods of the stack's own namespace to run near (or away from); other namespaces are not named."""

    label_selector: LabelSelector | None = Field(default=None, description="The pods, by label.")
    topology_key: LabelKey = Field(description="Node label that defines 'near', e.g. kubernetes.io/hostname.")
    match_label_keys: list[LabelKey] = Field(default_factory=list, max_length=16, description="See Kubernetes.")
    mismatch_label_keys: list[LabelKey] = Field(default_factory=list, max_length=16, description="See Kubernetes.")


class WeightedPodAffinityTerm(VigilModel):
    """A pod affinity term the scheduler prefers, with a weight."""

    weight: int = Field(ge=1, le=100, description="Weight, 1-100.")
    pod_affinity_term: PodAffinityTerm = Field(description="The term.")


class PodAffinity(VigilModel):
    """Pods to run near (podAffinity) or away from (podAntiAffinity)."""

    required_during_scheduling_ignored_during_execution: list[PodAffinityTerm] = Field(
        default_factory=list, max_length=16, description="Terms that must hold."
    )
    preferred_during_scheduling_ignored_during_execution: list[WeightedPodAffinityTerm] = Field(
        default_factory=list, max_length=16, description="Terms the scheduler prefers."
    )


class Affinity(VigilModel):
    """Kubernetes affinity of the collector pods (the pod's own namespace only)."""

    node_affinity: NodeAffinity | None = Field(default=None, description="Node affinity.")
    pod_affinity: PodAffinity | None = Field(default=None, description="Pod affinity.")
    pod_anti_affinity: PodAffinity | None = Field(default=None, description="Pod anti-affinity.")


RESERVED_POD_LABELS = (api.MANAGED_BY, api.PART_OF, api.INSTANCE, api.COMPONENT, api.NAME)
"""Labels Vigil sets on collector pods and selects them by."""
# Key prefixes Vigil or Kubernetes own: Vigil's, Kubernetes' reserved ones, and the AppArmor and
# seccomp annotations that would undo the pod's restricted security profile.
RESERVED_PREFIX = r"^(([^/]*[.])?(vigil[.]dev|security[.](alpha|beta)[.]kubernetes[.]io)|kubernetes[.]io|k8s[.]io)/"
_RESERVED_LABELS_CEL = "[" + ", ".join(f"'{k}'" for k in RESERVED_POD_LABELS) + "]"


def _priority_class_ok(name: str | None) -> bool:
    return name is None or not name.startswith("system-")


class Collector(VigilModel):
    """The OpenTelemetry Collector Deployment."""

    cel_rules = (
        CelRule(
            rule=f"!has(self.podLabels) || !self.podLabels.exists(k, k in {_RESERVED_LABELS_CEL} || "
            f"k.matches(r'{RESERVED_PREFIX}'))",
            message=f"podLabels must not set {', '.join(RESERVED_POD_LABELS)}, vigil.dev/, kubernetes.io/ or "
            "k8s.io/ labels: Vigil selects its pods by them",
            check=lambda m: not any(k in RESERVED_POD_LABELS or matches(RESERVED_PREFIX, k) for k in m.pod_labels),
        ),
        CelRule(
            rule=f"!has(self.podAnnotations) || !self.podAnnotations.exists(k, k.matches(r'{RESERVED_PREFIX}'))",
            message="podAnnotations must not set vigil.dev/, AppArmor or seccomp (*.security.beta.kubernetes.io/, "
            "*.security.alpha.kubernetes.io/), kubernetes.io/ or k8s.io/ annotations: the pod's security profile "
            "and rollout hash are Vigil's",
            check=lambda m: not any(matches(RESERVED_PREFIX, k) for k in m.pod_annotations),
        ),
        CelRule(
            rule=f"!has(self.nodeSelector) || !self.nodeSelector.exists(k, k in {_CONTROL_PLANE_CEL})",
            message=f"nodeSelector must not select control-plane nodes ({_CONTROL_PLANE_WORDS})",
            check=lambda m: not set(m.node_selector) & set(CONTROL_PLANE_LABELS),
        ),
        CelRule(
            rule="!has(self.priorityClassName) || !self.priorityClassName.startsWith('system-')",
            message="priorityClassName must not be a system- class: those are for Kubernetes' own critical pods",
            check=lambda m: _priority_class_ok(m.priority_class_name),
        ),
    )

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
    node_selector: LabelMap = Field(
        default_factory=dict, description="Node labels to run on (never those of control-plane nodes)."
    )
    tolerations: list[Toleration] = Field(
        default_factory=list, max_length=32, description="Taints the pods tolerate (never control-plane taints)."
    )
    affinity: Affinity | None = Field(default=None, description="Kubernetes affinity of the pods.")
    priority_class_name: Annotated[str, StringConstraints(pattern=DNS_SUBDOMAIN, max_length=253)] | None = Field(
        default=None, description="PriorityClass of the pods (not a system- class)."
    )
    pod_labels: LabelMap = Field(
        default_factory=dict,
        description="Extra labels on the pods; not Vigil's own. The operator refuses labels that would make "
        "a Service Vigil does not own select the collector.",
    )
    pod_annotations: AnnotationMap = Field(
        default_factory=dict,
        description="Extra annotations on the pods; not vigil.dev/, kubernetes.io/, k8s.io/, AppArmor or seccomp.",
    )


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

    cel_rules = (
        CelRule(
            rule="!has(self.alerting) || (has(self.ruleBundles) && size(self.ruleBundles) > 0)",
            message="alerting routes the alerts of ruleBundles: select a rule bundle or remove alerting",
            check=lambda m: m.alerting is None or len(m.rule_bundles) > 0,
        ),
    )

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
    health_checks: list[HealthCheck] = Field(
        default_factory=list,
        max_length=32,
        description="HTTP endpoints the collector calls every interval (e.g. /health, /ready, /live, "
        "/status); their status and response time go to the selected metrics sinks, and the "
        "health-checks rule bundle alerts when one is down or slow.",
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
    alerting: BundleAlerting | None = Field(
        default=None,
        description="Who is told about the alerts of ruleBundles, by severity: an AlertmanagerConfig "
        "<stack>-alerting that routes this stack's bundle alerts and no others. Unset: they go to "
        "whatever your Alertmanager routes them to.",
    )
    dashboards: DashboardSelection = Field(
        default_factory=DashboardSelection,
        description="Built-in Grafana dashboards to install and how Grafana finds them.",
        json_schema_extra=object_default(DashboardSelection),
    )
    prometheus_labels: LabelMap | None = Field(
        default=None,
        description="Labels your Prometheus selects ServiceMonitors and PrometheusRules by, e.g. "
        "release: kube-prometheus-stack. Unset: the operator's default (Helm value).",
    )


class SinkDataFlow(VigilModel):
    """What the collector's own counters say about one selected sink."""

    sink: str = Field(description="The TelemetrySink.")
    sent: int = Field(
        default=0,
        description="Items (spans, metric points, log records) the running collector pods sent to it "
        "(otelcol_exporter_sent_*); counts restart with the pods.",
    )
    failed: int = Field(
        default=0,
        description="Items the running collector pods failed to send to it, counted when the exporter gives "
        "up after its retries (otelcol_exporter_send_failed_*; spec.retry.maxElapsedTime of the sink).",
    )
    last_failure_time: str | None = Field(
        default=None, description="When a read of the counters last found new failures (RFC 3339)."
    )
    failing_since: str | None = Field(
        default=None,
        description="The first read of the current run of failures (RFC 3339); unset once a read finds items "
        "sent and no new failures. Failures found again by a later read make the stack Degraded "
        "(reason ExportFailing).",
    )


class DataFlow(VigilModel):
    """The collector's export counters per sink, read from its pods' own metrics (port 8888)."""

    pods: int = Field(default=0, description="Collector pods whose metrics the last read reached.")
    sinks: list[SinkDataFlow] = Field(default_factory=list, description="One entry per selected sink.")


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
    data_flow: DataFlow | None = Field(
        default=None,
        description="Sent and failed exports per sink, from the collector's own metrics, read every "
        "--data-flow-interval seconds (unset until a collector pod could be read).",
    )

    OWN_WRITER: ClassVar[frozenset[str]] = frozenset({"data_flow"})
    """Fields a timer of their own writes: a reconcile leaves them as they are."""


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
