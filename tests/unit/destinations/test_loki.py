"""loki: Loki's OTLP endpoint through otlp_http, the tenant as X-Scope-OrgID, logs only."""

from __future__ import annotations

import pytest
import yaml

from tests.helpers import sink, stack
from vigil.models.sink import TelemetrySink
from vigil.models.stack import MonitoringStack
from vigil.parse import parse_document
from vigil.render.collector_config import build_collector_config

SECRET = {"valueFrom": {"secretKeyRef": {"name": "loki", "key": "token"}}}

# (spec, path, message fragment), as `vigil validate` prints them; test_cel_twins reads these.
INVALID = {
    "loki-traces": (
        {"signals": ["traces", "logs"], "loki": {"endpoint": "http://loki:3100/otlp"}},
        "spec",
        "loki sinks carry logs only: set signals to [logs]",
    ),
    "loki-not-a-url": ({"signals": ["logs"], "loki": {"endpoint": "loki:3100"}}, "spec.loki", "must be an http://"),
    "loki-tenant-twice": (
        {
            "signals": ["logs"],
            "loki": {
                "endpoint": "http://loki:3100/otlp",
                "tenant": "a",
                "headers": [{"name": "x-scope-orgid", "value": "b"}],
            },
        },
        "spec.loki",
        "tenant sets the X-Scope-OrgID header",
    ),
    "loki-endpoint-with-credentials": (
        {"signals": ["logs"], "loki": {"endpoint": "http://team:pw@loki:3100/otlp"}},
        "spec.loki",
        "endpoint must not contain credentials (user:password@): send credentials as a header from a Secret",
    ),
    "loki-tenant-syntax": (
        {"signals": ["logs"], "loki": {"endpoint": "http://loki:3100/otlp", "tenant": "a/b"}},
        "spec.loki.tenant",
        "should match",
    ),
}


@pytest.mark.parametrize(("spec", "path", "message"), INVALID.values(), ids=INVALID.keys())
def test_invalid_loki_sinks_name_the_field(spec: dict, path: str, message: str) -> None:
    problems = parse_document(sink(**spec))
    assert isinstance(problems, list), "expected a rejection"
    found = [(p.path, p.message) for p in problems]
    assert any(p == path and message in m for p, m in found), found


def _exporter(**loki: object) -> dict:
    model = MonitoringStack.model_validate(stack("shop", sinks={"names": ["logs"]}))
    sinks = [TelemetrySink.model_validate(sink("logs", signals=["logs"], loki=loki))]
    config = yaml.safe_load(build_collector_config(model, sinks).text)
    assert config["service"]["pipelines"]["logs"]["exporters"] == ["otlp_http/logs"]
    return dict(config["exporters"]["otlp_http/logs"])


def test_tenant_becomes_the_org_id_header_and_credentials_stay_in_env() -> None:
    exporter = _exporter(
        endpoint="https://loki.example.com/otlp",
        tenant="team-a",
        headers=[{"name": "Authorization", **SECRET}],
    )
    assert exporter["endpoint"] == "https://loki.example.com/otlp"
    assert exporter["headers"] == {
        "Authorization": "${env:VIGIL_LOGS_HEADER_AUTHORIZATION}",
        "X-Scope-OrgID": "team-a",
    }


def test_without_tenant_no_org_id_is_sent() -> None:
    assert "headers" not in _exporter(endpoint="http://loki:3100/otlp")
