"""loki: send logs to Grafana Loki's native OTLP endpoint (Loki 3.x)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from vigil.destinations.base import (
    ConfigValue,
    Destination,
    Exporter,
    ExporterContext,
    SinkOptions,
    headers,
    retry_on_failure,
    sending_queue,
    tls,
)
from vigil.destinations.otlp import HEADER_FIX, URL, Endpoint
from vigil.models.base import CelRule, GoDuration, VigilModel, matches, without_userinfo
from vigil.models.common import TLS, Header

TENANT_HEADER = "X-Scope-OrgID"


class LokiDestination(VigilModel):
    """Send logs to Loki's OTLP endpoint (``/otlp``); resource attributes become stream labels as
    Loki's ``otlp_config`` says."""

    cel_rules = (
        CelRule(
            rule=f"self.endpoint.matches(r'{URL}')",
            message="endpoint must be an http:// or https:// URL, e.g. http://loki-gateway.loki:3100/otlp",
            check=lambda m: matches(URL, m.endpoint),
        ),
        without_userinfo("endpoint", HEADER_FIX),
        CelRule(
            rule="!has(self.tenant) || !has(self.headers) || "
            f"!self.headers.exists(h, h.name.lowerAscii() == '{TENANT_HEADER.lower()}')",
            message=f"tenant sets the {TENANT_HEADER} header: remove that header or the tenant",
            check=lambda m: m.tenant is None or all(h.name.lower() != TENANT_HEADER.lower() for h in m.headers),
        ),
    )

    endpoint: Endpoint = Field(
        description="Loki's OTLP base URL, e.g. http://loki-gateway.loki:3100/otlp (logs go to <endpoint>/v1/logs)."
    )
    tenant: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9!._*'()-]+$", max_length=150)] | None = Field(
        default=None, description=f"Tenant of a multi-tenant Loki, sent as {TENANT_HEADER}."
    )
    headers: list[Header] = Field(
        default_factory=list, max_length=32, description="Headers sent with every request, e.g. Authorization."
    )
    tls: TLS | None = Field(default=None, description="TLS settings; default is TLS with system CAs.")
    compression: Literal["gzip", "zstd", "snappy", "none"] = Field(default="gzip", description="Payload compression.")
    timeout: GoDuration = Field(default="10s", description="Timeout of one export request.")


def exporter(d: LokiDestination, options: SinkOptions, ctx: ExporterContext) -> Exporter:
    """An ``otlp_http`` exporter aimed at Loki's OTLP logs endpoint."""
    config: dict[str, ConfigValue] = {
        "endpoint": d.endpoint,
        "compression": d.compression,
        "timeout": d.timeout,
        **headers(ctx, d.headers),
    }
    if d.tenant is not None:
        config.setdefault("headers", {})[TENANT_HEADER] = d.tenant
    config.update(tls(ctx, d.tls))
    config.update(retry_on_failure(options))
    config.update(sending_queue(options))
    return Exporter("otlp_http", config)


DESTINATION = Destination(
    field="loki",
    model=LokiDestination,
    description="Grafana Loki via its OTLP endpoint (logs only).",
    components=("otlp_http",),
    exporter=exporter,
    signals=("logs",),
    queued=True,
    example={"endpoint": "http://loki-gateway.loki:3100/otlp", "tenant": "team-a"},
)
