"""What every destination (sink type) is made of, and the pieces their exporters share.

A destination is one object (:class:`Destination`): its model (a field of TelemetrySinkSpec),
the exporter it renders, the component types that exporter may use, what Prometheus scrapes
from it, and an example. Everything else (the CRD's CEL rules and messages, the collector
manifest check, the examples test, the docs) is derived from the registry in
``vigil.destinations``. See docs/adding-a-sink.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from vigil.models.base import VigilModel
from vigil.models.common import TLS, CertificateSource, Header, SecretValue
from vigil.models.delivery import SIGNALS, Queue, Retry, Signal


@dataclass(frozen=True)
class EnvRef:
    """A value the collector reads from its environment: written ``${env:NAME}``, never escaped."""

    name: str


@dataclass(frozen=True)
class Joined:
    """A string made of literal text (escaped when rendered) and environment references."""

    parts: tuple[str | EnvRef, ...]


ConfigValue = Any
"""A value of the collector config: str, int, float, bool, None, EnvRef, Joined, list or dict.
Every str is user data unless it is the key of a mapping, and is escaped when rendered."""


@dataclass(frozen=True)
class Exporter:
    """One exporter of the collector config: its component type and its settings."""

    type: str
    config: dict[str, ConfigValue]


@dataclass(frozen=True)
class Scrape:
    """A metrics endpoint the collector serves for Prometheus (a container port and a ServiceMonitor)."""

    port: int
    interval: str


@dataclass(frozen=True)
class SinkOptions:
    """The parts of a TelemetrySinkSpec that are not the destination but shape its exporter."""

    signals: tuple[Signal, ...]
    retry: Retry | None
    queue: Queue | None


class ExporterContext(Protocol):
    """What an exporter may ask of the collector it is rendered into.

    ``where`` is a field path inside the destination, e.g. ``headers[0]``; the context prefixes
    it with the sink and the destination field when it reports a problem.
    """

    def secret(self, where: str, value: SecretValue, *parts: str) -> EnvRef:
        """Pass ``value`` through the collector's environment; the reference to put in the config."""

    def certificate(self, role: str, source: CertificateSource) -> str:
        """Mount PEM data from a Secret/ConfigMap key; the file's path in the collector."""

    def directory(self, where: str, path: str) -> None:
        """Give the collector a writable directory for the file at ``path``."""

    def extension(self, type_: str, config: dict[str, ConfigValue]) -> str:
        """Add an extension of ``type_`` for this sink; its id, to name in the exporter."""

    def fail(self, where: str, message: str) -> Exception:
        """The error to raise for a problem with the field ``where``."""


M = TypeVar("M", bound=VigilModel)


def _no_scrape(_: Any) -> Scrape | None:
    return None


@dataclass(frozen=True)
class Destination(Generic[M]):
    """One sink type: everything Vigil knows about it, in one place."""

    field: str
    """The TelemetrySinkSpec field (wire name), e.g. ``prometheusRemoteWrite``."""
    model: type[M]
    description: str
    """Description of the field in the CRD (kubectl explain)."""
    components: tuple[str, ...]
    """Exporter component types the exporter may use (the collector must contain them)."""
    exporter: Callable[[M, SinkOptions, ExporterContext], Exporter]
    example: Mapping[str, Any]
    """An example of the destination's settings, as written in a TelemetrySink's spec."""
    signals: tuple[Signal, ...] = SIGNALS
    """Signals it can carry."""
    queued: bool = False
    """Whether spec.retry and spec.queue apply (the exporter has a sending queue)."""
    scrape: Callable[[M], Scrape | None] = _no_scrape
    """The endpoint Prometheus scrapes, for destinations served by the collector itself."""
    extensions: tuple[str, ...] = ()
    """Extension component types the exporter may add."""

    @property
    def attr(self) -> str:
        """The Python attribute of the field, e.g. ``prometheus_remote_write``."""
        return "".join("_" + c.lower() if c.isupper() else c for c in self.field)

    def example_spec(self) -> dict[str, Any]:
        """A whole TelemetrySink spec using this destination."""
        return {"signals": list(self.signals), self.field: dict(self.example)}


# Pieces several exporters share -----------------------------------------------------------


def headers(ctx: ExporterContext, items: Sequence[Header]) -> dict[str, ConfigValue]:
    """``headers:`` of an HTTP/gRPC exporter, each value through the environment."""
    seen: dict[str, int] = {}
    out: dict[str, ConfigValue] = {}
    for i, header in enumerate(items):
        lower = header.name.lower()
        if lower in seen:
            raise ctx.fail(
                f"headers[{i}].name", f"header {header.name} is already set by headers[{seen[lower]}]; remove one"
            )
        seen[lower] = i
        out[header.name] = ctx.secret(f"headers[{i}]", header, "HEADER", header.name)
    return {"headers": out} if out else {}


def tls(ctx: ExporterContext, settings: TLS | None) -> dict[str, ConfigValue]:
    """``tls:`` of an exporter, certificates mounted from Secrets/ConfigMaps."""
    if settings is None:
        return {}
    out: dict[str, ConfigValue] = {}
    if settings.insecure:
        out["insecure"] = True
    if settings.insecure_skip_verify:
        out["insecure_skip_verify"] = True
    if settings.server_name:
        out["server_name_override"] = settings.server_name
    for role, source in (("ca", settings.ca), ("cert", settings.cert), ("key", settings.key)):
        if source is not None:
            out[f"{role}_file"] = ctx.certificate(role, source)
    return {"tls": out} if out else {}


def retry_on_failure(options: SinkOptions) -> dict[str, ConfigValue]:
    """``retry_on_failure:`` when the sink sets spec.retry."""
    r = options.retry
    if r is None:
        return {}
    return {
        "retry_on_failure": {
            "enabled": r.enabled,
            "initial_interval": r.initial_interval,
            "max_interval": r.max_interval,
            "max_elapsed_time": r.max_elapsed_time,
        }
    }


def sending_queue(options: SinkOptions) -> dict[str, ConfigValue]:
    """``sending_queue:`` when the sink sets spec.queue."""
    q = options.queue
    if q is None:
        return {}
    return {"sending_queue": {"enabled": q.enabled, "queue_size": q.size, "num_consumers": q.consumers}}
