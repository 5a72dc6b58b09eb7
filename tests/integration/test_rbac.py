"""The operator works with exactly the permissions deploy/rbac.yaml grants, and no more."""

from __future__ import annotations

from pathlib import Path

from tests.harness.controlplane import ControlPlane
from tests.harness.operator import start_operator
from tests.harness.process import eventually
from tests.harness.tools import ROOT
from tests.helpers import sink, stack
from tests.integration.test_operator import Cluster

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
