"""MonitoringStack: defaults, valid shapes, and every invalid shape with its field path."""

from __future__ import annotations

import pytest

from tests.helpers import stack
from vigil.models.stack import MonitoringStack
from vigil.parse import Parsed, parse_document

NAMES = {"names": ["console"]}


def test_defaults() -> None:
    parsed = MonitoringStack.model_validate(stack(sinks=NAMES))
    spec = parsed.spec
    assert spec.collector.replicas == 1
    assert spec.collector.image is None  # the operator's --collector-image
    assert spec.collector.resources.requests == {"cpu": "100m", "memory": "256Mi"}
    assert spec.collector.resources.limits == {"memory": "512Mi"}
    assert (spec.receivers.otlp.grpc.port, spec.receivers.otlp.http.port) == (4317, 4318)
    assert spec.self_monitoring.enabled is True
    assert spec.prometheus_labels is None


def test_scrape_selector_defaults_to_monitoring_enabled() -> None:
    parsed = MonitoringStack.model_validate(stack(sinks=NAMES, scrape=[{"name": "apps"}]))
    entry = parsed.spec.scrape[0]
    assert entry.selector.match_labels == {"monitoring": "enabled"}
    assert (entry.port, entry.path, entry.interval, entry.scrape_timeout) == (
        "metrics",
        "/metrics",
        "30s",
        "10s",
    )


def test_integer_quantities_are_accepted() -> None:
    parsed = MonitoringStack.model_validate(
        stack(
            sinks=NAMES,
            collector={"resources": {"requests": {"cpu": 1}, "limits": {"memory": "1Gi"}}},
        )
    )
    assert parsed.spec.collector.resources.requests == {"cpu": "1"}


HOOK = {"name": "hook", "webhook": {"url": "http://bot.ops.svc:8080/alerts"}}


def test_bundles_default_to_namespace_scope_and_alerting_takes_receivers() -> None:
    parsed = parse_document(
        stack(
            sinks=NAMES,
            ruleBundles=[{"name": "aureus"}, {"name": "orchestrator", "scope": "cluster"}],
            alerting={"receivers": [{**HOOK, "severities": ["critical"]}], "routing": {"repeatInterval": "1h"}},
        )
    )
    assert isinstance(parsed, Parsed)
    spec = parsed.model.spec  # type: ignore[attr-defined]
    assert [b.scope for b in spec.rule_bundles] == ["namespace", "cluster"]
    assert spec.alerting.receivers[0].severities == ["critical"]
    assert spec.alerting.effective_routing.repeat_interval == "1h"
    assert spec.alerting.effective_routing.group_wait == "30s"


INVALID = {
    "no-sinks": ({}, "spec.sinks", "Required value"),
    "empty-sinks": ({"sinks": {}}, "spec.sinks", "select sinks by selector, by names, or both"),
    "bad-sink-name": ({"sinks": {"names": ["Not_A_Name"]}}, "spec.sinks.names[0]", "should match"),
    "replicas-zero": (
        {"sinks": NAMES, "collector": {"replicas": 0}},
        "spec.collector.replicas",
        "greater than or equal to 1",
    ),
    "replicas-too-many": (
        {"sinks": NAMES, "collector": {"replicas": 51}},
        "spec.collector.replicas",
        "less than or equal to 50",
    ),
    "bad-quantity": (
        {"sinks": NAMES, "collector": {"resources": {"limits": {"memory": "lots"}}}},
        "spec.collector.resources.limits.memory",
        "should match",
    ),
    "bad-resource-name": (
        {"sinks": NAMES, "collector": {"resources": {"limits": {"gpu": "1"}}}},
        "spec.collector.resources.limits.gpu.[key]",
        "Unsupported value",
    ),
    "bad-pull-policy": (
        {"sinks": NAMES, "collector": {"imagePullPolicy": "Sometimes"}},
        "spec.collector.imagePullPolicy",
        "Unsupported value",
    ),
    "port-zero": (
        {"sinks": NAMES, "receivers": {"otlp": {"grpc": {"port": 0}}}},
        "spec.receivers.otlp.grpc.port",
        "greater than or equal to 1",
    ),
    "port-too-high": (
        {"sinks": NAMES, "receivers": {"otlp": {"http": {"port": 65536}}}},
        "spec.receivers.otlp.http.port",
        "less than or equal to 65535",
    ),
    "both-listeners-off": (
        {
            "sinks": NAMES,
            "receivers": {"otlp": {"grpc": {"enabled": False}, "http": {"enabled": False}}},
        },
        "spec.receivers.otlp",
        "enable at least one of grpc and http",
    ),
    "same-ports": (
        {"sinks": NAMES, "receivers": {"otlp": {"http": {"port": 4317}}}},
        "spec.receivers.otlp",
        "grpc and http need different ports",
    ),
    "scrape-timeout-above-interval": (
        {"sinks": NAMES, "scrape": [{"name": "a", "interval": "10s", "scrapeTimeout": "1m"}]},
        "spec.scrape[0]",
        "scrapeTimeout must not be longer than interval",
    ),
    "scrape-bad-interval": (
        {"sinks": NAMES, "scrape": [{"name": "a", "interval": "1d"}]},
        "spec.scrape[0].interval",
        "should match",
    ),
    "scrape-bad-port-name": (
        {"sinks": NAMES, "scrape": [{"name": "a", "port": "Metrics_Port"}]},
        "spec.scrape[0].port",
        "should match",
    ),
    "scrape-no-name": ({"sinks": NAMES, "scrape": [{}]}, "spec.scrape[0].name", "Required value"),
    "selector-in-without-values": (
        {"sinks": {"selector": {"matchExpressions": [{"key": "team", "operator": "In"}]}}},
        "spec.sinks.selector.matchExpressions[0]",
        "values must be non-empty for In/NotIn",
    ),
    "selector-exists-with-values": (
        {"sinks": {"selector": {"matchExpressions": [{"key": "team", "operator": "Exists", "values": ["a"]}]}}},
        "spec.sinks.selector.matchExpressions[0]",
        "values must be non-empty for In/NotIn and empty for Exists/DoesNotExist",
    ),
    "unknown-field": (
        {"sinks": NAMES, "colector": {}},
        "spec.colector",
        'unknown field "spec.colector"',
    ),
    "alerting-without-bundles": (
        {"sinks": NAMES, "alerting": {"receivers": [HOOK]}},
        "spec",
        "alerting routes the alerts of ruleBundles: select a rule bundle or remove alerting",
    ),
    "alerting-without-receivers": (
        {"sinks": NAMES, "ruleBundles": [{"name": "aureus"}], "alerting": {"receivers": []}},
        "spec.alerting.receivers",
        "should have at least 1 item",
    ),
    "alerting-receivers-twice": (
        {"sinks": NAMES, "ruleBundles": [{"name": "aureus"}], "alerting": {"receivers": [HOOK, HOOK]}},
        "spec.alerting.receivers",
        'Duplicate value: "hook"',
    ),
    "alerting-receiver-two-types": (
        {
            "sinks": NAMES,
            "ruleBundles": [{"name": "aureus"}],
            "alerting": {"receivers": [{**HOOK, "pagerduty": {"routingKey": {"name": "pd", "key": "k"}}}]},
        },
        "spec.alerting.receivers[0]",
        "set exactly one receiver type",
    ),
    "bundle-unknown-scope": (
        {"sinks": NAMES, "ruleBundles": [{"name": "aureus", "scope": "everything"}]},
        "spec.ruleBundles[0].scope",
        'supported values: "namespace", "cluster"',
    ),
}


@pytest.mark.parametrize(("spec", "path", "message"), INVALID.values(), ids=INVALID.keys())
def test_invalid_stacks_name_the_field(spec: dict, path: str, message: str) -> None:
    problems = parse_document(stack(**spec))
    assert isinstance(problems, list), "expected a rejection"
    found = [(p.path, p.message) for p in problems]
    assert any(p == path and message in m for p, m in found), found


def test_wrong_api_version_is_reported() -> None:
    doc = stack(sinks=NAMES) | {"apiVersion": "vigil.dev/v1"}
    problems = parse_document(doc)
    assert isinstance(problems, list)
    assert problems[0].path == "apiVersion"
    assert 'supported values: "vigil.dev/v1alpha1"' in problems[0].message


def test_other_kinds_are_passed_over() -> None:
    assert parse_document({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}) is None
