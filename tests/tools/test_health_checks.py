"""Health checks end to end: a real HTTP service going down and up, the real collector running the
rendered config, its metrics in a real Prometheus, and the health-checks bundle's alerts firing and
resolving under real rule evaluation.

The collector checks every second and Prometheus evaluates every second. The bundle is rendered
from the stack's selection (threshold overrides included) with every ``for`` cut to 1s, so a
transition shows within seconds: the durations themselves are proven by promtool in
rules/tests/health-checks_test.yaml.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.harness import collector
from tests.harness.endpoint import HealthEndpoint
from tests.harness.process import eventually
from tests.harness.prometheus import Prometheus, start_prometheus
from tests.harness.tools import require
from tests.helpers import sink, stack
from tests.unit.dashboards.inventory import HTTPCHECK, committed, panels
from vigil.models.sink import TelemetrySink
from vigil.models.stack import MonitoringStack
from vigil.render import meta
from vigil.render.bundles import render_rule_bundles
from vigil.render.collector_config import build_collector_config

POD = "health-collector-7c9d4-k2p8x"
NAMESPACE = "team-a"  # tests.helpers.stack's
DEADLINE_S = 45.0
CHECK = {"interval": "1s", "timeout": "900ms"}


@pytest.fixture
def endpoint() -> Iterator[HealthEndpoint]:
    served = HealthEndpoint().start()
    yield served
    served.stop()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Callable[..., tuple[collector.RunningCollector, Prometheus]]]:
    """Start Prometheus with the stack's rule bundles, then the collector on the stack's config."""
    require("otelcol-vigil")
    binary = require("prometheus")
    started: list[Any] = []

    def _start(
        spec: dict[str, Any], sink_doc: dict[str, Any], scrape_sink: bool = False
    ) -> tuple[collector.RunningCollector, Prometheus]:
        model = MonitoringStack.model_validate(stack("health", sinks={"names": [sink_doc["metadata"]["name"]]}, **spec))
        rules = tmp_path / "rules.yaml"
        rules.write_text(yaml.safe_dump({"groups": _fast(_bundle_groups(model))}))
        workdir = tmp_path / "prometheus"
        workdir.mkdir()
        prom = start_prometheus(binary, workdir, rule_files=[rules])
        started.append(prom)
        if "prometheusRemoteWrite" in sink_doc["spec"]:
            sink_doc["spec"]["prometheusRemoteWrite"]["url"] = f"{prom.url}/api/v1/write"
        built = build_collector_config(model, [TelemetrySink.model_validate(sink_doc)])
        assert [e.name for e in built.env] == ["VIGIL_POD_NAME"]
        running = collector.run(built.text, tmp_path, {"VIGIL_POD_NAME": POD})
        started.append(running)
        if scrape_sink:  # the sink's port is known once the collector runs: Prometheus reloads
            _scrape(prom, workdir, f"127.0.0.1:{running.port(9464)}")
        return running, prom

    yield _start
    for process in reversed(started):
        process.stop()
    for process in started:
        if isinstance(process, collector.RunningCollector):
            log = process.process.log.read_text(errors="replace")
            assert "deprecated" not in log, "the collector warned about a deprecated setting:\n" + log


def _bundle_groups(model: MonitoringStack) -> list[dict[str, Any]]:
    (rule,) = render_rule_bundles(meta.owner_of(model, None), model.spec.rule_bundles, {})
    groups: list[dict[str, Any]] = rule["spec"]["groups"]
    return groups


def _fast(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The groups evaluated every second, each alert's ``for`` cut to 1s."""
    out = []
    for group in groups:
        rules = [{**r, "for": "1s"} if "for" in r else r for r in group["rules"]]
        out.append({**group, "interval": "1s", "rules": rules})
    return out


def _scrape(prom: Prometheus, workdir: Path, target: str) -> None:
    """Scrape the collector's prometheus sink as its ServiceMonitor does (honorLabels) and reload."""
    config = yaml.safe_load((workdir / "prometheus.yml").read_text())
    config["scrape_configs"] = [
        {
            "job_name": "health-collector-prom",
            "scrape_interval": "1s",
            "honor_labels": True,
            "static_configs": [{"targets": [target]}],
        }
    ]
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    request = urllib.request.Request(f"{prom.url}/-/reload", method="POST")
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status == 200


def _value(prom: Prometheus, promql: str) -> float | None:
    result = prom.query(promql)
    return float(result[0]["value"][1]) if len(result) == 1 else None


def _alerts(prom: Prometheus, name: str, check: str) -> list[dict[str, Any]]:
    """The pending and firing alerts ``name`` of health check ``check``."""
    alerts = prom.get("/api/v1/alerts")["data"]["alerts"]
    return [a for a in alerts if a["labels"]["alertname"] == name and a["labels"].get("health_check") == check]


def _firing(prom: Prometheus, name: str, check: str) -> dict[str, Any] | None:
    return next((a for a in _alerts(prom, name, check) if a["state"] == "firing"), None)


def _dashboard_queries() -> dict[str, str]:
    """Every panel query of the health-checks dashboard, variables set as a user would (all)."""
    grafana = {"$namespace": ".*", "$check": ".*", "$__range": "1m"}
    out = {}
    for panel in panels(committed()["health-checks"]):
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in grafana.items():
                expr = expr.replace(variable, value)
            out[f"{panel['title']} {target['refId']}"] = expr
    return out


def test_a_service_going_down_and_up_fires_and_resolves_health_check_down(
    services: Callable[..., tuple[collector.RunningCollector, Prometheus]], endpoint: HealthEndpoint
) -> None:
    url = f"{endpoint.url}/ready"
    _, prom = services(
        {"healthChecks": [{"name": "api-ready", "url": url, **CHECK}], "ruleBundles": [{"name": "health-checks"}]},
        sink("rw", signals=["metrics"], prometheusRemoteWrite={"url": "set-by-the-fixture"}),
    )
    up = 'health_check:up{health_check="api-ready"}'
    eventually(lambda: _value(prom, up) == 1, "api-ready up in Prometheus", DEADLINE_S)
    assert _alerts(prom, "HealthCheckDown", "api-ready") == []

    endpoint.stop()  # connection refused
    alert = eventually(lambda: _firing(prom, "HealthCheckDown", "api-ready"), "HealthCheckDown firing", DEADLINE_S)
    assert alert["labels"] == {
        "alertname": "HealthCheckDown",
        "severity": "critical",
        "namespace": NAMESPACE,
        "health_check": "api-ready",
        "http_url": url,
        "expected_status": "2xx",
        "vigil_stack": f"{NAMESPACE}/health",
    }
    errors = prom.query('httpcheck_error{health_check="api-ready"}')
    assert "connection refused" in errors[0]["metric"]["error_message"]
    assert errors[0]["metric"]["pod"] == POD
    # The dashboard shows it: every panel has data but the answers (there is none).
    queries = _dashboard_queries()
    empty = [title for title, expr in queries.items() if not prom.query(expr)]
    assert empty == ["Answers by status class A"]
    assert _value(prom, queries["Down A"]) == 1

    endpoint.start()
    eventually(lambda: _alerts(prom, "HealthCheckDown", "api-ready") == [], "HealthCheckDown resolved", DEADLINE_S)
    assert _value(prom, up) == 1

    endpoint.ready = False  # 503: an answer, but not an expected one
    eventually(lambda: _firing(prom, "HealthCheckDown", "api-ready"), "HealthCheckDown on 503", DEADLINE_S)
    answers = prom.query(queries["Answers by status class A"])
    assert [a["metric"]["http_status_class"] for a in answers] == ["5xx"]
    endpoint.ready = True
    eventually(lambda: _alerts(prom, "HealthCheckDown", "api-ready") == [], "resolved after 503", DEADLINE_S)

    # Every http_check metric the bundle and the dashboard read came through remote write.
    names = {s["metric"]["__name__"] for s in prom.query('count by (__name__) ({__name__=~"httpcheck_.+"})')}
    assert names >= HTTPCHECK


def test_a_slow_service_fires_health_check_slow_and_an_expected_401_is_up(
    services: Callable[..., tuple[collector.RunningCollector, Prometheus]], endpoint: HealthEndpoint
) -> None:
    endpoint.delay_s = 0.3
    running, prom = services(
        {
            "healthChecks": [
                {"name": "slow", "url": f"{endpoint.url}/slow", **CHECK},
                {"name": "me", "url": f"{endpoint.url}/me", "expectedStatus": ["4xx"], **CHECK},
                {"name": "wrong", "url": f"{endpoint.url}/me", **CHECK},
            ],
            "ruleBundles": [{"name": "health-checks", "thresholds": {"slowMilliseconds": 150}}],
        },
        sink("prom", signals=["metrics"], prometheus={"port": 9464}),
        scrape_sink=True,
    )
    alert = eventually(lambda: _firing(prom, "HealthCheckSlow", "slow"), "HealthCheckSlow firing", DEADLINE_S)
    assert alert["labels"]["severity"] == "warning"
    assert float(alert["value"]) > 150
    eventually(lambda: _firing(prom, "HealthCheckDown", "wrong"), "HealthCheckDown on an unexpected 401", DEADLINE_S)
    assert _value(prom, 'health_check:up{health_check="me"}') == 1
    assert _value(prom, 'health_check:up{health_check="slow"}') == 1
    assert _alerts(prom, "HealthCheckDown", "me") == []
    assert _alerts(prom, "HealthCheckSlow", "me") == []

    # What the sink serves: Vigil's labels, the receiver's, and no status code.
    with urllib.request.urlopen(f"http://127.0.0.1:{running.port(9464)}/metrics", timeout=5) as resp:
        families = {f.name: f for f in text_string_to_metric_families(resp.read().decode())}
    statuses = [s for s in families["httpcheck_status"].samples if s.labels["health_check"] == "me"]
    assert {s.labels["http_status_class"]: s.value for s in statuses} == {
        "1xx": 0,
        "2xx": 0,
        "3xx": 0,
        "4xx": 1,
        "5xx": 0,
    }
    for s in statuses:
        assert "http_status_code" not in s.labels
        assert s.labels["expected_status"] == "4xx"
        assert (s.labels["namespace"], s.labels["pod"], s.labels["http_method"]) == (NAMESPACE, POD, "GET")
        assert s.labels["http_url"] == f"{endpoint.url}/me"
    durations = {s.labels["health_check"]: s.value for s in families["httpcheck_duration_milliseconds"].samples}
    assert durations["slow"] >= 300
