"""Vigil's API identity, stated once: group, version, the three kinds, and the defaults of the
labels other tools select Vigil's objects by. Every layer imports it; it imports nothing of Vigil's.
"""

from __future__ import annotations

from dataclasses import dataclass

GROUP = "vigil.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
CATEGORY = "vigil"


@dataclass(frozen=True)
class KindInfo:
    """How one of Vigil's kinds is named in the API and in kubectl."""

    kind: str
    plural: str
    short_name: str

    @property
    def api_version(self) -> str:
        """``vigil.dev/v1alpha1``."""
        return API_VERSION

    @property
    def crd_name(self) -> str:
        """The CRD's metadata.name, e.g. ``telemetrysinks.vigil.dev``."""
        return f"{self.plural}.{GROUP}"


TELEMETRY_SINK = KindInfo("TelemetrySink", "telemetrysinks", "tsink")
MONITORING_STACK = KindInfo("MonitoringStack", "monitoringstacks", "mstack")
ALERT_POLICY = KindInfo("AlertPolicy", "alertpolicies", "apol")
KINDS: tuple[KindInfo, ...] = (TELEMETRY_SINK, MONITORING_STACK, ALERT_POLICY)
KINDS_BY_NAME = {k.kind: k for k in KINDS}

# Grafana's dashboard sidecar (kube-prometheus-stack defaults): the label it selects ConfigMaps
# by, the annotation naming their folder, and the folder Vigil files dashboards under.
GRAFANA_DASHBOARD_LABEL = "grafana_dashboard"
GRAFANA_DASHBOARD_LABEL_VALUE = "1"
GRAFANA_FOLDER_ANNOTATION = "grafana_folder"
GRAFANA_DEFAULT_FOLDER = "Vigil"

# Labels and annotations on everything Vigil generates (render/meta.py builds them), and the labels
# Vigil puts on every alert (models reserve them; Alertmanager routes and inhibits by them).
MANAGED_BY = "app.kubernetes.io/managed-by"
PART_OF = "app.kubernetes.io/part-of"
INSTANCE = "app.kubernetes.io/instance"
NAME = "app.kubernetes.io/name"
COMPONENT = "app.kubernetes.io/component"
OWNER_KIND = f"{GROUP}/owner-kind"
CONFIG_HASH = f"{GROUP}/config-hash"
DASHBOARD_LABEL = f"{GROUP}/dashboard"
"""Which built-in dashboard a generated ConfigMap or GrafanaDashboard carries."""
MONITORING_LABEL = "monitoring"
ALERTNAME_LABEL = "alertname"
SEVERITY_LABEL = "severity"
NAMESPACE_LABEL = "namespace"
POLICY_LABEL = "vigil_policy"
STACK_LABEL = "vigil_stack"
EXPORTED_NAMESPACE_LABEL = "exported_namespace"
