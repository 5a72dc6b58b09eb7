"""An AlertPolicy end to end: a real Prometheus fires it, a real Alertmanager delivers it.

An exporter in this process exposes request counters whose error ratio the test controls;
Prometheus scrapes it every second and evaluates the rendered rules; Alertmanager runs the
rendered alertmanager.yml with webhook receivers pointed back at this process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from tests.harness.alertmanager import (
    Alertmanager,
    WebhookSink,
    start_alertmanager,
    start_webhook_sink,
)
from tests.harness.process import eventually
from tests.harness.prometheus import Prometheus, start_prometheus
from tests.harness.tools import free_port, require
from vigil.models.policy import AlertPolicy
from vigil.render.alerts import render_alertmanager_yaml, render_rule_groups

DELIVERY_DEADLINE_S = 45.0
ROUTES = ("/checkout", "/search")
ROUTING = {
    "groupBy": ["alertname"],
    "groupWait": "1s",
    "groupInterval": "2s",
    "repeatInterval": "1h",
}


@dataclass
class Exporter:
    """Request counters per route; ``error_ratio`` is the share of requests answered 500."""

    registry: CollectorRegistry
    error_ratio: float = 0.5
    stop_event: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        requests = Counter("app_requests", "Requests", ["route", "code"], registry=self.registry)
        while not self.stop_event.wait(0.05):
            for route in ROUTES:
                requests.labels(route, "500").inc(10 * self.error_ratio)
                requests.labels(route, "200").inc(10 * (1 - self.error_ratio))


@pytest.fixture
def exporter() -> Iterator[tuple[Exporter, int]]:
    registry = CollectorRegistry()
    Gauge("app_queue_depth", "Items waiting", registry=registry).set(50)
    state = Exporter(registry)
    worker = threading.Thread(target=state.run, name="exporter", daemon=True)
    worker.start()
    port = free_port()
    server, _ = start_http_server(port, addr="127.0.0.1", registry=registry)
    yield state, port
    state.stop_event.set()
    server.shutdown()
    server.server_close()
    worker.join(timeout=5)


@pytest.fixture
def webhooks() -> Iterator[WebhookSink]:
    sink = start_webhook_sink()
    yield sink
    sink.stop()


def _policy(name: str, spec: dict[str, Any]) -> AlertPolicy:
    return AlertPolicy.model_validate(
        {
            "apiVersion": "vigil.dev/v1alpha1",
            "kind": "AlertPolicy",
            "metadata": {"name": name, "namespace": "team-a"},
            "spec": spec,
        }
    )


def _policies(hooks: str) -> tuple[AlertPolicy, AlertPolicy]:
    errors = _policy(
        "checkout-errors",
        {
            "ratio": {
                "errors": 'app_requests_total{code="500"}',
                "total": "app_requests_total",
                "window": "10s",
                "by": ["route"],
                "comparison": ">",
                "value": 0.2,
            },
            "escalation": {"value": 0.4, "severity": "critical"},
            "for": "2s",
            "receivers": [{"name": "hook", "webhook": {"url": f"{hooks}/errors"}}],
            "routing": ROUTING,
        },
    )
    queue = _policy(
        "queue-depth",
        {
            "threshold": {"expr": "app_queue_depth", "comparison": ">", "value": 10},
            "for": "2s",
            "receivers": [{"name": "hook", "webhook": {"url": f"{hooks}/queue"}}],
            "routing": ROUTING,
        },
    )
    return errors, queue


def _policies_in(notifications: list[dict[str, Any]]) -> set[str]:
    return {a["labels"]["vigil_policy"] for n in notifications for a in n["alerts"]}


def test_alert_fires_is_delivered_grouped_to_its_receiver_only_and_resolves(
    tmp_path: Path, exporter: tuple[Exporter, int], webhooks: WebhookSink
) -> None:
    state, port = exporter
    errors, queue = _policies(webhooks.url)
    am = start_alertmanager(require("prometheus-alertmanager"), tmp_path, render_alertmanager_yaml([errors, queue]))
    prometheus: Prometheus | None = None
    try:
        rules = tmp_path / "rules.yaml"
        rules.write_text(yaml.safe_dump({"groups": [*render_rule_groups(errors), *render_rule_groups(queue)]}))
        prometheus = start_prometheus(
            require("prometheus"),
            tmp_path,
            config={
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "scrape_configs": [{"job_name": "app", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}],
                "alerting": {"alertmanagers": [{"static_configs": [{"targets": [am.host_port]}]}]},
            },
            rule_files=[rules],
        )
        _fires_grouped_and_inhibited(am, webhooks)
        _other_receiver_gets_only_its_own(webhooks)
        state.error_ratio = 0.0
        _resolves(webhooks)
    finally:
        if prometheus is not None:
            prometheus.stop()
        am.stop()


def _fires_grouped_and_inhibited(am: Alertmanager, webhooks: WebhookSink) -> None:
    def critical_for_both_routes() -> list[dict[str, Any]]:
        return [
            n for n in webhooks.notifications("/errors") if n["status"] == "firing" and len(n["alerts"]) == len(ROUTES)
        ]

    first = eventually(critical_for_both_routes, "firing notification with both routes", DELIVERY_DEADLINE_S)[0]
    assert first["receiver"] == "team-a/checkout-errors/hook"
    assert first["groupLabels"] == {"alertname": "CheckoutErrors"}
    assert first["commonLabels"]["vigil_policy"] == "team-a/checkout-errors"
    assert first["commonLabels"]["namespace"] == "team-a"
    assert first["commonLabels"]["severity"] == "critical"
    assert sorted(a["labels"]["route"] for a in first["alerts"]) == sorted(ROUTES)

    # The warnings fire too (the ratio is above both values) but the critical inhibits them.
    def held() -> list[tuple[str, str, bool]]:
        found = [
            (a["labels"]["severity"], a["status"]["state"], bool(a["status"]["inhibitedBy"]))
            for a in am.alerts()
            if a["labels"]["vigil_policy"] == "team-a/checkout-errors"
        ]
        return sorted(found) if len(found) == 2 * len(ROUTES) else []

    assert eventually(held, "both severities in Alertmanager", DELIVERY_DEADLINE_S) == [
        ("critical", "active", False),
        ("critical", "active", False),
        ("warning", "suppressed", True),
        ("warning", "suppressed", True),
    ]
    delivered = {a["labels"]["severity"] for n in webhooks.notifications("/errors") for a in n["alerts"]}
    assert delivered == {"critical"}


def _other_receiver_gets_only_its_own(webhooks: WebhookSink) -> None:
    queue = eventually(lambda: webhooks.notifications("/queue"), "queue-depth notification", DELIVERY_DEADLINE_S)
    assert queue[0]["receiver"] == "team-a/queue-depth/hook"
    assert queue[0]["commonLabels"]["severity"] == "warning"
    assert _policies_in(webhooks.notifications("/queue")) == {"team-a/queue-depth"}
    assert _policies_in(webhooks.notifications("/errors")) == {"team-a/checkout-errors"}


def _resolves(webhooks: WebhookSink) -> None:
    def resolved() -> list[dict[str, Any]]:
        return [n for n in webhooks.notifications("/errors") if n["status"] == "resolved"]

    last = eventually(resolved, "resolved notification", DELIVERY_DEADLINE_S)[-1]
    assert all(a["status"] == "resolved" for a in last["alerts"])
    assert {a["labels"]["route"] for a in last["alerts"]} == set(ROUTES)
