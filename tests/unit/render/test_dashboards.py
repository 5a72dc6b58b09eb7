"""Dashboards as sidecar ConfigMaps or GrafanaDashboards: labels, modes, gzip, size limits."""

from __future__ import annotations

import base64
import copy
import gzip
import json
import random
import string
from typing import Any

import pytest

from vigil import api
from vigil.models.dashboards import DASHBOARD_NAMES, DashboardSelection
from vigil.render import dashboards as render
from vigil.render import meta
from vigil.render.dashboards import render_dashboards

OWNER = meta.Owner("MonitoringStack", "shop", "team-a", uid="0d5c2a9e-1111-2222-3333-444455556666")
OPERATOR = {
    "mode": "grafanaOperator",
    "instanceSelector": {"matchLabels": {"dashboards": "grafana"}},
}


def selection(**spec: Any) -> DashboardSelection:
    return DashboardSelection.model_validate({"names": ["aureus-overview"], **spec})


def padded(size: int, *, compressible: bool = False) -> dict[str, Any]:
    """A dashboard of about ``size`` bytes of JSON; random text does not compress."""
    rng = random.Random(size)
    filler = (
        "a" * size if compressible else "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(size))
    )
    return {"uid": "vigil-big", "title": "Big", "panels": [{"type": "text", "description": filler}]}


def source_with(big: dict[str, Any]) -> render.Source:
    return lambda name: big if name == "aureus-overview" else render.load_dashboard(name)


def test_one_configmap_per_dashboard_in_selection_order() -> None:
    names = ["collector-health", "aureus-overview", "vigil-operator"]
    out = render_dashboards(OWNER, selection(names=names))
    assert out.selected == tuple(names)
    assert out.errors == ()
    assert out.warnings == ()
    assert [o["kind"] for o in out.objects] == ["ConfigMap"] * 3
    assert [o["metadata"]["name"] for o in out.objects] == [
        "shop-dashboard-collector-health",
        "shop-dashboard-aureus-overview",
        "shop-dashboard-vigil-operator",
    ]
    assert [list(o["data"]) for o in out.objects] == [[f"{n}.json"] for n in names]


def test_configmap_carries_the_committed_dashboard_and_the_sidecar_conventions() -> None:
    (cm,) = render_dashboards(OWNER, selection()).objects
    md = cm["metadata"]
    assert md["namespace"] == "team-a"
    assert md["labels"]["grafana_dashboard"] == "1"
    assert md["labels"][api.DASHBOARD_LABEL] == "aureus-overview"
    assert md["labels"][api.INSTANCE] == "shop"
    assert md["labels"][api.MANAGED_BY] == "vigil"
    assert md["annotations"] == {"grafana_folder": "Vigil"}
    assert md["ownerReferences"][0]["uid"] == OWNER.uid
    assert json.loads(cm["data"]["aureus-overview.json"]) == render.load_dashboard("aureus-overview")


def test_sidecar_label_and_folder_annotation_are_configurable() -> None:
    custom = selection(
        sidecarLabel={"key": "example.com/grafana-dashboard", "value": "true"},
        folder={"annotation": "k8s-sidecar-target-directory", "name": "Shop / Observability"},
    )
    (cm,) = render_dashboards(OWNER, custom).objects
    assert cm["metadata"]["labels"]["example.com/grafana-dashboard"] == "true"
    assert "grafana_dashboard" not in cm["metadata"]["labels"]
    assert cm["metadata"]["annotations"] == {"k8s-sidecar-target-directory": "Shop / Observability"}


def test_no_owner_reference_offline() -> None:
    offline = meta.Owner("MonitoringStack", "shop", "team-a")
    (cm,) = render_dashboards(offline, selection()).objects
    assert "ownerReferences" not in cm["metadata"]


def test_grafana_operator_mode() -> None:
    sel = selection(names=["aureus-overview", "slo-overview"], folder={"name": "Shop"}, **OPERATOR)
    out = render_dashboards(OWNER, sel)
    assert out.errors == ()
    first, second = out.objects
    assert first["apiVersion"] == "grafana.integreatly.org/v1beta1"
    assert first["kind"] == "GrafanaDashboard"
    assert first["metadata"]["name"].startswith("shop-aureus-overview-")
    assert first["metadata"]["labels"][api.DASHBOARD_LABEL] == "aureus-overview"
    assert "grafana_dashboard" not in first["metadata"]["labels"]
    assert first["spec"]["instanceSelector"] == {"matchLabels": {"dashboards": "grafana"}}
    assert first["spec"]["folder"] == "Shop"
    assert "allowCrossNamespaceImport" not in first["spec"]
    assert json.loads(first["spec"]["json"]) == render.load_dashboard("aureus-overview")
    assert "gzipJson" not in first["spec"]
    assert json.loads(second["spec"]["json"])["uid"] == "vigil-slo-overview"


def test_cross_namespace_import() -> None:
    sel = selection(allowCrossNamespaceImport=True, **OPERATOR)
    (gd,) = render_dashboards(OWNER, sel).objects
    assert gd["spec"]["allowCrossNamespaceImport"] is True


def test_fields_grafana_operator_keeps_immutable_give_a_new_name() -> None:
    def name(**spec: Any) -> str:
        (gd,) = render_dashboards(OWNER, selection(**{**OPERATOR, **spec})).objects
        return str(gd["metadata"]["name"])

    base = name()
    assert name() == base
    assert name(folder={"name": "Other"}) == base
    assert name(instanceSelector={"matchLabels": {"dashboards": "other"}}) != base
    assert name(allowCrossNamespaceImport=True) != base
    assert len(base) <= 63


def test_large_dashboards_travel_gzip_compressed_and_round_trip() -> None:
    big = padded(render.INLINE_JSON_LIMIT + 10_000, compressible=True)
    out = render_dashboards(OWNER, selection(**OPERATOR), source=source_with(big))
    (gd,) = out.objects
    assert "json" not in gd["spec"]
    raw = gzip.decompress(base64.b64decode(gd["spec"]["gzipJson"]))
    assert json.loads(raw) == big
    assert len(gd["spec"]["gzipJson"]) < render.INLINE_JSON_LIMIT / 10
    again = render_dashboards(OWNER, selection(**OPERATOR), source=source_with(big))
    assert again.objects == out.objects  # gzip without a timestamp: same bytes every time


def test_gzip_json_helper_is_deterministic() -> None:
    assert render.gzip_json('{"a":1}') == render.gzip_json('{"a":1}')
    assert gzip.decompress(base64.b64decode(render.gzip_json('{"a":1}'))) == b'{"a":1}'


def test_an_oversized_configmap_is_refused_as_data_and_the_rest_still_renders() -> None:
    big = padded(render.CONFIGMAP_LIMIT + 1000)
    sel = selection(names=["collector-health", "aureus-overview", "vigil-operator"])
    out = render_dashboards(OWNER, sel, source=source_with(big))
    assert [o["metadata"]["labels"][api.DASHBOARD_LABEL] for o in out.objects] == [
        "collector-health",
        "vigil-operator",
    ]
    (error,) = out.errors
    assert error.path == "MonitoringStack/shop: spec.dashboards.names[1]"
    assert error.reason == "DashboardTooLarge"
    assert "1 MiB limit of a ConfigMap" in error.message
    assert "spec.dashboards.mode: grafanaOperator" in error.message
    assert out.selected == tuple(sel.names)


def test_a_configmap_near_the_limit_is_a_warning() -> None:
    big = padded(int(render.CONFIGMAP_LIMIT * 0.95))
    out = render_dashboards(OWNER, selection(), source=source_with(big))
    assert len(out.objects) == 1
    assert out.errors == ()
    (warning,) = out.warnings
    assert warning.reason == "DashboardNearSizeLimit"
    assert warning.path == "MonitoringStack/shop: spec.dashboards.names[0]"
    assert "close to the 1 MiB limit of a ConfigMap" in warning.message


def test_grafana_operator_mode_fits_what_a_configmap_cannot() -> None:
    big = padded(2 * render.CONFIGMAP_LIMIT, compressible=True)
    assert render_dashboards(OWNER, selection(), source=source_with(big)).errors != ()
    out = render_dashboards(OWNER, selection(**OPERATOR), source=source_with(big))
    assert out.errors == ()
    assert out.warnings == ()
    assert "gzipJson" in out.objects[0]["spec"]


def test_an_incompressible_grafana_dashboard_above_the_object_limit_is_refused() -> None:
    big = padded(render.OBJECT_LIMIT)
    out = render_dashboards(OWNER, selection(**OPERATOR), source=source_with(big))
    assert out.objects == ()
    (error,) = out.errors
    assert error.reason == "DashboardTooLarge"
    assert "GrafanaDashboard" in error.message


def test_client_side_apply_must_fit_the_last_applied_annotation() -> None:
    big = padded(300 * 1024)
    server = render_dashboards(OWNER, selection(), source=source_with(big))
    assert server.errors == ()
    assert server.warnings == ()
    client = render_dashboards(OWNER, selection(), apply="client-side", source=source_with(big))
    (error,) = client.errors
    assert "256 KiB" in error.message
    assert "kubectl apply --server-side" in error.message
    assert "grafanaOperator" in error.message
    near = padded(240 * 1024)
    warned = render_dashboards(OWNER, selection(), apply="client-side", source=source_with(near))
    assert [w.reason for w in warned.warnings] == ["DashboardNearSizeLimit"]


def test_every_built_in_dashboard_fits_either_way() -> None:
    sel = selection(names=list(DASHBOARD_NAMES))
    for spec in ({}, OPERATOR):
        out = render_dashboards(OWNER, selection(names=list(DASHBOARD_NAMES), **spec), apply="client-side")
        assert out.errors == ()
        assert out.warnings == ()
        assert len(out.objects) == len(sel.names)


def test_a_dashboard_without_its_rule_bundle_is_a_warning() -> None:
    sel = selection(names=["aureus-overview", "collector-health", "slo-overview"])
    out = render_dashboards(OWNER, sel, bundles=["collector"])
    (warning,) = out.warnings
    assert warning.reason == "DashboardBundleMissing"
    assert warning.path == "MonitoringStack/shop: spec.dashboards.names[0]"
    assert "rule bundle aureus" in warning.message
    assert len(out.objects) == 3
    assert render_dashboards(OWNER, sel).warnings == ()  # bundles unknown: nothing to say


def test_rendering_is_pure() -> None:
    big = padded(1000)
    kept = copy.deepcopy(big)
    sel = selection(names=["aureus-overview", "vigil-operator"], **OPERATOR)
    kept_sel = sel.model_copy(deep=True)
    first = render_dashboards(OWNER, sel, source=source_with(big))
    assert big == kept
    assert sel == kept_sel
    assert render_dashboards(OWNER, sel, source=source_with(big)) == first


def test_no_dashboards_no_objects() -> None:
    out = render_dashboards(OWNER, DashboardSelection())
    assert out.objects == ()
    assert out.selected == ()


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_load_dashboard_reads_the_committed_file(name: str) -> None:
    assert render.load_dashboard(name)["uid"] == f"vigil-{name}"
