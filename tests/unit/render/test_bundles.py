"""Built-in rule bundles: the rules/bundles.yaml convention, and one PrometheusRule per stack."""

from __future__ import annotations

import re
from typing import Any

import promql_parser
import pytest
import yaml
from pydantic import ValidationError

from tests.helpers import ROOT
from vigil.models.bundles import RuleBundleSelection
from vigil.render import meta
from vigil.render.bundles import (
    Scope,
    alert_severities,
    bundle_groups,
    bundle_index,
    override_threshold,
    recorded_metrics,
    render_rule_bundles,
    trailing_threshold,
)
from vigil.render.errors import RenderError
from vigil.render.promql import parse, parse_back

RULES = ROOT / "rules"
INDEX = yaml.safe_load((RULES / "bundles.yaml").read_text())["bundles"]
THRESHOLDS = [(b["name"], b["file"], t) for b in INDEX for t in b["thresholds"]]
OWNER = meta.Owner(kind="MonitoringStack", name="aureus", namespace="team-a", uid="u-1")
LABELS = {"release": "kube-prometheus-stack"}


def _alert_exprs(file: str, alert: str) -> list[str]:
    groups = yaml.safe_load((RULES / file).read_text())["groups"]
    return [str(r["expr"]) for g in groups for r in g["rules"] if r.get("alert") == alert]


def _select(*selections: dict[str, Any]) -> list[RuleBundleSelection]:
    return [RuleBundleSelection.model_validate(s) for s in selections]


def _expr(rule: dict[str, Any], alert: str) -> str:
    return next(str(r["expr"]) for g in rule["spec"]["groups"] for r in g["rules"] if r.get("alert") == alert)


# --- the convention rules/bundles.yaml promises -------------------------------------------------


def test_every_bundle_file_is_indexed_and_exists() -> None:
    files = {p.name for p in RULES.glob("*.yaml")} - {"bundles.yaml"}
    assert {b["file"] for b in INDEX} == files
    assert sorted(bundle_index()) == sorted(b["name"] for b in INDEX)


@pytest.mark.parametrize(
    ("bundle", "file", "threshold"),
    THRESHOLDS,
    ids=lambda x: x if isinstance(x, str) else x["name"],
)
def test_threshold_is_the_trailing_number_of_its_alert(bundle: str, file: str, threshold: dict[str, Any]) -> None:
    exprs = _alert_exprs(file, threshold["alert"])
    assert len(exprs) == 1, f"{bundle}: alert {threshold['alert']} must exist exactly once in {file}"
    number = trailing_threshold(exprs[0])
    assert number is not None, f"{threshold['alert']} does not end with '<comparison> <number>'"
    assert number == float(threshold["default"])
    assert re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", str(threshold["default"])), "defaults are plain decimals"
    assert re.fullmatch(r"[a-z][a-zA-Z0-9]*", threshold["name"]), "names are lowerCamelCase"


def test_threshold_names_are_unique_per_bundle() -> None:
    for bundle in INDEX:
        names = [t["name"] for t in bundle["thresholds"]]
        assert len(names) == len(set(names)), bundle["name"]


@pytest.mark.parametrize(
    ("expr", "default", "value", "expected"),
    [
        ("a:ratio > 0.05", 0.05, 0.1, "a:ratio > 0.1"),
        ("a:b < 10", 10, 2.5, "a:b < 2.5"),
        ("x >= 0", 0, 1, "x >= 1"),
        ("(\n  a\n  /\n  b\n) > 0.8\n", 0.8, 0.9, "(a / b) > 0.9"),
        ("x > 8589934592", 8589934592, 4294967296, "x > 4294967296"),
        ("x > bool on (job) y > 0.5", 0.5, 0.25, "x > bool on (job) y > 0.25"),
    ],
)
def test_override_replaces_the_trailing_number(expr: str, default: float, value: float, expected: str) -> None:
    assert override_threshold(expr, default, value) == expected


@pytest.mark.parametrize(
    ("expr", "default"), [("x > 0.5", 0.6), ("x", 1), ("x > 1 or y", 1), ("x + 1", 1), ("x < 1 or y > 0.5", 0.5)]
)
def test_override_refuses_an_expr_that_breaks_the_convention(expr: str, default: float) -> None:
    with pytest.raises(ValueError, match="does not end with"):
        override_threshold(expr, default, 2)


# --- rendering -----------------------------------------------------------------------------------


def test_nothing_selected_renders_nothing() -> None:
    assert render_rule_bundles(OWNER, [], LABELS) == []


def test_one_prometheus_rule_with_the_selected_bundles_in_order() -> None:
    (rule,) = render_rule_bundles(OWNER, _select({"name": "collector"}, {"name": "aureus"}), LABELS)
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["kind"] == "PrometheusRule"
    assert rule["metadata"]["name"] == "aureus-rules"
    assert rule["metadata"]["namespace"] == "team-a"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert rule["metadata"]["labels"]["app.kubernetes.io/instance"] == "aureus"
    assert rule["metadata"]["labels"]["app.kubernetes.io/component"] == "rules"
    assert rule["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert [g["name"] for g in rule["spec"]["groups"]] == [
        *(g["name"] for g in bundle_groups("collector")),
        *(g["name"] for g in bundle_groups("aureus")),
    ]


@pytest.mark.parametrize("bundle", [b["name"] for b in INDEX])
def test_a_bundle_is_the_file_as_shipped_but_scoped_and_labelled(bundle: str) -> None:
    (rule,) = render_rule_bundles(OWNER, _select({"name": bundle}), {})
    shipped = bundle_groups(bundle)
    assert [g["name"] for g in rule["spec"]["groups"]] == [g["name"] for g in shipped]
    for group, original in zip(rule["spec"]["groups"], shipped, strict=True):
        for got, want in zip(group["rules"], original["rules"], strict=True):
            assert {k: v for k, v in got.items() if k not in ("expr", "labels")} == {
                k: v for k, v in want.items() if k not in ("expr", "labels")
            }
            scope = Scope("team-a/aureus", "team-a", recorded_metrics([bundle]))
            assert got["expr"] == scope.rewrite(str(want["expr"]))
            added = {"vigil_stack": "team-a/aureus"}
            if "alert" in got:
                added["namespace"] = "team-a"
            assert got["labels"] == {**want.get("labels", {}), **added}


def _selectors(expr: str) -> list[promql_parser.VectorSelector]:
    found: list[promql_parser.VectorSelector] = []

    def visit(node: promql_parser.Expr) -> None:
        # A MatrixSelector's VectorSelector is visited as a node of its own.
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)

    promql_parser.walk(parse(expr), visit)
    return found


def _matchers(selector: promql_parser.VectorSelector) -> set[tuple[str, str]]:
    return {(m.name, m.value) for m in selector.matchers.matchers if m.op == promql_parser.MatchOp.Equal}


@pytest.mark.parametrize("bundle", [b["name"] for b in INDEX])
def test_namespace_scope_reads_only_the_stacks_namespace(bundle: str) -> None:
    (rule,) = render_rule_bundles(OWNER, _select({"name": bundle}), {})
    recorded = recorded_metrics([bundle])
    for group in rule["spec"]["groups"]:
        for r in group["rules"]:
            selectors = _selectors(r["expr"])
            assert selectors, r["expr"]
            for selector in selectors:
                assert ("namespace", "team-a") in _matchers(selector), r["expr"]
                own = selector.name in recorded
                assert (("vigil_stack", "team-a/aureus") in _matchers(selector)) == own, r["expr"]


@pytest.mark.parametrize("bundle", [b["name"] for b in INDEX])
def test_recordings_keep_the_namespace_label(bundle: str) -> None:
    # A recording that aggregated namespace away would write series no scoped alert reads.
    records = [r for g in bundle_groups(bundle) for r in g["rules"] if "record" in r]
    for r in records:
        kept: list[bool] = []

        def visit(node: promql_parser.Expr, kept: list[bool] = kept) -> None:
            if isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
                by = node.modifier.type == promql_parser.AggModifierType.By
                kept.append(("namespace" in node.modifier.labels) == by)
            if isinstance(node, promql_parser.BinaryExpr) and node.modifier and node.modifier.matching:
                on = node.modifier.matching.type == promql_parser.LabelModifierType.Include
                kept.append(("namespace" in node.modifier.matching.labels) == on)

        promql_parser.walk(parse(str(r["expr"])), visit)
        assert all(kept), f"{r['record']} drops namespace: {r['expr']}"


def test_cluster_scope_reads_every_namespace_and_keeps_the_series_namespace() -> None:
    selection = _select({"name": "aureus", "scope": "cluster"})
    (rule,) = render_rule_bundles(OWNER, selection, {}, cluster_rule_namespaces={"team-a"})
    alerts = [r for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r]
    records = [r for g in rule["spec"]["groups"] for r in g["rules"] if "record" in r]
    for r in alerts + records:
        for selector in _selectors(r["expr"]):
            assert "namespace" not in {m.name for m in selector.matchers.matchers}, r["expr"]
    assert _expr(rule, "HighTaskFailureRate") == (
        'aureus:task_failure:ratio_rate5m{vigil_stack="team-a/aureus"} > 0.05'
    )
    assert all(
        r["labels"]["namespace"] == "team-a"
        and r["labels"]["vigil_stack"] == "team-a/aureus"
        and r["labels"]["exported_namespace"] == "{{ $labels.namespace }}"
        for r in alerts
    )


def test_cluster_scope_is_refused_where_the_operator_does_not_allow_it() -> None:
    selection = _select({"name": "aureus"}, {"name": "orchestrator", "scope": "cluster"})
    with pytest.raises(RenderError) as raised:
        render_rule_bundles(OWNER, selection, LABELS, cluster_rule_namespaces={"monitoring"})
    assert raised.value.field == "spec.ruleBundles[1].scope"
    assert raised.value.reason == "ClusterScopeNotAllowed"
    assert 'not allowed for stacks in namespace "team-a"' in raised.value.message
    assert "--cluster-rule-namespaces" in raised.value.message


def test_each_selection_has_its_own_scope() -> None:
    selection = _select({"name": "aureus"}, {"name": "orchestrator", "scope": "cluster"})
    (rule,) = render_rule_bundles(OWNER, selection, LABELS, cluster_rule_namespaces={"team-a"})
    assert _expr(rule, "HighTaskFailureRate") == (
        'aureus:task_failure:ratio_rate5m{namespace="team-a", vigil_stack="team-a/aureus"} > 0.05'
    )
    assert _expr(rule, "ServiceDown") == 'up{job=~".*orchestrator.*", job!~".*collector.*"} == 0'


def test_a_namespace_becomes_a_string_literal_never_syntax() -> None:
    hostile = 'x"} or vector(1) or up{a="'
    scope = Scope("s", hostile)
    written = scope.rewrite("sum(rate(x[5m])) > 1")
    (selector,) = _selectors(written)
    assert _matchers(selector) == {("namespace", hostile)}
    assert parse_back(written) == parse_back(written)  # it parses


def test_alert_severities_of_bundles() -> None:
    assert alert_severities(["aureus"]) == {"critical", "warning", "info"}
    assert alert_severities(["collector"]) == {"critical", "warning"}


def test_override_changes_only_its_alert() -> None:
    selection = _select({"name": "aureus", "thresholds": {"taskFailureRatio": 0.1, "rollbacksPer10m": 3}})
    (rule,) = render_rule_bundles(OWNER, selection, LABELS)
    own = '{namespace="team-a", vigil_stack="team-a/aureus"}'
    assert _expr(rule, "HighTaskFailureRate") == f"aureus:task_failure:ratio_rate5m{own} > 0.1"
    assert _expr(rule, "HighRollbackRate") == f"aureus:rollbacks:increase10m{own} > 3"
    assert _expr(rule, "PolicyEscalationSurge") == f"aureus:policy_escalation:ratio_rate5m{own} > 0.2"


def test_overrides_do_not_leak_into_the_next_render() -> None:
    render_rule_bundles(OWNER, _select({"name": "aureus", "thresholds": {"taskFailureRatio": 0.5}}), {})
    (rule,) = render_rule_bundles(OWNER, _select({"name": "aureus"}), {})
    assert _expr(rule, "HighTaskFailureRate").endswith("> 0.05")


def test_selections_are_not_mutated() -> None:
    selection = _select({"name": "aet", "thresholds": {"cpuUsagePercent": 90}})
    before = [s.model_dump() for s in selection]
    render_rule_bundles(OWNER, selection, LABELS)
    assert [s.model_dump() for s in selection] == before


@pytest.mark.parametrize(
    ("selections", "path", "message"),
    [
        (
            [{"name": "aureus"}, {"name": "nope"}],
            "spec.ruleBundles[1].name",
            'unknown rule bundle "nope": choose one of aet, aureus, blipee, collector, health-checks, http-slis, '
            "orchestrator, vigil-operator",
        ),
        (
            [{"name": "aureus", "thresholds": {"taskFailureRate": 0.1}}],
            "spec.ruleBundles[0].thresholds.taskFailureRate",
            'unknown threshold "taskFailureRate" of rule bundle "aureus": choose one of taskFailureRatio, ',
        ),
        (
            [{"name": "aureus"}, {"name": "aureus"}],
            "spec.ruleBundles[1].name",
            'rule bundle "aureus" is selected twice',
        ),
    ],
    ids=["unknown-bundle", "unknown-threshold", "twice"],
)
def test_mistakes_name_the_field(selections: list[dict[str, Any]], path: str, message: str) -> None:
    with pytest.raises(RenderError) as raised:
        render_rule_bundles(OWNER, _select(*selections), LABELS)
    assert raised.value.object == "MonitoringStack/aureus"
    assert raised.value.field == path
    assert message in raised.value.message


@pytest.mark.parametrize(
    "selection",
    [
        {"name": "Aureus"},
        {"name": "aureus", "thresholds": {"x": float("nan")}},
        {"name": "aureus", "extra": 1},
    ],
)
def test_selection_model_rejects_bad_input(selection: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RuleBundleSelection.model_validate(selection)
