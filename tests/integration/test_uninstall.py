"""With the operator gone, Vigil's objects are still deleted at once, against a real API server.

Vigil puts no finalizer on a TelemetrySink, MonitoringStack or AlertPolicy (its timers are
registered without one; deletions are seen in the watch), so `helm uninstall`, or deleting the
operator any other way, leaves nothing that waits for it: a deleted object goes at once, and the
garbage collector removes what was generated for it (ownerReferences).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.harness.controlplane import ControlPlane
from tests.harness.operator import start_operator
from tests.harness.population import CHILD_KINDS, apply_all, converged, delete_all, in_namespace, vigil_objects
from tests.harness.process import eventually
from tests.helpers import policy, sink, stack
from vigil.render import meta

GONE_S = 5.0
# The garbage collector notices owners of new CRDs' kinds within 30 s (its discovery resync).
COLLECTED_S = 90.0


def generated(cp: ControlPlane, namespace: str) -> dict[str, list[str]]:
    """What Vigil generated in ``namespace``: owner ``Kind/name`` -> its children's ``Kind/name``, sorted."""
    out = cp.kubectl("get", CHILD_KINDS, "-n", namespace, "-l", f"{meta.MANAGED_BY}=vigil", "-o", "json").stdout
    found: dict[str, list[str]] = {}
    for child in json.loads(out)["items"]:
        labels = child["metadata"]["labels"]
        owner = f"{labels[meta.OWNER_KIND]}/{labels[meta.INSTANCE]}"
        found.setdefault(owner, []).append(f"{child['kind']}/{child['metadata']['name']}")
    return {owner: sorted(names) for owner, names in found.items()}


def finalizers(cp: ControlPlane, namespace: str) -> dict[str, list[str] | None]:
    """The finalizers of every sink, stack and policy of ``namespace``, by ``Kind/name``."""
    return {
        f"{o['kind']}/{o['metadata']['name']}": o["metadata"].get("finalizers") for o in vigil_objects(cp, namespace)
    }


def test_with_the_operator_gone_objects_go_at_once_and_their_children_are_collected(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    console = sink("console", signals=["logs"], debug={})
    shop = stack("shop", sinks={"names": ["console"]})
    errors = policy(
        "errors",
        severity="warning",
        threshold={"expr": 'sum(rate(http_requests_total{code=~"5.."}[5m]))', "comparison": ">", "value": 1},
        receivers=[{"name": "hook", "webhook": {"url": "http://alert-sink.monitoring.svc:8080/hook"}}],
    )
    docs = in_namespace([console, shop, errors], namespace)
    operator = start_operator(control_plane, tmp_path, VIGIL_NAMESPACES=namespace)
    try:
        apply_all(control_plane, docs)
        converged(control_plane, namespace, docs, deadline_s=120)
        assert finalizers(control_plane, namespace) == {
            "TelemetrySink/console": None,
            "MonitoringStack/shop": None,
            "AlertPolicy/errors": None,
        }
    finally:
        operator.stop()
    operator.assert_log_clean()
    children = generated(control_plane, namespace)
    assert "Deployment/shop-collector" in children["MonitoringStack/shop"]
    assert {n.split("/")[0] for n in children["AlertPolicy/errors"]} == {"PrometheusRule", "AlertmanagerConfig"}

    delete_all(control_plane, namespace, [shop, errors, console])
    eventually(lambda: vigil_objects(control_plane, namespace) == [], "the stack, policy and sink gone", GONE_S)
    eventually(lambda: generated(control_plane, namespace) == {}, "their children garbage-collected", COLLECTED_S)


def test_the_finalizer_an_older_version_put_is_taken_off(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    # Older versions put vigil.dev/finalizer on every object; kopf, which knows that name, takes it off.
    old = sink("old", signals=["logs"], debug={})
    old["metadata"]["finalizers"] = ["vigil.dev/finalizer"]
    apply_all(control_plane, in_namespace([old], namespace))
    operator = start_operator(control_plane, tmp_path, VIGIL_NAMESPACES=namespace)
    try:
        eventually(lambda: finalizers(control_plane, namespace) == {"TelemetrySink/old": None}, "the finalizer off")
    finally:
        operator.stop()
    operator.assert_log_clean()
    delete_all(control_plane, namespace, [old])
    eventually(lambda: vigil_objects(control_plane, namespace) == [], "the sink gone", GONE_S)


def test_a_deleted_objects_timers_stop(control_plane: ControlPlane, namespace: str, tmp_path: Path) -> None:
    # kopf stops timers when it sees a deletion pending; without a finalizer there is none to see,
    # only the DELETED event. Every timer ticks each second here: any left running would show.
    docs = in_namespace(
        [
            sink("console", signals=["logs"], debug={}),
            *[stack(f"s{i}", sinks={"names": ["console"]}) for i in range(3)],
            policy("p", threshold={"expr": "up", "comparison": "<", "value": 1}),
        ],
        namespace,
    )
    operator = start_operator(
        control_plane,
        tmp_path,
        VIGIL_NAMESPACES=namespace,
        VIGIL_DRIFT_INTERVAL="1",
        VIGIL_SECRET_CHECK_INTERVAL="1",
        VIGIL_DATA_FLOW_INTERVAL="1",
    )
    try:
        apply_all(control_plane, docs)
        converged(control_plane, namespace, docs, deadline_s=120)
        ticks = operator.count("vigil_reconcile_total")
        eventually(lambda: operator.count("vigil_reconcile_total") > ticks + 10, "drift ticks")
        delete_all(control_plane, namespace, docs)
        eventually(lambda: vigil_objects(control_plane, namespace) == [], "every object gone", deadline_s=GONE_S * 6)
        time.sleep(3)  # DELETED events delivered; ticks already running finish
        stopped = operator.count("vigil_reconcile_total")
        time.sleep(5)
        assert operator.count("vigil_reconcile_total") == stopped, "a deleted object's timer still ticks"
    finally:
        operator.stop()
    operator.assert_log_clean()
