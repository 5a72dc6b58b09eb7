"""Without prometheus-operator's CRDs the operator neither crashes nor loops; it catches up later."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.cluster import CHILD_KINDS, Cluster
from tests.harness.controlplane import CRD_DIRS, ControlPlane, start_control_plane
from tests.harness.operator import Operator, start_operator
from tests.harness.process import eventually
from tests.harness.tools import ROOT, require
from tests.helpers import sink, stack

DRIFT_S = 3


@pytest.fixture(scope="module")
def bare_control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A second control plane with only Vigil's CRDs installed."""
    for tool in ("etcd", "kube-apiserver", "kube-controller-manager", "kubectl"):
        require(tool)
    cp = start_control_plane(tmp_path_factory.mktemp("bare"))
    try:
        cp.install_crds(ROOT / "crds")
        yield cp
    finally:
        cp.stop()


def test_service_monitors_wait_for_the_crds(bare_control_plane: ControlPlane, tmp_path: Path) -> None:
    cp = bare_control_plane
    op: Operator = start_operator(cp, tmp_path, VIGIL_DRIFT_INTERVAL=str(DRIFT_S))
    try:
        cp.kubectl("create", "namespace", "apps")
        cluster = Cluster(cp, "apps")
        cluster.apply(sink("console", signals=["logs"], debug={}), stack("shop", sinks={"names": ["console"]}))
        degraded = eventually(
            lambda: (
                cluster.condition("mstack", "shop", "Degraded").get("status") == "True"
                and cluster.condition("mstack", "shop", "Degraded")
            ),
            "Degraded=True",
        )
        assert degraded["reason"] == "PrometheusOperatorMissing"
        assert "install prometheus-operator's CRDs" in degraded["message"]
        assert cluster.condition("mstack", "shop")["status"] == "True"
        assert "Deployment/shop-collector" in cluster.children("shop", CHILD_KINDS)
        errors = op.count("vigil_reconcile_total", kind="MonitoringStack", result="error")
        assert errors == 0
        cp.install_crds(CRD_DIRS[1])
        eventually(
            lambda: (
                cp.kubectl("get", "servicemonitors", "-n", "apps", "-o", "name").stdout.strip()
                == "servicemonitor.monitoring.coreos.com/shop-collector-self"
            ),
            "the ServiceMonitor once the CRDs exist",
        )
        eventually(
            lambda: cluster.condition("mstack", "shop", "Degraded").get("status") == "False",
            "Degraded=False",
        )
    finally:
        op.stop()
    op.assert_log_clean()
