"""Faults a real API server cannot produce on demand: throttling, server errors, conflicts,
and the operator dying mid-reconcile. Each test asserts convergence and a truthful status."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.harness.controlplane import ControlPlane
from tests.harness.faultproxy import Fault, start_fault_proxy
from tests.harness.operator import start_operator
from tests.harness.process import eventually
from tests.helpers import sink, stack
from tests.integration.test_operator import Cluster


def _deploy(cluster: Cluster, name: str) -> None:
    cluster.apply(
        sink(f"{name}-sink", signals=["logs"], debug={}),
        stack(name, sinks={"names": [f"{name}-sink"]}),
    )


def test_throttling_errors_and_conflicts_converge(control_plane: ControlPlane, namespace: str, tmp_path: Path) -> None:
    proxy = start_fault_proxy(control_plane, tmp_path)
    for fault in (
        Fault("PATCH", "/deployments/", status=429, count=2),
        Fault("PATCH", "/configmaps/", status=500, count=2),
        Fault("PATCH", "/services/", status=409, count=1),
    ):
        proxy.add(fault)
    env = {"KUBECONFIG": str(proxy.kubeconfig)}
    op = start_operator(control_plane, tmp_path, VIGIL_DRIFT_INTERVAL="30", **env)
    try:
        cluster = Cluster(control_plane, namespace)
        _deploy(cluster, "flaky")
        eventually(lambda: cluster.ready("mstack", "flaky"), "Ready despite injected faults", deadline_s=90)
        children = cluster.children("flaky")
        assert {
            "Deployment/flaky-collector",
            "ConfigMap/flaky-collector-config",
            "Service/flaky-collector",
        } <= set(children)
        assert len(proxy.injected) == 5, proxy.injected
        assert op.count("vigil_api_requests_total", code="429") == 2
        assert op.count("vigil_reconcile_total", kind="MonitoringStack", result="error") >= 1
    finally:
        op.stop()


def test_operator_killed_mid_reconcile_converges_after_restart(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    proxy = start_fault_proxy(control_plane, tmp_path)
    proxy.add(Fault("PATCH", "/deployments/", delay=30, count=1))  # hangs the first Deployment apply
    op = start_operator(control_plane, tmp_path, name="doomed", KUBECONFIG=str(proxy.kubeconfig))
    cluster = Cluster(control_plane, namespace)
    _deploy(cluster, "crashy")
    eventually(lambda: any("/deployments/" in i for i in proxy.injected), "the Deployment apply to stall")
    os.kill(op.process.pid, signal.SIGKILL)
    op.process.popen.wait(timeout=10)
    assert cluster.get("deployment", "crashy-collector") is None
    time.sleep(1)
    second = start_operator(control_plane, tmp_path, name="restarted", VIGIL_DRIFT_INTERVAL="30")
    try:
        eventually(lambda: cluster.ready("mstack", "crashy"), "Ready after the restart")
        assert cluster.get("deployment", "crashy-collector") is not None
        status = (cluster.get("mstack", "crashy") or {})["status"]
        assert status["selectedSinks"] == ["crashy-sink"]
        assert {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "crashy-collector",
        } in status["generatedObjects"]
    finally:
        second.stop()
