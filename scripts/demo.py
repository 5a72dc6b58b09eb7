"""`make demo`: the operator on a real cluster, reconciling examples/.

Without KUBECONFIG it starts the local node (tests/harness/node.py: pods really run, with the
images `make images` builds) when it can run here (root, tools built) and installs the operator
there as users do, with `helm install` of charts/vigil (a pod in the restricted namespace
vigil-system); else it starts the local control plane `make tools` built (etcd, kube-apiserver,
kube-controller-manager; no pods) and runs the operator as a process here. It stops what it
started at the end. With KUBECONFIG it uses that cluster, runs the operator as a process here,
starts nothing there, and removes only what it created (the demo namespace, CRDs it installed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from images import build
from tests.harness import node, release
from tests.harness.controlplane import CRD_DIRS, ControlPlane, ExistingCluster, start_control_plane
from tests.harness.helm import HelmError
from tests.harness.operator import Operator, start_operator
from tests.harness.release import Release
from tests.harness.tools import find

from vigil.cli import main as vigil

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
NAMESPACE = "vigil-demo"
OPERATOR_NAMESPACE = "vigil-system"
READY_DEADLINE_S = 120.0
Metrics = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def banner(text: str) -> None:
    print(f"\n=== {text}", flush=True)


COLLECTOR_IMAGE = build.images()["collector"].tag


def crds_missing(cp: ControlPlane) -> list[Path]:
    """CRD files whose CRD the cluster does not have yet."""
    missing = []
    for folder in CRD_DIRS:
        for path in sorted(folder.glob("*.yaml")):
            name = path.name.removesuffix(".yaml")
            if cp.kubectl("get", "crd", name, "--ignore-not-found", "-o", "name").stdout.strip() == "":
                missing.append(path)
    return missing


def wait_ready(cp: ControlPlane) -> bool:
    """Wait until every Vigil object in the demo namespace is Ready=True."""
    end = time.monotonic() + READY_DEADLINE_S
    while time.monotonic() < end:
        items = json.loads(cp.kubectl("get", "vigil", "-n", NAMESPACE, "-o", "json").stdout)["items"]
        pending = [
            f"{o['kind']}/{o['metadata']['name']}"
            for o in items
            if not any(
                c["type"] == "Ready" and c["status"] == "True" for c in o.get("status", {}).get("conditions", [])
            )
        ]
        if items and not pending:
            return True
        time.sleep(1)
    print(f"not Ready after {READY_DEADLINE_S:.0f}s: {', '.join(pending)}")
    return False


def wait_collectors(cp: ControlPlane) -> bool:
    """Wait until every collector Deployment in the demo namespace has all its replicas available."""
    end = time.monotonic() + READY_DEADLINE_S
    pending: list[str] = []
    while time.monotonic() < end:
        items = json.loads(cp.kubectl("get", "deployments", "-n", NAMESPACE, "-o", "json").stdout)["items"]
        pending = [
            d["metadata"]["name"]
            for d in items
            if d.get("status", {}).get("availableReplicas", 0) != d["spec"].get("replicas", 1)
        ]
        if items and not pending:
            return True
        time.sleep(1)
    print(f"collectors not Available after {READY_DEADLINE_S:.0f}s: {', '.join(pending)}")
    return False


def start_cluster(workdir: Path) -> tuple[ControlPlane, bool]:
    """The cluster to run on, and whether its pods really run."""
    kubeconfig = os.environ.get("KUBECONFIG")
    if kubeconfig:
        banner(f"using the cluster in KUBECONFIG={kubeconfig}")
        return ExistingCluster(workdir, "", "", Path(kubeconfig)), True
    problems = node.missing_requirements()
    if not problems:
        banner("building the images (make images) and starting the local node: pods really run")
        built = build.build(["collector", "operator", "pause"], node.IMAGES_DIR)
        archives = tuple(build.images()[n].archive(node.IMAGES_DIR) for n in built if n != "pause")
        local = node.start_node(archives)
        print(f"kubeconfig: {local.kubeconfig}")
        return local, True
    banner("starting a local control plane (etcd, kube-apiserver, kube-controller-manager)")
    print(f"collector pods will not run: {'; '.join(problems)}")
    cp = start_control_plane(workdir)
    print(f"kubeconfig: {cp.kubeconfig}")
    return cp, False


def show(cp: ControlPlane, metrics: Metrics) -> None:
    """Print the objects, what Vigil generated, and the operator's own counters."""
    banner("kubectl get vigil")
    print(cp.kubectl("get", "vigil", "-n", NAMESPACE).stdout, end="")
    banner("generated objects (kubectl get ... -l app.kubernetes.io/managed-by=vigil)")
    kinds = (
        "deployments,services,serviceaccounts,configmaps,poddisruptionbudgets,"
        "servicemonitors,prometheusrules,alertmanagerconfigs,grafanadashboards"
    )
    print(cp.kubectl("get", kinds, "-n", NAMESPACE, "-l", "app.kubernetes.io/managed-by=vigil").stdout, end="")
    banner("operator metrics (writes, reconciles)")
    for (name, labels), value in sorted(metrics.items()):
        if name in ("vigil_reconcile_total", "vigil_managed_objects"):
            print(f"{name}{dict(labels)} {value:g}")
    writes = sum(
        v
        for (n, labels), v in metrics.items()
        if n == "vigil_api_requests_total"
        and dict(labels).get("verb") in ("apply", "delete")
        and dict(labels).get("code", "").startswith("2")
    )
    print(f"applies and deletes of generated objects: {writes:g}")


def run_operator(cp: ControlPlane, workdir: Path, as_pod: bool) -> Operator | Release:
    """The operator: installed by Helm as a pod on the local node, else a process on this machine."""
    if as_pod:
        banner(f"helm install vigil charts/vigil -n {OPERATOR_NAMESPACE} (the operator image of make images, a pod)")
        installed = release.install(cp, "vigil", [], namespace=OPERATOR_NAMESPACE)
        print(cp.kubectl("get", "pods", "-n", OPERATOR_NAMESPACE, "-o", "wide").stdout, end="")
        return installed
    banner("vigil run --namespace vigil-demo")
    collector = find("otelcol-vigil")
    return start_operator(
        cp,
        workdir,
        VIGIL_NAMESPACES=NAMESPACE,
        VIGIL_COLLECTOR_BINARY=str(collector or ""),
        VIGIL_PROMETHEUS_LABELS="release=kube-prometheus-stack",
    )


def main() -> int:
    """Run the demo; 0 when every example became Ready."""
    banner("vigil validate examples/ (offline)")
    if vigil(["validate", str(EXAMPLES)]) != 0:
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="vigil-demo-"))
    kubeconfig = os.environ.get("KUBECONFIG")
    try:
        cp, pods_run = start_cluster(workdir)
    except (node.NodeError, RuntimeError, OSError) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    operator: Operator | Release | None = None
    created_crds: list[Path] = []
    created_namespace = False
    ok = False
    try:
        created_crds = crds_missing(cp)
        for path in created_crds:
            cp.kubectl("apply", "--server-side", "-f", str(path))
        if created_crds:
            cp.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
        if cp.kubectl("get", "namespace", NAMESPACE, "--ignore-not-found", "-o", "name").stdout.strip() == "":
            cp.kubectl("create", "namespace", NAMESPACE)
            created_namespace = True
        operator = run_operator(cp, workdir, as_pod=pods_run and not kubeconfig)
        banner(f"kubectl apply -f examples/ (collectors run {COLLECTOR_IMAGE}, built by make images)")
        print(cp.kubectl("apply", "-n", NAMESPACE, "-f", str(ROOT / "examples")).stdout, end="")
        banner("waiting for every object to be Ready")
        ok = wait_ready(cp)
        if ok and pods_run:
            banner("waiting for the collector pods")
            ok = wait_collectors(cp)
            print(cp.kubectl("get", "pods", "-n", NAMESPACE, "-o", "wide").stdout, end="")
        show(cp, operator.metrics())
    except (RuntimeError, OSError, subprocess.SubprocessError, HelmError) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
    finally:
        banner("cleaning up")
        if isinstance(operator, Operator):
            operator.stop()
        if kubeconfig:
            if created_namespace:
                cp.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)
            for path in created_crds:
                cp.kubectl("delete", "-f", str(path), "--wait=false", check=False)
        cp.stop(keep=not ok)
        print("done" if ok else f"logs kept in {workdir}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
