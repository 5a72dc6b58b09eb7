"""otlp: export over OTLP/gRPC or OTLP/HTTP to Jaeger, Tempo, another collector or any OTLP backend."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from vigil.destinations.base import (
    Destination,
    Exporter,
    ExporterContext,
    SinkOptions,
    headers,
    retry_on_failure,
    sending_queue,
    tls,
)
from vigil.models.base import CREDENTIAL, SPACE, CelRule, GoDuration, VigilModel, matches, without_userinfo
from vigil.models.common import TLS, Header

URL = rf"^https?://[^{SPACE}/]+(/[^{SPACE}]*)?$"
GRPC_ENDPOINT = rf"^((https?|dns)://)?/?[^{SPACE}/]+:[0-9]{{1,5}}$"

Endpoint = Annotated[str, StringConstraints(min_length=1, max_length=2048), CREDENTIAL]
"""A URL or host:port; never echoed in messages, as a mistyped one may hold a credential."""
HEADER_FIX = "send credentials as a header from a Secret (headers[].valueFrom.secretKeyRef)"


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
        without_userinfo("endpoint", HEADER_FIX),
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


def exporter(d: OTLPDestination, options: SinkOptions, ctx: ExporterContext) -> Exporter:
    """An ``otlp_grpc`` or ``otlp_http`` exporter."""
    return Exporter(
        "otlp_grpc" if d.protocol == "grpc" else "otlp_http",
        {
            "endpoint": d.endpoint,
            "compression": d.compression,
            "timeout": d.timeout,
            **headers(ctx, d.headers),
            **tls(ctx, d.tls),
            **retry_on_failure(options),
            **sending_queue(options),
        },
    )


DESTINATION = Destination(
    field="otlp",
    model=OTLPDestination,
    description="OTLP gRPC/HTTP destination.",
    components=("otlp_grpc", "otlp_http"),
    exporter=exporter,
    queued=True,
    example={
        "endpoint": "tempo-distributor.tracing:4317",
        "headers": [{"name": "X-Scope-OrgID", "valueFrom": {"secretKeyRef": {"name": "tempo", "key": "tenant"}}}],
    },
)
