"""Which built-in Grafana dashboards a MonitoringStack installs, and how Grafana finds them."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field, StringConstraints

from vigil import api
from vigil.models.base import CelRule, VigilModel, is_set, object_default
from vigil.models.common import LabelSelector

DashboardName = Literal[
    "aureus-overview",
    "orchestrator-system-overview",
    "orchestrator-workflows",
    "aet-system-overview",
    "aet-agent-performance",
    "aet-error-tracking",
    "aet-resource-usage",
    "blipee-system-overview",
    "blipee-agent-performance",
    "blipee-ml-models",
    "blipee-business-metrics",
    "blipee-network-intelligence",
    "collector-health",
    "vigil-operator",
    "slo-overview",
    "health-checks",
]
DASHBOARD_NAMES: tuple[str, ...] = get_args(DashboardName)
"""Every built-in dashboard; each is dashboards/<name>.json."""

DASHBOARD_BUNDLES: dict[str, str | None] = {
    "aureus-overview": "aureus",
    "orchestrator-system-overview": "orchestrator",
    "orchestrator-workflows": "orchestrator",
    "aet-system-overview": "aet",
    "aet-agent-performance": "aet",
    "aet-error-tracking": "aet",
    "aet-resource-usage": "aet",
    "blipee-system-overview": "blipee",
    "blipee-agent-performance": "blipee",
    "blipee-ml-models": "blipee",
    "blipee-business-metrics": "blipee",
    "blipee-network-intelligence": "blipee",
    "collector-health": "collector",
    "vigil-operator": "vigil-operator",
    "slo-overview": None,
    "health-checks": "health-checks",
}
"""The rule bundle whose recording rules each dashboard reads (None: AlertPolicy SLO rules)."""

DashboardMode = Literal["configMap", "grafanaOperator"]

# Kubernetes qualified names (label and annotation keys): optional DNS prefix, then a name.
QUALIFIED_NAME = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"

QualifiedName = Annotated[str, StringConstraints(pattern=QUALIFIED_NAME, min_length=1, max_length=317)]
LabelValue = Annotated[str, StringConstraints(pattern=LABEL_VALUE, max_length=63)]


class SidecarLabel(VigilModel):
    """The label Grafana's dashboard sidecar selects ConfigMaps by."""

    key: QualifiedName = Field(
        default=api.GRAFANA_DASHBOARD_LABEL,
        description="Label key, e.g. grafana_dashboard (kube-prometheus-stack's grafana.sidecar.dashboards.label).",
    )
    value: LabelValue = Field(
        default=api.GRAFANA_DASHBOARD_LABEL_VALUE,
        description='Label value, e.g. "1" (grafana.sidecar.dashboards.labelValue).',
    )


class DashboardFolder(VigilModel):
    """The Grafana folder the dashboards are filed under."""

    annotation: QualifiedName = Field(
        default=api.GRAFANA_FOLDER_ANNOTATION,
        description="ConfigMap annotation the sidecar reads the folder from "
        "(grafana.sidecar.dashboards.folderAnnotation). Mode configMap only.",
    )
    name: Annotated[str, StringConstraints(min_length=1, max_length=253)] = Field(
        default=api.GRAFANA_DEFAULT_FOLDER,
        description="Folder title in Grafana.",
    )


class DashboardSelection(VigilModel):
    """Built-in dashboards to install, as sidecar ConfigMaps or grafana-operator objects."""

    cel_rules = (
        CelRule(
            rule="self.mode != 'grafanaOperator' || has(self.instanceSelector)",
            message="instanceSelector is required for mode grafanaOperator: set the labels of "
            "the Grafana objects to import into, e.g. matchLabels: {dashboards: grafana}",
            check=lambda m: m.mode != "grafanaOperator" or is_set(m.instance_selector),
        ),
        CelRule(
            rule="self.mode == 'grafanaOperator' || !has(self.instanceSelector)",
            message="instanceSelector applies only to mode grafanaOperator: remove it or set mode: grafanaOperator",
            check=lambda m: m.mode == "grafanaOperator" or not is_set(m.instance_selector),
        ),
    )

    names: list[DashboardName] = Field(
        default_factory=list,
        max_length=len(DASHBOARD_NAMES),
        description="Dashboards to install, each once: " + ", ".join(DASHBOARD_NAMES) + ".",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    mode: DashboardMode = Field(
        default="configMap",
        description="configMap: one ConfigMap per dashboard for Grafana's dashboard sidecar "
        "(kube-prometheus-stack). grafanaOperator: one GrafanaDashboard per dashboard "
        "(grafana-operator v5), gzip-compressed when large.",
    )
    sidecar_label: SidecarLabel = Field(
        default_factory=SidecarLabel,
        description="Label on each ConfigMap that the sidecar selects (mode configMap).",
        json_schema_extra=object_default(SidecarLabel),
    )
    folder: DashboardFolder = Field(
        default_factory=DashboardFolder,
        description="Grafana folder of the dashboards (both modes).",
        json_schema_extra=object_default(DashboardFolder),
    )
    instance_selector: LabelSelector | None = Field(
        default=None,
        description="Labels of the Grafana objects that import the dashboards (mode grafanaOperator, required there).",
    )
    allow_cross_namespace_import: bool = Field(
        default=False,
        description="Let Grafana objects in other namespaces import the dashboards (mode "
        "grafanaOperator; grafana-operator's spec.allowCrossNamespaceImport).",
    )
