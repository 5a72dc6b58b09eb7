"""The dashboard selection of a MonitoringStack (spec.dashboards): defaults, rules, messages."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from vigil.models.dashboards import DASHBOARD_BUNDLES, DASHBOARD_NAMES, DashboardSelection
from vigil.parse import explain, path_of

# spec.dashboards -> (field path inside it, a fragment of the message); the same messages as
# the CRD's CEL rules where a rule applies.
INVALID: dict[str, tuple[dict[str, Any], str, str]] = {
    "unknown-dashboard": ({"names": ["aureus"]}, "names.0", "Unsupported value"),
    "repeated-dashboard": (
        {"names": ["aureus-overview", "aureus-overview"]},
        "names",
        'Duplicate value: "aureus-overview"',
    ),
    "bad-mode": ({"mode": "sidecar"}, "mode", "Unsupported value"),
    "operator-without-selector": (
        {"mode": "grafanaOperator"},
        "",
        "instanceSelector is required for mode grafanaOperator",
    ),
    "selector-without-operator": (
        {"instanceSelector": {"matchLabels": {"dashboards": "grafana"}}},
        "",
        "instanceSelector applies only to mode grafanaOperator",
    ),
    "bad-label-key": (
        {"sidecarLabel": {"key": "grafana dashboard"}},
        "sidecarLabel.key",
        "should match",
    ),
    "bad-label-value": ({"sidecarLabel": {"value": "-yes-"}}, "sidecarLabel.value", "should match"),
    "bad-annotation": ({"folder": {"annotation": "/folder"}}, "folder.annotation", "should match"),
    "empty-folder": ({"folder": {"name": ""}}, "folder.name", "at least 1 character"),
    "unknown-field": ({"dashboard": ["aureus-overview"]}, "dashboard", "unknown field"),
}


def test_defaults_are_the_kube_prometheus_stack_sidecar_conventions() -> None:
    selection = DashboardSelection()
    assert selection.names == []
    assert selection.mode == "configMap"
    assert (selection.sidecar_label.key, selection.sidecar_label.value) == (
        "grafana_dashboard",
        "1",
    )
    assert (selection.folder.annotation, selection.folder.name) == ("grafana_folder", "Vigil")
    assert selection.instance_selector is None
    assert selection.allow_cross_namespace_import is False


def test_wire_format_is_camel_case() -> None:
    selection = DashboardSelection.model_validate(
        {
            "names": ["collector-health"],
            "mode": "grafanaOperator",
            "instanceSelector": {"matchLabels": {"dashboards": "grafana"}},
            "allowCrossNamespaceImport": True,
            "sidecarLabel": {"key": "example.com/dashboard", "value": "yes"},
        }
    )
    dumped = selection.model_dump(by_alias=True, exclude_defaults=True)
    assert dumped["instanceSelector"] == {"matchLabels": {"dashboards": "grafana"}}
    assert dumped["allowCrossNamespaceImport"] is True
    assert dumped["sidecarLabel"] == {"key": "example.com/dashboard", "value": "yes"}


def test_every_dashboard_can_be_selected_once() -> None:
    selection = DashboardSelection(names=list(DASHBOARD_NAMES))  # type: ignore[arg-type]
    assert tuple(selection.names) == DASHBOARD_NAMES
    assert set(DASHBOARD_BUNDLES) == set(DASHBOARD_NAMES)


@pytest.mark.parametrize(("spec", "path", "message"), INVALID.values(), ids=INVALID.keys())
def test_invalid_selections_name_the_field(spec: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        DashboardSelection.model_validate(spec)
    found = [(path_of(e["loc"]), explain(e)) for e in caught.value.errors()]
    wanted = path.replace(".0", "[0]")
    assert any(p == wanted and message in m for p, m in found), found


def test_cel_rules_and_their_twins_agree_on_valid_input() -> None:
    rules = {r.message: r for r in DashboardSelection.cel_rules}
    good = DashboardSelection.model_validate(
        {"mode": "grafanaOperator", "instanceSelector": {"matchLabels": {"a": "b"}}}
    )
    assert all(rule.check(good) for rule in rules.values())
    schema = DashboardSelection.model_json_schema(by_alias=True)
    assert {v["message"] for v in schema["x-kubernetes-validations"]} == set(rules)
    assert schema["properties"]["names"]["x-kubernetes-list-type"] == "set"
