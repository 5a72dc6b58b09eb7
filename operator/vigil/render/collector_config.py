"""The collector config file for a stack and its sinks, plus what the pod needs to run it."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jinja2

from vigil.models.common import (
    TLS,
    CertificateSource,
    ConfigMapKeyRef,
    SecretKeyRef,
    SecretValue,
)
from vigil.models.sink import SIGNALS, TelemetrySink, TelemetrySinkSpec
from vigil.models.stack import MonitoringStack
from vigil.render import components as c
from vigil.render.errors import RenderError
from vigil.render.meta import env_name, short_hash

CONFIG_DIR = "/conf"
CONFIG_FILE = "collector.yaml"
TLS_DIR = "/etc/vigil/tls"
RESERVED_DIRS = (CONFIG_DIR, TLS_DIR)


@dataclass(frozen=True)
class EnvVar:
    """An environment variable of the collector container: inline or from a Secret key."""

    name: str
    value: str | None = None
    secret_name: str | None = None
    secret_key: str | None = None

    def to_k8s(self) -> dict[str, Any]:
        """The container env entry."""
        if self.secret_name is None:
            return {"name": self.name, "value": self.value}
        ref = {"name": self.secret_name, "key": self.secret_key}
        return {"name": self.name, "valueFrom": {"secretKeyRef": ref}}


@dataclass(frozen=True)
class Mount:
    """A file the collector reads (TLS material) or a directory it writes (file sinks)."""

    volume: str
    path: str
    source_kind: str  # Secret, ConfigMap or emptyDir
    source_name: str = ""
    key: str = ""
    file_name: str = ""


@dataclass(frozen=True)
class CollectorConfig:
    """Everything derived from the sinks: config text, env, mounts, extra ports, references."""

    text: str
    env: tuple[EnvVar, ...]
    mounts: tuple[Mount, ...]
    prometheus_ports: tuple[tuple[str, int], ...]
    referenced: tuple[tuple[str, str], ...]
    """(kind, name) of every Secret and ConfigMap the collector reads; their versions roll it."""
    referenced_by: dict[tuple[str, str], str] = field(default_factory=dict)
    """The first field that references each (kind, name), e.g. ``TelemetrySink/x: tls.ca``."""


@dataclass
class _Builder:
    env: dict[str, EnvVar] = field(default_factory=dict)
    env_owner: dict[str, str] = field(default_factory=dict)
    mounts: dict[str, Mount] = field(default_factory=dict)
    referenced: dict[tuple[str, str], str] = field(default_factory=dict)

    def refer(self, kind: str, name: str, where: str) -> None:
        """Remember that ``where`` reads the ``kind`` object ``name``."""
        self.referenced.setdefault((kind, name), where)

    def secret(self, sink: str, path: str, value: SecretValue, *parts: str) -> str:
        """Put ``value`` into the environment and return the ``${env:NAME}`` reference."""
        name = env_name(sink, *parts)
        owner = f"TelemetrySink/{sink}: {path}"
        if name in self.env and self.env_owner[name] != owner:
            raise RenderError(
                owner,
                f"maps to environment variable {name}, already used by {self.env_owner[name]}; "
                "rename one of the sinks or headers",
            )
        if value.value_from is not None:
            ref = value.value_from.secret_key_ref
            self.refer("Secret", ref.name, owner)
            self.env[name] = EnvVar(name, secret_name=ref.name, secret_key=ref.key)
        else:
            self.env[name] = EnvVar(name, value=value.value)
        self.env_owner[name] = owner
        return "${env:" + name + "}"

    def certificate(self, sink: str, role: str, source: CertificateSource) -> str:
        """Mount a Secret/ConfigMap key as a file and return its path."""
        file_name = f"{role}.pem"
        directory = posixpath.join(TLS_DIR, sink, role)
        ref: SecretKeyRef | ConfigMapKeyRef
        if source.secret_key_ref is not None:
            kind, ref = "Secret", source.secret_key_ref
        else:
            assert source.config_map_key_ref is not None
            kind, ref = "ConfigMap", source.config_map_key_ref
        self.refer(kind, ref.name, f"TelemetrySink/{sink}: tls.{role}")
        volume = f"tls-{short_hash(sink + '/' + role, 10)}"
        self.mounts[volume] = Mount(volume, directory, kind, ref.name, ref.key, file_name)
        return posixpath.join(directory, file_name)

    def directory(self, sink: str, path: str) -> None:
        """An emptyDir for a file sink's directory."""
        directory = posixpath.dirname(path)
        if any(directory == d or directory.startswith(d + "/") for d in RESERVED_DIRS):
            raise RenderError(
                f"TelemetrySink/{sink}: spec.file.path",
                f"{directory} is reserved for the collector's own files; choose another directory, e.g. /var/lib/vigil",
            )
        volume = f"files-{short_hash(directory, 10)}"
        self.mounts[volume] = Mount(volume, directory, "emptyDir")


def _tls(b: _Builder, sink: str, tls: TLS | None) -> dict[str, Any]:
    if tls is None:
        return {}
    out: dict[str, Any] = {}
    if tls.insecure:
        out["insecure"] = True
    if tls.insecure_skip_verify:
        out["insecure_skip_verify"] = True
    if tls.server_name:
        out["server_name_override"] = tls.server_name
    for role, source in (("ca", tls.ca), ("cert", tls.cert), ("key", tls.key)):
        if source is not None:
            out[f"{role}_file"] = b.certificate(sink, role, source)
    return out


def _headers(b: _Builder, sink: str, dest: str, spec: Any) -> dict[str, str]:
    seen: dict[str, int] = {}
    out: dict[str, str] = {}
    for i, header in enumerate(spec.headers):
        lower = header.name.lower()
        if lower in seen:
            raise RenderError(
                f"TelemetrySink/{sink}: spec.{dest}.headers[{i}].name",
                f"header {header.name} is already set by headers[{seen[lower]}]; remove one",
            )
        seen[lower] = i
        out[header.name] = b.secret(sink, f"spec.{dest}.headers[{i}]", header, "HEADER", header.name)
    return out


def _exporter(b: _Builder, sink: TelemetrySink, basic_auths: list[dict[str, str]]) -> dict[str, Any]:
    name, spec = sink.metadata.name, sink.spec
    dest = spec.destination_type
    common: dict[str, Any] = {
        "retry": spec.retry,
        "queue": spec.queue,
        "headers": {},
        "tls": {},
    }
    if spec.otlp is not None:
        kind = f"otlp/{spec.otlp.protocol}"
        o = spec.otlp
        common.update(
            endpoint=o.endpoint,
            compression=o.compression,
            timeout=o.timeout,
            headers=_headers(b, name, dest, o),
            tls=_tls(b, name, o.tls),
        )
    elif spec.prometheus_remote_write is not None:
        kind, rw = dest, spec.prometheus_remote_write
        headers = _headers(b, name, dest, rw)
        auth = None
        if rw.auth is not None and rw.auth.bearer_token is not None:
            if any(h.lower() == "authorization" for h in headers):
                raise RenderError(
                    f"TelemetrySink/{name}: spec.prometheusRemoteWrite.auth.bearerToken",
                    "the Authorization header is also set in headers; use one of them",
                )
            token = b.secret(name, f"spec.{dest}.auth.bearerToken", rw.auth.bearer_token, "BEARER_TOKEN")
            headers["Authorization"] = f"Bearer {token}"
        elif rw.auth is not None and rw.auth.basic is not None:
            auth = f"{c.EXTENSIONS['basicauth']}/{name}"
            basic_auths.append(
                {
                    "id": auth,
                    "username": b.secret(name, f"spec.{dest}.auth.basic.username", rw.auth.basic.username, "USERNAME"),
                    "password": b.secret(name, f"spec.{dest}.auth.basic.password", rw.auth.basic.password, "PASSWORD"),
                }
            )
        common.update(
            endpoint=rw.url,
            timeout=rw.timeout,
            headers=headers,
            tls=_tls(b, name, rw.tls),
            auth=auth,
            external_labels=dict(sorted(rw.external_labels.items())),
            resource_to_telemetry=rw.resource_to_telemetry_conversion,
        )
    elif spec.prometheus is not None:
        kind, p = dest, spec.prometheus
        common.update(
            port=p.port,
            namespace=p.namespace,
            const_labels=dict(sorted(p.const_labels.items())),
            metric_expiration=p.metric_expiration,
            resource_to_telemetry=p.resource_to_telemetry_conversion,
        )
    elif spec.kafka is not None:
        kind, k = dest, spec.kafka
        sasl = None
        if k.sasl is not None:
            sasl = {
                "mechanism": k.sasl.mechanism,
                "username": b.secret(name, f"spec.{dest}.sasl.username", k.sasl.username, "SASL_USERNAME"),
                "password": b.secret(name, f"spec.{dest}.sasl.password", k.sasl.password, "SASL_PASSWORD"),
            }
        common.update(
            brokers=list(k.brokers),
            topic=k.topic,
            encoding=k.encoding,
            protocol_version=k.protocol_version,
            signals=[s for s in SIGNALS if s in spec.signals],
            sasl=sasl,
            tls=_tls(b, name, k.tls),
        )
    elif spec.file is not None:
        kind, f = dest, spec.file
        b.directory(name, f.path)
        common.update(path=f.path, format=f.format, rotation=f.rotation)
    else:
        assert spec.debug is not None
        kind = dest
        common.update(verbosity=spec.debug.verbosity)
    return {"id": f"{c.EXPORTERS[kind]}/{name}", "kind": kind, **common}


def _processors(sink: str, spec: TelemetrySinkSpec) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if spec.batch is not None:
        out.append(
            {
                "id": f"{c.PROCESSORS['batch']}/{sink}",
                "kind": "batch",
                "timeout": spec.batch.timeout,
                "send_batch_size": spec.batch.send_batch_size,
                "send_batch_max_size": spec.batch.send_batch_max_size,
            }
        )
    if spec.sampling is not None:
        out.append(
            {
                "id": f"{c.PROCESSORS['sampler']}/{sink}",
                "kind": "sampler",
                "percentage": spec.sampling.percentage,
            }
        )
    if spec.redact is not None:
        actions = [{"key": k, "action": "delete"} for k in spec.redact.delete]
        actions += [{"key": k, "action": "hash"} for k in spec.redact.hash]
        out.append({"id": f"{c.PROCESSORS['redact']}/redact-{sink}", "kind": "redact", "actions": actions})
    return out


def _pipelines(
    sinks: Sequence[TelemetrySink], exporters: dict[str, str], own: dict[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    pipelines: list[dict[str, Any]] = []
    base = [c.PROCESSORS["memory_limiter"]]
    for signal in SIGNALS:
        shared = [exporters[s.metadata.name] for s in sinks if signal in s.spec.signals and s.metadata.name not in own]
        if shared:
            pipelines.append({"id": signal, "processors": [*base, c.PROCESSORS["batch"]], "exporters": shared})
    for s in sinks:
        name = s.metadata.name
        if name not in own:
            continue
        procs = own[name]
        batch = [p["id"] for p in procs if p["kind"] == "batch"] or [c.PROCESSORS["batch"]]
        for signal in SIGNALS:
            if signal not in s.spec.signals:
                continue
            rest = [p["id"] for p in procs if p["kind"] == "redact" or (p["kind"] == "sampler" and signal == "traces")]
            pipelines.append(
                {
                    "id": f"{signal}/{name}",
                    "processors": [*base, *batch, *rest],
                    "exporters": [exporters[name]],
                }
            )
    return pipelines


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("vigil.render", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - YAML, every value is passed through tojson
        keep_trailing_newline=True,
    )
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}
    return env.get_template("collector.yaml.j2")


def _check_ports(stack: MonitoringStack, sinks: Sequence[TelemetrySink]) -> tuple[tuple[str, int], ...]:
    otlp = stack.spec.receivers.otlp
    taken: dict[int, str] = {
        c.HEALTH_PORT: "the collector's health check",
        c.METRICS_PORT: "the collector's own metrics",
    }
    for proto, listener in (("grpc", otlp.grpc), ("http", otlp.http)):
        if listener.enabled:
            path = f"spec.receivers.otlp.{proto}.port"
            if listener.port in taken:
                raise RenderError(
                    f"MonitoringStack/{stack.metadata.name}: {path}",
                    f"port {listener.port} is used by {taken[listener.port]}; choose another",
                )
            taken[listener.port] = f"MonitoringStack/{stack.metadata.name} {path}"
    ports: list[tuple[str, int]] = []
    for s in sinks:
        if s.spec.prometheus is None:
            continue
        port = s.spec.prometheus.port
        path = f"TelemetrySink/{s.metadata.name}: spec.prometheus.port"
        if port in taken:
            raise RenderError(path, f"port {port} is already used by {taken[port]}; choose another")
        taken[port] = path
        ports.append((s.metadata.name, port))
    return tuple(ports)


def build_collector_config(stack: MonitoringStack, sinks: Sequence[TelemetrySink]) -> CollectorConfig:
    """Render the collector config for ``stack`` exporting to ``sinks`` (already selected).

    Raises RenderError naming the field when the combination cannot run.
    """
    if not sinks:
        raise RenderError(
            f"MonitoringStack/{stack.metadata.name}: spec.sinks",
            "selects no TelemetrySink in this namespace; create one or fix the selector/names",
            reason="NoSinksSelected",
        )
    ordered = sorted(sinks, key=lambda s: s.metadata.name)
    prometheus_ports = _check_ports(stack, ordered)
    b = _Builder()
    basic_auths: list[dict[str, str]] = []
    exporters = [_exporter(b, s, basic_auths) for s in ordered]
    own = {s.metadata.name: _processors(s.metadata.name, s.spec) for s in ordered if s.spec.has_own_processing}
    otlp = stack.spec.receivers.otlp
    text = _template().render(
        stack=stack.metadata.name,
        namespace=stack.metadata.namespace or "default",
        health_port=c.HEALTH_PORT,
        metrics_port=c.METRICS_PORT,
        grpc_port=otlp.grpc.port if otlp.grpc.enabled else None,
        http_port=otlp.http.port if otlp.http.enabled else None,
        basic_auths=basic_auths,
        processors=[p for procs in own.values() for p in procs],
        exporters=exporters,
        extension_ids=[c.EXTENSIONS["health_check"], *(a["id"] for a in basic_auths)],
        pipelines=_pipelines(ordered, {e["id"].split("/", 1)[1]: e["id"] for e in exporters}, own),
    )
    return CollectorConfig(
        text=text.lstrip(),
        env=tuple(b.env[k] for k in sorted(b.env)),
        mounts=tuple(b.mounts[k] for k in sorted(b.mounts)),
        prometheus_ports=prometheus_ports,
        referenced=tuple(sorted(b.referenced)),
        referenced_by=dict(sorted(b.referenced.items())),
    )
