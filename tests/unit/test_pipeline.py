"""The stack pipeline: selection stays in the namespace, the config is built once, the plan."""

from __future__ import annotations

from types import MappingProxyType

from tests.helpers import sink, stack
from vigil.models.sink import TelemetrySink
from vigil.models.stack import MonitoringStack
from vigil.pipeline import StackBuild, build_from_documents, build_stack, plan_stack, select_sinks
from vigil.render.context import RenderContext


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


SECRET_HEADER = {"name": "Authorization", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}}


def _build(*sink_docs: dict[str, object], **stack_spec: object) -> StackBuild:
    doc = stack("shop", **({"sinks": {"selector": {}}} | stack_spec))
    doc["metadata"]["namespace"] = "team-a"
    for d in sink_docs:
        d["metadata"]["namespace"] = "team-a"
    built = build_from_documents(doc, list(sink_docs))
    assert not isinstance(built, list), built
    return built


def _gw() -> dict[str, object]:
    return sink("gw", signals=["traces"], otlp={"endpoint": "gw:4317", "headers": [SECRET_HEADER]})


def test_plan_names_the_field_of_a_missing_secret_and_renders_nothing() -> None:
    plan = plan_stack(_build(_gw()), {("Secret", "creds"): None}, RenderContext())
    assert plan.objects == []
    assert plan.error is not None
    assert plan.error.reason == "SecretNotFound"
    assert plan.error.path == "TelemetrySink/gw: spec.otlp.headers[0]"
    assert 'Secret "creds" not found in namespace "team-a"' in plan.error.message


def test_plan_rolls_the_collector_when_a_secret_changes_and_reports_its_children() -> None:
    built = _build(_gw())
    first = plan_stack(built, {("Secret", "creds"): "10"}, RenderContext())
    second = plan_stack(built, {("Secret", "creds"): "11"}, RenderContext())
    assert first.error is None
    assert first.status is not None
    assert second.status is not None
    assert first.status.config_hash != second.status.config_hash
    assert first.status.selected_sinks == ["gw"]
    assert [(r.kind, r.name) for r in first.status.generated_objects] == [
        (o["kind"], o["metadata"]["name"]) for o in first.objects
    ]
    deployment = next(o for o in first.objects if o["kind"] == "Deployment")
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["vigil.dev/config-hash"] == first.status.config_hash


def test_an_invalid_selected_sink_is_left_out_with_a_warning_and_the_rest_rolls_out() -> None:
    bad = sink("bad", signals=["traces"], otlp={"endpoint": "no port"})
    plan = plan_stack(_build(_gw(), bad), {("Secret", "creds"): "1"}, RenderContext())
    assert plan.error is None
    assert plan.status is not None
    assert plan.status.selected_sinks == ["gw"]
    (warning,) = plan.warnings
    assert warning.reason == "InvalidSink"
    assert warning.path == "TelemetrySink/bad"
    assert "spec.otlp: endpoint must be host:port" in warning.message


def test_a_stack_with_no_sink_selected_is_an_error_naming_spec_sinks() -> None:
    plan = plan_stack(_build(sinks={"names": ["nowhere"]}), {}, RenderContext())
    assert plan.error is not None
    assert (plan.error.reason, plan.error.path) == ("NoSinksSelected", "MonitoringStack/shop: spec.sinks")
    assert [w.reason for w in plan.warnings] == ["SinkNotFound"]


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
