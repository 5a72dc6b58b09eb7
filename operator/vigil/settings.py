"""Operator settings: flags of `vigil run`, each with a VIGIL_* environment variable."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field

from vigil.render.components import DEFAULT_COLLECTOR_IMAGE
from vigil.render.context import RenderContext


def _labels(text: str) -> dict[str, str]:
    """``release=kube-prometheus-stack,team=sre`` or a JSON object."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        return {str(k): str(v) for k, v in json.loads(text).items()}
    pairs = [p.split("=", 1) for p in text.split(",") if p.strip()]
    if any(len(p) != 2 for p in pairs):
        raise argparse.ArgumentTypeError(f"expected key=value[,key=value], got {text!r}")
    return {k.strip(): v.strip() for k, v in pairs}


def _interval(text: str) -> float:
    """Seconds between reads: 0 (off) or at least 1 (timestamps in status have whole seconds)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value != 0 and not value >= 1:
        raise argparse.ArgumentTypeError(f"expected 0 (off) or at least 1 second, got {text!r}")
    return value


def parse_labels(text: str) -> dict[str, str]:
    """The syntax of ``--prometheus-labels``, for other commands that take the same flag."""
    return _labels(text)


@dataclass(frozen=True)
class Settings:
    """Everything `vigil run` can be told."""

    namespaces: tuple[str, ...] = ()
    """Watch only these namespaces; empty means the whole cluster."""
    drift_interval: float = 300.0
    """Seconds between full reconciles of each stack (repairs edited or deleted children)."""
    secret_check_interval: float = 30.0
    """Seconds between checks of referenced Secrets' versions (a rotation rolls the collector)."""
    data_flow_interval: float = 30.0
    """Seconds between reads of each stack's collector metrics into status.dataFlow; 0 turns them off."""
    prometheus_labels: dict[str, str] = field(default_factory=dict)
    """Default labels on ServiceMonitors/PrometheusRules for Prometheus to select them."""
    cluster_rule_namespaces: frozenset[str] = frozenset()
    """Namespaces whose stacks may install rule bundles with scope cluster (every namespace's series)."""
    collector_binary: str = ""
    """An otelcol binary to run `validate` with before any config is rolled out ("" = skip)."""
    collector_image: str = DEFAULT_COLLECTOR_IMAGE
    """Image of the collectors of stacks that set no spec.collector.image."""
    metrics_port: int = 8080
    """Port of /metrics, /healthz and /readyz."""
    watch_server_timeout: int = 300
    """Seconds the API server keeps a watch open."""
    watch_client_timeout: int = 330
    """Seconds after which the client drops a silent watch and starts again."""
    worker_limit: int = 20
    """Objects reconciled at once."""
    request_timeout: float = 30.0
    """Seconds the operator waits for one API request before it counts as failed (and is retried)."""
    posting_level: str = "WARNING"
    """Lowest level of handler log messages posted as Kubernetes Events."""
    peering: str = ""
    """kopf peering object for HA (several replicas, one active); "" runs standalone."""
    priority: int | None = None
    """Peering priority; the highest live one is active. None: a random one per process, so that
    identical replicas never tie (kopf pauses every operator of a tied priority)."""
    log_format: str = "plain"
    """plain or json."""
    debug: bool = False
    """Verbose logs."""

    def render_context(self, uid: str | None) -> RenderContext:
        """What renderers need from these settings, for the object with ``uid``."""
        return RenderContext(
            self.prometheus_labels,
            uid=uid,
            collector_image=self.collector_image,
            cluster_rule_namespaces=self.cluster_rule_namespaces,
        )


def _env(name: str, default: str) -> str:
    return os.environ.get(f"VIGIL_{name}", default)


def add_cluster_rule_namespaces(p: argparse.ArgumentParser) -> None:
    """The --cluster-rule-namespaces flag (also of `vigil render` and `vigil validate`)."""
    p.add_argument(
        "--cluster-rule-namespaces",
        type=lambda text: frozenset(n.strip() for n in text.split(",") if n.strip()),
        default=frozenset(n for n in _env("CLUSTER_RULE_NAMESPACES", "").split(",") if n),
        help="namespaces whose stacks may select rule bundles with scope cluster, comma-separated "
        "(env VIGIL_CLUSTER_RULE_NAMESPACES; default none)",
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of `vigil run`; each defaults to its VIGIL_* environment variable."""
    d = Settings()
    p.add_argument(
        "--namespace",
        action="append",
        dest="namespaces",
        default=[n for n in _env("NAMESPACES", "").split(",") if n],
        help="watch only this namespace (repeatable; env VIGIL_NAMESPACES, comma-separated)",
    )
    p.add_argument("--drift-interval", type=float, default=float(_env("DRIFT_INTERVAL", str(d.drift_interval))))
    p.add_argument(
        "--secret-check-interval",
        type=float,
        default=float(_env("SECRET_CHECK_INTERVAL", str(d.secret_check_interval))),
    )
    p.add_argument(
        "--data-flow-interval",
        type=_interval,
        default=_env("DATA_FLOW_INTERVAL", str(d.data_flow_interval)),  # argparse applies type to it
        help="seconds between reads of each stack's collector metrics into status.dataFlow, at least 1; "
        "0 turns them off (env VIGIL_DATA_FLOW_INTERVAL)",
    )
    p.add_argument(
        "--prometheus-labels",
        type=_labels,
        default=_labels(_env("PROMETHEUS_LABELS", "")),
        help="key=value,... added to ServiceMonitors unless a stack sets its own",
    )
    add_cluster_rule_namespaces(p)
    p.add_argument(
        "--collector-binary",
        default=_env("COLLECTOR_BINARY", d.collector_binary),
        help="otelcol binary used to validate configs before rollout",
    )
    p.add_argument(
        "--collector-image",
        default=_env("COLLECTOR_IMAGE", d.collector_image),
        help="collector image of stacks that set no spec.collector.image",
    )
    p.add_argument("--metrics-port", type=int, default=int(_env("METRICS_PORT", str(d.metrics_port))))
    p.add_argument(
        "--watch-server-timeout",
        type=int,
        default=int(_env("WATCH_SERVER_TIMEOUT", str(d.watch_server_timeout))),
    )
    p.add_argument(
        "--watch-client-timeout",
        type=int,
        default=int(_env("WATCH_CLIENT_TIMEOUT", str(d.watch_client_timeout))),
    )
    p.add_argument("--worker-limit", type=int, default=int(_env("WORKER_LIMIT", str(d.worker_limit))))
    p.add_argument(
        "--request-timeout",
        type=float,
        default=float(_env("REQUEST_TIMEOUT", str(d.request_timeout))),
        help="seconds to wait for one API request before retrying it (env VIGIL_REQUEST_TIMEOUT)",
    )
    p.add_argument(
        "--posting-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        default=_env("POSTING_LEVEL", d.posting_level),
    )
    p.add_argument(
        "--peering",
        default=_env("PEERING", d.peering),
        help="ClusterKopfPeering (KopfPeering with --namespace) name for HA; see deploy/peering.yaml",
    )
    p.add_argument(
        "--priority",
        type=int,
        default=int(_env("PRIORITY", "")) if _env("PRIORITY", "") else None,
        help="peering priority (highest active); default a random one per replica",
    )
    p.add_argument("--log-format", choices=("plain", "json"), default=_env("LOG_FORMAT", d.log_format))
    p.add_argument("--debug", action="store_true", default=_env("DEBUG", "") == "1")


def from_arguments(args: argparse.Namespace) -> Settings:
    """Settings from parsed `vigil run` arguments."""
    return Settings(
        namespaces=tuple(args.namespaces),
        drift_interval=args.drift_interval,
        secret_check_interval=args.secret_check_interval,
        data_flow_interval=args.data_flow_interval,
        prometheus_labels=dict(args.prometheus_labels),
        cluster_rule_namespaces=frozenset(args.cluster_rule_namespaces),
        collector_binary=args.collector_binary,
        collector_image=args.collector_image,
        metrics_port=args.metrics_port,
        watch_server_timeout=args.watch_server_timeout,
        watch_client_timeout=args.watch_client_timeout,
        worker_limit=args.worker_limit,
        request_timeout=args.request_timeout,
        posting_level=args.posting_level,
        peering=args.peering,
        priority=args.priority,
        log_format=args.log_format,
        debug=args.debug,
    )
