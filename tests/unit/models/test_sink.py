"""TelemetrySink: valid shapes accepted, every invalid shape rejected with the field path."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.helpers import deep, sink
from vigil.models.sink import TelemetrySink
from vigil.parse import parse_document

SECRET = {"valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}}

VALID = {
    "otlp-grpc": {"signals": ["traces"], "otlp": {"endpoint": "tempo:4317"}},
    "otlp-grpc-https": {
        "signals": ["traces"],
        "otlp": {"endpoint": "https://tempo.example.com:443"},
    },
    "otlp-grpc-dns": {"signals": ["traces"], "otlp": {"endpoint": "dns:///tempo:4317"}},
    "otlp-http": {
        "signals": ["logs", "traces"],
        "otlp": {
            "endpoint": "https://otlp.example.com/otlp",
            "protocol": "http",
            "headers": [{"name": "X-Scope-OrgID", "value": "a"}],
        },
    },
    "remote-write-basic": {
        "signals": ["metrics"],
        "prometheusRemoteWrite": {
            "url": "http://mimir:8080/api/v1/push",
            "auth": {"basic": {"username": {"value": "u"}, "password": SECRET}},
        },
    },
    "prometheus": {
        "signals": ["metrics"],
        "prometheus": {"port": 9464, "constLabels": {"env": "prod"}},
    },
    "kafka-sasl-tls": {
        "signals": ["logs"],
        "kafka": {
            "brokers": ["k:9092"],
            "topic": "t",
            "sasl": {"username": {"value": "u"}, "password": SECRET},
            "tls": {"ca": {"configMapKeyRef": {"name": "ca", "key": "ca.crt"}}},
        },
    },
    "file": {"signals": ["logs"], "file": {"path": "/var/lib/vigil/out.jsonl", "rotation": {}}},
    "debug": {"signals": ["traces", "metrics", "logs"], "debug": {"verbosity": "detailed"}},
    "everything-common": {
        "signals": ["traces"],
        "otlp": {"endpoint": "c:4317"},
        "retry": {"maxElapsedTime": "0s"},
        "queue": {"size": 10},
        "batch": {"timeout": "1s"},
        "sampling": {"percentage": 0},
        "redact": {"hash": ["user.id"]},
    },
}


@pytest.mark.parametrize("spec", VALID.values(), ids=VALID.keys())
def test_valid_sinks_parse(spec: dict) -> None:
    parsed = TelemetrySink.model_validate(sink(**spec))
    assert parsed.spec.signals == spec["signals"]
    assert len(parsed.spec.destinations_set()) == 1


def test_defaults_are_applied() -> None:
    parsed = TelemetrySink.model_validate(sink(signals=["traces"], otlp={"endpoint": "c:4317"}))
    assert parsed.spec.otlp is not None
    assert parsed.spec.otlp.protocol == "grpc"
    assert parsed.spec.otlp.compression == "gzip"
    assert parsed.spec.otlp.timeout == "10s"


def test_round_trip_uses_camel_case() -> None:
    doc = sink(
        signals=["metrics"],
        prometheusRemoteWrite={"url": "http://p/api/v1/write", "externalLabels": {"a": "b"}},
    )
    dumped = TelemetrySink.model_validate(doc).model_dump(by_alias=True, exclude_none=True)
    assert dumped["spec"]["prometheusRemoteWrite"]["externalLabels"] == {"a": "b"}


def test_models_are_frozen() -> None:
    parsed = TelemetrySink.model_validate(sink(signals=["logs"], debug={}))
    with pytest.raises(ValidationError):
        parsed.spec.signals = ["traces"]  # type: ignore[misc]


# (spec, path, message fragment). Paths and messages are what `vigil validate` prints.
INVALID = {
    "header-value-with-escape": (
        {
            "signals": ["traces"],
            "otlp": {"endpoint": "c:4317", "headers": [{"name": "X-Tenant", "value": "a\x1b[2J"}]},
        },
        "spec.otlp.headers[0]",
        "value must not contain control characters such as CR or LF",
    ),
    "header-value-with-crlf": (
        {
            "signals": ["traces"],
            "otlp": {"endpoint": "c:4317", "headers": [{"name": "X-Tenant", "value": "a\r\nX-Injected: 1"}]},
        },
        "spec.otlp.headers[0]",
        "value must not contain control characters such as CR or LF",
    ),
    "otlp-grpc-endpoint-with-credentials": (
        {"signals": ["traces"], "otlp": {"endpoint": "user:pw@c:4317"}},
        "spec.otlp",
        "endpoint must not contain credentials (user:password@)",
    ),
    "otlp-http-endpoint-with-credentials": (
        {"signals": ["traces"], "otlp": {"endpoint": "https://user:pw@c:4318", "protocol": "http"}},
        "spec.otlp",
        "endpoint must not contain credentials (user:password@)",
    ),
    "remote-write-url-with-credentials": (
        {"signals": ["metrics"], "prometheusRemoteWrite": {"url": "https://user:pw@mimir/api/v1/push"}},
        "spec.prometheusRemoteWrite",
        "url must not contain credentials (user:password@): use auth.basic or auth.bearerToken",
    ),
    "remote-write-reserved-label": (
        {
            "signals": ["metrics"],
            "prometheusRemoteWrite": {"url": "http://m/push", "externalLabels": {"__name__": "x"}},
        },
        "spec.prometheusRemoteWrite.externalLabels",
        "label names must not start with __",
    ),
    "no-destination": ({"signals": ["logs"]}, "spec", "set exactly one destination"),
    "two-destinations": (
        {"signals": ["logs"], "debug": {}, "file": {"path": "/var/lib/vigil/b"}},
        "spec",
        "set exactly one destination",
    ),
    "empty-signals": ({"signals": [], "debug": {}}, "spec.signals", "should have at least 1 items"),
    "bad-signal": (
        {"signals": ["events"], "debug": {}},
        "spec.signals[0]",
        'Unsupported value: "events"',
    ),
    "missing-signals": ({"debug": {}}, "spec.signals", "Required value"),
    "unknown-field": (
        {"signals": ["logs"], "debug": {}, "colour": "red"},
        "spec.colour",
        'unknown field "spec.colour"',
    ),
    "header-both": (
        {
            "signals": ["traces"],
            "otlp": {"endpoint": "c:4317", "headers": [{"name": "A", "value": "x", **SECRET}]},
        },
        "spec.otlp.headers[0]",
        "set exactly one of value or valueFrom.secretKeyRef",
    ),
    "header-neither": (
        {"signals": ["traces"], "otlp": {"endpoint": "c:4317", "headers": [{"name": "A"}]}},
        "spec.otlp.headers[0]",
        "set exactly one of value or valueFrom.secretKeyRef",
    ),
    "header-bad-name": (
        {
            "signals": ["traces"],
            "otlp": {"endpoint": "c:4317", "headers": [{"name": "Bad Header", "value": "x"}]},
        },
        "spec.otlp.headers[0].name",
        "should match",
    ),
    "secret-without-key": (
        {
            "signals": ["traces"],
            "otlp": {
                "endpoint": "c:4317",
                "headers": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s"}}}],
            },
        },
        "spec.otlp.headers[0].valueFrom.secretKeyRef.key",
        "Required value",
    ),
    "secret-bad-name": (
        {
            "signals": ["traces"],
            "otlp": {
                "endpoint": "c:4317",
                "headers": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "Bad_Name", "key": "k"}}}],
            },
        },
        "spec.otlp.headers[0].valueFrom.secretKeyRef.name",
        "should match",
    ),
    "grpc-endpoint-url-path": (
        {"signals": ["traces"], "otlp": {"endpoint": "https://a.b/v1/traces"}},
        "spec.otlp",
        "endpoint must be host:port",
    ),
    "grpc-endpoint-no-port": (
        {"signals": ["traces"], "otlp": {"endpoint": "tempo"}},
        "spec.otlp",
        "endpoint must be host:port",
    ),
    "http-endpoint-no-scheme": (
        {"signals": ["traces"], "otlp": {"endpoint": "tempo:4318", "protocol": "http"}},
        "spec.otlp",
        "endpoint must be host:port",
    ),
    "bad-protocol": (
        {"signals": ["traces"], "otlp": {"endpoint": "c:4317", "protocol": "grpcs"}},
        "spec.otlp.protocol",
        'supported values: "grpc", "http"',
    ),
    "bad-compression": (
        {"signals": ["traces"], "otlp": {"endpoint": "c:4317", "compression": "brotli"}},
        "spec.otlp.compression",
        "Unsupported value",
    ),
    "bad-timeout": (
        {"signals": ["traces"], "otlp": {"endpoint": "c:4317", "timeout": "10"}},
        "spec.otlp.timeout",
        "should match",
    ),
    "tls-cert-without-key": (
        {
            "signals": ["traces"],
            "otlp": {
                "endpoint": "c:4317",
                "tls": {"cert": {"secretKeyRef": {"name": "t", "key": "tls.crt"}}},
            },
        },
        "spec.otlp.tls",
        "cert and key must be set together",
    ),
    "tls-key-in-configmap": (
        {
            "signals": ["traces"],
            "otlp": {
                "endpoint": "c:4317",
                "tls": {
                    "cert": {"secretKeyRef": {"name": "t", "key": "tls.crt"}},
                    "key": {"configMapKeyRef": {"name": "t", "key": "tls.key"}},
                },
            },
        },
        "spec.otlp.tls",
        "key must come from a Secret",
    ),
    "tls-insecure-with-ca": (
        {
            "signals": ["traces"],
            "otlp": {
                "endpoint": "c:4317",
                "tls": {
                    "insecure": True,
                    "ca": {"configMapKeyRef": {"name": "ca", "key": "ca.crt"}},
                },
            },
        },
        "spec.otlp.tls",
        "insecure disables TLS",
    ),
    "cert-source-both": (
        {
            "signals": ["traces"],
            "otlp": {
                "endpoint": "c:4317",
                "tls": {
                    "ca": {
                        "configMapKeyRef": {"name": "ca", "key": "ca.crt"},
                        "secretKeyRef": {"name": "ca", "key": "ca.crt"},
                    }
                },
            },
        },
        "spec.otlp.tls.ca",
        "set exactly one of secretKeyRef or configMapKeyRef",
    ),
    "remote-write-bad-url": (
        {"signals": ["metrics"], "prometheusRemoteWrite": {"url": "prometheus:9090"}},
        "spec.prometheusRemoteWrite",
        "url must be an http:// or https:// URL",
    ),
    "remote-write-traces": (
        {"signals": ["traces"], "prometheusRemoteWrite": {"url": "http://p/api/v1/write"}},
        "spec",
        "carry metrics only",
    ),
    "remote-write-two-auths": (
        {
            "signals": ["metrics"],
            "prometheusRemoteWrite": {
                "url": "http://p/w",
                "auth": {
                    "bearerToken": SECRET,
                    "basic": {"username": {"value": "u"}, "password": SECRET},
                },
            },
        },
        "spec.prometheusRemoteWrite.auth",
        "set exactly one of bearerToken or basic",
    ),
    "remote-write-bad-label": (
        {
            "signals": ["metrics"],
            "prometheusRemoteWrite": {"url": "http://p/w", "externalLabels": {"bad-label": "x"}},
        },
        "spec.prometheusRemoteWrite.externalLabels.bad-label.[key]",
        "should match",
    ),
    "prometheus-logs": ({"signals": ["logs"], "prometheus": {}}, "spec", "carry metrics only"),
    "prometheus-privileged-port": (
        {"signals": ["metrics"], "prometheus": {"port": 80}},
        "spec.prometheus.port",
        "greater than or equal to 1024",
    ),
    "kafka-no-brokers": (
        {"signals": ["logs"], "kafka": {"brokers": [], "topic": "t"}},
        "spec.kafka.brokers",
        "should have at least 1 items",
    ),
    "kafka-broker-no-port": (
        {"signals": ["logs"], "kafka": {"brokers": ["k"], "topic": "t"}},
        "spec.kafka",
        "every broker must be host:port",
    ),
    "kafka-bad-mechanism": (
        {
            "signals": ["logs"],
            "kafka": {
                "brokers": ["k:1"],
                "topic": "t",
                "sasl": {"mechanism": "GSSAPI", "username": {"value": "u"}, "password": SECRET},
            },
        },
        "spec.kafka.sasl.mechanism",
        "Unsupported value",
    ),
    "file-relative": (
        {"signals": ["logs"], "file": {"path": "out.jsonl"}},
        "spec.file",
        "path must be a file under /var/lib/vigil",
    ),
    "file-in-root": (
        {"signals": ["logs"], "file": {"path": "/out.jsonl"}},
        "spec.file",
        "path must be a file under /var/lib/vigil",
    ),
    "file-dotdot": (
        {"signals": ["logs"], "file": {"path": "/var/lib/vigil/../../../etc/passwd"}},
        "spec.file",
        "path must be a file under /var/lib/vigil",
    ),
    "file-dot-bypass": (
        {"signals": ["logs"], "file": {"path": "/var/lib/vigil/./x"}},
        "spec.file",
        "path must be a file under /var/lib/vigil",
    ),
    "file-etc": (
        {"signals": ["logs"], "file": {"path": "/etc/ssl/certs/x.pem"}},
        "spec.file",
        "path must be a file under /var/lib/vigil",
    ),
    "file-newline": (
        {"signals": ["logs"], "file": {"path": "/var/lib/vigil/x\n"}},
        "spec.file",
        "path must be a file under /var/lib/vigil",
    ),
    "debug-bad-verbosity": (
        {"signals": ["logs"], "debug": {"verbosity": "loud"}},
        "spec.debug.verbosity",
        "Unsupported value",
    ),
    "retry-on-file": (
        {"signals": ["logs"], "file": {"path": "/var/lib/vigil/b"}, "retry": {}},
        "spec",
        "retry and queue apply to",
    ),
    "queue-on-prometheus": (
        {"signals": ["metrics"], "prometheus": {}, "queue": {}},
        "spec",
        "retry and queue apply to",
    ),
    "sampling-without-traces": (
        {"signals": ["logs"], "debug": {}, "sampling": {"percentage": 5}},
        "spec",
        "sampling applies to traces",
    ),
    "sampling-above-100": (
        {"signals": ["traces"], "debug": {}, "sampling": {"percentage": 101}},
        "spec.sampling.percentage",
        "less than or equal to 100",
    ),
    "redact-empty": (
        {"signals": ["logs"], "debug": {}, "redact": {}},
        "spec.redact",
        "list at least one attribute",
    ),
    "queue-zero": (
        {"signals": ["traces"], "otlp": {"endpoint": "c:1"}, "queue": {"size": 0}},
        "spec.queue.size",
        "greater than or equal to 1",
    ),
    # otelcol refuses it: 'max_elapsed_time' must not be less than 'initial_interval' (found by the parity fuzz).
    "retry-gives-up-before-first-retry": (
        {"signals": ["traces"], "otlp": {"endpoint": "c:1"}, "retry": {"maxElapsedTime": "1ns"}},
        "spec.retry",
        "maxElapsedTime must be 0s (never give up) or at least initialInterval and maxInterval",
    ),
    "header-value-with-nul": (
        {"signals": ["traces"], "otlp": {"endpoint": "c:1", "headers": [{"name": "a", "value": "x\x00"}]}},
        "spec.otlp.headers[0]",
        "value must not contain control characters",
    ),
    "header-name-with-dollar": (
        {"signals": ["traces"], "otlp": {"endpoint": "c:1", "headers": [{"name": "$", "value": "x"}]}},
        "spec.otlp.headers[0].name",
        'Invalid value: "$"',
    ),
}


@pytest.mark.parametrize(("spec", "path", "message"), INVALID.values(), ids=INVALID.keys())
def test_invalid_sinks_name_the_field(spec: dict, path: str, message: str) -> None:
    doc = sink(**spec)
    before = deep(doc)
    problems = parse_document(doc)
    assert isinstance(problems, list), "expected a rejection"
    found = [(p.path, p.message) for p in problems]
    assert any(p == path and message in m for p, m in found), found
    assert doc == before, "validation must not mutate its input"
