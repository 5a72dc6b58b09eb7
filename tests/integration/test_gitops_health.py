"""What Argo CD (deploy/argocd/health.lua) and Flux (kstatus) say about objects the operator wrote.

One operator watches one namespace. Objects there get real status in every state a user meets:
Ready, Ready but Degraded, Ready=False; objects in a namespace it does not watch keep the status
the CRD defaults (observedGeneration 0); and objects changed while the operator is stopped have a
generation it has not observed.
Each verdict comes from the real code: the Lua in Argo CD's runtime, kstatus' status.Compute.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harness.cluster import Cluster
from tests.harness.controlplane import ControlPlane
from tests.harness.gitops import argocd_health, kstatus
from tests.harness.operator import start_operator
from tests.harness.process import eventually
from tests.helpers import INVALID, sink, stack

KINDS = "telemetrysinks,monitoringstacks,alertpolicies"


def policy(name: str, expr: str = 'sum(rate(http_requests_total{code=~"5.."}[5m]))') -> dict[str, Any]:
    return {
        "apiVersion": "vigil.dev/v1alpha1",
        "kind": "AlertPolicy",
        "metadata": {"name": name},
        "spec": {
            "severity": "warning",
            "threshold": {"expr": expr, "comparison": ">", "value": 1},
            "receivers": [{"name": "hook", "webhook": {"url": "http://alert-sink.monitoring.svc:8080/hook"}}],
        },
    }


def locked_sink() -> dict[str, Any]:
    """A sink whose header comes from a Secret nobody created."""
    return sink(
        "locked",
        signals=["traces"],
        otlp={
            "endpoint": "gateway:4317",
            "tls": {"insecure": True},
            "headers": [{"name": "Authorization", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "token"}}}],
        },
    )


def bad_promql() -> str:
    doc = yaml.safe_load((INVALID / "policy-bad-promql.yaml").read_text())
    return str(doc["spec"]["threshold"]["expr"])


@dataclass
class Snapshot:
    """Every Vigil object of the module, as the API server returned them, by Kind/name."""

    objects: dict[str, dict[str, Any]]

    def __getitem__(self, key: str) -> dict[str, Any]:
        return self.objects[key]


def observed_current(obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    return bool(status.get("conditions")) and status.get("observedGeneration") == obj["metadata"]["generation"]


def all_objects(cluster: Cluster) -> dict[str, dict[str, Any]]:
    items = json.loads(cluster.cp.kubectl("get", KINDS, "-n", cluster.ns, "-o", "json").stdout)["items"]
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in items}


@pytest.fixture(scope="module")
def snapshot(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snapshot]:
    suffix = secrets.token_hex(3)
    watched, unwatched = Cluster(control_plane, f"gh-{suffix}"), Cluster(control_plane, f"gh-{suffix}-off")
    for c in (watched, unwatched):
        control_plane.kubectl("create", "namespace", c.ns)
    workdir = tmp_path_factory.mktemp("gitops-health")
    op = start_operator(control_plane, workdir, VIGIL_NAMESPACES=watched.ns, VIGIL_DRIFT_INTERVAL="300")
    try:
        watched.apply(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "gw-auth"}, "stringData": {"token": "t"}},
            sink("gw", labels={"team": "shop"}, signals=["logs"], debug={}),
            sink("gw-later", signals=["logs"], debug={}),
            locked_sink(),
            stack("healthy", sinks={"names": ["gw"]}),
            stack("warned", sinks={"names": ["gw", "nowhere"]}),
            stack("stalled", sinks={"names": ["locked"]}),
            stack("later", sinks={"names": ["gw-later"]}),
            policy("healthy"),
            policy("stalled", bad_promql()),
            policy("later"),
        )
        unwatched.apply(
            sink("unseen", signals=["logs"], debug={}),
            stack("unseen", sinks={"names": ["unseen"]}),
            policy("unseen"),
        )
        eventually(
            lambda: len(objs := all_objects(watched)) == 10 and all(observed_current(o) for o in objs.values()),
            "every object in the watched namespace reconciled",
        )
        op.stop()
        op.assert_log_clean()
        # Changed while nobody reconciles: generation 2, observedGeneration 1.
        later_sink = sink("gw-later", signals=["logs"], debug={"verbosity": "detailed"})
        later_stack = stack("later", sinks={"names": ["gw-later"]}, collector={"replicas": 2})
        later_policy = policy("later", "sum(rate(http_requests_total[10m]))")
        watched.apply(later_sink, later_stack, later_policy)
        objects = {f"{k}@watched": v for k, v in all_objects(watched).items()}
        objects |= {f"{k}@unwatched": v for k, v in all_objects(unwatched).items()}
        yield Snapshot(objects)
    finally:
        op.stop()
        for c in (watched, unwatched):
            control_plane.kubectl("delete", "namespace", c.ns, "--wait=false", check=False)


# (object, Argo CD health, part of its message, kstatus status)
CASES = [
    ("TelemetrySink/gw@watched", "Healthy", "Reconciled: All generated objects are up to date.", "Current"),
    ("MonitoringStack/healthy@watched", "Healthy", "Reconciled", "Current"),
    ("AlertPolicy/healthy@watched", "Healthy", "Reconciled", "Current"),
    (
        "MonitoringStack/warned@watched",
        "Degraded",
        'Ready, but degraded: SinkNotFound: spec.sinks.names[1]: TelemetrySink "nowhere" not found',
        "Current",
    ),
    (
        "MonitoringStack/stalled@watched",
        "Degraded",
        'SecretNotFound: TelemetrySink/locked: spec.otlp.headers[0]: Secret "absent" not found',
        "Failed",
    ),
    ("AlertPolicy/stalled@watched", "Degraded", "InvalidExpression: spec.threshold.expr", "Failed"),
    ("TelemetrySink/gw-later@watched", "Progressing", "reconcile generation 2 (last reconciled: 1)", "InProgress"),
    ("MonitoringStack/later@watched", "Progressing", "reconcile generation 2 (last reconciled: 1)", "InProgress"),
    ("AlertPolicy/later@watched", "Progressing", "reconcile generation 2 (last reconciled: 1)", "InProgress"),
    # Never reconciled: only the CRD's status default (observedGeneration 0) tells kstatus so.
    ("TelemetrySink/unseen@unwatched", "Progressing", "reconcile this TelemetrySink", "InProgress"),
    ("MonitoringStack/unseen@unwatched", "Progressing", "reconcile this MonitoringStack", "InProgress"),
    ("AlertPolicy/unseen@unwatched", "Progressing", "reconcile this AlertPolicy", "InProgress"),
]


def test_the_operator_wrote_the_states_under_test(snapshot: Snapshot) -> None:
    def conditions(key: str) -> dict[str, tuple[str, str]]:
        return {c["type"]: (c["status"], c["reason"]) for c in snapshot[key]["status"]["conditions"]}

    assert conditions("MonitoringStack/healthy@watched") == {
        "Ready": ("True", "Reconciled"),
        "Degraded": ("False", "AsExpected"),
        "Stalled": ("False", "AsExpected"),
    }
    assert conditions("MonitoringStack/warned@watched")["Degraded"] == ("True", "SinkNotFound")
    assert conditions("MonitoringStack/stalled@watched")["Stalled"] == ("True", "SecretNotFound")
    assert conditions("AlertPolicy/stalled@watched")["Ready"] == ("False", "InvalidExpression")
    assert snapshot["MonitoringStack/later@watched"]["metadata"]["generation"] == 2
    unseen = snapshot["MonitoringStack/unseen@unwatched"]
    assert unseen["status"]["observedGeneration"] == 0
    assert not unseen["status"].get("conditions"), "the CRD's default: no condition yet"


@pytest.mark.parametrize(("key", "health", "message", "_"), CASES, ids=[c[0] for c in CASES])
def test_argocd_health(snapshot: Snapshot, key: str, health: str, message: str, _: str) -> None:
    (verdict,) = argocd_health([snapshot[key]])
    assert verdict["status"] == health
    assert message in verdict["message"]


@pytest.mark.parametrize(("key", "_", "__", "status"), CASES, ids=[c[0] for c in CASES])
def test_kstatus(snapshot: Snapshot, key: str, _: str, __: str, status: str) -> None:
    (verdict,) = kstatus([snapshot[key]])
    assert verdict["status"] == status, verdict["message"]


def test_kstatus_failed_names_the_reason(snapshot: Snapshot) -> None:
    (verdict,) = kstatus([snapshot["MonitoringStack/stalled@watched"]])
    assert 'Secret "absent"' in verdict["message"]


def test_a_list_gets_one_verdict_per_object_in_order(snapshot: Snapshot) -> None:
    objects = [snapshot[key] for key, *_ in CASES]
    assert [v["status"] for v in argocd_health(objects)] == [c[1] for c in CASES]
    assert [v["status"] for v in kstatus(objects)] == [c[3] for c in CASES]


def test_the_argocd_cm_snippet_merges_into_an_existing_argocd_cm(control_plane: ControlPlane, tmp_path: Path) -> None:
    # The install step docs/gitops.md gives, on a real API server: existing keys survive.
    ns = f"argocd-{secrets.token_hex(3)}"
    control_plane.kubectl("create", "namespace", ns)
    try:
        control_plane.kubectl("create", "configmap", "argocd-cm", "-n", ns, "--from-literal=url=https://argocd.example")
        snippet = Path(__file__).resolve().parents[2] / "deploy" / "argocd" / "argocd-cm.yaml"
        control_plane.kubectl("patch", "configmap", "argocd-cm", "-n", ns, "--patch-file", str(snippet))
        data = json.loads(control_plane.kubectl("get", "configmap", "argocd-cm", "-n", ns, "-o", "json").stdout)["data"]
        script = (snippet.parent / "health.lua").read_text()
        assert data.pop("url") == "https://argocd.example"
        assert data == {
            f"resource.customizations.health.vigil.dev_{kind}": script
            for kind in ("TelemetrySink", "MonitoringStack", "AlertPolicy")
        }
    finally:
        control_plane.kubectl("delete", "namespace", ns, "--wait=false", check=False)
