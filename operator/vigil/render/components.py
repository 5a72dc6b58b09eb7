"""Every OpenTelemetry Collector component type Vigil can emit, in one place.

Exporters (and the extensions they use) come from the destinations' registry; the rest of the
config's components are fixed here. tools/otelcol/manifest.yaml builds a collector with exactly
these; a unit test keeps the two equal.
"""

from __future__ import annotations

from vigil.destinations import components as destination_components

# The collector the tests build (tools/otelcol/manifest.yaml) and the default image share this
# version; a unit test keeps them equal.
COLLECTOR_VERSION = "0.159.0"
DEFAULT_COLLECTOR_IMAGE = f"ghcr.io/vigil-operator/otelcol-vigil:{COLLECTOR_VERSION}"
"""Built by `make images` from tools/otelcol/manifest.yaml: exactly the components below."""
CONTRIB_COLLECTOR_IMAGE = f"otel/opentelemetry-collector-contrib:{COLLECTOR_VERSION}"
"""The upstream distribution, a documented alternative."""

RECEIVERS = {"otlp": "otlp", "http_check": "http_check"}
PROCESSORS = {
    "memory_limiter": "memory_limiter",
    "batch": "batch",
    "sampler": "probabilistic_sampler",
    "redact": "attributes",
    "health_labels": "attributes",
}
EXTENSIONS = {"health_check": "health_check"}
CONNECTORS = {"forward": "forward"}
"""``forward`` joins the health checks' own pipelines to the stack's metrics pipelines."""


def all_types() -> dict[str, set[str]]:
    """Component types by config section, as ``otelcol components`` lists them."""
    used = destination_components()
    return {
        "receivers": set(RECEIVERS.values()),
        "processors": set(PROCESSORS.values()),
        "exporters": used["exporters"],
        "extensions": {*EXTENSIONS.values(), *used["extensions"]},
        "connectors": set(CONNECTORS.values()),
    }


ALL_TYPES = all_types()

# Fixed ports inside the collector pod.
HEALTH_PORT = 13133
METRICS_PORT = 8888
