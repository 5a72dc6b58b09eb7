"""The collector config: pipelines per signal, per-sink processing, secrets only as ${env:...}."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.helpers import deep, sink, stack
from vigil.models.sink import TelemetrySink
from vigil.models.stack import MonitoringStack
from vigil.render.collector_config import build_collector_config, env_references, foreign_expansions
from vigil.render.errors import RenderError

SECRET = {"valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}}


def _stack(**spec: Any) -> MonitoringStack:
    return MonitoringStack.model_validate(stack(sinks={"selector": {}}, **spec))


def _sinks(*docs: dict[str, Any]) -> list[TelemetrySink]:
    return [TelemetrySink.model_validate(d) for d in docs]


def _config(*docs: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return yaml.safe_load(build_collector_config(_stack(**spec), _sinks(*docs)).text)


def test_one_pipeline_per_signal_with_only_that_signals_sinks() -> None:
    cfg = _config(
        sink("tempo", signals=["traces"], otlp={"endpoint": "tempo:4317"}),
        sink("console", signals=["traces", "logs"], debug={}),
        sink("prom", signals=["metrics"], prometheus={}),
    )
    pipelines = cfg["service"]["pipelines"]
    assert set(pipelines) == {"traces", "metrics", "logs"}
    assert pipelines["traces"]["exporters"] == ["debug/console", "otlp_grpc/tempo"]
    assert pipelines["metrics"]["exporters"] == ["prometheus/prom"]
    assert pipelines["logs"]["exporters"] == ["debug/console"]
    for p in pipelines.values():
        assert p["receivers"] == ["otlp"]
        assert p["processors"] == ["memory_limiter", "batch"]


def test_sink_with_own_processing_gets_its_own_pipelines_in_order() -> None:
    cfg = _config(
        sink(
            "tempo",
            signals=["traces", "logs"],
            otlp={"endpoint": "tempo:4317"},
            batch={"timeout": "1s"},
            sampling={"percentage": 10},
            redact={"delete": ["password"], "hash": ["user.id"]},
        ),
    )
    pipelines = cfg["service"]["pipelines"]
    assert set(pipelines) == {"traces/tempo", "logs/tempo"}
    assert pipelines["traces/tempo"]["processors"] == [
        "memory_limiter",
        "batch/tempo",
        "probabilistic_sampler/tempo",
        "attributes/redact-tempo",
    ]
    assert pipelines["logs/tempo"]["processors"] == [
        "memory_limiter",
        "batch/tempo",
        "attributes/redact-tempo",
    ]
    assert cfg["processors"]["probabilistic_sampler/tempo"] == {"sampling_percentage": 10.0}
    assert cfg["processors"]["attributes/redact-tempo"]["actions"] == [
        {"key": "password", "action": "delete"},
        {"key": "user.id", "action": "hash"},
    ]
    assert cfg["processors"]["batch/tempo"]["timeout"] == "1s"


def test_headers_and_credentials_become_env_references() -> None:
    built = build_collector_config(
        _stack(),
        _sinks(
            sink(
                "gw",
                signals=["logs"],
                otlp={
                    "endpoint": "https://gw:4318",
                    "protocol": "http",
                    "headers": [
                        {"name": "Authorization", **SECRET},
                        {"name": "X-Tenant", "value": "a"},
                    ],
                },
            ),
            sink(
                "mimir",
                signals=["metrics"],
                prometheusRemoteWrite={"url": "http://m/push", "auth": {"bearerToken": SECRET}},
            ),
        ),
    )
    cfg = yaml.safe_load(built.text)
    assert cfg["exporters"]["otlp_http/gw"]["headers"] == {
        "Authorization": "${env:VIGIL_GW_HEADER_AUTHORIZATION}",
        "X-Tenant": "${env:VIGIL_GW_HEADER_X_TENANT}",
    }
    assert cfg["exporters"]["prometheus_remote_write/mimir"]["headers"] == {
        "Authorization": "Bearer ${env:VIGIL_MIMIR_BEARER_TOKEN}"
    }
    env = {e.name: e.to_k8s() for e in built.env}
    assert env["VIGIL_GW_HEADER_AUTHORIZATION"]["valueFrom"] == {"secretKeyRef": {"name": "creds", "key": "token"}}
    assert env["VIGIL_GW_HEADER_X_TENANT"] == {"name": "VIGIL_GW_HEADER_X_TENANT", "value": "a"}
    assert ("Secret", "creds") in built.referenced
    assert "creds" not in built.text
    assert "token" not in built.text.replace("BEARER_TOKEN", "")


def test_basic_auth_uses_the_basicauth_extension() -> None:
    cfg = _config(
        sink(
            "rw",
            signals=["metrics"],
            prometheusRemoteWrite={
                "url": "https://m/push",
                "auth": {"basic": {"username": {"value": "u"}, "password": SECRET}},
            },
        ),
    )
    assert cfg["exporters"]["prometheus_remote_write/rw"]["auth"] == {"authenticator": "basicauth/rw"}
    assert cfg["extensions"]["basicauth/rw"]["client_auth"] == {
        "username": "${env:VIGIL_RW_USERNAME}",
        "password": "${env:VIGIL_RW_PASSWORD}",
    }
    assert cfg["service"]["extensions"] == ["health_check", "basicauth/rw"]


def test_tls_material_is_mounted_from_secrets_and_configmaps() -> None:
    built = build_collector_config(
        _stack(),
        _sinks(
            sink(
                "t",
                signals=["traces"],
                otlp={
                    "endpoint": "t:4317",
                    "tls": {
                        "ca": {"configMapKeyRef": {"name": "ca-bundle", "key": "ca.crt"}},
                        "cert": {"secretKeyRef": {"name": "client", "key": "tls.crt"}},
                        "key": {"secretKeyRef": {"name": "client", "key": "tls.key"}},
                        "serverName": "tempo.internal",
                    },
                },
            )
        ),
    )
    tls = yaml.safe_load(built.text)["exporters"]["otlp_grpc/t"]["tls"]
    assert tls == {
        "ca_file": "/etc/vigil/tls/t/ca/ca.pem",
        "cert_file": "/etc/vigil/tls/t/cert/cert.pem",
        "key_file": "/etc/vigil/tls/t/key/key.pem",
        "server_name_override": "tempo.internal",
    }
    assert {(m.source_kind, m.source_name, m.key) for m in built.mounts} == {
        ("ConfigMap", "ca-bundle", "ca.crt"),
        ("Secret", "client", "tls.crt"),
        ("Secret", "client", "tls.key"),
    }
    assert set(built.referenced) == {("ConfigMap", "ca-bundle"), ("Secret", "client")}


def test_kafka_topic_per_signal_and_sasl_from_env() -> None:
    cfg = _config(
        sink(
            "k",
            signals=["logs", "traces"],
            kafka={
                "brokers": ["a:9092"],
                "topic": "otlp",
                "sasl": {"username": {"value": "u"}, "password": SECRET},
            },
        ),
    )
    kafka = cfg["exporters"]["kafka/k"]
    assert kafka["traces"] == {"topic": "otlp", "encoding": "otlp_proto"}
    assert kafka["logs"] == {"topic": "otlp", "encoding": "otlp_proto"}
    assert "metrics" not in kafka
    assert kafka["auth"]["sasl"]["password"] == "${env:VIGIL_K_SASL_PASSWORD}"


def test_receivers_follow_the_stack() -> None:
    cfg = _config(
        sink("c", signals=["logs"], debug={}),
        receivers={"otlp": {"http": {"enabled": False}, "grpc": {"port": 14317}}},
    )
    assert cfg["receivers"]["otlp"]["protocols"] == {"grpc": {"endpoint": "0.0.0.0:14317"}}


def test_health_check_and_own_telemetry() -> None:
    cfg = _config(sink("c", signals=["logs"], debug={}))
    assert cfg["extensions"]["health_check"] == {"endpoint": "0.0.0.0:13133"}
    reader = cfg["service"]["telemetry"]["metrics"]["readers"][0]
    assert reader["pull"]["exporter"]["prometheus"] == {
        "host": "0.0.0.0",
        "port": 8888,
        "without_type_suffix": False,
        "without_units": False,
    }
    assert cfg["processors"]["memory_limiter"]["limit_percentage"] == 80


def test_deterministic_and_independent_of_sink_order() -> None:
    a = sink("a", signals=["traces"], otlp={"endpoint": "a:4317"})
    b = sink("b", signals=["traces"], debug={})
    first = build_collector_config(_stack(), _sinks(a, b))
    second = build_collector_config(_stack(), _sinks(b, a))
    assert first == second


def test_input_is_not_mutated() -> None:
    doc = sink("a", signals=["traces"], otlp={"endpoint": "a:4317", "headers": [{"name": "A", **SECRET}]})
    model = TelemetrySink.model_validate(doc)
    dumped = deep(model.model_dump())
    build_collector_config(_stack(), [model])
    assert model.model_dump() == dumped


@pytest.mark.parametrize(
    ("docs", "spec", "path", "message"),
    [
        ((), {}, "spec.sinks", "selects no TelemetrySink"),
        (
            (
                sink("a", signals=["metrics"], prometheus={"port": 9000}),
                sink("b", signals=["metrics"], prometheus={"port": 9000}),
            ),
            {},
            "TelemetrySink/b: spec.prometheus.port",
            "already used by TelemetrySink/a",
        ),
        (
            (sink("a", signals=["metrics"], prometheus={"port": 8888}),),
            {},
            "TelemetrySink/a: spec.prometheus.port",
            "collector's own metrics",
        ),
        (
            (sink("a", signals=["logs"], debug={}),),
            {"receivers": {"otlp": {"grpc": {"port": 13133}}}},
            "spec.receivers.otlp.grpc.port",
            "health check",
        ),
        (
            (
                sink(
                    "a",
                    signals=["logs"],
                    otlp={
                        "endpoint": "a:1",
                        "headers": [{"name": "X-A", "value": "1"}, {"name": "x-a", "value": "2"}],
                    },
                ),
            ),
            {},
            "TelemetrySink/a: spec.otlp.headers[1].name",
            "already set by headers[0]",
        ),
        (
            (
                sink(
                    "a-b",
                    signals=["logs"],
                    otlp={"endpoint": "a:1", "headers": [{"name": "X", "value": "1"}]},
                ),
                sink(
                    "a.b",
                    signals=["logs"],
                    otlp={"endpoint": "a:1", "headers": [{"name": "X", "value": "1"}]},
                ),
            ),
            {},
            "spec.otlp.headers[0]",
            "environment variable VIGIL_A_B_HEADER_X",
        ),
    ],
    ids=[
        "no-sinks",
        "port-twice",
        "port-reserved",
        "receiver-on-health-port",
        "duplicate-header",
        "env-collision",
    ],
)
def test_cross_object_errors_name_the_field(docs: tuple, spec: dict, path: str, message: str) -> None:
    with pytest.raises(RenderError) as err:
        build_collector_config(_stack(**spec), _sinks(*docs))
    assert path in err.value.path
    assert message in err.value.message


# Health checks -------------------------------------------------------------------------------

PROM = sink("prom", signals=["metrics"], prometheus={})
API_READY = {"name": "api-ready", "service": {"name": "api", "port": 8080, "path": "/ready"}}


def test_each_health_check_gets_a_receiver_a_labelling_processor_and_a_pipeline() -> None:
    cfg = _config(
        PROM,
        healthChecks=[
            API_READY,
            {
                "name": "status",
                "url": "https://km.example.com/status",
                "method": "HEAD",
                "interval": "10s",
                "timeout": "2s",
                "expectedStatus": ["3xx", "2xx"],
                "insecureSkipVerify": True,
            },
        ],
    )
    assert cfg["receivers"]["http_check/api-ready"] == {
        "collection_interval": "30s",
        "targets": [{"endpoint": "http://api.team-a.svc:8080/ready", "method": "GET", "timeout": "5s"}],
    }
    assert cfg["receivers"]["http_check/status"] == {
        "collection_interval": "10s",
        "targets": [
            {
                "endpoint": "https://km.example.com/status",
                "method": "HEAD",
                "timeout": "2s",
                "tls": {"insecure_skip_verify": True},
            }
        ],
    }
    assert cfg["processors"]["attributes/check_status"]["actions"] == [
        {"key": "health_check", "value": "status", "action": "upsert"},
        {"key": "expected_status", "value": "2xx,3xx", "action": "upsert"},
        {"key": "namespace", "value": "team-a", "action": "upsert"},
        {"key": "pod", "value": "${env:VIGIL_POD_NAME}", "action": "upsert"},
        {"key": "http.status_code", "action": "delete"},
    ]
    pipelines = cfg["service"]["pipelines"]
    assert pipelines["metrics/check_api-ready"] == {
        "receivers": ["http_check/api-ready"],
        "processors": ["attributes/check_api-ready"],
        "exporters": ["forward/health_checks"],
    }
    assert pipelines["metrics/check_status"]["receivers"] == ["http_check/status"]
    assert cfg["connectors"] == {"forward/health_checks": {}}


def test_health_checks_reach_every_metrics_sink_through_its_own_processing() -> None:
    cfg = _config(
        PROM,
        sink("red", signals=["metrics", "traces"], debug={}, redact={"delete": ["http.url"]}),
        healthChecks=[API_READY],
    )
    pipelines = cfg["service"]["pipelines"]
    assert pipelines["metrics"]["receivers"] == ["otlp", "forward/health_checks"]
    assert pipelines["metrics/red"]["receivers"] == ["otlp", "forward/health_checks"]
    assert pipelines["metrics/red"]["processors"][-1] == "attributes/redact-red"
    assert pipelines["traces/red"]["receivers"] == ["otlp"]


def test_without_health_checks_nothing_changes() -> None:
    cfg = _config(PROM)
    assert "connectors" not in cfg
    assert list(cfg["receivers"]) == ["otlp"]
    assert cfg["service"]["pipelines"]["metrics"]["receivers"] == ["otlp"]
    assert build_collector_config(_stack(), _sinks(PROM)).env == ()


def test_health_checks_take_the_pod_name_from_the_downward_api() -> None:
    built = build_collector_config(_stack(healthChecks=[API_READY]), _sinks(PROM))
    (env,) = built.env
    assert env.to_k8s() == {"name": "VIGIL_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
    assert built.referenced == ()


def test_a_url_is_data_to_the_collector_never_an_expansion() -> None:
    url = "http://api:8080/health?token=${env:HOME}&x=$PATH"
    built = build_collector_config(_stack(healthChecks=[{"name": "a", "url": url}]), _sinks(PROM))
    cfg = yaml.safe_load(built.text)
    endpoint = cfg["receivers"]["http_check/a"]["targets"][0]["endpoint"]
    assert endpoint == url.replace("$", "$$")
    assert foreign_expansions(built.text) == []
    assert "VIGIL_POD_NAME" in env_references(built.text)
    assert "HOME" not in env_references(built.text)


def test_health_checks_need_a_metrics_sink() -> None:
    with pytest.raises(RenderError) as err:
        build_collector_config(
            _stack(healthChecks=[API_READY]), _sinks(sink("c", signals=["traces", "logs"], debug={}))
        )
    assert err.value.path == "MonitoringStack/st: spec.healthChecks"
    assert "no selected TelemetrySink takes metrics" in err.value.message
    assert err.value.reason == "NoMetricsSink"
