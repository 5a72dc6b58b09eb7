"""The operator against hostile names on a real API server: never adopt, never collide."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness.cluster import Cluster
from tests.harness.controlplane import ControlPlane
from tests.harness.operator import Operator, running_operator
from tests.harness.process import eventually
from tests.helpers import sink, stack
from vigil.render import meta

CONSOLE = sink("console", signals=["logs"], debug={})
LONGEST = "a" * 120 + "." + "b" * 132  # 253 characters, the most the API server allows


@pytest.fixture(scope="module")
def operator(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    yield from running_operator(control_plane, tmp_path_factory.mktemp("operator"), VIGIL_DRIFT_INTERVAL="3")


@pytest.fixture
def cluster(control_plane: ControlPlane, namespace: str) -> Cluster:
    return Cluster(control_plane, namespace)


def fresh(doc: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(json.dumps(doc)))


def payments_service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "pay-collector", "labels": {"app": "payments-api"}},
        "spec": {"selector": {"app": "payments-api"}, "ports": [{"name": "http", "port": 8080}]},
    }


def test_an_object_vigil_does_not_own_is_never_taken_over(operator: Operator, cluster: Cluster) -> None:
    cluster.apply(payments_service())
    before = cluster.get("service", "pay-collector") or {}
    cluster.apply(fresh(CONSOLE), stack("pay", sinks={"names": ["console"]}))
    cond = eventually(
        lambda: (c := cluster.condition("mstack", "pay")).get("reason") == "NameConflict" and c,
        "stack pay refused with NameConflict",
    )
    assert cond["status"] == "False"
    assert 'Service "pay-collector" exists and it has no Vigil owner' in cond["message"]
    after = cluster.get("service", "pay-collector") or {}
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert "ownerReferences" not in after["metadata"]
    assert cluster.get("deployment", "pay-collector") is None, "nothing of the stack may be applied"
    assert any(e["reason"] == "NameConflict" for e in cluster.events("pay"))
    # Once the name is free, the next reconcile (drift timer) rolls the stack out.
    cluster.cp.kubectl("delete", "service", "pay-collector", "-n", cluster.ns)
    eventually(lambda: cluster.ready("mstack", "pay"), "stack pay Ready once the name is free")


def test_names_that_differ_only_in_dots_never_share_children(operator: Operator, cluster: Cluster) -> None:
    cluster.apply(
        fresh(CONSOLE),
        stack("team.a", sinks={"names": ["console"]}),
        stack("team-a", sinks={"names": ["console"]}),
    )
    for name in ("team.a", "team-a"):
        eventually(lambda n=name: cluster.ready("mstack", n), f"stack {name} Ready")
    dotted, dashed = cluster.children("team.a"), cluster.children("team-a")
    assert "Service/team-a-collector" in dashed
    assert not set(dotted) & set(dashed)
    uids = {o["metadata"]["ownerReferences"][0]["uid"] for o in dashed.values()}
    assert uids == {(cluster.get("mstack", "team-a") or {})["metadata"]["uid"]}


@pytest.mark.parametrize("name", ["1stack", LONGEST], ids=["leading-digit", "253-characters"])
def test_any_name_the_api_server_allows_makes_valid_children(operator: Operator, cluster: Cluster, name: str) -> None:
    cluster.apply(fresh(CONSOLE), stack(name, sinks={"names": ["console"]}))
    eventually(lambda: cluster.ready("mstack", name), f"stack {name[:20]}... Ready")
    services = cluster.children(meta.label_value(name), "services")
    assert list(services) == [f"Service/{meta.collector_name(name)}"]


def test_policies_that_differ_only_in_dots_never_share_children(operator: Operator, cluster: Cluster) -> None:
    policies = [
        {
            "apiVersion": "vigil.dev/v1alpha1",
            "kind": "AlertPolicy",
            "metadata": {"name": name},
            "spec": {"expr": "up == 0"},
        }
        for name in ("p.x", "p-x")
    ]
    cluster.apply(*policies)
    for name in ("p.x", "p-x"):
        eventually(lambda n=name: cluster.ready("apol", n), f"policy {name} Ready")
    rules = cluster.cp.kubectl("get", "prometheusrules", "-n", cluster.ns, "-o", "name").stdout.split()
    assert len(rules) == 2


def test_pod_labels_that_join_another_apps_service_are_refused(operator: Operator, cluster: Cluster) -> None:
    payments = payments_service()
    payments["metadata"]["name"] = "payments"
    cluster.apply(payments, fresh(CONSOLE))
    cluster.apply(stack("obs", sinks={"names": ["console"]}, collector={"podLabels": {"app": "payments-api"}}))
    cond = eventually(
        lambda: (c := cluster.condition("mstack", "obs")).get("reason") == "PodLabelConflict" and c,
        "stack obs refused with PodLabelConflict",
    )
    assert "spec.collector.podLabels" in cond["message"]
    assert "Service payments" in cond["message"]
    assert cluster.get("deployment", "obs-collector") is None
    cluster.apply(stack("obs", sinks={"names": ["console"]}, collector={"podLabels": {"team": "observability"}}))
    eventually(lambda: cluster.ready("mstack", "obs"), "stack obs Ready with harmless labels")
    pod_labels = (cluster.get("deployment", "obs-collector") or {})["spec"]["template"]["metadata"]["labels"]
    assert pod_labels["team"] == "observability"
