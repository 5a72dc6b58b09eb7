"""`vigil remove-finalizers` against a real API server: what the chart's uninstall hook runs.

kopf puts vigil.dev/finalizer on every Vigil object while the operator runs (its timers need it).
With the operator gone the objects would never go away; the command takes the finalizer off, and
only once the operator's pods are gone.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.harness.cluster import Cluster
from tests.harness.controlplane import ControlPlane
from tests.harness.operator import start_operator
from tests.harness.process import eventually
from tests.harness.tools import VENV_BIN
from tests.helpers import sink, stack
from vigil import api

CHILDREN = "serviceaccounts,configmaps,services,deployments"


def remove_finalizers(cp: ControlPlane, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "vigil"), "remove-finalizers", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "KUBECONFIG": str(cp.kubeconfig)},
    )


def finalizers(cluster: Cluster, kind: str, name: str) -> list[str]:
    return list(((cluster.get(kind, name) or {}).get("metadata") or {}).get("finalizers") or [])


def test_objects_left_by_an_uninstalled_operator_can_be_deleted_once_released(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    cluster = Cluster(control_plane, namespace)
    operator = start_operator(control_plane, tmp_path, VIGIL_NAMESPACES=namespace)
    try:
        cluster.apply(sink("console", signals=["logs"], debug={}), stack("shop", sinks={"names": ["console"]}))
        eventually(lambda: cluster.ready("mstack", "shop"), "stack shop Ready")
        eventually(lambda: api.FINALIZER in finalizers(cluster, "tsink", "console"), "the sink's finalizer")
        assert api.FINALIZER in finalizers(cluster, "mstack", "shop")
    finally:
        operator.stop()
    operator.assert_log_clean()
    assert cluster.children("shop", CHILDREN)

    # Another namespace's objects are left alone when namespaces are named.
    untouched = remove_finalizers(control_plane, "--namespace", "kube-system")
    assert untouched.returncode == 0, untouched.stderr
    assert "0 objects released" in untouched.stdout
    assert api.FINALIZER in finalizers(cluster, "mstack", "shop")

    done = remove_finalizers(control_plane, "--namespace", namespace)
    assert done.returncode == 0, done.stderr
    assert f"finalizer removed: MonitoringStack {namespace}/shop" in done.stdout
    assert f"finalizer removed: TelemetrySink {namespace}/console" in done.stdout
    assert finalizers(cluster, "mstack", "shop") == []
    again = remove_finalizers(control_plane, "--namespace", namespace)
    assert "0 objects released" in again.stdout, "nothing left to do"

    control_plane.kubectl("delete", "mstack,tsink", "--all", "-n", namespace, "--timeout=30s")
    eventually(lambda: cluster.children("shop", CHILDREN) == {}, "the children garbage-collected", 90)


def test_nothing_is_released_while_an_operator_pod_remains(control_plane: ControlPlane, namespace: str) -> None:
    cluster = Cluster(control_plane, namespace)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "operator", "labels": {"app.kubernetes.io/component": "operator"}},
        "spec": {"containers": [{"name": "operator", "image": "ghcr.io/vigil-operator/vigil:0.1.0"}]},
    }
    # A finalizer as kopf writes it, on an object no operator here serves.
    held = stack("held", sinks={"names": ["console"]})
    held["metadata"]["finalizers"] = [api.FINALIZER]
    cluster.apply(pod, held)
    refused = remove_finalizers(
        control_plane,
        f"--wait-for-pods={namespace}:app.kubernetes.io/component=operator",
        "--wait-timeout=1",
        "--namespace",
        namespace,
    )
    assert refused.returncode == 1
    assert "still run" in refused.stderr
    assert finalizers(cluster, "mstack", "held") == [api.FINALIZER]

    control_plane.kubectl("delete", "pod", "operator", "-n", namespace, "--grace-period=0", "--force")
    released = remove_finalizers(
        control_plane, f"--wait-for-pods={namespace}:app.kubernetes.io/component=operator", "--namespace", namespace
    )
    assert released.returncode == 0, released.stderr
    assert finalizers(cluster, "mstack", "held") == []


def test_a_wrong_pod_selector_is_refused_naming_the_form(control_plane: ControlPlane) -> None:
    wrong = remove_finalizers(control_plane, "--wait-for-pods=app=vigil")
    assert wrong.returncode == 2
    assert "expected NAMESPACE:key=value" in wrong.stderr
