"""A real kube-apiserver accepts the dashboards Vigil renders, and enforces the limits Vigil
checks for (grafana-operator's GrafanaDashboard CRD installed from third_party/crds/)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.harness.controlplane import ControlPlane
from tests.helpers import VENDORED_CRDS
from vigil.models.dashboards import DASHBOARD_NAMES, DashboardSelection
from vigil.render import meta
from vigil.render.dashboards import (
    ANNOTATION_LIMIT,
    CONFIGMAP_LIMIT,
    INLINE_JSON_LIMIT,
    last_applied_size,
    render_dashboards,
)

UID = "0d5c2a9e-1111-2222-3333-444455556666"
OPERATOR = {
    "mode": "grafanaOperator",
    "instanceSelector": {"matchLabels": {"dashboards": "grafana"}},
}


@pytest.fixture(scope="module")
def grafana_crds(control_plane: ControlPlane) -> ControlPlane:
    """The control plane with grafana-operator's GrafanaDashboard CRD installed."""
    control_plane.install_crds(VENDORED_CRDS / "grafana-operator")
    return control_plane


def _apply(cp: ControlPlane, objects: list[dict[str, Any]], *extra: str) -> Any:
    return cp.kubectl("apply", *extra, "-f", "-", input=yaml.safe_dump_all(objects), check=False)


def _server_dry_run(cp: ControlPlane, objects: list[dict[str, Any]]) -> Any:
    return _apply(cp, objects, "--server-side", "--dry-run=server", "--field-manager=vigil")


def _render(namespace: str, uid: str | None = UID, **spec: Any) -> list[dict[str, Any]]:
    owner = meta.Owner("MonitoringStack", "shop", namespace, uid=uid)
    selection = DashboardSelection.model_validate({"names": list(DASHBOARD_NAMES), **spec})
    out = render_dashboards(owner, selection)
    assert out.errors == ()
    return list(out.objects)


def test_every_dashboard_configmap_is_accepted(grafana_crds: ControlPlane, namespace: str) -> None:
    objects = _render(namespace)
    result = _server_dry_run(grafana_crds, objects)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("serverside-applied (server dry run)") == len(DASHBOARD_NAMES)


def test_every_grafana_dashboard_is_accepted(grafana_crds: ControlPlane, namespace: str) -> None:
    objects = _render(namespace, allowCrossNamespaceImport=True, **OPERATOR)
    result = _server_dry_run(grafana_crds, objects)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("serverside-applied (server dry run)") == len(DASHBOARD_NAMES)


def test_a_gzip_compressed_grafana_dashboard_is_accepted(grafana_crds: ControlPlane, namespace: str) -> None:
    big = {"uid": "vigil-big", "title": "Big", "panels": [], "description": "a" * INLINE_JSON_LIMIT}
    owner = meta.Owner("MonitoringStack", "shop", namespace, uid=UID)
    selection = DashboardSelection.model_validate({"names": ["aureus-overview"], **OPERATOR})
    (obj,) = render_dashboards(owner, selection, source=lambda _: big).objects
    assert "gzipJson" in obj["spec"]
    result = _server_dry_run(grafana_crds, [obj])
    assert result.returncode == 0, result.stderr


def test_the_api_server_refuses_a_configmap_above_the_limit_vigil_checks(
    grafana_crds: ControlPlane, namespace: str
) -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "too-big", "namespace": namespace},
        "data": {"d.json": "a" * (CONFIGMAP_LIMIT + 1)},
    }
    result = _server_dry_run(grafana_crds, [cm])
    assert result.returncode != 0
    assert f"Too long: may not be more than {CONFIGMAP_LIMIT} bytes" in result.stderr
    cm["data"] = {"d.json": "a" * CONFIGMAP_LIMIT}
    at_limit = _server_dry_run(grafana_crds, [cm])
    assert at_limit.returncode == 0, at_limit.stderr


def test_client_side_apply_fails_above_the_annotation_limit_vigil_checks(
    grafana_crds: ControlPlane, namespace: str
) -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "big-for-kubectl", "namespace": namespace},
        "data": {"d.json": "a" * ANNOTATION_LIMIT},
    }
    client = _apply(grafana_crds, [cm], "--dry-run=server")
    assert client.returncode != 0
    assert f"Too long: may not be more than {ANNOTATION_LIMIT} bytes" in client.stderr
    server = _server_dry_run(grafana_crds, [cm])
    assert server.returncode == 0, server.stderr


def test_a_new_instance_selector_makes_a_new_object_because_the_old_cannot_change(
    grafana_crds: ControlPlane, namespace: str
) -> None:
    def render(labels: dict[str, str]) -> dict[str, Any]:
        owner = meta.Owner("MonitoringStack", "shop", namespace)
        selection = DashboardSelection.model_validate(
            {
                "names": ["vigil-operator"],
                "mode": "grafanaOperator",
                "instanceSelector": {"matchLabels": labels},
            }
        )
        (obj,) = render_dashboards(owner, selection).objects
        return obj

    first = render({"dashboards": "grafana"})
    created = _apply(grafana_crds, [first], "--server-side", "--field-manager=vigil")
    assert created.returncode == 0, created.stderr
    moved = render({"dashboards": "other"})
    assert moved["metadata"]["name"] != first["metadata"]["name"]
    same_name = {**moved, "metadata": first["metadata"]}
    refused = _apply(grafana_crds, [same_name], "--server-side", "--field-manager=vigil")
    assert refused.returncode != 0
    assert "spec.instanceSelector is immutable" in refused.stderr
    renamed = _apply(grafana_crds, [moved], "--server-side", "--field-manager=vigil")
    assert renamed.returncode == 0, renamed.stderr


def test_the_client_side_size_estimate_is_exact(grafana_crds: ControlPlane, namespace: str) -> None:
    owner = meta.Owner("MonitoringStack", "shop", namespace, uid=UID)
    selection = DashboardSelection.model_validate({"names": ["aureus-overview"]})
    # Characters Go's JSON encoder escapes, quotes escaped twice, and multi-byte UTF-8.
    tricky = 'rate(x[5m]) > 0 & y < 1 "quoted" \\ é → ' * 50

    def configmap(padding: int) -> dict[str, Any]:
        board = {"uid": "vigil-big", "title": "Big", "description": tricky + "a" * padding}
        (obj,) = render_dashboards(owner, selection, source=lambda _: board).objects
        return obj

    padding = ANNOTATION_LIMIT - last_applied_size(configmap(0))
    assert last_applied_size(configmap(padding)) == ANNOTATION_LIMIT
    fits = _apply(grafana_crds, [configmap(padding)], "--dry-run=server")
    assert fits.returncode == 0, fits.stderr[-500:]
    one_more = _apply(grafana_crds, [configmap(padding + 1)], "--dry-run=server")
    assert one_more.returncode != 0
    assert "metadata.annotations: Too long" in one_more.stderr
