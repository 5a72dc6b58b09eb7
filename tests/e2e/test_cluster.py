"""End to end on a real cluster (KUBECONFIG; `make e2e` creates one with kind where Docker runs).

Unlike the local control plane, a cluster has kubelets: the collector pods Vigil renders must
really start and pass their health probes.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.controlplane import CRD_DIRS, ControlPlane
from tests.harness.operator import Operator, start_operator
from tests.harness.process import eventually
from tests.harness.tools import find
from tests.helpers import sink, stack
from tests.integration.test_operator import Cluster


class ExistingCluster(ControlPlane):
    """A cluster we did not start: nothing to stop."""

    def stop(self, keep: bool = False) -> None:
        return


@pytest.fixture(scope="module")
def cluster_cp(tmp_path_factory: pytest.TempPathFactory) -> ControlPlane:
    kubeconfig = os.environ.get("KUBECONFIG", "")
    if not kubeconfig or not Path(kubeconfig).exists():
        pytest.skip("no cluster: set KUBECONFIG to a cluster (make e2e creates one with kind where Docker runs)")
    kubectl = find("kubectl")
    probe = subprocess.run(
        [str(kubectl), "version", "--request-timeout=5s"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"the cluster in KUBECONFIG={kubeconfig} is not reachable: {probe.stderr.strip()[:200]}")
    cp = ExistingCluster(tmp_path_factory.mktemp("e2e"), "", "", Path(kubeconfig))
    for folder in CRD_DIRS:
        cp.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(folder))
    return cp


@pytest.fixture
def e2e(cluster_cp: ControlPlane, tmp_path: Path) -> Iterator[tuple[Cluster, Operator]]:
    ns = f"vigil-e2e-{secrets.token_hex(3)}"
    cluster_cp.kubectl("create", "namespace", ns)
    op = start_operator(cluster_cp, tmp_path, VIGIL_NAMESPACES=ns)
    try:
        yield Cluster(cluster_cp, ns), op
    finally:
        op.stop()
        cluster_cp.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_collector_pods_run_and_pass_their_probes(e2e: tuple[Cluster, Operator]) -> None:
    cluster, _ = e2e
    cluster.apply(
        sink("console", signals=["traces", "metrics", "logs"], debug={}),
        stack("e2e", sinks={"names": ["console"]}, collector={"replicas": 2}),
    )
    eventually(lambda: cluster.ready("mstack", "e2e"), "stack Ready")

    def available() -> bool:
        deployment = cluster.get("deployment", "e2e-collector") or {}
        return deployment.get("status", {}).get("availableReplicas") == 2

    eventually(available, "2 collector pods Available (image pulled, probes passing)", deadline_s=300)
    pods = json.loads(
        cluster.cp.kubectl("get", "pods", "-n", cluster.ns, "-l", "app.kubernetes.io/instance=e2e", "-o", "json").stdout
    )["items"]
    assert all(p["spec"]["securityContext"]["runAsNonRoot"] for p in pods)
