"""A MonitoringStack's AlertmanagerConfig: its bundle alerts, by severity, to its receivers only."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import sink, stack
from vigil.models.bundles import BundleAlerting
from vigil.models.sink import TelemetrySink
from vigil.models.stack import MonitoringStack
from vigil.pipeline import build_from_documents, plan_stack
from vigil.render import meta
from vigil.render.alerts import NO_RECEIVER, render_stack_alertmanager_config
from vigil.render.collector_config import build_collector_config
from vigil.render.context import RenderContext
from vigil.render.errors import RenderError
from vigil.render.stack import StackRender, render_stack

OWNER = meta.Owner(kind="MonitoringStack", name="aureus", namespace="team-a", uid="u-1")
SECRET = {"name": "alerts", "key": "token"}
RECEIVERS = [
    {"name": "pager", "severities": ["critical"], "pagerduty": {"routingKey": SECRET}},
    {"name": "chat", "severities": ["warning", "info"], "slack": {"channel": "#a", "apiURL": SECRET}},
    {"name": "hook", "webhook": {"url": "http://bot.ops.svc:8080/alerts"}},
]


def _alerting(**spec: Any) -> BundleAlerting:
    return BundleAlerting.model_validate({"receivers": RECEIVERS, **spec})


def test_no_alerting_no_config() -> None:
    assert render_stack_alertmanager_config(OWNER, None, {"warning"}, {}) == []


def test_the_route_matches_only_this_stacks_alerts() -> None:
    (config,) = render_stack_alertmanager_config(
        OWNER, _alerting(routing={"groupBy": ["alertname", "job"], "repeatInterval": "1h"}), {"critical", "warning"}, {}
    )
    assert config["apiVersion"] == "monitoring.coreos.com/v1alpha1"
    assert config["kind"] == "AlertmanagerConfig"
    assert config["metadata"]["name"] == "aureus-alerting"
    assert config["metadata"]["namespace"] == "team-a"
    assert config["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    route = config["spec"]["route"]
    assert route["receiver"] == NO_RECEIVER
    assert route["matchers"] == [{"name": "vigil_stack", "matchType": "=", "value": "team-a/aureus"}]
    assert (route["groupBy"], route["groupWait"], route["repeatInterval"]) == (["alertname", "job"], "30s", "1h")
    assert route["routes"] == [
        {
            "receiver": "pager",
            "matchers": [{"name": "severity", "matchType": "=~", "value": "critical"}],
            "continue": True,
        },
        # info is not raised by these bundles: the receiver takes their warnings only.
        {
            "receiver": "chat",
            "matchers": [{"name": "severity", "matchType": "=~", "value": "warning"}],
            "continue": True,
        },
        {"receiver": "hook", "continue": True},
    ]
    assert "inhibitRules" not in config["spec"]


def test_receivers_reference_secrets() -> None:
    (config,) = render_stack_alertmanager_config(OWNER, _alerting(), {"critical", "warning", "info"}, {})
    receivers = {r["name"]: r for r in config["spec"]["receivers"]}
    assert receivers[NO_RECEIVER] == {"name": NO_RECEIVER}
    assert receivers["pager"]["pagerdutyConfigs"] == [{"routingKey": SECRET, "sendResolved": True}]
    assert receivers["chat"]["slackConfigs"] == [{"apiURL": SECRET, "channel": "#a", "sendResolved": True}]


def _stack(**spec: Any) -> MonitoringStack:
    return MonitoringStack.model_validate(stack("aureus", sinks={"names": ["s"]}, **spec))


SINKS = [TelemetrySink.model_validate(sink("s", signals=["traces"], debug={}))]


def _render(model: MonitoringStack, ctx: RenderContext) -> StackRender:
    return render_stack(model, build_collector_config(model, SINKS), ctx)


def test_the_stack_renders_its_config_with_its_prometheus_labels() -> None:
    rendered = _render(
        _stack(ruleBundles=[{"name": "collector"}], alerting={"receivers": RECEIVERS}, prometheusLabels={"a": "b"}),
        RenderContext(uid="u-1"),
    )
    (config,) = [o for o in rendered.objects if o["kind"] == "AlertmanagerConfig"]
    assert config["metadata"]["labels"]["a"] == "b"
    assert config["metadata"]["labels"]["vigil.dev/owner-kind"] == "MonitoringStack"
    # collector raises critical and warning only
    assert config["spec"]["route"]["routes"][1]["matchers"][0]["value"] == "warning"


def test_a_stack_without_alerting_has_no_config() -> None:
    rendered = _render(_stack(ruleBundles=[{"name": "collector"}]), RenderContext())
    assert "AlertmanagerConfig" not in {o["kind"] for o in rendered.objects}


def test_cluster_scope_follows_the_context() -> None:
    spec = {"ruleBundles": [{"name": "orchestrator", "scope": "cluster"}]}
    with pytest.raises(RenderError, match="not allowed for stacks"):
        _render(_stack(**spec), RenderContext())
    rendered = _render(_stack(**spec), RenderContext(cluster_rule_namespaces=frozenset({"team-a"})))
    assert "PrometheusRule" in {o["kind"] for o in rendered.objects}


def test_the_operators_plan_keeps_the_cluster_scope_allowance() -> None:
    doc = stack("aureus", sinks={"names": ["s"]}, ruleBundles=[{"name": "orchestrator", "scope": "cluster"}])
    inputs = build_from_documents(doc, [sink("s", signals=["traces"], debug={})])
    assert not isinstance(inputs, list)
    refused = plan_stack(inputs, {}, RenderContext(uid="u"))
    assert refused.error is not None
    assert refused.error.reason == "ClusterScopeNotAllowed"
    allowed = plan_stack(inputs, {}, RenderContext(uid="u", cluster_rule_namespaces=frozenset({"team-a"})))
    assert allowed.error is None
