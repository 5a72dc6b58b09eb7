"""Every OpenTelemetry Collector component type Vigil can emit, in one place.

tools/otelcol/manifest.yaml builds a collector with exactly these; a unit test keeps the two equal.
"""

from __future__ import annotations

RECEIVERS = {"otlp": "otlp"}
PROCESSORS = {
    "memory_limiter": "memory_limiter",
    "batch": "batch",
    "sampler": "probabilistic_sampler",
    "redact": "attributes",
}
# Keyed by the TelemetrySink destination field.
EXPORTERS = {
    "otlp/grpc": "otlp_grpc",
    "otlp/http": "otlp_http",
    "prometheusRemoteWrite": "prometheus_remote_write",
    "prometheus": "prometheus",
    "kafka": "kafka",
    "file": "file",
    "debug": "debug",
}
EXTENSIONS = {"health_check": "health_check", "basicauth": "basicauth"}

ALL_TYPES = {
    "receivers": set(RECEIVERS.values()),
    "processors": set(PROCESSORS.values()),
    "exporters": set(EXPORTERS.values()),
    "extensions": set(EXTENSIONS.values()),
}

# Fixed ports inside the collector pod.
HEALTH_PORT = 13133
METRICS_PORT = 8888
