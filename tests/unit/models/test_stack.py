"""MonitoringStack: defaults, valid shapes, and every invalid shape with its field path."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import stack
from vigil.models.stack import MonitoringStack
from vigil.parse import Parsed, parse_document

NAMES = {"names": ["console"]}
REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
NODE_TERM = f"spec.collector.affinity.nodeAffinity.{REQUIRED}.nodeSelectorTerms[0]"


def required_nodes(*expressions: dict[str, Any]) -> dict[str, Any]:
    """spec.collector with required node affinity on ``expressions``."""
    terms = [{"matchExpressions": list(expressions)}]
    return {"affinity": {"nodeAffinity": {REQUIRED: {"nodeSelectorTerms": terms}}}}


def pod_terms(kind: str, *terms: dict[str, Any]) -> dict[str, Any]:
    """spec.collector with required pod (anti-)affinity ``terms``."""
    return {"affinity": {kind: {REQUIRED: list(terms)}}}


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
    # --- pod fields: the Kubernetes schemas, and nothing that undoes the restricted pod ---------
    "quantity-not-a-quantity": (
        {"sinks": NAMES, "collector": {"resources": {"limits": {"memory": "1.2.3Gi"}}}},
        "spec.collector.resources.limits.memory",
        "should match",
    ),
    "quantity-bad-suffix": (
        {"sinks": NAMES, "collector": {"resources": {"requests": {"cpu": "1Kim"}}}},
        "spec.collector.resources.requests.cpu",
        "should match",
    ),
    "quantity-negative": (
        {"sinks": NAMES, "collector": {"resources": {"requests": {"cpu": "-1"}}}},
        "spec.collector.resources.requests.cpu",
        "should match",
    ),
    "requests-above-limits": (
        {"sinks": NAMES, "collector": {"resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "512Mi"}}}},
        "spec.collector.resources",
        "requests must not be more than limits",
    ),
    "pod-label-key-with-space": (
        {"sinks": NAMES, "collector": {"podLabels": {"team name": "a"}}},
        "spec.collector.podLabels",
        "each key must be a label key",
    ),
    "pod-label-name-too-long": (
        {"sinks": NAMES, "collector": {"podLabels": {"example.com/" + "n" * 64: "a"}}},
        "spec.collector.podLabels",
        "each key must be a label key",
    ),
    "pod-label-value-invalid": (
        {"sinks": NAMES, "collector": {"podLabels": {"team": "a b"}}},
        "spec.collector.podLabels.team",
        "should match",
    ),
    "pod-label-vigil-selects-by": (
        {"sinks": NAMES, "collector": {"podLabels": {"app.kubernetes.io/instance": "payments"}}},
        "spec.collector",
        "podLabels must not set app.kubernetes.io/managed-by",
    ),
    "pod-annotation-key-invalid": (
        {"sinks": NAMES, "collector": {"podAnnotations": {"/x": "y"}}},
        "spec.collector.podAnnotations",
        "each key must be an annotation key",
    ),
    "pod-annotation-apparmor-unconfined": (
        {
            "sinks": NAMES,
            "collector": {
                "podAnnotations": {"container.apparmor.security.beta.kubernetes.io/otel-collector": "unconfined"}
            },
        },
        "spec.collector",
        "podAnnotations must not set vigil.dev/, AppArmor or seccomp",
    ),
    "pod-annotation-config-hash": (
        {"sinks": NAMES, "collector": {"podAnnotations": {"vigil.dev/config-hash": "0"}}},
        "spec.collector",
        "podAnnotations must not set vigil.dev/",
    ),
    "node-selector-control-plane": (
        {"sinks": NAMES, "collector": {"nodeSelector": {"node-role.kubernetes.io/control-plane": ""}}},
        "spec.collector",
        "nodeSelector must not select control-plane nodes",
    ),
    "priority-class-system": (
        {"sinks": NAMES, "collector": {"priorityClassName": "system-node-critical"}},
        "spec.collector",
        "priorityClassName must not be a system- class",
    ),
    "toleration-of-everything": (
        {"sinks": NAMES, "collector": {"tolerations": [{"operator": "Exists"}]}},
        "spec.collector.tolerations[0]",
        "key is required: a toleration without a key tolerates every taint",
    ),
    "toleration-of-control-plane": (
        {
            "sinks": NAMES,
            "collector": {"tolerations": [{"key": "node-role.kubernetes.io/master", "operator": "Exists"}]},
        },
        "spec.collector.tolerations[0]",
        "tolerations must not tolerate control-plane taints",
    ),
    "toleration-exists-with-value": (
        {"sinks": NAMES, "collector": {"tolerations": [{"key": "dedicated", "operator": "Exists", "value": "x"}]}},
        "spec.collector.tolerations[0]",
        "value must be empty when operator is Exists",
    ),
    "toleration-seconds-without-noexecute": (
        {"sinks": NAMES, "collector": {"tolerations": [{"key": "a", "effect": "NoSchedule", "tolerationSeconds": 5}]}},
        "spec.collector.tolerations[0]",
        "tolerationSeconds applies to effect NoExecute only",
    ),
    "toleration-key-invalid": (
        {"sinks": NAMES, "collector": {"tolerations": [{"key": "a b", "operator": "Exists"}]}},
        "spec.collector.tolerations[0].key",
        "must be a label key",
    ),
    "affinity-unknown-operator": (
        {"sinks": NAMES, "collector": required_nodes({"key": "zone", "operator": "Near", "values": ["a"]})},
        f"{NODE_TERM}.matchExpressions[0].operator",
        "Unsupported value",
    ),
    "affinity-in-without-values": (
        {"sinks": NAMES, "collector": required_nodes({"key": "zone", "operator": "In"})},
        f"{NODE_TERM}.matchExpressions[0]",
        "values must be non-empty for In/NotIn",
    ),
    "affinity-gt-not-an-integer": (
        {"sinks": NAMES, "collector": required_nodes({"key": "cores", "operator": "Gt", "values": ["x"]})},
        f"{NODE_TERM}.matchExpressions[0]",
        "Gt and Lt take exactly one value, an integer",
    ),
    "affinity-control-plane": (
        {
            "sinks": NAMES,
            "collector": required_nodes({"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}),
        },
        f"{NODE_TERM}.matchExpressions[0]",
        "node affinity may only keep off control-plane nodes",
    ),
    "affinity-without-topology-key": (
        {"sinks": NAMES, "collector": pod_terms("podAntiAffinity", {"labelSelector": {"matchLabels": {"app": "x"}}})},
        "spec.collector.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
        "Required value",
    ),
    "affinity-other-namespaces": (
        {
            "sinks": NAMES,
            "collector": pod_terms(
                "podAffinity", {"topologyKey": "kubernetes.io/hostname", "namespaces": ["payments"]}
            ),
        },
        "spec.collector.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].namespaces",
        "unknown field",
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
