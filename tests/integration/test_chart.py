"""charts/vigil on the local control plane: helm install, upgrade, uninstall; kubectl apply without
Helm; restricted Pod Security; and the operator running with exactly the chart's RBAC."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import yaml
from scripts import chart_sync

from tests.harness.cluster import Cluster
from tests.harness.controlplane import ControlPlane
from tests.harness.helm import CHART, CI_VALUES, Helm
from tests.harness.operator import Operator, start_operator
from tests.harness.process import eventually
from tests.harness.tools import ROOT
from tests.helpers import sink, stack

NAMESPACED_KINDS = (
    "deployments,statefulsets,serviceaccounts,services,configmaps,poddisruptionbudgets,roles,rolebindings,"
    "servicemonitors,prometheusrules,grafanadashboards,kopfpeerings"
)
CLUSTER_KINDS = "clusterroles,clusterrolebindings,clusterkopfpeerings"
VIGIL_CRDS = [p.stem for p in (ROOT / "crds").glob("*.yaml")]
PEERING_CRDS = ["clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"]
DEFAULT_KINDS = sorted(
    [
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",  # settings
        "ConfigMap",  # dashboard
        "Deployment",
        "PrometheusRule",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
    ]
)


@pytest.fixture(scope="module")
def helm(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm.find(control_plane.kubeconfig)


@pytest.fixture
def release(helm: Helm, namespace: str) -> Iterator[str]:
    """A release name of its own (cluster-scoped objects carry it); uninstalled afterwards."""
    name = f"vigil-{secrets.token_hex(3)}"
    yield name
    try:
        helm.run("uninstall", name, "--namespace", namespace, "--ignore-not-found")
    except RuntimeError as exc:
        print(f"uninstall of {name} failed: {exc}")


def new_namespace(cp: ControlPlane, *labels: str) -> str:
    name = f"t-{secrets.token_hex(4)}"
    cp.kubectl("create", "namespace", name)
    if labels:
        cp.kubectl("label", "namespace", name, *labels)
    return name


def objects(cp: ControlPlane, release: str) -> dict[str, str]:
    """uid of every object the release labels, by ``Kind/namespace/name``."""
    selector = f"app.kubernetes.io/instance={release}"
    out: dict[str, str] = {}
    for kinds, scope in ((NAMESPACED_KINDS, ["--all-namespaces"]), (CLUSTER_KINDS, [])):
        items = json.loads(cp.kubectl("get", kinds, *scope, "-l", selector, "-o", "json").stdout)["items"]
        for o in items:
            out[f"{o['kind']}/{o['metadata'].get('namespace', '')}/{o['metadata']['name']}"] = o["metadata"]["uid"]
    return out


def kinds(found: dict[str, str]) -> list[str]:
    return sorted(key.split("/")[0] for key in found)


def get(cp: ControlPlane, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    scope = ["-n", namespace] if namespace else []
    return dict(json.loads(cp.kubectl("get", kind, name, *scope, "-o", "json").stdout))


def crds_present(cp: ControlPlane, names: list[str]) -> bool:
    return cp.kubectl("get", "crd", *names, check=False).returncode == 0


# --- helm install / upgrade / uninstall ----------------------------------------------------------


def test_install_upgrade_uninstall(control_plane: ControlPlane, helm: Helm, namespace: str, release: str) -> None:
    notes = helm.run("install", release, str(CHART), "--namespace", namespace)
    assert f"installed as release {release} in namespace {namespace}" in notes
    assert "Skipped" not in notes, "the control plane serves prometheus-operator's API"
    installed = objects(control_plane, release)
    assert kinds(installed) == DEFAULT_KINDS
    assert crds_present(control_plane, VIGIL_CRDS + PEERING_CRDS)
    before = get(control_plane, "deployment", release, namespace)

    helm.run(
        "upgrade",
        release,
        str(CHART),
        "--namespace",
        namespace,
        "--set=prometheusLabels.team=sre",
        "--set=operator.driftInterval=60",
        "--set=serviceMonitor.interval=15s",
    )
    assert objects(control_plane, release) == installed, "upgraded in place: same objects, same UIDs"
    settings = get(control_plane, "configmap", f"{release}-settings", namespace)["data"]
    assert settings["VIGIL_DRIFT_INTERVAL"] == "60"
    assert json.loads(settings["VIGIL_PROMETHEUS_LABELS"]) == {"release": "kube-prometheus-stack", "team": "sre"}
    after = get(control_plane, "deployment", release, namespace)
    checksum = "checksum/settings"
    assert (
        after["spec"]["template"]["metadata"]["annotations"][checksum]
        != before["spec"]["template"]["metadata"]["annotations"][checksum]
    ), "a settings change must roll the pods"
    monitor = get(control_plane, "servicemonitor", release, namespace)
    assert monitor["spec"]["endpoints"][0]["interval"] == "15s"
    assert monitor["metadata"]["labels"]["team"] == "sre"
    history = json.loads(helm.run("history", release, "--namespace", namespace, "--output", "json"))
    assert [h["status"] for h in history] == ["superseded", "deployed"]

    helm.run("uninstall", release, "--namespace", namespace, "--wait", "--timeout=60s")
    assert objects(control_plane, release) == {}
    assert crds_present(control_plane, VIGIL_CRDS + PEERING_CRDS), "Helm leaves the CRDs of crds/ in place"


def install_peering_crds(cp: ControlPlane) -> None:
    """The chart's kopf peering CRDs, Established (a real install applies them first)."""
    cp.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(chart_sync.PEERING_CRDS))
    cp.kubectl("wait", "--for=condition=Established", "--timeout=60s", *(f"crd/{c}" for c in PEERING_CRDS))


@pytest.mark.parametrize("namespaced", [False, True], ids=["cluster-wide", "namespaced"])
def test_ha_install_creates_the_peering(
    control_plane: ControlPlane, helm: Helm, namespace: str, release: str, namespaced: bool
) -> None:
    watched = [new_namespace(control_plane)] if namespaced else []
    sets = ["--set=replicas=2", *(f"--set=watchNamespaces[{i}]={n}" for i, n in enumerate(watched))]
    helm.run("install", release, str(CHART), "--namespace", namespace, *sets)
    found = kinds(objects(control_plane, release))
    assert "StatefulSet" in found
    assert "Deployment" not in found
    assert "PodDisruptionBudget" in found
    if namespaced:
        assert get(control_plane, "kopfpeering", release, watched[0])["metadata"]["name"] == release
        assert "ClusterKopfPeering" not in found
    else:
        assert get(control_plane, "clusterkopfpeering", release)["metadata"]["name"] == release
    helm.run("uninstall", release, "--namespace", namespace, "--wait", "--timeout=60s")
    assert objects(control_plane, release) == {}
    assert crds_present(control_plane, PEERING_CRDS)
    for name in watched:
        control_plane.kubectl("delete", "namespace", name, "--wait=false")


def previous_chart(target: Path) -> Path | None:
    """The chart as of the last commit that differs from this checkout's chart, or None."""
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        return None

    def run(*args: str) -> str:
        return subprocess.run([git, *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()

    dirty = bool(run("status", "--porcelain", "--", "charts/vigil"))
    current = None if dirty else run("rev-parse", "HEAD:charts/vigil")
    for commit in run("log", "--format=%H", "--", "charts/vigil").split():
        tree = subprocess.run(
            [git, "rev-parse", f"{commit}:charts/vigil"], cwd=ROOT, capture_output=True, text=True, check=False
        )
        if tree.returncode == 0 and tree.stdout.strip() != current:
            archive = subprocess.run(
                [git, "archive", "--format=tar", commit, "charts/vigil"], cwd=ROOT, capture_output=True, check=True
            ).stdout
            with tarfile.open(fileobj=BytesIO(archive)) as tar:
                tar.extractall(target, filter="data")
            return target / "charts" / "vigil"
    return None


def test_upgrade_from_the_previous_chart(
    control_plane: ControlPlane, helm: Helm, namespace: str, release: str, tmp_path: Path
) -> None:
    old = previous_chart(tmp_path)
    if old is None:
        pytest.skip("no earlier state of charts/vigil in git history to upgrade from")
    helm.run("install", release, str(old), "--namespace", namespace)
    before = objects(control_plane, release)
    helm.run("upgrade", release, str(CHART), "--namespace", namespace)
    after = objects(control_plane, release)
    kept = before.keys() & after.keys()
    assert kept, "the upgrade replaced every object"
    assert {k: after[k] for k in kept} == {k: before[k] for k in kept}, "objects kept across the upgrade keep their UID"
    assert kinds(after) == DEFAULT_KINDS
    assert get(control_plane, "deployment", release, namespace)["metadata"]["labels"]["helm.sh/chart"] == (
        f"vigil-{yaml.safe_load((CHART / 'Chart.yaml').read_text())['version']}"
    )


# --- without Helm --------------------------------------------------------------------------------


def test_kubectl_apply_of_deploy_vigil_yaml(control_plane: ControlPlane) -> None:
    # The documented no-Helm path, into the namespace it names.
    control_plane.kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
    control_plane.kubectl("create", "namespace", chart_sync.DEPLOY_NAMESPACE, check=False)
    try:
        control_plane.kubectl("apply", "-f", str(chart_sync.DEPLOY))
        found = kinds(objects(control_plane, chart_sync.DEPLOY_RELEASE))
        assert found == sorted(
            ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "ConfigMap", "Deployment", "Service", "ServiceAccount"]
        )
        deployment = get(control_plane, "deployment", "vigil", chart_sync.DEPLOY_NAMESPACE)
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "vigil"
    finally:
        control_plane.kubectl("delete", "--ignore-not-found", "-f", str(chart_sync.DEPLOY))
    assert objects(control_plane, chart_sync.DEPLOY_RELEASE) == {}


@pytest.mark.parametrize("values", [None, *CI_VALUES], ids=lambda v: v.stem if v else "default")
def test_every_mode_is_accepted_by_the_api_server(
    control_plane: ControlPlane, helm: Helm, namespace: str, values: Path | None, tmp_path: Path
) -> None:
    install_peering_crds(control_plane)
    files = [values] if values else []
    if values and yaml.safe_load(values.read_text()).get("watchNamespaces"):
        # Namespaced modes watch this test's namespace (a later values file replaces the list).
        here = tmp_path / "watch-here.yaml"
        here.write_text(yaml.safe_dump({"watchNamespaces": [namespace]}))
        files.append(here)
    rendered = helm.template(release=f"dry-{secrets.token_hex(3)}", namespace=namespace, values=files)
    out = control_plane.kubectl(
        "apply", "--dry-run=server", "--server-side", "-f", "-", input=yaml.safe_dump_all(rendered)
    )
    assert out.stdout.count("(server dry run)") == len(rendered)


# --- Pod Security --------------------------------------------------------------------------------


def pod_from(workload: dict[str, Any], namespace: str) -> dict[str, Any]:
    template = workload["spec"]["template"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"pss-{secrets.token_hex(3)}",
            "namespace": namespace,
            "labels": template["metadata"]["labels"],
        },
        "spec": template["spec"],
    }


@pytest.mark.parametrize("replicas", [1, 2], ids=["deployment", "statefulset"])
def test_pods_meet_the_restricted_pod_security_standard(control_plane: ControlPlane, helm: Helm, replicas: int) -> None:
    namespace = new_namespace(
        control_plane, "pod-security.kubernetes.io/enforce=restricted", "pod-security.kubernetes.io/warn=restricted"
    )
    try:
        rendered = helm.template(namespace=namespace, sets=[f"replicas={replicas}"], api_versions=())
        workload = next(o for o in rendered if o["kind"] in ("Deployment", "StatefulSet"))
        applied = control_plane.kubectl("apply", "-f", "-", input=yaml.safe_dump(workload))
        assert "would violate PodSecurity" not in applied.stderr, applied.stderr
        # The admission plugin enforces the profile on pods: create one from the template.
        created = control_plane.kubectl("create", "-f", "-", input=yaml.safe_dump(pod_from(workload, namespace)))
        assert "created" in created.stdout
        # The same pod with one field loosened is refused: the check above can fail.
        loose = pod_from(workload, namespace)
        loose["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
        refused = control_plane.kubectl("create", "-f", "-", input=yaml.safe_dump(loose), check=False)
        assert refused.returncode != 0
        assert "violates PodSecurity" in refused.stderr
    finally:
        control_plane.kubectl("delete", "namespace", namespace, "--wait=false")


# --- the operator with the chart's RBAC ----------------------------------------------------------


def service_account_kubeconfig(cp: ControlPlane, namespace: str, account: str, path: Path) -> Path:
    """A kubeconfig that authenticates with a token of ServiceAccount ``namespace/account``."""
    token = cp.kubectl("create", "token", account, "-n", namespace, "--duration=1h").stdout.strip()
    config = yaml.safe_load(cp.kubeconfig.read_text())
    config["users"] = [{"name": "admin", "user": {"token": token}}]
    path.write_text(yaml.safe_dump(config))
    return path


def can(cp: ControlPlane, kubeconfig: Path, *args: str) -> bool:
    out = cp.kubectl(f"--kubeconfig={kubeconfig}", "auth", "can-i", *args, check=False)
    return out.stdout.strip() == "yes"


def test_namespaced_role_suffices(
    control_plane: ControlPlane, helm: Helm, namespace: str, release: str, tmp_path: Path
) -> None:
    watched, other = new_namespace(control_plane), new_namespace(control_plane)
    try:
        helm.run("install", release, str(CHART), "--namespace", namespace, f"--set=watchNamespaces[0]={watched}")
        kubeconfig = service_account_kubeconfig(control_plane, namespace, release, tmp_path / "kubeconfig-sa")
        assert can(control_plane, kubeconfig, "get", "secrets", "-n", watched)
        assert not can(control_plane, kubeconfig, "list", "secrets", "-n", watched), "Secrets: get only"
        assert not can(control_plane, kubeconfig, "watch", "secrets", "-n", watched)
        assert not can(control_plane, kubeconfig, "get", "secrets", "-n", other)
        assert not can(control_plane, kubeconfig, "create", "deployments", "-n", other)
        assert not can(control_plane, kubeconfig, "list", "namespaces")
        assert not can(control_plane, kubeconfig, "list", "monitoringstacks", "--all-namespaces")

        op = start_operator(control_plane, tmp_path, KUBECONFIG=str(kubeconfig), VIGIL_NAMESPACES=watched)
        try:
            cluster, outside = Cluster(control_plane, watched), Cluster(control_plane, other)
            cluster.apply(
                {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "auth"}, "stringData": {"token": "t"}},
                sink(
                    "gw",
                    signals=["traces", "metrics"],
                    otlp={
                        "endpoint": "gw:4317",
                        "headers": [
                            {"name": "Authorization", "valueFrom": {"secretKeyRef": {"name": "auth", "key": "token"}}}
                        ],
                    },
                ),
                stack(
                    "team",
                    sinks={"names": ["gw"]},
                    collector={"replicas": 2},
                    ruleBundles=[{"name": "collector"}],
                    dashboards={"names": ["collector-health"]},
                    scrape=[{"name": "apps"}],
                ),
                alert_policy("errors"),
            )
            outside.apply(stack("elsewhere", sinks={"names": ["gw"]}))
            eventually(lambda: cluster.ready("mstack", "team"), "the stack Ready with the namespaced Role")
            eventually(lambda: cluster.ready("apol", "errors"), "the policy Ready with the namespaced Role")
            generated = cluster.children("team", "deployments,poddisruptionbudgets,servicemonitors,prometheusrules")
            assert {k.split("/")[0] for k in generated} >= {
                "Deployment",
                "PodDisruptionBudget",
                "ServiceMonitor",
                "PrometheusRule",
            }
            policy = cluster.get("apol", "errors") or {}
            routing = [o for o in policy["status"]["generatedObjects"] if o["kind"] == "AlertmanagerConfig"]
            assert routing
            assert cluster.get("alertmanagerconfig", routing[0]["name"]) is not None
            assert op.count("vigil_api_requests_total", code="403") == 0
            time.sleep(2)  # the outside stack had every chance to be picked up
            # The CRD defaults status (observedGeneration 0, no conditions): only an operator adds conditions.
            untouched = (outside.get("mstack", "elsewhere") or {}).get("status") or {}
            assert not untouched.get("conditions"), "an unwatched namespace was touched"
            assert untouched.get("observedGeneration", 0) == 0, "an unwatched namespace was touched"
        finally:
            op.stop()
        op.assert_log_clean()
    finally:
        for name in (watched, other):
            control_plane.kubectl("delete", "namespace", name, "--wait=false")


def alert_policy(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "vigil.dev/v1alpha1",
        "kind": "AlertPolicy",
        "metadata": {"name": name},
        "spec": {
            "expr": 'sum(rate(http_requests_total{status_code=~"5.."}[5m])) > 1',
            "alertName": "ManyErrors",
            "severity": "warning",
            "receivers": [{"name": "bot", "webhook": {"url": "http://bot.ops.svc:8080/alerts"}}],
        },
    }


def peers(cp: ControlPlane, name: str) -> dict[str, Any]:
    """The replicas that announced themselves in ClusterKopfPeering ``name``."""
    return dict(get(cp, "clusterkopfpeering", name).get("status") or {})


def reconciles(op: Operator) -> float:
    return op.count("vigil_reconcile_total")


def settled(op: Operator, quiet_s: float = 3.0) -> bool:
    """Whether ``op`` ran no reconcile for ``quiet_s`` seconds."""
    before = reconciles(op)
    time.sleep(quiet_s)
    return reconciles(op) == before


@pytest.mark.parametrize("order", [(0, 1), (1, 0)], ids=["in-index-order", "lower-index-rejoins"])
def test_ha_replicas_with_the_charts_peering_and_role(
    control_plane: ControlPlane,
    helm: Helm,
    namespace: str,
    release: str,
    tmp_path: Path,
    order: tuple[int, int],
) -> None:
    # What the StatefulSet runs: replicas with their pod index as priority, under the chart's
    # ClusterRole, in the chart's ClusterKopfPeering. The highest index must be the one acting,
    # whether it started last (first install) or first (a lower index restarted by a rollout).
    helm.run("install", release, str(CHART), "--namespace", namespace, "--set=replicas=2")
    kubeconfig = service_account_kubeconfig(control_plane, namespace, release, tmp_path / "kubeconfig-sa")
    env = {"KUBECONFIG": str(kubeconfig), "VIGIL_PEERING": release, "VIGIL_DRIFT_INTERVAL": "2"}
    eventually(
        lambda: (
            control_plane.kubectl("get", "mstack,tsink,apol,clusterkopfpeerings", "-A", check=False).returncode == 0
        ),
        "the Vigil and peering kinds listable",
    )
    replicas: dict[int, Operator] = {}
    try:
        for index in order:
            replicas[index] = start_operator(
                control_plane, tmp_path, name=f"replica-{index}", VIGIL_PRIORITY=str(index), **env
            )
            time.sleep(2)
        eventually(lambda: len(peers(control_plane, release)) == 2, "both replicas in the peering")
        if order[0] == 0:
            # Replica 0 was alone for a moment, and active (on other tests' objects too): it must
            # pause once replica 1 appears.
            eventually(
                lambda: "Pausing operations in favour of" in replicas[0].process.log.read_text(errors="replace"),
                "replica 0 paused in favour of replica 1",
            )
        # Handlers a replica had started before pausing (other tests' objects too) finish first.
        eventually(lambda: settled(replicas[0]), "replica 0 idle", deadline_s=90)
        baseline = reconciles(replicas[0])
        cluster = Cluster(control_plane, namespace)
        cluster.apply(
            sink("console", labels={"team": "shop"}, signals=["logs"], debug={"verbosity": "basic"}),
            stack("one", sinks={"selector": {"matchLabels": {"team": "shop"}}}),
        )
        eventually(lambda: cluster.ready("mstack", "one"), "stack one Ready")
        time.sleep(6)  # drift ticks: a paused replica must not run its timers either
        assert reconciles(replicas[1]) > 0
        assert reconciles(replicas[0]) == baseline, "the lower-index replica acted while the higher one was alive"
        replicas[1].stop()  # a clean exit leaves the peering at once
        cluster.apply(stack("two", sinks={"names": ["console"]}))
        eventually(lambda: cluster.ready("mstack", "two"), "replica 0 took over", deadline_s=60)
        assert reconciles(replicas[0]) > baseline
    finally:
        for op in replicas.values():
            op.stop()
    for op in replicas.values():
        op.assert_log_clean()
