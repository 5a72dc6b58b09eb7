"""TelemetrySink: one destination for traces, metrics and/or logs."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from vigil.models.base import (
    LABEL_NAME,
    CelRule,
    GoDuration,
    UnprivilegedPort,
    VigilModel,
    is_set,
    matches,
)
from vigil.models.common import TLS, Condition, Header, ObjectMeta, SecretValue

Signal = Literal["traces", "metrics", "logs"]
SIGNALS: tuple[Signal, ...] = ("traces", "metrics", "logs")

URL = r"^https?://[^\s/]+(/[^\s]*)?$"
GRPC_ENDPOINT = r"^((https?|dns)://)?/?[^\s/]+:[0-9]{1,5}$"
HOST_PORT = r"^[^\s/:]+:[0-9]{1,5}$"

Endpoint = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
LabelKey = Annotated[str, StringConstraints(pattern=LABEL_NAME, max_length=128)]
AttributeKey = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class OTLPDestination(VigilModel):
    """Export over OTLP to Jaeger, Tempo, another collector or any OTLP backend."""

    cel_rules = (
        CelRule(
            rule=f"self.protocol == 'http' ? self.endpoint.matches(r'{URL}') "
            f": self.endpoint.matches(r'{GRPC_ENDPOINT}')",
            message="endpoint must be host:port (or https://host:port) for protocol grpc, "
            "and an http:// or https:// URL for protocol http",
            check=lambda m: matches(URL if m.protocol == "http" else GRPC_ENDPOINT, m.endpoint),
        ),
    )

    endpoint: Endpoint = Field(
        description="Where to send: host:port for gRPC (e.g. jaeger-collector:4317), a URL "
        "for HTTP (e.g. https://otlp.example.com:4318)."
    )
    protocol: Literal["grpc", "http"] = Field(
        default="grpc", description="OTLP transport: grpc or http (protobuf over HTTP)."
    )
    headers: list[Header] = Field(default_factory=list, max_length=32, description="Headers sent with every request.")
    tls: TLS | None = Field(default=None, description="TLS settings; default is TLS with system CAs.")
    compression: Literal["gzip", "zstd", "snappy", "none"] = Field(default="gzip", description="Payload compression.")
    timeout: GoDuration = Field(default="10s", description="Timeout of one export request.")


class BasicAuth(VigilModel):
    """HTTP basic authentication."""

    username: SecretValue = Field(description="User name, inline or from a Secret.")
    password: SecretValue = Field(description="Password, from a Secret (valueFrom) preferably.")


class RemoteWriteAuth(VigilModel):
    """Authentication for Prometheus remote write; set exactly one method."""

    cel_rules = (
        CelRule(
            rule="has(self.bearerToken) != has(self.basic)",
            message="set exactly one of bearerToken or basic",
            check=lambda m: is_set(m.bearer_token) != is_set(m.basic),
        ),
    )

    bearer_token: SecretValue | None = Field(
        default=None, description="Bearer token sent as Authorization: Bearer <token>."
    )
    basic: BasicAuth | None = Field(default=None, description="HTTP basic authentication.")


class PrometheusRemoteWriteDestination(VigilModel):
    """Push metrics with the Prometheus remote-write protocol (Prometheus, Mimir, Thanos, ...)."""

    cel_rules = (
        CelRule(
            rule=f"self.url.matches(r'{URL}')",
            message="url must be an http:// or https:// URL, e.g. http://mimir-distributor:8080/api/v1/push",
            check=lambda m: matches(URL, m.url),
        ),
    )

    url: Endpoint = Field(description="Remote-write URL, e.g. http://prometheus:9090/api/v1/write.")
    headers: list[Header] = Field(default_factory=list, max_length=32, description="Headers sent with every request.")
    tls: TLS | None = Field(default=None, description="TLS settings.")
    auth: RemoteWriteAuth | None = Field(default=None, description="Authentication.")
    external_labels: dict[LabelKey, Annotated[str, StringConstraints(max_length=1024)]] = Field(
        default_factory=dict, max_length=32, description="Labels added to every series sent."
    )
    timeout: GoDuration = Field(default="10s", description="Timeout of one write request.")
    resource_to_telemetry_conversion: bool = Field(
        default=False, description="Turn resource attributes into metric labels."
    )


class PrometheusDestination(VigilModel):
    """Serve metrics on a scrape endpoint of the collector (a ServiceMonitor scrapes it)."""

    port: UnprivilegedPort = Field(default=8889, description="Port the collector serves /metrics on for this sink.")
    namespace: Annotated[str, StringConstraints(pattern=LABEL_NAME, max_length=64)] | None = Field(
        default=None, description="Prefix of every metric name, e.g. aureus."
    )
    const_labels: dict[LabelKey, Annotated[str, StringConstraints(max_length=1024)]] = Field(
        default_factory=dict, max_length=32, description="Labels added to every metric."
    )
    metric_expiration: GoDuration = Field(default="5m", description="How long a metric not updated stays exposed.")
    resource_to_telemetry_conversion: bool = Field(
        default=False, description="Turn resource attributes into metric labels."
    )
    scrape_interval: Annotated[str, StringConstraints(pattern=r"^([0-9]+(ms|s|m|h))+$")] = Field(
        default="30s", description="How often Prometheus scrapes this endpoint."
    )


class KafkaSASL(VigilModel):
    """SASL authentication to the Kafka brokers."""

    mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        default="SCRAM-SHA-512", description="SASL mechanism."
    )
    username: SecretValue = Field(description="SASL user name.")
    password: SecretValue = Field(description="SASL password, from a Secret (valueFrom).")


class KafkaDestination(VigilModel):
    """Publish OTLP data to a Kafka topic."""

    cel_rules = (
        CelRule(
            rule=f"self.brokers.all(b, b.matches(r'{HOST_PORT}'))",
            message="every broker must be host:port, e.g. kafka-0.kafka:9092",
            check=lambda m: all(matches(HOST_PORT, b) for b in m.brokers),
        ),
    )

    brokers: list[Annotated[str, StringConstraints(max_length=512)]] = Field(
        min_length=1, max_length=32, description="Bootstrap brokers as host:port."
    )
    topic: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9._-]+$", max_length=249)] = Field(
        description="Topic to publish to (the same topic for every signal of this sink)."
    )
    encoding: Literal["otlp_proto", "otlp_json"] = Field(default="otlp_proto", description="Message encoding.")
    protocol_version: Annotated[str, StringConstraints(pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")] = Field(
        default="2.1.0", description="Kafka protocol version of the brokers."
    )
    sasl: KafkaSASL | None = Field(default=None, description="SASL authentication.")
    tls: TLS | None = Field(default=None, description="TLS settings; omit for plaintext.")


class FileRotation(VigilModel):
    """When to start a new file."""

    max_megabytes: int = Field(default=100, ge=1, le=102400, description="Size of one file.")
    max_days: int = Field(default=0, ge=0, le=3650, description="Days to keep old files (0: all).")
    max_backups: int = Field(default=10, ge=0, le=1000, description="Old files to keep.")


class FileDestination(VigilModel):
    """Write telemetry to a file in the collector pod (an emptyDir volume)."""

    cel_rules = (
        CelRule(
            rule="!self.path.contains('/../') && !self.path.endsWith('/..')",
            message="path must not contain '..'",
            check=lambda m: "/../" not in m.path and not m.path.endswith("/.."),
        ),
    )

    path: Annotated[str, StringConstraints(pattern=r"^/[^/\s]+(/[^/\s]+)*/[^/\s]+$", max_length=1024)] = Field(
        description="Absolute path of the file, at least one directory deep, e.g. "
        "/var/lib/vigil/telemetry.jsonl. Its directory is an emptyDir volume."
    )
    format: Literal["json", "proto"] = Field(default="json", description="Line format.")
    rotation: FileRotation | None = Field(default=None, description="Rotation; omit for none.")


class DebugDestination(VigilModel):
    """Print telemetry to the collector's log (the console sink)."""

    verbosity: Literal["basic", "normal", "detailed"] = Field(
        default="basic", description="How much of each item is printed."
    )


class Retry(VigilModel):
    """Retry of failed exports (exponential backoff)."""

    enabled: bool = Field(default=True, description="Retry failed exports.")
    initial_interval: GoDuration = Field(default="5s", description="First wait.")
    max_interval: GoDuration = Field(default="30s", description="Longest wait.")
    max_elapsed_time: GoDuration = Field(default="300s", description="Give up after this long (0s: never).")


class Queue(VigilModel):
    """In-memory sending queue in front of the exporter."""

    enabled: bool = Field(default=True, description="Queue exports in memory.")
    size: int = Field(default=1000, ge=1, le=1000000, description="Batches the queue holds.")
    consumers: int = Field(default=10, ge=1, le=1000, description="Parallel senders.")


class Batch(VigilModel):
    """Batching for this sink (its own batch processor)."""

    timeout: GoDuration = Field(default="200ms", description="Send a batch after this long.")
    send_batch_size: int = Field(default=8192, ge=1, le=1000000, description="Items that trigger a send.")
    send_batch_max_size: int = Field(default=0, ge=0, le=1000000, description="Upper bound of a batch (0: no bound).")


class Sampling(VigilModel):
    """Probabilistic sampling of traces sent to this sink."""

    percentage: float = Field(ge=0, le=100, description="Share of traces kept, 0-100.")


class Redact(VigilModel):
    """Attributes removed or hashed before data reaches this sink."""

    cel_rules = (
        CelRule(
            rule="size(self.delete) + size(self.hash) > 0",
            message="list at least one attribute in delete or hash",
            check=lambda m: len(m.delete) + len(m.hash) > 0,
        ),
    )

    delete: list[AttributeKey] = Field(default_factory=list, max_length=64, description="Attribute keys to delete.")
    hash: list[AttributeKey] = Field(
        default_factory=list,
        max_length=64,
        description="Attribute keys to replace by a SHA-1 hash.",
    )


DESTINATIONS = ("otlp", "prometheusRemoteWrite", "prometheus", "kafka", "file", "debug")
_METRICS_ONLY = ("prometheusRemoteWrite", "prometheus")
_QUEUED = ("otlp", "prometheusRemoteWrite", "kafka")


class TelemetrySinkSpec(VigilModel):
    """Desired state of a TelemetrySink."""

    cel_rules = (
        CelRule(
            rule=" + ".join(f"(has(self.{d}) ? 1 : 0)" for d in DESTINATIONS) + " == 1",
            message="set exactly one destination: otlp, prometheusRemoteWrite, prometheus, kafka, file or debug",
            check=lambda m: len(m.destinations()) == 1,
        ),
        CelRule(
            rule="(!has(self.prometheusRemoteWrite) && !has(self.prometheus)) || self.signals.all(s, s == 'metrics')",
            message="prometheus and prometheusRemoteWrite sinks carry metrics only: set signals to [metrics]",
            check=lambda m: not set(m.destinations()) & set(_METRICS_ONLY) or set(m.signals) == {"metrics"},
        ),
        CelRule(
            rule="!has(self.sampling) || 'traces' in self.signals",
            message="sampling applies to traces: add traces to signals or remove sampling",
            check=lambda m: m.sampling is None or "traces" in m.signals,
        ),
        CelRule(
            rule="(!has(self.retry) && !has(self.queue)) || " + " || ".join(f"has(self.{d})" for d in _QUEUED),
            message="retry and queue apply to otlp, prometheusRemoteWrite and kafka sinks only",
            check=lambda m: (m.retry is None and m.queue is None) or bool(set(m.destinations()) & set(_QUEUED)),
        ),
    )

    signals: list[Signal] = Field(
        min_length=1,
        max_length=3,
        description="Signals this sink receives: any of traces, metrics, logs.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    otlp: OTLPDestination | None = Field(default=None, description="OTLP gRPC/HTTP destination.")
    prometheus_remote_write: PrometheusRemoteWriteDestination | None = Field(
        default=None, description="Prometheus remote-write destination (metrics only)."
    )
    prometheus: PrometheusDestination | None = Field(
        default=None,
        description="Prometheus scrape endpoint served by the collector (metrics only).",
    )
    kafka: KafkaDestination | None = Field(default=None, description="Kafka destination.")
    file: FileDestination | None = Field(default=None, description="File in the collector pod.")
    debug: DebugDestination | None = Field(default=None, description="The collector's log (console).")
    retry: Retry | None = Field(default=None, description="Retry on failure; exporter default if unset.")
    queue: Queue | None = Field(default=None, description="Sending queue; exporter default if unset.")
    batch: Batch | None = Field(default=None, description="Batching for this sink only; the stack's batch if unset.")
    sampling: Sampling | None = Field(default=None, description="Trace sampling for this sink.")
    redact: Redact | None = Field(default=None, description="Attributes to delete or hash.")

    def destinations(self) -> list[str]:
        """Wire names of the destination fields that are set (exactly one when valid)."""
        return [d for d in DESTINATIONS if getattr(self, _attr(d)) is not None]

    @property
    def destination_type(self) -> str:
        """Wire name of this sink's destination, e.g. ``prometheusRemoteWrite``."""
        return self.destinations()[0]

    @property
    def has_own_processing(self) -> bool:
        """True when this sink needs its own pipeline (own batch, sampling or redaction)."""
        return any(x is not None for x in (self.batch, self.sampling, self.redact))


def _attr(wire: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in wire)


class TelemetrySinkStatus(VigilModel):
    """Observed state of a TelemetrySink."""

    observed_generation: int = Field(default=0, description="Generation last reconciled.")
    conditions: list[Condition] = Field(default_factory=list, description="Ready and Degraded.")
    destination_type: str = Field(default="", description="The destination set in spec.")
    used_by: list[str] = Field(
        default_factory=list,
        description="MonitoringStacks in this namespace that select this sink.",
    )


class TelemetrySink(VigilModel):
    """A TelemetrySink object as stored in the API server."""

    api_version: Literal["vigil.dev/v1alpha1"] = Field(description="vigil.dev/v1alpha1")
    kind: Literal["TelemetrySink"] = Field(description="TelemetrySink")
    metadata: ObjectMeta = Field(description="Standard object metadata.")
    spec: TelemetrySinkSpec = Field(description="Desired state.")
    status: TelemetrySinkStatus | None = Field(default=None, description="Observed state.")
