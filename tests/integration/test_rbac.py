"""The operator works with exactly the permissions deploy/rbac.yaml grants, and no more."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.harness.cluster import Cluster
from tests.harness.controlplane import ControlPlane
from tests.harness.operator import start_operator
from tests.harness.process import eventually
from tests.harness.tools import ROOT
from tests.helpers import sink, stack

RBAC = ROOT / "deploy" / "rbac.yaml"


def test_operator_runs_with_the_shipped_role(control_plane: ControlPlane, namespace: str, tmp_path: Path) -> None:
    control_plane.kubectl("apply", "-f", str(RBAC))
    kubeconfig = control_plane.kubeconfig_for_operator()
    can = control_plane.kubectl(
        f"--kubeconfig={kubeconfig}", "auth", "can-i", "list", "secrets", "-n", namespace, check=False
    )
    assert can.stdout.strip() == "no", "the role must not allow listing Secrets"
    op = start_operator(control_plane, tmp_path, KUBECONFIG=str(kubeconfig))
    try:
        cluster = Cluster(control_plane, namespace)
        cluster.apply(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "auth"}, "stringData": {"token": "t"}},
            sink(
                "gw",
                signals=["traces"],
                otlp={
                    "endpoint": "gw:4317",
                    "headers": [
                        {"name": "Authorization", "valueFrom": {"secretKeyRef": {"name": "auth", "key": "token"}}}
                    ],
                },
            ),
            stack(
                "least",
                sinks={"names": ["gw"]},
                ruleBundles=[{"name": "collector"}],
                dashboards={"names": ["collector-health"]},
            ),
        )
        eventually(lambda: cluster.ready("mstack", "least"), "Ready with the shipped role")
        assert op.count("vigil_api_requests_total", code="403") == 0
    finally:
        op.stop()


NAMESPACED = ROOT / "deploy" / "rbac-namespaced.yaml"


def operator_identity(control_plane: ControlPlane, namespace: str, tmp_path: Path) -> Path:
    """A kubeconfig for a ServiceAccount of ``namespace`` that only deploy/rbac-namespaced.yaml's Role binds.

    The shipped RoleBinding names vigil-system/vigil-operator, which the cluster-wide test binds
    too; the Role is applied exactly as shipped, the binding points at this identity instead.
    """
    role, binding = [d for d in yaml.safe_load_all(NAMESPACED.read_text()) if d]
    binding["subjects"] = [{"kind": "ServiceAccount", "name": "vigil-scoped", "namespace": namespace}]
    control_plane.kubectl("create", "serviceaccount", "vigil-scoped", "-n", namespace)
    control_plane.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump_all([role, binding]))
    token = control_plane.kubectl("create", "token", "vigil-scoped", "-n", namespace, "--duration=1h").stdout.strip()
    config = yaml.safe_load(control_plane.kubeconfig.read_text())
    config["users"] = [{"name": "admin", "user": {"token": token}}]
    config["contexts"][0]["context"]["namespace"] = namespace
    path = tmp_path / "kubeconfig-scoped"
    path.write_text(yaml.safe_dump(config))
    return path


def can_i(control_plane: ControlPlane, kubeconfig: Path, *args: str) -> bool:
    done = control_plane.kubectl(f"--kubeconfig={kubeconfig}", "auth", "can-i", *args, check=False)
    return done.stdout.strip() == "yes"


def test_operator_runs_in_its_namespaces_with_the_namespaced_role(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    kubeconfig = operator_identity(control_plane, namespace, tmp_path)
    # What the Role must not allow.
    assert not can_i(control_plane, kubeconfig, "list", "secrets", "-n", namespace)
    assert not can_i(control_plane, kubeconfig, "watch", "secrets", "-n", namespace)
    assert not can_i(control_plane, kubeconfig, "get", "secrets", "-n", "default")
    assert not can_i(control_plane, kubeconfig, "create", "pods", "-n", namespace)
    assert not can_i(control_plane, kubeconfig, "update", "deployments", "-n", namespace)
    assert not can_i(control_plane, kubeconfig, "create", "configmaps", "-n", "default")
    assert not can_i(control_plane, kubeconfig, "list", "customresourcedefinitions")
    assert not can_i(control_plane, kubeconfig, "list", "namespaces")
    assert not can_i(control_plane, kubeconfig, "create", "rolebindings", "-n", namespace)
    assert can_i(control_plane, kubeconfig, "get", "secrets", "-n", namespace)
    op = start_operator(
        control_plane,
        tmp_path,
        name="vigil-scoped",
        KUBECONFIG=str(kubeconfig),
        VIGIL_NAMESPACES=namespace,
        VIGIL_SECRET_CHECK_INTERVAL="2",
    )
    try:
        cluster = Cluster(control_plane, namespace)
        cluster.apply(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "auth"}, "stringData": {"token": "t"}},
            sink(
                "gw",
                signals=["traces"],
                otlp={
                    "endpoint": "gw:4317",
                    "headers": [
                        {"name": "Authorization", "valueFrom": {"secretKeyRef": {"name": "auth", "key": "token"}}}
                    ],
                },
            ),
            stack(
                "scoped",
                sinks={"names": ["gw"]},
                collector={"replicas": 2},
                ruleBundles=[{"name": "collector"}],
                dashboards={"names": ["collector-health"]},
            ),
            {
                "apiVersion": "vigil.dev/v1alpha1",
                "kind": "AlertPolicy",
                "metadata": {"name": "down"},
                "spec": {
                    "expr": "up == 0",
                    "receivers": [{"name": "hook", "webhook": {"url": "http://bot.ops.svc:8080/alerts"}}],
                },
            },
        )
        eventually(lambda: cluster.ready("mstack", "scoped"), "stack Ready with the namespaced role")
        eventually(lambda: cluster.ready("apol", "down"), "policy Ready with the namespaced role")
        kinds = {k.split("/")[0] for k in cluster.children("scoped")}
        assert kinds >= {"Deployment", "PodDisruptionBudget", "Service", "ServiceMonitor", "ConfigMap"}
        # A rotation is noticed through the metadata-only get.
        before = (cluster.get("deployment", "scoped-collector") or {})["spec"]["template"]["metadata"]["annotations"]
        cluster.apply(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "auth"}, "stringData": {"token": "t2"}}
        )
        eventually(
            lambda: (
                (cluster.get("deployment", "scoped-collector") or {})["spec"]["template"]["metadata"]["annotations"]
                != before
            ),
            "the collector rolled after the Secret's rotation",
        )
        # A refusal reaches status and an Event (events: create).
        cluster.apply(stack("broken", sinks={"names": ["missing"]}))
        eventually(lambda: any(e["reason"] == "SinkNotFound" for e in cluster.events("broken")), "an Event")
        assert op.count("vigil_api_requests_total", code="403") == 0
    finally:
        op.stop()
    op.assert_log_clean()
