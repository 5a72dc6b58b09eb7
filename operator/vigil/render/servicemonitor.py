"""prometheus-operator ServiceMonitors: collector self-metrics, prometheus sinks, app scrapes."""

from __future__ import annotations

from typing import Any

from vigil.models.stack import MonitoringStack
from vigil.render import meta
from vigil.render.collector import COMPONENT, scrape_port_name
from vigil.render.collector_config import CollectorConfig
from vigil.render.context import RenderContext

API_VERSION = "monitoring.coreos.com/v1"


def prometheus_labels(stack: MonitoringStack, ctx: RenderContext) -> dict[str, str]:
    """Labels Prometheus selects on: the stack's own, else the operator's default."""
    chosen = stack.spec.prometheus_labels
    return dict(chosen if chosen is not None else ctx.prometheus_labels)


def _monitor(
    owner: meta.Owner,
    name: str,
    labels: dict[str, str],
    selector: dict[str, Any],
    endpoint: dict[str, Any],
) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "ServiceMonitor",
        "metadata": meta.metadata(owner, meta.ObjectMetaSpec(name, "monitoring", extra_labels=labels)),
        "spec": {
            "selector": selector,
            "namespaceSelector": {"matchNames": [owner.namespace]},
            "endpoints": [endpoint],
        },
    }


def render_service_monitors(
    stack: MonitoringStack, config: CollectorConfig, ctx: RenderContext
) -> list[dict[str, Any]]:
    """One ServiceMonitor per target: collector self-metrics, each sink it serves for scraping, each app."""
    owner = meta.owner_of(stack, ctx.uid)
    labels = prometheus_labels(stack, ctx)
    collector = {"matchLabels": owner.selector_labels(COMPONENT)}
    name = stack.metadata.name
    out: list[dict[str, Any]] = []
    if stack.spec.self_monitoring.enabled:
        out.append(
            _monitor(
                owner,
                meta.self_monitor_name(name),
                labels,
                collector,
                {
                    "port": "metrics",
                    "path": "/metrics",
                    "interval": stack.spec.self_monitoring.interval,
                },
            )
        )
    for sink, scrape in config.scrapes:
        out.append(
            _monitor(
                owner,
                meta.sink_monitor_name(name, sink),
                labels,
                collector,
                {
                    "port": scrape_port_name(scrape.port),
                    "path": "/metrics",
                    "interval": scrape.interval,
                    "honorLabels": True,
                },
            )
        )
    for entry in stack.spec.scrape:
        out.append(
            _monitor(
                owner,
                meta.scrape_monitor_name(name, entry.name),
                labels,
                entry.selector.to_k8s(),
                {
                    "port": entry.port,
                    "path": entry.path,
                    "interval": entry.interval,
                    "scrapeTimeout": entry.scrape_timeout,
                },
            )
        )
    return out
