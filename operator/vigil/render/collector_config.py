"""The collector config file for a stack and its sinks, plus what the pod needs to run it.

Every sink's exporter comes from its destination (``vigil.destinations``). The config is built
as data and written once; every string from a spec is escaped for the collector (``$`` becomes
``$$``), so no tenant string can become a ``${...}`` expansion. Only the references Vigil makes
to its own environment variables (:class:`EnvRef`) are written as ``${env:NAME}``.
"""

from __future__ import annotations

import posixpath
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jinja2
import yaml

from vigil.destinations.base import ConfigValue, EnvRef, Exporter, Joined, Scrape
from vigil.models.common import CertificateSource, ConfigMapKeyRef, SecretKeyRef, SecretValue
from vigil.models.delivery import SIGNALS
from vigil.models.sink import TelemetrySink, TelemetrySinkSpec
from vigil.models.stack import MonitoringStack
from vigil.render import components as c
from vigil.render.errors import RenderError
from vigil.render.meta import env_name, short_hash

CONFIG_DIR = "/conf"
CONFIG_FILE = "collector.yaml"
TLS_DIR = "/etc/vigil/tls"
ENV_REFERENCE = re.compile(r"\$\{env:([A-Z0-9_]+)\}")

HEALTH_CHECKS = f"{c.CONNECTORS['forward']}/health_checks"
"""The connector that carries every health check's metrics into the stack's metrics pipelines."""
POD_NAME_ENV = "VIGIL_POD_NAME"
"""The collector pod's name (downward API): the pod label of health check series, so that the
replicas' results stay apart."""
# Labels (data point attributes) of every health check series, besides the receiver's http.*.
CHECK_LABEL = "health_check"
EXPECTED_LABEL = "expected_status"


@dataclass(frozen=True)
class EnvVar:
    """An environment variable of the collector container: inline, from a Secret key, or from a
    field of the pod (the downward API)."""

    name: str
    value: str | None = None
    secret_name: str | None = None
    secret_key: str | None = None
    field_path: str | None = None

    def to_k8s(self) -> dict[str, Any]:
        """The container env entry. Inline values are escaped for Kubernetes, which would
        otherwise expand ``$(OTHER_VAR)`` in them."""
        if self.field_path is not None:
            return {"name": self.name, "valueFrom": {"fieldRef": {"fieldPath": self.field_path}}}
        if self.secret_name is None:
            return {"name": self.name, "value": (self.value or "").replace("$", "$$")}
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
    """Everything derived from the sinks: config text, env, mounts, scrape ports, references."""

    text: str
    env: tuple[EnvVar, ...]
    mounts: tuple[Mount, ...]
    scrapes: tuple[tuple[str, Scrape], ...]
    """(sink, endpoint) of every sink Prometheus scrapes from the collector itself."""
    referenced: tuple[tuple[str, str], ...]
    """(kind, name) of every Secret and ConfigMap the collector reads; their versions roll it."""
    referenced_by: dict[tuple[str, str], str] = field(default_factory=dict)
    """The first field that references each (kind, name), e.g. ``TelemetrySink/x: spec.otlp.tls.ca``."""


@dataclass
class _Builder:
    """What the exporters of all sinks ask for, collected while they render."""

    env: dict[str, EnvVar] = field(default_factory=dict)
    env_owner: dict[str, str] = field(default_factory=dict)
    mounts: dict[str, Mount] = field(default_factory=dict)
    referenced: dict[tuple[str, str], str] = field(default_factory=dict)
    extensions: dict[str, dict[str, ConfigValue]] = field(default_factory=dict)


@dataclass
class _SinkContext:
    """The ExporterContext of one sink: field paths start at ``spec.<destination>``."""

    b: _Builder
    sink: str
    field: str

    def _path(self, where: str) -> str:
        return f"TelemetrySink/{self.sink}: spec.{self.field}.{where}"

    def fail(self, where: str, message: str) -> RenderError:
        return RenderError(self._path(where), message)

    def secret(self, where: str, value: SecretValue, *parts: str) -> EnvRef:
        name = env_name(self.sink, *parts)
        owner = self._path(where)
        if name in self.b.env and self.b.env_owner[name] != owner:
            raise RenderError(
                owner,
                f"maps to environment variable {name}, already used by {self.b.env_owner[name]}; "
                "rename one of the sinks or headers",
            )
        if value.value_from is not None:
            ref = value.value_from.secret_key_ref
            self.b.referenced.setdefault(("Secret", ref.name), owner)
            self.b.env[name] = EnvVar(name, secret_name=ref.name, secret_key=ref.key)
        else:
            self.b.env[name] = EnvVar(name, value=value.value)
        self.b.env_owner[name] = owner
        return EnvRef(name)

    def certificate(self, role: str, source: CertificateSource) -> str:
        ref: SecretKeyRef | ConfigMapKeyRef
        if source.secret_key_ref is not None:
            kind, ref = "Secret", source.secret_key_ref
        else:
            assert source.config_map_key_ref is not None
            kind, ref = "ConfigMap", source.config_map_key_ref
        self.b.referenced.setdefault((kind, ref.name), self._path(f"tls.{role}"))
        directory = posixpath.join(TLS_DIR, self.sink, role)
        volume = f"tls-{short_hash(self.sink + '/' + role, 10)}"
        self.b.mounts[volume] = Mount(volume, directory, kind, ref.name, ref.key, f"{role}.pem")
        return posixpath.join(directory, f"{role}.pem")

    def directory(self, where: str, path: str) -> None:
        volume = f"files-{short_hash(path, 10)}"
        self.b.mounts[volume] = Mount(volume, path, "emptyDir")

    def extension(self, type_: str, config: dict[str, ConfigValue]) -> str:
        ident = f"{type_}/{self.sink}"
        self.b.extensions[ident] = config
        return ident


def escaped(value: ConfigValue) -> Any:
    """``value`` as the collector must read it: every string's ``$`` doubled, Vigil's own
    environment references written ``${env:NAME}``."""
    if isinstance(value, EnvRef):
        return "${env:" + value.name + "}"
    if isinstance(value, Joined):
        return "".join(escaped(p) for p in value.parts)
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, Mapping):
        for key in value:
            if "$" in str(key):  # keys are names the models restrict; a "$" here is a bug, not data
                raise ValueError(f"collector config key {key!r} contains '$'")
        return {k: escaped(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [escaped(v) for v in value]
    return value


def _block(value: Mapping[str, Any], indent: int) -> str:
    """A mapping as block YAML indented by ``indent`` spaces ("" when empty)."""
    if not value:
        return ""
    text = yaml.safe_dump(dict(value), sort_keys=False, default_flow_style=False, width=2**31 - 1, allow_unicode=True)
    return "\n" + textwrap.indent(text.rstrip("\n"), " " * indent)


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("vigil.render", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - YAML: sections are dumped by yaml, scalars by tojson
        keep_trailing_newline=True,
    )
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": True}
    env.filters["block"] = _block
    return env.get_template("collector.yaml.j2")


def _processors(sink: str, spec: TelemetrySinkSpec) -> list[tuple[str, str, dict[str, ConfigValue]]]:
    """(kind, id, settings) of the processors a sink has of its own."""
    out: list[tuple[str, str, dict[str, ConfigValue]]] = []
    if spec.batch is not None:
        b = spec.batch
        settings = {
            "timeout": b.timeout,
            "send_batch_size": b.send_batch_size,
            "send_batch_max_size": b.send_batch_max_size,
        }
        out.append(("batch", f"{c.PROCESSORS['batch']}/{sink}", settings))
    if spec.sampling is not None:
        out.append(("sampler", f"{c.PROCESSORS['sampler']}/{sink}", {"sampling_percentage": spec.sampling.percentage}))
    if spec.redact is not None:
        actions = [{"key": k, "action": "delete"} for k in spec.redact.delete]
        actions += [{"key": k, "action": "hash"} for k in spec.redact.hash]
        out.append(("redact", f"{c.PROCESSORS['redact']}/redact-{sink}", {"actions": actions}))
    return out


def _pipelines(
    sinks: Sequence[TelemetrySink],
    exporters: Mapping[str, str],
    own: Mapping[str, list[tuple[str, str, dict[str, ConfigValue]]]],
    metrics_receivers: Sequence[str] = (),
) -> dict[str, dict[str, list[str]]]:
    """One pipeline per signal for the sinks without processing of their own, one per sink and
    signal for the others (so their processing never touches the other sinks).

    ``metrics_receivers`` feed every metrics pipeline besides OTLP (the health checks)."""
    pipelines: dict[str, dict[str, list[str]]] = {}
    base = [c.PROCESSORS["memory_limiter"]]

    def receivers(signal: str) -> list[str]:
        return ["otlp", *metrics_receivers] if signal == "metrics" else ["otlp"]

    for signal in SIGNALS:
        shared = [exporters[s.metadata.name] for s in sinks if signal in s.spec.signals and s.metadata.name not in own]
        if shared:
            pipelines[signal] = {
                "receivers": receivers(signal),
                "processors": [*base, c.PROCESSORS["batch"]],
                "exporters": shared,
            }
    for s in sinks:
        name = s.metadata.name
        if name not in own:
            continue
        batch = [ident for kind, ident, _ in own[name] if kind == "batch"] or [c.PROCESSORS["batch"]]
        for signal in SIGNALS:
            if signal not in s.spec.signals:
                continue
            rest = [i for k, i, _ in own[name] if k == "redact" or (k == "sampler" and signal == "traces")]
            pipelines[f"{signal}/{name}"] = {
                "receivers": receivers(signal),
                "processors": [*base, *batch, *rest],
                "exporters": [exporters[name]],
            }
    return pipelines


@dataclass(frozen=True)
class _HealthChecks:
    """The receivers, processors and pipelines of a stack's health checks (all empty without any)."""

    receivers: dict[str, dict[str, ConfigValue]] = field(default_factory=dict)
    processors: dict[str, dict[str, ConfigValue]] = field(default_factory=dict)
    pipelines: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    connectors: dict[str, dict[str, ConfigValue]] = field(default_factory=dict)


def _health_checks(stack: MonitoringStack, sinks: Sequence[TelemetrySink], b: _Builder) -> _HealthChecks:
    """One ``http_check/<check>`` receiver per check, in a pipeline of its own whose ``attributes``
    processor labels its series; the ``forward`` connector joins them all to the metrics pipelines,
    so the sinks' own processing applies to them as to any metric.

    Pipeline and processor ids use ``_``, which sink names (DNS names) never contain.
    """
    checks = stack.spec.health_checks
    if not checks:
        return _HealthChecks()
    where = f"MonitoringStack/{stack.metadata.name}: spec.healthChecks"
    if not any("metrics" in s.spec.signals for s in sinks):
        raise RenderError(
            where,
            "no selected TelemetrySink takes metrics, so the checks' results would go nowhere: select a "
            "sink with metrics in its signals, or remove healthChecks",
            reason="NoMetricsSink",
        )
    namespace = stack.metadata.namespace or "default"
    b.env[POD_NAME_ENV] = EnvVar(POD_NAME_ENV, field_path="metadata.name")
    b.env_owner[POD_NAME_ENV] = where
    out = _HealthChecks(connectors={HEALTH_CHECKS: {}})
    for check in checks:
        receiver = f"{c.RECEIVERS['http_check']}/{check.name}"
        processor = f"{c.PROCESSORS['health_labels']}/check_{check.name}"
        target: dict[str, ConfigValue] = {
            "endpoint": check.target_url(namespace),
            "method": check.method,
            "timeout": check.timeout,
        }
        if check.insecure_skip_verify:
            target["tls"] = {"insecure_skip_verify": True}
        out.receivers[receiver] = {"collection_interval": check.interval, "targets": [target]}
        out.processors[processor] = {
            "actions": [
                {"key": CHECK_LABEL, "value": check.name, "action": "upsert"},
                {"key": EXPECTED_LABEL, "value": ",".join(sorted(check.expected_status)), "action": "upsert"},
                {"key": "namespace", "value": namespace, "action": "upsert"},
                {"key": "pod", "value": EnvRef(POD_NAME_ENV), "action": "upsert"},
                # Only the status class answered carries the code, so each new code would start a
                # series that outlives the answer by 5 minutes: the classes alone stay exact.
                {"key": "http.status_code", "action": "delete"},
            ]
        }
        out.pipelines[f"metrics/check_{check.name}"] = {
            "receivers": [receiver],
            "processors": [processor],
            "exporters": [HEALTH_CHECKS],
        }
    return out


def _scrapes(stack: MonitoringStack, sinks: Sequence[TelemetrySink]) -> tuple[tuple[str, Scrape], ...]:
    """The ports sinks serve, each checked against the collector's own ports and each other's."""
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
    out: list[tuple[str, Scrape]] = []
    for s in sinks:
        destination, settings = s.spec.destination
        scrape = destination.scrape(settings)
        if scrape is None:
            continue
        path = f"TelemetrySink/{s.metadata.name}: spec.{destination.field}.port"
        if scrape.port in taken:
            raise RenderError(path, f"port {scrape.port} is already used by {taken[scrape.port]}; choose another")
        taken[scrape.port] = path
        out.append((s.metadata.name, scrape))
    return tuple(out)


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
    scrapes = _scrapes(stack, ordered)
    b = _Builder()
    health = _health_checks(stack, ordered, b)
    exporters: dict[str, Exporter] = {}
    for s in ordered:
        destination, settings = s.spec.destination
        ctx = _SinkContext(b, s.metadata.name, destination.field)
        exporters[s.metadata.name] = destination.exporter(settings, s.spec.options, ctx)
    ids = {name: f"{e.type}/{name}" for name, e in exporters.items()}
    own = {s.metadata.name: _processors(s.metadata.name, s.spec) for s in ordered if s.spec.has_own_processing}
    otlp = stack.spec.receivers.otlp
    text = _template().render(
        owner=f"{stack.metadata.namespace or 'default'}/{stack.metadata.name}",
        health_port=c.HEALTH_PORT,
        metrics_port=c.METRICS_PORT,
        grpc_port=otlp.grpc.port if otlp.grpc.enabled else None,
        http_port=otlp.http.port if otlp.http.enabled else None,
        extensions=escaped(dict(sorted(b.extensions.items()))),
        receivers=escaped(health.receivers),
        processors=escaped(
            {**{ident: settings for procs in own.values() for _, ident, settings in procs}, **health.processors}
        ),
        exporters=escaped({ids[name]: e.config for name, e in exporters.items()}),
        connectors=escaped(health.connectors),
        extension_ids=[c.EXTENSIONS["health_check"], *sorted(b.extensions)],
        pipelines={**_pipelines(ordered, ids, own, list(health.connectors)), **health.pipelines},
    )
    return CollectorConfig(
        text=text.lstrip(),
        env=tuple(b.env[k] for k in sorted(b.env)),
        mounts=tuple(b.mounts[k] for k in sorted(b.mounts)),
        scrapes=scrapes,
        referenced=tuple(sorted(b.referenced)),
        referenced_by=dict(sorted(b.referenced.items())),
    )


def env_references(text: str) -> set[str]:
    """Names of the environment variables a rendered config reads (``$$`` is a literal ``$``)."""
    return set(ENV_REFERENCE.findall(text.replace("$$", "")))


def foreign_expansions(text: str) -> list[str]:
    """Every ``${...}`` in a rendered config that is not one of Vigil's ``${env:NAME}`` references.

    Empty for everything Vigil renders; checked before the collector ever reads a config.
    """
    rest = ENV_REFERENCE.sub("", text.replace("$$", ""))
    return re.findall(r"\$\{[^}]*\}?|\$[A-Za-z_][A-Za-z0-9_]*", rest)
