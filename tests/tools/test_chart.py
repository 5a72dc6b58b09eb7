"""charts/vigil with the real Helm: lint, every mode rendered and validated, schema refusals."""

from __future__ import annotations

import argparse
import json
import shutil
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from scripts import chart_sync

from tests.harness.helm import CHART, CI_VALUES, Helm, HelmError, by_kind, one
from tests.harness.schemas import KUBERNETES_VERSION, validate_against_crd
from vigil import settings
from vigil.render import components

RBAC = yaml.safe_load_all((chart_sync.ROOT / "deploy" / "rbac.yaml").read_text())
DEPLOY_RULES = next(d for d in RBAC if d["kind"] == "ClusterRole")["rules"]
CLUSTER_SCOPED = {"customresourcedefinitions", "namespaces", "clusterkopfpeerings"}
MODES = [None, *CI_VALUES]


def _mode(values: Path | None) -> str:
    return values.stem if values else "default"


@pytest.fixture(scope="module")
def helm() -> Helm:
    return Helm.find()


@cache
def _render(values: Path | None, namespace: str = "vigil-system", include_crds: bool = False) -> list[dict[str, Any]]:
    return Helm.find().template(namespace=namespace, values=[values] if values else [], include_crds=include_crds)


def _container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    workload = next(o for o in objects if o["kind"] in ("Deployment", "StatefulSet"))
    [container] = workload["spec"]["template"]["spec"]["containers"]
    return dict(container)


def _settings(objects: list[dict[str, Any]]) -> dict[str, str]:
    return dict(next(o for o in by_kind(objects, "ConfigMap") if o["metadata"]["name"].endswith("-settings"))["data"])


# --- lint and validation -------------------------------------------------------------------------


@pytest.mark.parametrize("values", MODES, ids=_mode)
def test_helm_lint_strict(helm: Helm, values: Path | None) -> None:
    out = helm.run("lint", "--strict", str(CHART), *([f"--values={values}"] if values else []))
    assert "1 chart(s) linted, 0 chart(s) failed" in out


def _third_party(obj: dict[str, Any]) -> bool:
    return str(obj["apiVersion"]).startswith(("monitoring.coreos.com/", "grafana.integreatly.org/"))


@pytest.mark.parametrize("values", MODES, ids=_mode)
def test_every_rendered_object_passes_its_schema(values: Path | None) -> None:
    objects = _render(values, include_crds=True)
    kopf_kinds = {
        (c["spec"]["group"], c["spec"]["names"]["kind"])
        for c in by_kind(objects, "CustomResourceDefinition")
        if c["spec"]["group"] == "kopf.dev"
    }
    for obj in objects:
        if _third_party(obj):
            validate_against_crd(obj)
        elif obj["apiVersion"].startswith("kopf.dev/"):
            assert ("kopf.dev", obj["kind"]) in kopf_kinds, f"{obj['kind']}: no CRD in the chart's crds/"
            assert set(obj) == {"apiVersion", "kind", "metadata"}
        else:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_kinds_of_the_default_install() -> None:
    kinds = sorted(o["kind"] for o in _render(None))
    assert kinds == sorted(
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


def test_prometheus_operator_objects_need_its_api(helm: Helm) -> None:
    kinds = {o["kind"] for o in helm.template(api_versions=())}
    assert not kinds & {"ServiceMonitor", "PrometheusRule", "GrafanaDashboard"}
    assert "Deployment" in kinds


# --- the operator workload -----------------------------------------------------------------------


def test_restricted_pod_security_and_probes() -> None:
    workload = one(_render(None), "Deployment")
    pod = workload["spec"]["template"]["spec"]
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    container = _container(_render(None))
    assert container["securityContext"] == {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["ports"] == [{"name": "metrics", "containerPort": 8080, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert container["resources"]["limits"]["memory"] == "768Mi"
    assert container["image"] == "ghcr.io/vigil-operator/vigil:0.1.0"
    assert workload["spec"]["strategy"] == {"type": "Recreate"}


def test_platform_chosen_user(helm: Helm) -> None:
    objects = helm.template(sets=["securityContext.runAsUser=null", "securityContext.runAsGroup=null"])
    assert one(objects, "Deployment")["spec"]["template"]["spec"]["securityContext"] == {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _parsed_settings(objects: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, **pod_env: str) -> Any:
    """The operator's own Settings from the rendered env, args and ``pod_env`` (downward API)."""
    for key, value in {**_settings(objects), **pod_env}.items():
        monkeypatch.setenv(key, value)
    parser = argparse.ArgumentParser()
    settings.add_arguments(parser)
    return settings.from_arguments(parser.parse_args(_container(objects).get("args", [])))


def test_settings_reach_the_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = _parsed_settings(_render(None), monkeypatch)
    assert parsed == settings.Settings(
        prometheus_labels={"release": "kube-prometheus-stack"},
        collector_binary="/usr/local/bin/otelcol-vigil",
        collector_image=components.DEFAULT_COLLECTOR_IMAGE,
        metrics_port=8080,
        log_format="json",
    )


def test_every_setting_is_one_the_operator_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = set(_settings(_render(None)))
    assert "VIGIL_COLLECTOR_IMAGE" in keys
    unread = {k for k in keys if _read_by_operator(k, monkeypatch) is False}
    assert not unread, f"vigil run ignores {unread}"


def _read_by_operator(key: str, monkeypatch: pytest.MonkeyPatch) -> bool:
    def parse() -> argparse.Namespace:
        parser = argparse.ArgumentParser()
        settings.add_arguments(parser)
        return parser.parse_args([])

    monkeypatch.delenv(key, raising=False)
    before = vars(parse())
    try:
        for probe in ("7", "1", "a=b"):
            monkeypatch.setenv(key, probe)
            try:
                if vars(parse()) != before:
                    return True
            except (SystemExit, ValueError, argparse.ArgumentTypeError):
                return True  # it was read, and the probe is no valid value of it
    finally:
        monkeypatch.delenv(key)
    return False


def test_namespaced_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    objects = _render(CHART / "ci" / "namespaced-values.yaml")
    assert not by_kind(objects, "ClusterRole")
    assert not by_kind(objects, "ClusterRoleBinding")
    roles = {r["metadata"]["namespace"]: r for r in by_kind(objects, "Role")}
    bindings = {b["metadata"]["namespace"]: b for b in by_kind(objects, "RoleBinding")}
    assert set(roles) == set(bindings) == {"team-a", "team-b"}
    for binding in bindings.values():
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "vigil", "namespace": "vigil-system"}]
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "vigil"}
    assert _container(objects)["args"] == ["--namespace=team-a", "--namespace=team-b"]
    assert _parsed_settings(objects, monkeypatch).namespaces == ("team-a", "team-b")


def test_ha_mode_gives_each_replica_its_own_priority(monkeypatch: pytest.MonkeyPatch) -> None:
    objects = _render(CHART / "ci" / "ha-values.yaml")
    assert not by_kind(objects, "Deployment")
    workload = one(objects, "StatefulSet")
    assert workload["spec"]["replicas"] == 3
    assert workload["spec"]["podManagementPolicy"] == "OrderedReady"
    priority = next(e for e in _container(objects)["env"] if e["name"] == "VIGIL_PRIORITY")
    assert priority["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.labels['apps.kubernetes.io/pod-index']"}}
    peering = one(objects, "ClusterKopfPeering")
    assert peering["metadata"]["name"] == "vigil"
    # What the kubelet gives pod 2: priority 2, in the peering the chart created.
    parsed = _parsed_settings(objects, monkeypatch, VIGIL_PRIORITY="2")
    assert (parsed.peering, parsed.priority) == ("vigil", 2)
    assert one(objects, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    pod = workload["spec"]["template"]["spec"]
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert pod["imagePullSecrets"] == [{"name": "ghcr-pull"}]
    assert pod["tolerations"][0]["key"] == "node-role.kubernetes.io/control-plane"
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert {"name": "HTTPS_PROXY", "value": "http://proxy.internal:3128"} in _container(objects)["env"]


def test_namespaced_ha_meets_in_a_kopfpeering_per_namespace() -> None:
    objects = _render(CHART / "ci" / "namespaced-ha-values.yaml")
    assert not by_kind(objects, "ClusterKopfPeering")
    peering = one(objects, "KopfPeering")
    assert (peering["metadata"]["namespace"], peering["metadata"]["name"]) == ("team-a", "vigil-team-a")
    assert _settings(objects)["VIGIL_PEERING"] == "vigil-team-a"
    assert one(objects, "Role")["rules"][-1] == {
        "apiGroups": ["kopf.dev"],
        "resources": ["kopfpeerings"],
        "verbs": ["get", "list", "watch", "patch"],
    }


def test_one_replica_is_standalone_without_budget() -> None:
    objects = _render(None)
    assert _settings(objects)["VIGIL_PEERING"] == ""
    assert "env" not in _container(objects)
    assert not by_kind(objects, "PodDisruptionBudget")
    assert not by_kind(objects, "ClusterKopfPeering")


def test_a_settings_change_rolls_the_pods(helm: Helm) -> None:
    def checksum(*sets: str) -> str:
        deployment = one(helm.template(sets=sets), "Deployment")
        return str(deployment["spec"]["template"]["metadata"]["annotations"]["checksum/settings"])

    default = checksum()
    assert checksum("operator.driftInterval=60") != default
    assert checksum("prometheusLabels.team=sre") != default
    assert checksum("service.annotations.a=b") == default


# --- RBAC ----------------------------------------------------------------------------------------


def test_cluster_role_has_the_rules_of_deploy_rbac() -> None:
    assert one(_render(None), "ClusterRole")["rules"] == DEPLOY_RULES


def test_namespaced_role_has_the_namespaced_rules_of_deploy_rbac() -> None:
    expected = []
    for rule in DEPLOY_RULES:
        resources = [r for r in rule["resources"] if r not in CLUSTER_SCOPED]
        if resources:
            expected.append({**rule, "resources": resources})
    for role in by_kind(_render(CHART / "ci" / "namespaced-values.yaml"), "Role"):
        assert role["rules"] == expected


def test_secrets_are_get_only() -> None:
    for rule in DEPLOY_RULES:
        if "secrets" in rule["resources"]:
            assert rule == {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}


def test_extra_subjects_are_bound(helm: Helm) -> None:
    objects = helm.template(sets=["rbac.extraSubjects[0].kind=User", "rbac.extraSubjects[0].name=ops"])
    assert one(objects, "ClusterRoleBinding")["subjects"][1] == {"kind": "User", "name": "ops"}


# --- monitoring the operator ---------------------------------------------------------------------


def test_service_monitor_and_rule_carry_the_prometheus_labels() -> None:
    objects = _render(None)
    for kind in ("ServiceMonitor", "PrometheusRule"):
        assert one(objects, kind)["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    monitor = one(objects, "ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"] == one(objects, "Service")["spec"]["selector"]
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}
    ]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["vigil-system"]}


def test_prometheus_rule_is_the_vigil_operator_bundle() -> None:
    bundle = yaml.safe_load((chart_sync.ROOT / "rules" / "vigil-operator.yaml").read_text())
    assert one(_render(None), "PrometheusRule")["spec"] == bundle


def test_dashboard_config_map_for_the_sidecar(helm: Helm) -> None:
    dashboard = json.loads((chart_sync.ROOT / "dashboards" / "vigil-operator.json").read_text())
    objects = helm.template(sets=["dashboard.sidecarLabel.key=grafana_dashboards", "dashboard.folder.name=Ops"])
    config_map = next(o for o in by_kind(objects, "ConfigMap") if o["metadata"]["name"] == "vigil-dashboard")
    assert json.loads(config_map["data"]["vigil-operator.json"]) == dashboard
    assert config_map["metadata"]["labels"]["grafana_dashboards"] == "1"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "Ops"}


def test_grafana_operator_mode() -> None:
    objects = _render(CHART / "ci" / "grafana-operator-values.yaml")
    assert [o["metadata"]["name"] for o in by_kind(objects, "ConfigMap")] == ["vigil-settings"]
    spec = one(objects, "GrafanaDashboard")["spec"]
    assert spec["instanceSelector"] == {"matchLabels": {"dashboards": "grafana"}}
    assert spec["allowCrossNamespaceImport"] is True
    assert spec["folder"] == "Platform"
    assert json.loads(spec["json"]) == json.loads((chart_sync.ROOT / "dashboards" / "vigil-operator.json").read_text())
    monitor = one(objects, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["team"] == "platform"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_without_prometheus_operator() -> None:
    objects = _render(CHART / "ci" / "no-prometheus-operator-values.yaml")
    assert not by_kind(objects, "ServiceMonitor")
    assert not by_kind(objects, "PrometheusRule")
    assert _settings(objects)["VIGIL_PROMETHEUS_LABELS"] == "{}"


# --- NOTES.txt -----------------------------------------------------------------------------------


def notes(helm: Helm, tmp_path: Path, *args: str) -> str:
    """NOTES.txt as `helm install` would print it for ``args``: rendered with `tpl` in a copy of
    the chart, because `helm template` leaves NOTES out and an install asks the cluster."""
    copy = tmp_path / "vigil"
    shutil.copytree(CHART, copy)
    (copy / "files" / "notes-probe.txt").write_text((CHART / "templates" / "NOTES.txt").read_text())
    (copy / "templates" / "notes-probe.yaml").write_text(
        'notes: {{ tpl (.Files.Get "files/notes-probe.txt") . | toJson }}\n'
    )
    rendered = helm.run("template", "vigil", str(copy), "--show-only=templates/notes-probe.yaml", *args)
    return str(yaml.safe_load(rendered)["notes"])


def test_notes_of_the_default_install(helm: Helm, tmp_path: Path) -> None:
    text = notes(helm, tmp_path, "--namespace=obs", "--api-versions=monitoring.coreos.com/v1")
    assert text.startswith("Vigil 0.1.0 is installed as release vigil in namespace obs.")
    assert "It watches every namespace (ClusterRole vigil)." in text
    assert "One replica, standalone." in text
    assert "kubectl -n obs rollout status deployment/vigil" in text
    assert "Skipped" not in text


def test_notes_say_what_was_skipped(helm: Helm, tmp_path: Path) -> None:
    text = notes(
        helm, tmp_path, "--set=replicas=2", "--set=watchNamespaces={a,b}", "--set=dashboard.mode=grafanaOperator"
    )
    assert "It watches the namespaces a, b (a Role and RoleBinding in each; no cluster-wide permission)." in text
    assert "2 replicas meet in the kopf peering vigil;" in text
    assert "rollout status statefulset/vigil" in text
    assert (
        "Skipped because this cluster does not serve their API: the ServiceMonitor (serviceMonitor.enabled), "
        "the PrometheusRule (prometheusRule.enabled), the GrafanaDashboard (dashboard.mode: grafanaOperator)."
    ) in text


# --- Helm conventions ----------------------------------------------------------------------------


@pytest.mark.parametrize("values", MODES, ids=_mode)
def test_no_hard_coded_namespace(helm: Helm, values: Path | None) -> None:
    objects = helm.template(namespace="observability", values=[values] if values else [])
    watched = set(yaml.safe_load(values.read_text()).get("watchNamespaces", [])) if values else set()
    for obj in objects:
        namespace = obj["metadata"].get("namespace")
        if obj["kind"] in ("ClusterRole", "ClusterRoleBinding", "ClusterKopfPeering"):
            assert namespace is None
        elif obj["kind"] in ("Role", "RoleBinding", "KopfPeering"):
            assert namespace in watched
        else:
            assert namespace == "observability", f"{obj['kind']}/{obj['metadata']['name']}"
    assert "vigil-system" not in yaml.safe_dump_all(objects)


@pytest.mark.parametrize("values", MODES, ids=_mode)
def test_standard_labels(values: Path | None) -> None:
    for obj in _render(values):
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "vigil"
        assert labels["app.kubernetes.io/instance"] == "vigil"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/version"] == "0.1.0"
        assert labels["helm.sh/chart"] == "vigil-0.1.0"


def test_names_follow_the_release_and_overrides(helm: Helm) -> None:
    assert {o["metadata"]["name"] for o in helm.template(release="obs")} >= {"obs-vigil", "obs-vigil-settings"}
    assert {o["metadata"]["name"] for o in helm.template(sets=["fullnameOverride=watch"])} >= {"watch"}
    renamed = helm.template(release="obs", sets=["nameOverride=vg"])
    assert one(renamed, "Deployment")["metadata"]["name"] == "obs-vg"
    assert one(renamed, "Deployment")["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] == "vg"


def test_image_tag_defaults_to_app_version(helm: Helm) -> None:
    objects = helm.template(sets=["image.tag=0.2.0-rc.1", "image.pullPolicy=Always"])
    container = _container(objects)
    assert (container["image"], container["imagePullPolicy"]) == ("ghcr.io/vigil-operator/vigil:0.2.0-rc.1", "Always")


# --- values.schema.json --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["replicas=two"], "at '/replicas': got string, want integer"),
        (["replica=2"], "at '': additional properties 'replica' not allowed"),
        (["serviceMonitor.intervl=5s"], "at '/serviceMonitor': additional properties 'intervl' not allowed"),
        (["image.pullPolicy=Sometimes"], "at '/image/pullPolicy': value must be one of"),
        (["watchNamespaces[0]=Team_A"], "at '/watchNamespaces/0'"),
        (["securityContext.runAsUser=0"], "at '/securityContext/runAsUser': minimum"),
        (["prometheusLabels.release=a b"], "at '/prometheusLabels/release'"),
    ],
    ids=["wrong-type", "unknown-key", "unknown-nested-key", "enum", "namespace-name", "root", "label-value"],
)
def test_schema_refuses_bad_values(helm: Helm, sets: list[str], message: str) -> None:
    with pytest.raises(HelmError) as refused:
        helm.template(sets=sets)
    assert "values don't meet the specifications of the schema(s)" in str(refused.value)
    assert message in str(refused.value)


def test_schema_refuses_a_values_file_with_a_typo(helm: Helm, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("dashboard:\n  sidecarLabels: {key: grafana_dashboard}\n")
    with pytest.raises(HelmError, match="at '/dashboard': additional properties 'sidecarLabels' not allowed"):
        helm.template(values=[values])


# --- helm uninstall ------------------------------------------------------------------------------


@pytest.mark.parametrize("values", MODES, ids=_mode)
def test_uninstall_runs_no_hook(values: Path | None) -> None:
    # The operator puts no finalizer on Vigil objects: once it is gone they can be deleted as they are.
    hooks = [o for o in _render(values) if "helm.sh/hook" in (o["metadata"].get("annotations") or {})]
    assert hooks == []


# --- the no-Helm path ----------------------------------------------------------------------------


def test_deploy_vigil_yaml_is_the_default_render(helm: Helm) -> None:
    assert chart_sync.DEPLOY.read_text() == chart_sync.render_deploy(helm.binary), (
        "deploy/vigil.yaml is stale: run `make chart`"
    )
