"""The stack pipeline: selection stays in the namespace, the config is built once, the plan."""

from __future__ import annotations

from types import MappingProxyType

from tests.helpers import sink, stack
from vigil.models.sink import TelemetrySink
from vigil.models.stack import MonitoringStack
from vigil.pipeline import build_from_documents, build_stack, select_sinks


def _sink(name: str, namespace: str = "team-a", **labels: str) -> TelemetrySink:
    doc = sink(name, labels=labels, signals=["logs"], debug={})
    doc["metadata"]["namespace"] = namespace
    return TelemetrySink.model_validate(doc)


def _stack(**sinks: object) -> MonitoringStack:
    return MonitoringStack.model_validate(stack("s", sinks=sinks))


def test_names_and_selector_are_combined_and_sorted() -> None:
    picked = select_sinks(
        _stack(names=["z"], selector={"matchLabels": {"team": "a"}}),
        [_sink("z"), _sink("b", team="a"), _sink("c", team="b")],
    )
    assert [s.metadata.name for s in picked[0]] == ["b", "z"]
    assert picked[1] == []


def test_other_namespaces_are_never_selected() -> None:
    picked = select_sinks(
        _stack(names=["x"], selector={}),
        [_sink("x", namespace="team-b"), _sink("y", namespace="team-b")],
    )
    assert picked == ([], ["x"])


def test_match_expressions() -> None:
    sel = {
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["gold"]},
            {"key": "off", "operator": "DoesNotExist"},
        ]
    }
    picked = select_sinks(
        _stack(selector=sel),
        [_sink("a", tier="gold"), _sink("b", tier="gold", off="1"), _sink("c", tier="x")],
    )
    assert [s.metadata.name for s in picked[0]] == ["a"]


def test_build_reads_the_read_only_mappings_kopf_hands_over() -> None:
    doc = stack("s", sinks={"names": ["a"]})
    doc["metadata"]["namespace"] = "team-a"
    built = build_from_documents(MappingProxyType(doc), [MappingProxyType(_sink("a").model_dump(by_alias=True))])
    assert not isinstance(built, list), built
    assert [s.metadata.name for s in built.sinks] == ["a"]
    assert built.config is not None


def _health_stack(**spec: object) -> MonitoringStack:
    return MonitoringStack.model_validate(
        stack("s", sinks={"selector": {}}, healthChecks=[{"name": "api", "url": "http://api:8080/ready"}], **spec)
    )


def test_a_metric_prefix_that_hides_the_health_checks_from_their_bundle_is_a_warning() -> None:
    prefixed = TelemetrySink.model_validate(sink("prom", signals=["metrics"], prometheus={"namespace": "aureus"}))
    plain = TelemetrySink.model_validate(sink("rw", signals=["metrics"], prometheusRemoteWrite={"url": "http://m/w"}))
    build = build_stack(_health_stack(ruleBundles=[{"name": "health-checks"}]), [prefixed, plain])
    assert build.error is None
    (warning,) = build.warnings
    assert warning.path == "TelemetrySink/prom: spec.prometheus.namespace"
    assert "aureus_httpcheck_*" in warning.message
    assert warning.reason == "HealthCheckMetricsRenamed"
    by_dashboard = build_stack(_health_stack(dashboards={"names": ["health-checks"]}), [prefixed])
    assert len(by_dashboard.warnings) == 1
    # Without the bundle or dashboard, or without checks, the prefix is the user's business.
    assert build_stack(_health_stack(), [prefixed]).warnings == ()
    no_checks = MonitoringStack.model_validate(
        stack("s", sinks={"selector": {}}, ruleBundles=[{"name": "health-checks"}])
    )
    assert build_stack(no_checks, [prefixed]).warnings == ()
