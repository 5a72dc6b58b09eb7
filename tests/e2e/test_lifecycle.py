"""helm upgrade and helm uninstall of the operator's release while stacks run.

An upgrade with changed values rolls the operator pod (its settings changed); the new operator
reconciles every stack with the new values and rolls no collector whose inputs did not change.
After helm uninstall, deleting the stacks removes every object Vigil generated: they hang on
owner references (the garbage collector needs no operator) and Vigil puts no finalizer on stacks
or sinks.
The test installs the release again at the end, with its values, for the tests after it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_restarts import GENERATED_KINDS
from tests.harness.cluster import Cluster
from tests.harness.fixtures import E2ECluster
from tests.harness.process import eventually
from tests.harness.release import RESTRICTED, Release
from tests.helpers import sink, stack
from vigil.render import meta

AVAILABLE_S = 240.0
GONE_S = 180.0


@pytest.fixture
def cluster(e2e_cluster: E2ECluster, vigil: Release) -> Iterator[Cluster]:
    ns = f"vigil-life-{secrets.token_hex(3)}"
    e2e_cluster.cp.kubectl("create", "namespace", ns)
    e2e_cluster.cp.kubectl("label", "namespace", ns, f"{RESTRICTED}=restricted")
    try:
        yield Cluster(e2e_cluster.cp, ns)
    finally:
        e2e_cluster.cp.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def _items(cluster: Cluster, kinds: str, *selector: str) -> list[dict[str, Any]]:
    out = cluster.cp.kubectl("get", kinds, "-n", cluster.ns, *selector, "-o", "json")
    return list(json.loads(out.stdout)["items"])


def _collector(cluster: Cluster) -> dict[str, Any]:
    """What a needless restart would change: the rollout, its ReplicaSets, the pods and their restarts."""
    deployment = cluster.get("deployment", meta.collector_name("life")) or {}
    pods = _items(cluster, "pods", "-l", "app.kubernetes.io/instance=life")
    return {
        "generation": deployment["metadata"]["generation"],
        "template": deployment["spec"]["template"],
        "replicasets": sorted(r["metadata"]["name"] for r in _items(cluster, "replicasets")),
        "pods": sorted((p["metadata"]["uid"], p["status"]["containerStatuses"][0]["restartCount"]) for p in pods),
    }


def _available(cluster: Cluster) -> bool:
    deployment = cluster.get("deployment", meta.collector_name("life")) or {}
    return deployment.get("status", {}).get("availableReplicas") == 1


def test_upgrade_rolls_no_collector_and_after_uninstall_deleting_stacks_removes_every_child(
    vigil: Release, cluster: Cluster
) -> None:
    cluster.apply(
        sink("console", labels={"team": "life"}, signals=["traces", "logs"], debug={}),
        stack("life", sinks={"selector": {"matchLabels": {"team": "life"}}}),
    )
    eventually(lambda: cluster.ready("mstack", "life"), "stack life Ready")
    eventually(lambda: _available(cluster), "life-collector Available", AVAILABLE_S)
    before = _collector(cluster)
    monitor = meta.self_monitor_name("life")
    assert "team" not in (cluster.get("servicemonitor", monitor) or {})["metadata"]["labels"]
    old_pod = vigil.pod()["metadata"]["uid"]
    try:
        vigil.upgrade("--set=prometheusLabels.team=sre", "--set=operator.driftInterval=120")
        assert vigil.pod()["metadata"]["uid"] != old_pod, "new settings roll the operator pod"
        eventually(
            lambda: (cluster.get("servicemonitor", monitor) or {})["metadata"]["labels"].get("team") == "sre",
            "the new operator reconciled the stack with the new prometheusLabels",
        )
        assert _collector(cluster) == before, "the collector's inputs did not change: it must not roll"

        vigil.uninstall()
        eventually(lambda: vigil.pods() == [], "the operator pod gone", GONE_S)
        assert cluster.cp.kubectl("get", "crd", "monitoringstacks.vigil.dev", check=False).returncode == 0
        children = _items(cluster, GENERATED_KINDS, "-l", "app.kubernetes.io/managed-by=vigil")
        assert len(children) >= 5, [f"{o['kind']}/{o['metadata']['name']}" for o in children]
        for kind, name in (("mstack", "life"), ("tsink", "console")):
            left = (cluster.get(kind, name) or {})["metadata"].get("finalizers")
            assert not left, f"{kind}/{name} carries {left}: deleting it would wait for an operator"
        cluster.cp.kubectl("delete", "mstack,tsink", "--all", "-n", cluster.ns, "--timeout=60s")

        def leftovers() -> list[str]:
            found = _items(cluster, GENERATED_KINDS + ",replicasets,pods", "-l", "app.kubernetes.io/instance=life")
            return [f"{o['kind']}/{o['metadata']['name']}" for o in found]

        eventually(lambda: leftovers() == [], "every generated object garbage-collected", GONE_S, interval_s=1)
    finally:
        vigil.install()
