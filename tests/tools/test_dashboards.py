"""Dashboards against the real tools: grafana-foundation-sdk's models, the GrafanaDashboard CRD
schema, Kubernetes' ConfigMap schema, and the metrics a real collector exposes."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard
from prometheus_client.parser import text_string_to_metric_families

from tests.harness import collector, otlp
from tests.harness.schemas import KUBERNETES_VERSION, validate_against_crd
from tests.harness.tools import require
from tests.helpers import sink, stack
from tests.unit.dashboards.inventory import committed, expressions, metric_names
from vigil.models.dashboards import DASHBOARD_NAMES, DashboardSelection
from vigil.models.sink import TelemetrySink
from vigil.models.stack import MonitoringStack
from vigil.render import meta
from vigil.render.collector_config import build_collector_config
from vigil.render.dashboards import INLINE_JSON_LIMIT, render_dashboards

OWNER = meta.Owner("MonitoringStack", "shop", "team-a", uid="0d5c2a9e-1111-2222-3333-444455556666")
ALL = list(DASHBOARD_NAMES)
OPERATOR = {
    "names": ALL,
    "mode": "grafanaOperator",
    "instanceSelector": {
        "matchLabels": {"dashboards": "grafana"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["ops"]}],
    },
    "allowCrossNamespaceImport": True,
    "folder": {"name": "Shop"},
}
SCRAPE_DEADLINE_S = 30.0


def _id(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


@pytest.mark.parametrize("name", ALL)
def test_dashboards_load_into_the_sdk_models_without_loss(name: str) -> None:
    data = committed()[name]
    model = Dashboard.from_json(data)
    again = json.loads(json.dumps(model, cls=JSONEncoder))
    assert again == data
    assert model.uid == f"vigil-{name}"
    assert model.panels is not None
    assert len(model.panels) == len(data["panels"])


def test_the_round_trip_check_can_fail() -> None:
    data = json.loads(json.dumps(committed()["aureus-overview"]))
    data["panels"][1]["fieldConfig"]["defaults"]["unitt"] = "s"  # not in the model: dropped
    again = json.loads(json.dumps(Dashboard.from_json(data), cls=JSONEncoder))
    assert again != data


GRAFANA_DASHBOARDS = list(render_dashboards(OWNER, DashboardSelection.model_validate(OPERATOR)).objects)


@pytest.mark.parametrize("obj", GRAFANA_DASHBOARDS, ids=_id)
def test_grafana_dashboards_match_the_grafana_operator_crd(obj: dict[str, Any]) -> None:
    validate_against_crd(obj)


def test_gzip_json_matches_the_crd_too() -> None:
    big = {"uid": "vigil-big", "title": "Big", "panels": [], "description": "a" * INLINE_JSON_LIMIT}
    sel = DashboardSelection.model_validate({**OPERATOR, "names": ["aureus-overview"]})
    (obj,) = render_dashboards(OWNER, sel, source=lambda _: big).objects
    assert "gzipJson" in obj["spec"]
    validate_against_crd(obj)


def test_the_grafana_operator_schema_check_can_fail() -> None:
    obj = json.loads(json.dumps(GRAFANA_DASHBOARDS[0]))
    obj["spec"]["instanceSelector"] = "dashboards=grafana"
    with pytest.raises(jsonschema.ValidationError):
        validate_against_crd(obj)
    typo = json.loads(json.dumps(GRAFANA_DASHBOARDS[0]))
    typo["spec"]["folderName"] = "Shop"
    with pytest.raises(jsonschema.ValidationError):
        validate_against_crd(typo)


CONFIG_MAPS = list(
    render_dashboards(
        OWNER,
        DashboardSelection.model_validate(
            {
                "names": ALL,
                "sidecarLabel": {"key": "example.com/dashboard", "value": "yes"},
                "folder": {"annotation": "example.com/folder", "name": "Shop / Ops"},
            }
        ),
    ).objects
)


@pytest.mark.parametrize("obj", CONFIG_MAPS, ids=_id)
def test_config_maps_pass_kubernetes_validate_strict(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


# The real collector, configured by Vigil: the metrics the collector dashboard reads exist.


@pytest.fixture
def running_collector(tmp_path: Path) -> Iterator[collector.RunningCollector]:
    """A collector rendered by Vigil with a debug sink and an OTLP sink nobody answers."""
    require("otelcol-vigil")
    sinks = [
        sink("console", signals=["traces"], debug={"verbosity": "basic"}),
        sink(
            "nowhere",
            signals=["traces"],
            otlp={"endpoint": "127.0.0.1:1", "protocol": "grpc", "tls": {"insecure": True}},
        ),
    ]
    model = MonitoringStack.model_validate(stack("health", sinks={"selector": {}}))
    built = build_collector_config(model, [TelemetrySink.model_validate(s) for s in sinks])
    running = collector.run(built.text, tmp_path, {e.name: e.value or "" for e in built.env})
    yield running
    running.stop()


def _scrape(running: collector.RunningCollector) -> dict[str, set[str]]:
    url = f"http://127.0.0.1:{running.port(8888)}/metrics"
    with urllib.request.urlopen(url, timeout=2) as resp:
        text = resp.read().decode()
    out: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, set()).update(sample.labels)
    return out


def test_the_collector_exposes_what_the_collector_dashboard_reads(
    running_collector: collector.RunningCollector,
) -> None:
    otlp.send_traces(f"http://127.0.0.1:{running_collector.port(4318)}", 5)
    # Present once spans went through; failures, drops and refusals need a failing pipeline.
    expected = {
        "otelcol_receiver_accepted_spans_total": {"receiver", "transport"},
        "otelcol_receiver_refused_spans_total": {"receiver", "transport"},
        "otelcol_exporter_sent_spans_total": {"exporter"},
        "otelcol_exporter_queue_size": {"exporter", "data_type"},
        "otelcol_exporter_queue_capacity": {"exporter", "data_type"},
        "otelcol_processor_memory_limiter_accepted_spans_total": {"processor"},
        "otelcol_process_cpu_seconds_total": set(),
        "otelcol_process_memory_rss_bytes": set(),
        "otelcol_process_runtime_heap_alloc_bytes": set(),
        "otelcol_process_uptime_seconds_total": set(),
    }
    used = {m for e in expressions(committed()["collector-health"]) for m in metric_names(e.parse())}
    assert set(expected) <= used
    end = time.monotonic() + SCRAPE_DEADLINE_S
    seen: dict[str, set[str]] = {}
    while time.monotonic() < end:
        seen = _scrape(running_collector)
        if set(expected) <= set(seen):
            break
        time.sleep(0.5)
    missing = sorted(set(expected) - set(seen))
    assert missing == [], f"not exposed by the collector: {missing}"
    for name, labels in expected.items():
        assert labels <= seen[name], (name, seen[name])
