"""`vigil run` against a real kube-apiserver: create, update, no-op, drift, delete, faults."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harness.cluster import Cluster, secret
from tests.harness.controlplane import ControlPlane
from tests.harness.operator import Operator, running_operator, start_operator
from tests.harness.process import eventually
from tests.harness.tools import require
from tests.helpers import sink, stack

DEADLINE_S = 45.0
DRIFT_S = 3
SECRETS_S = 2


@pytest.fixture(scope="module")
def operator(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    yield from running_operator(
        control_plane,
        tmp_path_factory.mktemp("operator"),
        VIGIL_DRIFT_INTERVAL=str(DRIFT_S),
        VIGIL_SECRET_CHECK_INTERVAL=str(SECRETS_S),
        VIGIL_COLLECTOR_BINARY=str(require("otelcol-vigil")),
        VIGIL_PROMETHEUS_LABELS="release=kube-prometheus-stack",
    )


def config_hash(deployment: dict[str, Any]) -> str:
    return str(deployment["spec"]["template"]["metadata"]["annotations"]["vigil.dev/config-hash"])


def collector_config(cluster: Cluster, stack_name: str) -> dict[str, Any]:
    cm = cluster.get("configmap", f"{stack_name}-collector-config") or {}
    return dict(yaml.safe_load(cm["data"]["collector.yaml"]))


GW = sink(
    "gw",
    labels={"team": "shop"},
    signals=["traces"],
    otlp={
        "endpoint": "gateway:4317",
        "tls": {"insecure": True},
        "headers": [
            {
                "name": "Authorization",
                "valueFrom": {"secretKeyRef": {"name": "gw-auth", "key": "token"}},
            }
        ],
    },
)
SHOP = stack("shop", sinks={"selector": {"matchLabels": {"team": "shop"}}}, collector={"replicas": 2})


def deploy_shop(cluster: Cluster) -> dict[str, dict[str, Any]]:
    cluster.apply(
        secret("gw-auth", token="Bearer first"),
        json.loads(json.dumps(GW)),
        json.loads(json.dumps(SHOP)),
    )
    eventually(lambda: cluster.ready("mstack", "shop"), "stack shop Ready")
    return cluster.children("shop")


def test_create_makes_every_child_with_owner_and_labels(operator: Operator, cluster: Cluster) -> None:
    children = deploy_shop(cluster)
    assert sorted(children) == [
        "ConfigMap/shop-collector-config",
        "ConfigMap/shop-otlp-connection",
        "Deployment/shop-collector",
        "PodDisruptionBudget/shop-collector",
        "Service/shop-collector",
        "ServiceAccount/shop-collector",
        "ServiceMonitor/shop-collector-self",
    ]
    uid = (cluster.get("mstack", "shop") or {})["metadata"]["uid"]
    for obj in children.values():
        assert obj["metadata"]["ownerReferences"][0]["uid"] == uid
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "vigil"
    assert children["ServiceMonitor/shop-collector-self"]["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    cfg = collector_config(cluster, "shop")
    assert cfg["exporters"]["otlp_grpc/gw"]["headers"] == {"Authorization": "${env:VIGIL_GW_HEADER_AUTHORIZATION}"}
    status = (cluster.get("mstack", "shop") or {})["status"]
    assert status["selectedSinks"] == ["gw"]
    assert {"kind": "Deployment", "name": "shop-collector", "apiVersion": "apps/v1"} in status["generatedObjects"]
    sink_status = (cluster.get("tsink", "gw") or {})["status"]
    eventually(
        lambda: (cluster.get("tsink", "gw") or {})["status"].get("usedBy") == ["shop"],
        "sink usedBy",
    )
    assert sink_status["destinationType"] == "otlp"
    # No Secret value anywhere the operator writes.
    assert "Bearer first" not in json.dumps(children) + json.dumps(status)


def test_sink_update_rolls_a_new_config(operator: Operator, cluster: Cluster) -> None:
    before = config_hash(deploy_shop(cluster)["Deployment/shop-collector"])
    changed = json.loads(json.dumps(GW))
    changed["spec"]["otlp"]["endpoint"] = "gateway-v2:4317"
    cluster.apply(changed)
    eventually(
        lambda: collector_config(cluster, "shop")["exporters"]["otlp_grpc/gw"]["endpoint"] == "gateway-v2:4317",
        "the new endpoint in the ConfigMap",
    )
    after = config_hash(cluster.children("shop")["Deployment/shop-collector"])
    assert after != before


def test_nothing_changed_means_no_writes(
    operator: Operator, control_plane: ControlPlane, cluster: Cluster, tmp_path: Path
) -> None:
    children = deploy_shop(cluster)
    versions = {k: o["metadata"]["resourceVersion"] for k, o in children.items()}
    writes = operator.child_writes()
    time.sleep(DRIFT_S * 2 + 1)  # drift timer ticks
    cluster.cp.kubectl("label", "mstack", "shop", "-n", cluster.ns, "touched=yes")  # label-only change
    time.sleep(2)
    assert operator.child_writes() == writes
    # Resume after a restart: a second operator process starts on the same objects.
    second = start_operator(control_plane, tmp_path, name="vigil-restarted", VIGIL_DRIFT_INTERVAL=str(DRIFT_S))
    try:
        time.sleep(DRIFT_S + 2)
        assert second.child_writes() == 0
        assert second.count("vigil_reconcile_total", kind="MonitoringStack", result="success") >= 1
    finally:
        second.stop()
    now = {k: o["metadata"]["resourceVersion"] for k, o in cluster.children("shop").items()}
    assert now == versions


def test_drift_is_repaired(operator: Operator, cluster: Cluster) -> None:
    deploy_shop(cluster)
    cluster.cp.kubectl(
        "patch",
        "configmap",
        "shop-collector-config",
        "-n",
        cluster.ns,
        "--type=merge",
        "-p",
        json.dumps({"data": {"collector.yaml": "tampered: true\n"}}),
    )
    cluster.cp.kubectl("delete", "service", "shop-collector", "-n", cluster.ns)
    eventually(lambda: "receivers" in collector_config(cluster, "shop"), "the config restored")
    eventually(lambda: cluster.get("service", "shop-collector"), "the Service recreated")


def test_deleting_the_stack_collects_its_children(operator: Operator, cluster: Cluster) -> None:
    deploy_shop(cluster)
    cluster.cp.kubectl("delete", "mstack", "shop", "-n", cluster.ns)
    eventually(lambda: cluster.children("shop") == {}, "children garbage-collected", deadline_s=90)


def test_secret_rotation_rolls_the_collector(operator: Operator, cluster: Cluster) -> None:
    before = config_hash(deploy_shop(cluster)["Deployment/shop-collector"])
    cluster.apply(secret("gw-auth", token="Bearer rotated"))
    eventually(
        lambda: config_hash(cluster.children("shop")["Deployment/shop-collector"]) != before,
        "a new config hash after the Secret changed",
        deadline_s=SECRETS_S * 5 + 10,
    )


def test_cross_object_mistake_is_reported_and_nothing_rolls_out(operator: Operator, cluster: Cluster) -> None:
    deploy_shop(cluster)
    config_version = cluster.children("shop")["ConfigMap/shop-collector-config"]["metadata"]["resourceVersion"]
    cluster.apply(
        sink("prom-a", labels={"team": "shop"}, signals=["metrics"], prometheus={"port": 9464}),
        sink("prom-b", labels={"team": "shop"}, signals=["metrics"], prometheus={"port": 9464}),
    )
    cond = eventually(
        lambda: cluster.condition("mstack", "shop").get("status") == "False" and cluster.condition("mstack", "shop"),
        "Ready=False",
    )
    assert cond["reason"] == "InvalidConfig"
    assert "TelemetrySink/prom-b: spec.prometheus.port" in cond["message"]
    eventually(
        lambda: any(e["reason"] == "InvalidConfig" and e["type"] == "Warning" for e in cluster.events("shop")),
        "a Warning Event on the stack",
    )
    assert cluster.children("shop")["ConfigMap/shop-collector-config"]["metadata"]["resourceVersion"] == config_version


def test_config_the_collector_rejects_is_never_rolled_out(operator: Operator, cluster: Cluster) -> None:
    deploy_shop(cluster)
    before = cluster.children("shop")
    cluster.apply(
        sink(
            "bus",
            labels={"team": "shop"},
            signals=["logs"],
            kafka={"brokers": ["kafka:9092"], "topic": "logs", "protocolVersion": "0.0.1"},
        )
    )
    cond = eventually(
        lambda: (
            cluster.condition("mstack", "shop").get("reason") == "InvalidConfig" and cluster.condition("mstack", "shop")
        ),
        "Ready=False InvalidConfig",
    )
    assert 'invalid protocol version: "0.0.1"' in cond["message"]
    after = cluster.children("shop")
    for key in ("ConfigMap/shop-collector-config", "Deployment/shop-collector"):
        assert after[key]["metadata"]["resourceVersion"] == before[key]["metadata"]["resourceVersion"]


def test_stacks_never_select_sinks_of_another_namespace(
    operator: Operator, control_plane: ControlPlane, cluster: Cluster
) -> None:
    other = Cluster(control_plane, f"{cluster.ns}-b")
    control_plane.kubectl("create", "namespace", other.ns)
    try:
        other.apply(sink("foreign", labels={"team": "shop"}, signals=["logs"], debug={}))
        cluster.apply(
            sink("local", labels={"team": "shop"}, signals=["logs"], debug={}),
            stack("tenant", sinks={"selector": {}, "names": ["foreign"]}),
        )
        eventually(
            lambda: (cluster.get("mstack", "tenant") or {}).get("status", {}).get("selectedSinks") == ["local"],
            "only the local sink selected",
        )
        degraded = cluster.condition("mstack", "tenant", "Degraded")
        assert degraded["reason"] == "SinkNotFound"
        assert 'TelemetrySink "foreign" not found' in degraded["message"]
    finally:
        control_plane.kubectl("delete", "namespace", other.ns, "--wait=false", check=False)


def test_bundles_and_dashboards_follow_the_stack(operator: Operator, cluster: Cluster) -> None:
    deploy_shop(cluster)
    with_assets = json.loads(json.dumps(SHOP))
    with_assets["spec"]["ruleBundles"] = [{"name": "collector", "thresholds": {"exporterQueueUtilisationRatio": 0.9}}]
    with_assets["spec"]["dashboards"] = {"names": ["collector-health", "vigil-operator"]}
    cluster.apply(with_assets)
    eventually(lambda: cluster.get("configmap", "shop-dashboard-vigil-operator"), "the dashboard ConfigMaps")
    rule = eventually(lambda: cluster.get("prometheusrule", "shop-rules"), "the bundle PrometheusRule")
    exprs = [r.get("expr", "") for g in rule["spec"]["groups"] for r in g["rules"]]
    assert any(e.endswith("> 0.9") for e in exprs)
    cm = cluster.get("configmap", "shop-dashboard-collector-health") or {}
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    status = (cluster.get("mstack", "shop") or {})["status"]
    assert status["selectedDashboards"] == ["collector-health", "vigil-operator"]
    assert status["selectedBundles"] == ["collector"]
    with_assets["spec"]["dashboards"] = {"names": ["collector-health"]}
    cluster.apply(with_assets)
    eventually(
        lambda: cluster.get("configmap", "shop-dashboard-vigil-operator") is None, "the dropped dashboard pruned"
    )
    assert cluster.get("configmap", "shop-dashboard-collector-health") is not None


def test_alert_policy_is_reconciled(operator: Operator, cluster: Cluster) -> None:
    policy = {
        "apiVersion": "vigil.dev/v1alpha1",
        "kind": "AlertPolicy",
        "metadata": {"name": "checkout-errors"},
        "spec": {
            "severity": "warning",
            "threshold": {"expr": 'sum(rate(http_requests_total{code=~"5.."}[5m]))', "comparison": ">", "value": 1},
            "receivers": [{"name": "hook", "webhook": {"url": "http://alert-sink.monitoring.svc:8080/hook"}}],
        },
    }
    cluster.apply(json.loads(json.dumps(policy)))
    eventually(lambda: cluster.ready("apol", "checkout-errors"), "policy Ready")
    status = (cluster.get("apol", "checkout-errors") or {})["status"]
    kinds = sorted(o["kind"] for o in status["generatedObjects"])
    assert kinds == ["AlertmanagerConfig", "PrometheusRule"]
    assert status["alertKind"] == "threshold"
    broken = json.loads(json.dumps(policy))
    broken["spec"]["threshold"]["expr"] = "sum(rate(http_requests_total[5m])"
    rule_version = (cluster.get("prometheusrule", status["generatedObjects"][0]["name"]) or {}).get("metadata", {})
    cluster.apply(broken)
    cond = eventually(
        lambda: (
            cluster.condition("apol", "checkout-errors").get("reason") == "InvalidExpression"
            and cluster.condition("apol", "checkout-errors")
        ),
        "Ready=False InvalidExpression",
    )
    assert "spec.threshold.expr" in cond["message"]
    assert "invalid PromQL" in cond["message"]
    eventually(lambda: any(e["reason"] == "InvalidExpression" for e in cluster.events("checkout-errors")), "an Event")
    rules = [o for o in status["generatedObjects"] if o["kind"] == "PrometheusRule"]
    still = cluster.get("prometheusrule", rules[0]["name"]) or {}
    assert still["metadata"]["resourceVersion"] == rule_version.get(
        "resourceVersion", still["metadata"]["resourceVersion"]
    )
