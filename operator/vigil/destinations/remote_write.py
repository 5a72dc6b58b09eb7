"""prometheusRemoteWrite: push metrics with the Prometheus remote-write protocol (Prometheus, Mimir, Thanos)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from vigil.destinations.base import (
    ConfigValue,
    Destination,
    Exporter,
    ExporterContext,
    Joined,
    SinkOptions,
    headers,
    retry_on_failure,
    tls,
)
from vigil.destinations.otlp import URL, Endpoint
from vigil.models.base import (
    LABEL_NAME,
    PROMETHEUS_LABELS_RULE,
    CelRule,
    GoDuration,
    VigilModel,
    is_set,
    matches,
    without_userinfo,
)
from vigil.models.common import TLS, Header, SecretValue

LabelKey = Annotated[str, StringConstraints(pattern=LABEL_NAME, max_length=128)]


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
        without_userinfo("url", "use auth.basic or auth.bearerToken with valueFrom.secretKeyRef"),
    )

    url: Endpoint = Field(description="Remote-write URL, e.g. http://prometheus:9090/api/v1/write.")
    headers: list[Header] = Field(default_factory=list, max_length=32, description="Headers sent with every request.")
    tls: TLS | None = Field(default=None, description="TLS settings.")
    auth: RemoteWriteAuth | None = Field(default=None, description="Authentication.")
    # The collector refuses an empty value ("external labels configuration contains an empty key or value").
    external_labels: Annotated[
        dict[LabelKey, Annotated[str, StringConstraints(min_length=1, max_length=1024)]], PROMETHEUS_LABELS_RULE
    ] = Field(default_factory=dict, max_length=32, description="Labels added to every series sent (values not empty).")
    timeout: GoDuration = Field(default="10s", description="Timeout of one write request.")
    resource_to_telemetry_conversion: bool = Field(
        default=False, description="Turn resource attributes into metric labels."
    )


def exporter(d: PrometheusRemoteWriteDestination, options: SinkOptions, ctx: ExporterContext) -> Exporter:
    """A ``prometheus_remote_write`` exporter, authenticated by header or a basicauth extension."""
    config: dict[str, ConfigValue] = {"endpoint": d.url, "timeout": d.timeout, **headers(ctx, d.headers)}
    auth: dict[str, ConfigValue] = {}
    if d.auth is not None and d.auth.bearer_token is not None:
        sent = config.setdefault("headers", {})
        if any(name.lower() == "authorization" for name in sent):
            raise ctx.fail("auth.bearerToken", "the Authorization header is also set in headers; use one of them")
        token = ctx.secret("auth.bearerToken", d.auth.bearer_token, "BEARER_TOKEN")
        sent["Authorization"] = Joined(("Bearer ", token))
    elif d.auth is not None and d.auth.basic is not None:
        basic = d.auth.basic
        client = {
            "username": ctx.secret("auth.basic.username", basic.username, "USERNAME"),
            "password": ctx.secret("auth.basic.password", basic.password, "PASSWORD"),
        }
        auth = {"auth": {"authenticator": ctx.extension("basicauth", {"client_auth": client})}}
    config.update(tls(ctx, d.tls))
    config.update(retry_on_failure(options))
    config.update(auth)
    if d.external_labels:
        config["external_labels"] = dict(sorted(d.external_labels.items()))
    config["resource_to_telemetry_conversion"] = {"enabled": d.resource_to_telemetry_conversion}
    if options.queue is not None:
        config["remote_write_queue"] = {"enabled": options.queue.enabled, "queue_size": options.queue.size}
        config["max_batch_request_parallelism"] = options.queue.consumers
    return Exporter("prometheus_remote_write", config)


DESTINATION = Destination(
    field="prometheusRemoteWrite",
    model=PrometheusRemoteWriteDestination,
    description="Prometheus remote-write destination (metrics only).",
    components=("prometheus_remote_write",),
    extensions=("basicauth",),
    exporter=exporter,
    signals=("metrics",),
    queued=True,
    example={
        "url": "http://mimir-distributor.mimir:8080/api/v1/push",
        "auth": {"bearerToken": {"valueFrom": {"secretKeyRef": {"name": "mimir", "key": "token"}}}},
    },
)
