"""ServiceMonitors: self metrics, prometheus sinks, app scrapes, Prometheus selector labels."""

from __future__ import annotations

from tests.helpers import sink, stack
from vigil.models.sink import TelemetrySink
from vigil.models.stack import MonitoringStack
from vigil.render.collector_config import build_collector_config
from vigil.render.context import RenderContext
from vigil.render.servicemonitor import render_service_monitors

PROM = TelemetrySink.model_validate(
    sink("prom", signals=["metrics"], prometheus={"port": 9464, "scrapeInterval": "15s"})
)


def _monitors(ctx: RenderContext | None = None, **spec: object) -> dict[str, dict]:
    model = MonitoringStack.model_validate(stack("shop", sinks={"names": ["prom"]}, **spec))
    config = build_collector_config(model, [PROM])
    return {m["metadata"]["name"]: m for m in render_service_monitors(model, config, ctx or RenderContext())}


def test_self_sink_and_scrape_monitors() -> None:
    mons = _monitors(scrape=[{"name": "apps"}])
    assert sorted(mons) == ["shop-collector-self", "shop-scrape-apps", "shop-sink-prom"]
    assert mons["shop-collector-self"]["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "30s"}
    ]
    assert mons["shop-sink-prom"]["spec"]["endpoints"][0]["port"] == "prom-9464"
    assert mons["shop-sink-prom"]["spec"]["endpoints"][0]["interval"] == "15s"
    app = mons["shop-scrape-apps"]["spec"]
    assert app["selector"] == {"matchLabels": {"monitoring": "enabled"}}
    assert app["namespaceSelector"] == {"matchNames": ["team-a"]}


def test_self_monitoring_can_be_disabled() -> None:
    assert "shop-collector-self" not in _monitors(selfMonitoring={"enabled": False})


def test_prometheus_labels_default_from_context_and_override_per_stack() -> None:
    ctx = RenderContext(prometheus_labels={"release": "kube-prometheus-stack"})
    default = _monitors(ctx)["shop-collector-self"]["metadata"]["labels"]
    assert default["release"] == "kube-prometheus-stack"
    own = _monitors(ctx, prometheusLabels={"prometheus": "team"})["shop-collector-self"]["metadata"]["labels"]
    assert own["prometheus"] == "team"
    assert "release" not in own
