"""The operator pod killed mid-reconcile, during a bulk apply of 100 stacks: it comes back and converges,
with every generated object exactly once, owned by its stack, and no collector rolled out twice.

A ResourceQuota of zero pods keeps the node from starting 100 collectors: what is checked here is
what the operator writes (the collectors' pods are the other tests' business).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness.cluster import Cluster
from tests.harness.fixtures import E2ECluster
from tests.harness.process import eventually
from tests.harness.release import Release
from tests.helpers import sink, stack
from vigil.offline import process
from vigil.parse import Source

BULK = 100
CONVERGE_S = 900.0
GENERATED_KINDS = (
    "serviceaccounts,configmaps,services,deployments,poddisruptionbudgets,"
    "servicemonitors,prometheusrules,alertmanagerconfigs,grafanadashboards"
)


@pytest.fixture
def cluster(e2e_cluster: E2ECluster, vigil: Release) -> Iterator[Cluster]:
    ns = f"vigil-bulk-{secrets.token_hex(3)}"
    cp = e2e_cluster.cp
    cp.kubectl("create", "namespace", ns)
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "no-pods"},
        "spec": {"hard": {"pods": "0"}},
    }
    try:
        Cluster(cp, ns).apply(quota)
        yield Cluster(cp, ns)
    finally:
        cp.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def _stacks(cluster: Cluster) -> list[dict[str, Any]]:
    return list(json.loads(cluster.cp.kubectl("get", "mstack", "-n", cluster.ns, "-o", "json").stdout)["items"])


def _ready(stacks: list[dict[str, Any]]) -> list[str]:
    def ready(s: dict[str, Any]) -> bool:
        cond = next((c for c in s.get("status", {}).get("conditions", []) if c["type"] == "Ready"), {})
        return cond.get("status") == "True" and cond.get("observedGeneration") == s["metadata"]["generation"]

    return sorted(s["metadata"]["name"] for s in stacks if ready(s))


def test_killing_the_operator_pod_during_a_bulk_apply_converges_without_duplicates_or_orphans(
    vigil: Release, cluster: Cluster
) -> None:
    docs = [sink("console", signals=["logs"], debug={})]
    docs += [stack(f"bulk-{i:03d}", sinks={"names": ["console"]}) for i in range(BULK)]
    cluster.apply(*json.loads(json.dumps(docs)))

    def some_done() -> list[str]:
        ready = _ready(_stacks(cluster))
        return ready if 5 <= len(ready) < BULK else []

    eventually(some_done, "a few stacks Ready, most not yet", CONVERGE_S)
    killed = vigil.kill()
    replacement = vigil.wait_ready(not_uid=killed)
    # Again, while the new pod resumes every object.
    vigil.kill()
    vigil.wait_ready(not_uid=replacement["metadata"]["uid"])
    eventually(lambda: len(_ready(_stacks(cluster))) == BULK, f"all {BULK} stacks Ready", CONVERGE_S, interval_s=2)

    stacks = {s["metadata"]["name"]: s for s in _stacks(cluster)}
    expected = process([(Source("bulk", i), d) for i, d in enumerate(docs, start=1)], cluster.ns)
    assert expected.problems == []
    want = sorted(f"{o['kind']}/{o['metadata']['name']}" for o in expected.objects)
    live = json.loads(
        cluster.cp.kubectl(
            "get", GENERATED_KINDS, "-n", cluster.ns, "-l", "app.kubernetes.io/managed-by=vigil", "-o", "json"
        ).stdout
    )["items"]
    assert sorted(f"{o['kind']}/{o['metadata']['name']}" for o in live) == want, "missing, orphaned or extra objects"
    for obj in live:
        owner = stacks[obj["metadata"]["labels"]["app.kubernetes.io/instance"]]
        refs = obj["metadata"]["ownerReferences"]
        assert [(r["kind"], r["name"], r["uid"]) for r in refs] == [
            ("MonitoringStack", owner["metadata"]["name"], owner["metadata"]["uid"])
        ], f"{obj['kind']}/{obj['metadata']['name']}: {refs}"
        assert owner["status"]["configHash"], owner["metadata"]["name"]
    # Each collector Deployment was written once with its final template: one ReplicaSet, generation 1.
    deployments = [o for o in live if o["kind"] == "Deployment"]
    assert len(deployments) == BULK
    assert {d["metadata"]["name"]: d["metadata"]["generation"] for d in deployments} == {
        d["metadata"]["name"]: 1 for d in deployments
    }
    names = sorted(d["metadata"]["name"] for d in deployments)

    def replica_set_owners() -> list[str]:
        """The Deployment of each ReplicaSet, once every Deployment has one (the deployment controller
        works through 100 new Deployments in its own time)."""
        found = json.loads(cluster.cp.kubectl("get", "replicasets", "-n", cluster.ns, "-o", "json").stdout)["items"]
        owners = sorted(r["metadata"]["ownerReferences"][0]["name"] for r in found)
        return owners if set(owners) == set(names) else []

    owners = eventually(replica_set_owners, "a ReplicaSet for every Deployment", 120)
    assert owners == names, "a collector was rolled out more than once"
