"""The monitoring stack as users run it: prometheus-operator's Prometheus and Alertmanager pods
consuming what Vigil generates, on a cluster whose pods run.

prometheus-operator (``make tools``) watches the cluster and runs a Prometheus and an Alertmanager
as pods that select Vigil's objects in one team namespace. Vigil, installed by the chart, deploys a
collector with its ServiceMonitor and turns an AlertPolicy into a PrometheusRule and an
AlertmanagerConfig. Proven end to end: the Prometheus pod scrapes the collector through Vigil's
ServiceMonitor, evaluates Vigil's rule (with the namespace label enforced, as on a Prometheus
shared by tenants), and the Alertmanager pod, loaded with the configuration
prometheus-operator generates from Vigil's AlertmanagerConfig (matcher strategy OnNamespace),
delivers the alert to the policy's webhook on this machine.

On the local node the images are made here (tests/harness/monitoring_images.py); any other cluster
pulls the upstream images of the same versions. Prometheus is the version prometheus-operator is
built against (``make tools``: prometheus-pod); Alertmanager is Debian's, as in the other tiers.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.harness import monitoring_images, node
from tests.harness.alertmanager import WebhookSink, start_webhook_sink
from tests.harness.cluster import Cluster
from tests.harness.fixtures import E2ECluster
from tests.harness.process import eventually
from tests.harness.prometheus_operator import (
    PrometheusOperator,
    alertmanager_object,
    binding,
    prometheus_object,
    start_prometheus_operator,
)
from tests.harness.release import RESTRICTED, Release
from tests.harness.tools import require, version_of
from tests.helpers import sink, stack

NAME = "vigil"
SELECTED = "vigil.dev/e2e-monitoring"
"""The namespace label the Prometheus and the Alertmanager select Vigil's objects by."""
MANAGED = {"app.kubernetes.io/managed-by": "vigil"}
PODS_S = 240.0
"""Images imported, StatefulSets rolled out, Prometheus and Alertmanager ready."""
ALERT_S = 120.0
INTERVAL = "5s"
FAST = {"groupWait": "1s", "groupInterval": "1m", "repeatInterval": "1h"}
POLICY, ALERT = "collector-scraped", "CollectorScraped"


@dataclass
class Monitoring:
    namespace: str
    """Where the Prometheus and the Alertmanager run."""
    team: Cluster
    """The namespace of Vigil's objects."""
    operator: PrometheusOperator
    webhook: WebhookSink
    e2e: E2ECluster

    def prometheus_api(self, path: str, **query: str) -> Any:
        with self.e2e.reach(self.namespace, "prometheus-api", 9090) as address:
            url = f"http://{address}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
            with urllib.request.urlopen(url, timeout=5) as resp:
                return json.loads(resp.read())["data"]


def _rbac(namespace: str, key: str) -> list[dict[str, Any]]:
    """What a Prometheus needs to discover targets: a ServiceAccount allowed to watch them."""
    role = f"vigil-e2e-prometheus-{key}"
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "prometheus", "namespace": namespace}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": role},
            "rules": [
                {"apiGroups": [""], "resources": ["services", "endpoints", "pods"], "verbs": ["get", "list", "watch"]},
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["get", "list", "watch"]},
                {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": role},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": "prometheus", "namespace": namespace}],
        },
    ]


def _monitoring_objects(namespace: str, key: str, images: monitoring_images.MonitoringImages) -> list[dict[str, Any]]:
    selected = {"matchLabels": {SELECTED: key}}
    prometheus = prometheus_object(namespace, NAME, images.prometheus_version, MANAGED)
    prometheus["spec"].update(
        image=images.prometheus,
        serviceAccountName="prometheus",
        serviceMonitorNamespaceSelector=selected,
        ruleNamespaceSelector=selected,
        scrapeInterval=INTERVAL,
        evaluationInterval=INTERVAL,
        # As a Prometheus shared by tenants should be: every tenant's rule reads its own namespace.
        enforcedNamespaceLabel="namespace",
    )
    alertmanager = alertmanager_object(namespace, NAME, images.alertmanager_version, MANAGED)
    alertmanager["spec"].update(image=images.alertmanager, alertmanagerConfigNamespaceSelector=selected)
    # prometheus-operated is headless: a Service with an address for this process to query.
    api = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "prometheus-api", "namespace": namespace},
        "spec": {
            "selector": {"app.kubernetes.io/name": "prometheus", "operator.prometheus.io/name": NAME},
            "ports": [{"name": "web", "port": 9090, "targetPort": 9090}],
        },
    }
    return [*_rbac(namespace, key), prometheus, alertmanager, api]


def _team_objects(team: str, webhook: WebhookSink) -> list[dict[str, Any]]:
    return [
        sink("console", signals=["metrics"], debug={}),
        stack("shop", sinks={"names": ["console"]}, selfMonitoring={"interval": INTERVAL}),
        {
            "apiVersion": "vigil.dev/v1alpha1",
            "kind": "AlertPolicy",
            "metadata": {"name": POLICY},
            "spec": {
                # Fires while Prometheus scrapes the collector: only the real chain makes it fire.
                "expr": f'up{{namespace="{team}", service="shop-collector"}} == 1',
                "severity": "warning",
                "receivers": [{"name": "hook", "webhook": {"url": f"{webhook.url}/{team}/hook"}}],
                "routing": FAST,
            },
        },
    ]


def _images(e2e: E2ECluster) -> monitoring_images.MonitoringImages:
    """Made here and imported on the local node; upstream's of the same versions elsewhere."""
    if isinstance(e2e.cp, node.Node):
        images, archives = monitoring_images.build_local(node.IMAGES_DIR)
        for archive in archives:
            e2e.cp.import_image(archive)
        return images
    versions = (
        version_of(require(binary))
        # The reloader is released with prometheus-operator, under the same version.
        for binary in ("prometheus-pod", "prometheus-alertmanager", "prometheus-operator")
    )
    return monitoring_images.upstream(*versions)


def _ready(cp: Any, namespace: str, statefulset: str) -> bool:
    out = cp.kubectl("get", "statefulset", statefulset, "-n", namespace, "-o", "json", check=False)
    return out.returncode == 0 and json.loads(out.stdout).get("status", {}).get("readyReplicas") == 1


@pytest.fixture(scope="module")
def monitoring(
    e2e_cluster: E2ECluster, vigil: Release, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Monitoring]:
    if e2e_cluster.host_ip is None:
        pytest.skip("set VIGIL_E2E_HOST_IP to the address pods reach this machine at (the local node knows it)")
    cp, key = e2e_cluster.cp, secrets.token_hex(3)
    namespace, team = f"vigil-mon-{key}", f"vigil-team-{key}"
    images = _images(e2e_cluster)
    webhook = start_webhook_sink(e2e_cluster.host_ip)
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(webhook.stop)
        for ns in (namespace, team):
            cp.kubectl("create", "namespace", ns)
            cleanup.callback(cp.kubectl, "delete", "namespace", ns, "--wait=false", check=False)
        cp.kubectl("label", "namespace", team, f"{SELECTED}={key}", f"{RESTRICTED}=restricted")
        operator = start_prometheus_operator(
            cp, tmp_path_factory.mktemp("prometheus-operator"), config_reloader=images.config_reloader
        )
        cleanup.callback(operator.stop)
        objects = _monitoring_objects(namespace, key, images)
        cleanup.callback(cp.kubectl, "delete", "clusterrole,clusterrolebinding", objects[1]["metadata"]["name"])
        cp.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
        team_cluster = Cluster(cp, team)
        team_cluster.apply(*_team_objects(team, webhook))
        for statefulset in (f"prometheus-{NAME}", f"alertmanager-{NAME}"):
            eventually(lambda s=statefulset: _ready(cp, namespace, s), f"{statefulset} ready", PODS_S)
        yield Monitoring(namespace, team_cluster, operator, webhook, e2e_cluster)


def test_the_prometheus_pod_scrapes_the_collector_through_vigils_service_monitor(monitoring: Monitoring) -> None:
    team = monitoring.team.ns

    def scraped() -> list[dict[str, Any]]:
        targets = monitoring.prometheus_api("/api/v1/targets", state="active")["activeTargets"]
        return [
            t
            for t in targets
            if t["labels"].get("namespace") == team and t["labels"].get("service") == "shop-collector"
        ]

    targets = eventually(lambda: [t for t in scraped() if t["health"] == "up"], "the collector scraped", ALERT_S)
    assert targets[0]["scrapePool"] == f"serviceMonitor/{team}/shop-collector-self/0"
    assert targets[0]["labels"]["job"] == "shop-collector"
    # Every target of the team namespace is Vigil's collector: nothing else was selected.
    assert all(t["health"] == "up" for t in scraped())
    for kind, name in (("servicemonitor", "shop-collector-self"), ("prometheusrule", f"{POLICY}-policy")):
        obj = monitoring.team.get(kind, name) or {}
        assert binding(obj, monitoring.namespace, NAME).get("status") == "True", (kind, obj.get("status"))


def test_the_alert_of_vigils_rule_reaches_its_webhook_through_the_alertmanager_pod(monitoring: Monitoring) -> None:
    team = monitoring.team.ns
    path = f"/{team}/hook"
    notifications = eventually(lambda: monitoring.webhook.notifications(path), "the alert at its webhook", ALERT_S)
    alerts = [a for n in notifications for a in n["alerts"]]
    assert {a["labels"]["alertname"] for a in alerts} == {ALERT}
    assert {a["labels"]["namespace"] for a in alerts} == {team}
    assert {a["labels"]["vigil_policy"] for a in alerts} == {f"{team}/{POLICY}"}
    assert all(a["status"] == "firing" for a in alerts)
    # Delivered by the Alertmanager that prometheus-operator configured, to this path only.
    assert notifications[0]["receiver"].endswith("hook")
    assert set(monitoring.webhook.received) == {path}
    assert monitoring.operator.problems() == []
