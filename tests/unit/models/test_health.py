"""MonitoringStack health checks: defaults, the URL each shape calls, every invalid shape with its field."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import stack
from vigil.models.health import HealthCheck, seconds
from vigil.models.stack import MonitoringStack
from vigil.parse import parse_document

NAMES = {"names": ["console"]}
SERVICE = {"name": "api", "port": 8080}


def checks(*entries: dict[str, Any]) -> dict[str, Any]:
    """A stack spec with these health checks."""
    return {"sinks": NAMES, "healthChecks": list(entries)}


VALID = {
    "service": {"name": "api-ready", "service": {**SERVICE, "path": "/ready"}},
    "service-https": {
        "name": "api-tls",
        "service": {**SERVICE, "scheme": "https", "path": "/health?verbose=1"},
        "insecureSkipVerify": True,
    },
    "url": {"name": "km-status", "url": "http://km-server:5001/status"},
    "url-ipv4": {"name": "ip", "url": "http://10.0.0.7:8080/live", "method": "HEAD"},
    "url-ipv6": {"name": "ip6", "url": "http://[fd00::7]:8080/live"},
    "url-bare-host": {"name": "bare", "url": "https://status.example.com"},
    "classes": {"name": "auth", "url": "https://api.example.com/me", "expectedStatus": ["4xx", "2xx"]},
    "shortest": {"name": "fast", "service": SERVICE, "interval": "1s", "timeout": "500ms"},
    "longest": {"name": "slow", "service": SERVICE, "interval": "5m", "timeout": "5m"},
}


def test_defaults() -> None:
    parsed = MonitoringStack.model_validate(stack(**checks({"name": "api", "service": SERVICE})))
    (check,) = parsed.spec.health_checks
    assert (check.method, check.interval, check.timeout, check.expected_status) == ("GET", "30s", "5s", ["2xx"])
    assert check.service is not None
    assert (check.service.path, check.service.scheme) == ("/", "http")
    assert check.insecure_skip_verify is False
    assert MonitoringStack.model_validate(stack(sinks=NAMES)).spec.health_checks == []


@pytest.mark.parametrize("case", VALID.values(), ids=VALID.keys())
def test_valid_shapes(case: dict[str, Any]) -> None:
    assert not isinstance(parse_document(stack(**checks(case))), list)


def test_a_service_is_called_in_the_stacks_own_namespace() -> None:
    check = HealthCheck.model_validate({"name": "x", "service": {**SERVICE, "path": "/api/health/ready"}})
    assert check.target_url("shop") == "http://api.shop.svc:8080/api/health/ready"
    tls = HealthCheck.model_validate({"name": "x", "service": {**SERVICE, "scheme": "https"}})
    assert tls.target_url("shop") == "https://api.shop.svc:8080/"


def test_a_url_is_called_as_written() -> None:
    check = HealthCheck.model_validate({"name": "x", "url": "http://km-server.aet:5001/health"})
    assert check.target_url("shop") == "http://km-server.aet:5001/health"


def test_durations_in_seconds() -> None:
    assert seconds("1m30s") == 90
    assert seconds("500ms") == 0.5
    assert seconds("0s") == 0


INVALID = {
    "neither-target": (
        checks({"name": "a"}),
        "spec.healthChecks[0]",
        "set exactly one of service (a Service in this namespace, preferred) or url",
    ),
    "both-targets": (
        checks({"name": "a", "service": SERVICE, "url": "http://x/"}),
        "spec.healthChecks[0]",
        "set exactly one of service (a Service in this namespace, preferred) or url",
    ),
    "interval-below-1s": (
        checks({"name": "a", "service": SERVICE, "interval": "500ms", "timeout": "100ms"}),
        "spec.healthChecks[0]",
        "interval must be between 1s and 5m",
    ),
    "interval-above-5m": (
        checks({"name": "a", "service": SERVICE, "interval": "6m"}),
        "spec.healthChecks[0]",
        "interval must be between 1s and 5m (Prometheus forgets a series after 5m without a sample)",
    ),
    "timeout-above-interval": (
        checks({"name": "a", "service": SERVICE, "interval": "10s", "timeout": "11s"}),
        "spec.healthChecks[0]",
        "timeout must be above 0s and not longer than interval",
    ),
    "timeout-zero": (
        checks({"name": "a", "service": SERVICE, "timeout": "0s"}),
        "spec.healthChecks[0]",
        "timeout must be above 0s and not longer than interval",
    ),
    "skip-verify-on-http": (
        checks({"name": "a", "service": SERVICE, "insecureSkipVerify": True}),
        "spec.healthChecks[0]",
        "insecureSkipVerify applies to https only: remove it or use an https target",
    ),
    "skip-verify-on-http-url": (
        checks({"name": "a", "url": "http://x/", "insecureSkipVerify": True}),
        "spec.healthChecks[0]",
        "insecureSkipVerify applies to https only",
    ),
    "url-with-credentials": (
        checks({"name": "a", "url": "http://user:secret@api:8080/health"}),
        "spec.healthChecks[0].url",
        "should match",
    ),
    "url-without-scheme": (
        checks({"name": "a", "url": "api:8080/health"}),
        "spec.healthChecks[0].url",
        "should match",
    ),
    "url-other-scheme": (
        checks({"name": "a", "url": "ftp://files/health"}),
        "spec.healthChecks[0].url",
        "should match",
    ),
    "url-with-space": (
        checks({"name": "a", "url": "http://api/he alth"}),
        "spec.healthChecks[0].url",
        "should match",
    ),
    "url-with-newline": (
        checks({"name": "a", "url": "http://api/health\n"}),
        "spec.healthChecks[0].url",
        "should match",
    ),
    "path-without-slash": (
        checks({"name": "a", "service": {**SERVICE, "path": "health"}}),
        "spec.healthChecks[0].service.path",
        "should match",
    ),
    "service-name-not-dns": (
        checks({"name": "a", "service": {**SERVICE, "name": "Api_Server"}}),
        "spec.healthChecks[0].service.name",
        "should match",
    ),
    "service-in-another-namespace": (
        checks({"name": "a", "service": {**SERVICE, "namespace": "payments"}}),
        "spec.healthChecks[0].service.namespace",
        'unknown field "spec.healthChecks[0].service.namespace"',
    ),
    "service-port-zero": (
        checks({"name": "a", "service": {**SERVICE, "port": 0}}),
        "spec.healthChecks[0].service.port",
        "greater than or equal to 1",
    ),
    "service-without-port": (
        checks({"name": "a", "service": {"name": "api"}}),
        "spec.healthChecks[0].service.port",
        "Required value",
    ),
    "bad-method": (
        checks({"name": "a", "service": SERVICE, "method": "DELETE"}),
        "spec.healthChecks[0].method",
        "Unsupported value",
    ),
    "bad-status-class": (
        checks({"name": "a", "service": SERVICE, "expectedStatus": ["200"]}),
        "spec.healthChecks[0].expectedStatus[0]",
        "Unsupported value",
    ),
    "no-status-class": (
        checks({"name": "a", "service": SERVICE, "expectedStatus": []}),
        "spec.healthChecks[0].expectedStatus",
        "should have at least 1 item",
    ),
    "status-class-twice": (
        checks({"name": "a", "service": SERVICE, "expectedStatus": ["2xx", "2xx"]}),
        "spec.healthChecks[0].expectedStatus",
        'Duplicate value: "2xx"',
    ),
    "bad-interval": (
        checks({"name": "a", "service": SERVICE, "interval": "1.5s"}),
        "spec.healthChecks[0].interval",
        "should match",
    ),
    "bad-name": (
        checks({"name": "Api_Ready", "service": SERVICE}),
        "spec.healthChecks[0].name",
        "should match",
    ),
    "name-twice": (
        checks({"name": "a", "service": SERVICE}, {"name": "a", "url": "http://x/"}),
        "spec.healthChecks",
        'Duplicate value: "a": give each entry its own name',
    ),
}


@pytest.mark.parametrize(("spec", "path", "message"), INVALID.values(), ids=INVALID.keys())
def test_invalid_checks_name_the_field(spec: dict[str, Any], path: str, message: str) -> None:
    problems = parse_document(stack(**spec))
    assert isinstance(problems, list), "expected a rejection"
    found = [(p.path, p.message) for p in problems]
    assert any(p == path and message in m for p, m in found), found
