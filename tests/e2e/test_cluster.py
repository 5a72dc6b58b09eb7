"""The cluster itself: KUBECONFIG's, or the local node `make cluster` and this tier start.

Unlike the integration tier's control plane, it has a kubelet: pods run, Services route and
cluster DNS answers. These tests hold for any cluster; the local node's own guarantees (traffic
stays on the machine) are tested where they apply.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator

import pytest

from tests.harness import node
from tests.harness.cluster import Cluster
from tests.harness.fixtures import E2ECluster
from tests.harness.process import eventually
from tests.harness.release import Release
from tests.helpers import sink, stack


@pytest.fixture
def cluster(e2e_cluster: E2ECluster, vigil: Release) -> Iterator[Cluster]:
    """A namespace of its own; the operator the chart installed reconciles it."""
    ns = f"vigil-e2e-{secrets.token_hex(3)}"
    e2e_cluster.cp.kubectl("create", "namespace", ns)
    try:
        yield Cluster(e2e_cluster.cp, ns)
    finally:
        e2e_cluster.cp.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_collector_pods_run_and_pass_their_probes(cluster: Cluster) -> None:
    cluster.apply(
        sink("console", signals=["traces", "metrics", "logs"], debug={}),
        stack("e2e", sinks={"names": ["console"]}, collector={"replicas": 2}),
    )
    eventually(lambda: cluster.ready("mstack", "e2e"), "stack Ready")

    def available() -> bool:
        deployment = cluster.get("deployment", "e2e-collector") or {}
        return deployment.get("status", {}).get("availableReplicas") == 2

    eventually(available, "2 collector pods Available (image present, probes passing)", deadline_s=300)
    pods = json.loads(
        cluster.cp.kubectl("get", "pods", "-n", cluster.ns, "-l", "app.kubernetes.io/instance=e2e", "-o", "json").stdout
    )["items"]
    assert len(pods) == 2
    assert all(p["spec"]["securityContext"]["runAsNonRoot"] for p in pods)
    assert {p["status"]["podIP"] for p in pods} != {None}


def test_the_node_is_ready_and_cluster_dns_answers(e2e_cluster: E2ECluster) -> None:
    nodes = json.loads(e2e_cluster.cp.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert any(c["type"] == "Ready" and c["status"] == "True" for n in nodes for c in n["status"]["conditions"]), (
        "no Ready node"
    )
    if not e2e_cluster.local:
        return
    kubernetes = json.loads(
        e2e_cluster.cp.kubectl("get", "service", "kubernetes", "-n", "default", "-o", "json").stdout
    )
    assert node.dns_query(node.DNS_SERVICE_IP, "kubernetes.default.svc.cluster.local") == [
        kubernetes["spec"]["clusterIP"]
    ]
    # Names outside the cluster are never looked up off the machine.
    assert node.dns_query(node.DNS_SERVICE_IP, "example.com") == []


def test_the_local_node_keeps_pod_and_service_traffic_on_the_machine(e2e_cluster: E2ECluster) -> None:
    if not e2e_cluster.local:
        pytest.skip("a property of the local node (tests/harness/node.py), not of KUBECONFIG's cluster")
    forward = subprocess.run(["iptables", "-w", "-S", node.GUARD_FORWARD], capture_output=True, text=True, check=True)
    assert f"-A {node.GUARD_FORWARD} -i {node.BRIDGE} ! -o {node.BRIDGE}" in forward.stdout
    assert "-j REJECT" in forward.stdout
    output = subprocess.run(["iptables", "-w", "-S", node.GUARD_OUTPUT], capture_output=True, text=True, check=True)
    assert f"-A {node.GUARD_OUTPUT} -d {node.SERVICE_CIDR}" in output.stdout
    assert "-j REJECT" in output.stdout
    hooks = subprocess.run(["iptables", "-w", "-S"], capture_output=True, text=True, check=True).stdout
    assert f"-A FORWARD -j {node.GUARD_FORWARD}" in hooks
    assert f"-A OUTPUT -j {node.GUARD_OUTPUT}" in hooks
    # kube-proxy inserts its jumps before ours; no rule ahead of ours accepts outright.
    rules = [r for r in hooks.splitlines() if r.startswith("-A FORWARD")]
    before = rules[: rules.index(f"-A FORWARD -j {node.GUARD_FORWARD}")]
    assert all("ACCEPT" not in r for r in before), before
    # The pod network is not masqueraded: nothing from it could get an answer from off the machine.
    nat = subprocess.run(
        ["iptables", "-w", "-t", "nat", "-S", "POSTROUTING"], capture_output=True, text=True, check=True
    )
    assert node.POD_CIDR not in nat.stdout
