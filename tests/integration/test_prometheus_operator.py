"""prometheus-operator, built from its Go module, is the judge of what Vigil generates.

The Vigil operator reconciles examples/ (in two namespaces), one AlertPolicy of every kind, and
webhook-routed objects; prometheus-operator v0.93.0 runs against the same control plane with a
Prometheus and an Alertmanager selecting Vigil's objects. It must accept every ServiceMonitor,
PrometheusRule and AlertmanagerConfig; the Prometheus configuration it generates, loaded into a
real Prometheus, must keep exactly the collector Services Vigil created; and the Alertmanager
configuration it generates must route each Vigil alert, labelled as Prometheus labels it, to the
intended receivers and no other (amtool, and a real Alertmanager delivering to webhooks).
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harness.alertmanager import Alertmanager, WebhookSink, start_alertmanager, start_webhook_sink
from tests.harness.controlplane import ControlPlane
from tests.harness.operator import Operator, start_operator
from tests.harness.process import eventually
from tests.harness.prometheus import start_prometheus
from tests.harness.prometheus_operator import (
    CONFIG_KINDS,
    STATUS_KINDS,
    PrometheusOperator,
    alertmanager_object,
    binding,
    prometheus_object,
    start_prometheus_operator,
)
from tests.harness.tools import require, version_of
from tests.helpers import example_documents
from tests.tools.test_alerts_promtool import CASES

MONITORING = "monitoring"
NAME = "vigil"
SELECT = {"app.kubernetes.io/managed-by": "vigil"}
EXAMPLES = ("ex-a", "ex-b")
KINDS = "kinds"
DELIVERY = ("deliver-a", "deliver-b")
PLATFORM = "platform"
"""The one namespace the Vigil operator allows cluster-scope rule bundles in."""
DEADLINE_S = 120.0
# prometheus-operator expands these in the pod (config reloader); a pod would be called so.
POD_NAME, SHARD = "prometheus-vigil-0", "0"


def _kinds_documents() -> list[dict[str, Any]]:
    # Every receiver of CASES reads Secret alerts/token: a URL suits slack, webhook and the rest.
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "alerts"},
            "stringData": {"token": "https://hooks.example.invalid/token"},
        }
    ]
    docs += [
        {"apiVersion": "vigil.dev/v1alpha1", "kind": "AlertPolicy", "metadata": {"name": name}, "spec": spec}
        for name, spec in CASES.items()
    ]
    return docs


def _hook(sink: WebhookSink, namespace: str, name: str, severities: list[str]) -> dict[str, Any]:
    return {"name": name, "severities": severities, "webhook": {"url": f"{sink.url}/{namespace}/{name}"}}


FAST = {"groupWait": "1s", "groupInterval": "1m", "repeatInterval": "1h"}


def _delivery_documents(sink: WebhookSink, namespace: str) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "vigil.dev/v1alpha1",
            "kind": "TelemetrySink",
            "metadata": {"name": "console", "labels": {"team": "shop"}},
            "spec": {"signals": ["metrics"], "debug": {}},
        },
        {
            "apiVersion": "vigil.dev/v1alpha1",
            "kind": "MonitoringStack",
            "metadata": {"name": "shop"},
            "spec": {
                "sinks": {"names": ["console"]},
                "ruleBundles": [{"name": "aureus"}],
                "alerting": {
                    "receivers": [
                        _hook(sink, namespace, "stack-pager", ["critical"]),
                        _hook(sink, namespace, "stack-chat", ["warning", "info"]),
                    ],
                    "routing": FAST,
                },
            },
        },
        {
            "apiVersion": "vigil.dev/v1alpha1",
            "kind": "AlertPolicy",
            "metadata": {"name": "errors"},
            "spec": {
                "threshold": {"expr": "sum by (job) (rate(errors_total[5m]))", "comparison": ">", "value": 1},
                "escalation": {"value": 10, "severity": "critical"},
                "receivers": [
                    _hook(sink, namespace, "policy-team", ["warning"]),
                    _hook(sink, namespace, "policy-oncall", ["critical"]),
                ],
                "routing": FAST,
            },
        },
        # A second policy in the namespace: its receiver must get its alerts and no other's.
        {
            "apiVersion": "vigil.dev/v1alpha1",
            "kind": "AlertPolicy",
            "metadata": {"name": "latency"},
            "spec": {
                "threshold": {"expr": "max by (job) (request_seconds)", "comparison": ">", "value": 1},
                "receivers": [_hook(sink, namespace, "latency-team", [])],
                "routing": FAST,
            },
        },
    ]


def _platform_documents(sink: WebhookSink) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "vigil.dev/v1alpha1",
            "kind": "TelemetrySink",
            "metadata": {"name": "console"},
            "spec": {"signals": ["metrics"], "debug": {}},
        },
        {
            "apiVersion": "vigil.dev/v1alpha1",
            "kind": "MonitoringStack",
            "metadata": {"name": "nodes"},
            "spec": {
                "sinks": {"names": ["console"]},
                "ruleBundles": [{"name": "orchestrator", "scope": "cluster"}],
                "alerting": {"receivers": [_hook(sink, PLATFORM, "nodes-pager", ["critical"])], "routing": FAST},
            },
        },
    ]


APP_SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "aureus-kernel", "labels": {"monitoring": "enabled"}},
    "spec": {"selector": {"app": "aureus-kernel"}, "ports": [{"name": "metrics", "port": 9100}]},
}


@dataclass
class World:
    """Everything running for this module, and what Vigil made."""

    cp: ControlPlane
    prom_op: PrometheusOperator
    vigil: Operator
    sink: WebhookSink
    versions: dict[str, str]
    namespaces: tuple[str, ...]
    workdir: Path
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def get(self, kinds: str, *namespaces: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for ns in namespaces or self.namespaces:
            out = self.cp.kubectl("get", kinds, "-n", ns, "-o", "json")
            items += json.loads(out.stdout)["items"]
        return items


def _apply(cp: ControlPlane, namespace: str, docs: list[dict[str, Any]]) -> None:
    placed = [{**d, "metadata": {**d["metadata"], "namespace": namespace}} for d in docs]
    cp.kubectl("apply", "--server-side", "--field-manager=test", "-f", "-", input=yaml.safe_dump_all(placed))


def _not_ready(world: World) -> list[str]:
    pending = []
    for obj in world.get("monitoringstacks,alertpolicies"):
        conditions = {c["type"]: c for c in (obj.get("status") or {}).get("conditions", [])}
        if conditions.get("Ready", {}).get("status") != "True":
            pending.append(f"{obj['kind']}/{obj['metadata']['namespace']}/{obj['metadata']['name']}: {conditions}")
    return pending


def _unaccepted(world: World) -> list[str]:
    """What prometheus-operator has not accepted (yet): by status where v0.93 records it, else
    (AlertmanagerConfig) by its count of selected and rejected resources."""
    pending = [
        f"{o['kind']}/{o['metadata']['namespace']}/{o['metadata']['name']}: {binding(o, MONITORING, NAME)}"
        for o in world.get(STATUS_KINDS)
        if binding(o, MONITORING, NAME).get("status") != "True"
    ]
    counts = world.prom_op.managed_resources()
    configs = len(world.get("alertmanagerconfigs"))
    selected = counts.get(("AlertmanagerConfig", "selected"), 0)
    rejected = counts.get(("AlertmanagerConfig", "rejected"), 0)
    if (selected, rejected) != (configs, 0):
        pending.append(f"AlertmanagerConfigs: {configs} made, {selected} selected, {rejected} rejected")
    return pending


def _until_empty(check: Callable[[], list[str]], what: str) -> None:
    left: list[str] = []

    def done() -> bool:
        left[:] = check()
        return not left

    try:
        eventually(done, what, DEADLINE_S, 1.0)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; still: {left}") from None


@pytest.fixture(scope="module")
def world(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("prometheus-operator")
    versions = {
        "prometheus": version_of(require("prometheus")),
        "alertmanager": version_of(require("prometheus-alertmanager")),
    }
    namespaces = (*EXAMPLES, KINDS, *DELIVERY, PLATFORM)
    for ns in (MONITORING, *namespaces):
        control_plane.kubectl("create", "namespace", ns)
    prom_op = start_prometheus_operator(control_plane, workdir)
    vigil = start_operator(control_plane, workdir, VIGIL_CLUSTER_RULE_NAMESPACES=PLATFORM)
    sink = start_webhook_sink()
    try:
        _apply(
            control_plane,
            MONITORING,
            [
                prometheus_object(MONITORING, NAME, versions["prometheus"], SELECT),
                alertmanager_object(MONITORING, NAME, versions["alertmanager"], SELECT),
            ],
        )
        for ns in EXAMPLES:
            _apply(control_plane, ns, [*example_documents(), APP_SERVICE])
        _apply(control_plane, KINDS, _kinds_documents())
        for ns in DELIVERY:
            _apply(control_plane, ns, _delivery_documents(sink, ns))
        _apply(control_plane, PLATFORM, _platform_documents(sink))
        world = World(control_plane, prom_op, vigil, sink, versions, namespaces, workdir)
        _until_empty(lambda: _not_ready(world), "every stack and policy Ready")
        _until_empty(lambda: _unaccepted(world), "prometheus-operator to accept every object")
        yield world
    finally:
        sink.stop()
        vigil.stop()
        prom_op.stop()
        for ns in (MONITORING, *namespaces):
            control_plane.kubectl("delete", "namespace", ns, "--wait=false", check=False)
    vigil.assert_log_clean()


# --- acceptance --------------------------------------------------------------------------------


def test_vigil_made_every_kind_prometheus_operator_reads(world: World) -> None:
    kinds = {(o["kind"], o["metadata"]["namespace"]) for o in world.get(CONFIG_KINDS)}
    for ns in EXAMPLES:
        assert {("ServiceMonitor", ns), ("PrometheusRule", ns), ("AlertmanagerConfig", ns)} <= kinds
    assert ("AlertmanagerConfig", KINDS) in kinds
    policies = {o["metadata"]["name"] for o in world.get("prometheusrules", KINDS)}
    assert policies == {f"{name}-policy" for name in CASES}


def test_every_object_is_accepted_and_nothing_is_rejected(world: World) -> None:
    assert _unaccepted(world) == []
    for obj in world.get(STATUS_KINDS):
        assert binding(obj, MONITORING, NAME)["observedGeneration"] == obj["metadata"]["generation"]
    for kind in ("prometheus", "alertmanager"):
        status = json.loads(world.cp.kubectl("get", kind, NAME, "-n", MONITORING, "-o", "json").stdout)["status"]
        reconciled = next(c for c in status["conditions"] if c["type"] == "Reconciled")
        assert reconciled["status"] == "True", reconciled
    warnings = world.cp.kubectl("get", "events", "-A", "--field-selector=type=Warning", "-o", "json").stdout
    about_monitoring = [
        e for e in json.loads(warnings)["items"] if e["involvedObject"].get("apiVersion", "").startswith("monitoring.")
    ]
    assert about_monitoring == []
    assert world.prom_op.problems() == []


def test_a_broken_object_is_rejected_so_acceptance_means_something(world: World) -> None:
    # A ServiceMonitor whose scrape timeout exceeds its interval, and an AlertmanagerConfig whose
    # receiver reads a Secret that does not exist.
    monitor = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "broken", "labels": SELECT},
        "spec": {"selector": {}, "endpoints": [{"port": "metrics", "interval": "10s", "scrapeTimeout": "30s"}]},
    }
    config = {
        "apiVersion": "monitoring.coreos.com/v1alpha1",
        "kind": "AlertmanagerConfig",
        "metadata": {"name": "broken", "labels": SELECT},
        "spec": {
            "route": {"receiver": "pager"},
            "receivers": [{"name": "pager", "pagerdutyConfigs": [{"routingKey": {"name": "nope", "key": "k"}}]}],
        },
    }
    _apply(world.cp, KINDS, [monitor, config])
    try:

        def rejected() -> dict[str, str]:
            obj = json.loads(world.cp.kubectl("get", "servicemonitor", "broken", "-n", KINDS, "-o", "json").stdout)
            condition = binding(obj, MONITORING, NAME)
            return condition if condition.get("status") == "False" else {}

        assert eventually(rejected, "the broken ServiceMonitor rejected", DEADLINE_S, 1.0)["reason"]

        def config_rejected() -> list[dict[str, Any]]:
            out = world.cp.kubectl(
                "get", "events", "-n", KINDS, "--field-selector=involvedObject.name=broken,type=Warning", "-o", "json"
            )
            return [e for e in json.loads(out.stdout)["items"] if e["involvedObject"]["kind"] == "AlertmanagerConfig"]

        (event, *_) = eventually(config_rejected, "the broken AlertmanagerConfig rejected", DEADLINE_S, 1.0)
        assert "was rejected due to invalid configuration" in event["message"]
        assert "nope" in event["message"]
        assert world.prom_op.managed_resources()[("AlertmanagerConfig", "rejected")] == 1
    finally:
        world.cp.kubectl("delete", "servicemonitor,alertmanagerconfig", "broken", "-n", KINDS, check=False)
        eventually(lambda: not _unaccepted(world), "the broken objects gone from the counts", DEADLINE_S, 1.0)


# --- Prometheus: what it scrapes, and the rules it loads ------------------------------------------


def _prometheus_config(world: World) -> dict[str, Any]:
    def complete() -> dict[str, Any] | None:
        config = world.prom_op.prometheus_config(MONITORING, NAME)
        jobs = {j["job_name"] for j in (config or {}).get("scrape_configs", [])}
        monitors = {
            f"serviceMonitor/{o['metadata']['namespace']}/{o['metadata']['name']}/0"
            for o in world.get("servicemonitors")
        }
        return config if config and monitors <= jobs else None

    return eventually(complete, "a Prometheus config with every ServiceMonitor", DEADLINE_S, 1.0)


def _discovery_labels(service: dict[str, Any], port: dict[str, Any], address: str) -> dict[str, str]:
    """What Prometheus' Kubernetes discovery (role endpoints) says of a Ready pod behind ``port``."""
    meta = service["metadata"]
    labels = {
        "__address__": address,
        "__meta_kubernetes_namespace": meta["namespace"],
        "__meta_kubernetes_endpoints_name": meta["name"],
        "__meta_kubernetes_service_name": meta["name"],
        "__meta_kubernetes_endpoint_port_name": port.get("name", ""),
        "__meta_kubernetes_endpoint_port_protocol": port.get("protocol", "TCP"),
        "__meta_kubernetes_endpoint_ready": "true",
        "__meta_kubernetes_endpoint_address_target_kind": "Pod",
        "__meta_kubernetes_endpoint_address_target_name": f"{meta['name']}-0",
        "__meta_kubernetes_pod_name": f"{meta['name']}-0",
        "__meta_kubernetes_pod_phase": "Running",
        "__meta_kubernetes_pod_ready": "true",
    }
    for key, value in (meta.get("labels") or {}).items():
        name = re.sub(r"[^a-zA-Z0-9_]", "_", key)
        labels[f"__meta_kubernetes_service_label_{name}"] = value
        labels[f"__meta_kubernetes_service_labelpresent_{name}"] = "true"
    return labels


class _Metrics(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"vigil_scraped 1\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


def _local_prometheus_config(world: World, config: dict[str, Any], address: str, folder: Path) -> dict[str, Any]:
    """The generated config as a Prometheus outside the cluster can run it.

    Only three things change: the config reloader's $(POD_NAME) and $(SHARD) are expanded as it
    would; rule files are read from a folder holding the operator's rule ConfigMaps; and Debian's
    Prometheus has no Kubernetes discovery, so each job's kubernetes_sd_configs becomes a file
    with the discovery labels of every port of every Service in the job's namespaces (all
    pointing at ``address``). The relabeling that picks the targets is the operator's, unchanged.
    """
    text = yaml.safe_dump(config).replace("$(POD_NAME)", POD_NAME).replace("$(SHARD)", SHARD)
    local = yaml.safe_load(text)
    for name, body in world.prom_op.rule_files(MONITORING, NAME).items():
        (folder / name).write_text(body)
    local["rule_files"] = [str(folder / "*.yaml")]
    local.pop("alerting", None)
    for i, job in enumerate(local["scrape_configs"]):
        targets = []
        for sd in job.pop("kubernetes_sd_configs"):
            assert sd["role"] == "endpoints"
            for service in world.get("services", *sd["namespaces"]["names"]):
                targets += [
                    {"targets": [address], "labels": _discovery_labels(service, port, address)}
                    for port in service["spec"]["ports"]
                ]
        (folder / f"sd-{i}.json").write_text(json.dumps(targets))
        job["file_sd_configs"] = [{"files": [str(folder / f"sd-{i}.json")], "refresh_interval": "1s"}]
    return dict(local)


def test_prometheus_scrapes_the_collectors_vigil_created(world: World) -> None:
    config = _prometheus_config(world)
    metrics = ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    threading.Thread(target=metrics.serve_forever, daemon=True).start()
    folder = world.workdir / "prometheus"
    folder.mkdir(exist_ok=True)
    address = f"127.0.0.1:{metrics.server_address[1]}"
    prometheus = start_prometheus(
        require("prometheus"), folder, _local_prometheus_config(world, config, address, folder)
    )
    try:

        def scraped() -> list[dict[str, Any]]:
            active = prometheus.get("/api/v1/targets?state=active")["data"]["activeTargets"]
            return active if active and all(t["health"] == "up" for t in active) else []

        active = eventually(scraped, "every kept target scraped", DEADLINE_S, 1.0)
        kept = {
            (t["scrapePool"], t["labels"]["namespace"], t["labels"]["service"], t["labels"]["endpoint"]) for t in active
        }
        expected = set()
        for ns in EXAMPLES:
            expected |= {
                (f"serviceMonitor/{ns}/aureus-collector-self/0", ns, "aureus-collector", "metrics"),
                (f"serviceMonitor/{ns}/aureus-sink-aureus-prometheus/0", ns, "aureus-collector", "prom-9464"),
                (f"serviceMonitor/{ns}/aureus-scrape-apps/0", ns, "aureus-kernel", "metrics"),
                (f"serviceMonitor/{ns}/orchestrator-collector-self/0", ns, "orchestrator-collector", "metrics"),
                (f"serviceMonitor/{ns}/health-collector-self/0", ns, "health-collector", "metrics"),
                (f"serviceMonitor/{ns}/health-sink-health-metrics/0", ns, "health-collector", "prom-9465"),
            }
        for ns in DELIVERY:
            expected.add((f"serviceMonitor/{ns}/shop-collector-self/0", ns, "shop-collector", "metrics"))
        expected.add((f"serviceMonitor/{PLATFORM}/nodes-collector-self/0", PLATFORM, "nodes-collector", "metrics"))
        assert kept == expected
        # A collector's job is named after its Service, and Services of other stacks are dropped.
        for target in active:
            assert target["labels"]["job"] == target["labels"]["service"]
        dropped = prometheus.get("/api/v1/targets?state=dropped")["data"]["droppedTargets"]
        assert dropped, "every job saw every Service of its namespace, and dropped the others"
        groups = prometheus.get("/api/v1/rules")["data"]["groups"]
        loaded = {g["name"] for g in groups}
        generated = {g["name"] for r in world.get("prometheusrules") for g in r["spec"]["groups"]}
        assert loaded == generated
    finally:
        prometheus.stop()
        metrics.shutdown()
        metrics.server_close()


# --- Alertmanager: each alert to its receivers, and no other ------------------------------------


def _alertmanager_config(world: World) -> str:
    configs = {f"{o['metadata']['namespace']}/{o['metadata']['name']}" for o in world.get("alertmanagerconfigs")}

    def complete() -> str | None:
        text = world.prom_op.alertmanager_config_text(MONITORING, NAME)
        return text if text and all(f"receiver: {c}/vigil_none" in text for c in configs) else None

    return eventually(complete, "an Alertmanager config with every AlertmanagerConfig", DEADLINE_S, 1.0)


def _alert_labels(world: World, rule: dict[str, Any], namespace: str) -> dict[str, str]:
    """The labels an alert of ``rule`` reaches Alertmanager with: a series' own (job, and the
    namespace Vigil's rules keep), the rule's (templates filled in), and the external labels
    the operator gives Prometheus that its alert relabeling keeps."""
    config = world.prom_op.prometheus_config(MONITORING, NAME) or {}
    external = dict(config.get("global", {}).get("external_labels", {}))
    for relabel in config.get("alerting", {}).get("alert_relabel_configs", []):
        if relabel.get("action") == "labeldrop":
            external = {k: v for k, v in external.items() if not re.fullmatch(relabel["regex"], k)}
    labels = {"job": "app", "namespace": namespace, **external}
    labels.update({k: ("filled" if "{{" in v else v) for k, v in rule.get("labels", {}).items()})
    labels["alertname"] = rule["alert"]
    return labels


def _owner_receivers(world: World) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """For each alert owner label value (vigil_policy / vigil_stack): its AlertmanagerConfig's
    name and the receivers its spec asks for."""
    owners: dict[str, tuple[str, list[dict[str, Any]]]] = {}
    for obj in world.get("alertpolicies"):
        ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        owners[f"vigil_policy={ns}/{name}"] = (f"{ns}/{name}-policy", obj["spec"].get("receivers", []))
    for obj in world.get("monitoringstacks"):
        ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        receivers = (obj["spec"].get("alerting") or {}).get("receivers", [])
        owners[f"vigil_stack={ns}/{name}"] = (f"{ns}/{name}-alerting", receivers)
    return owners


def _intended(alert: dict[str, str], owners: dict[str, tuple[str, list[dict[str, Any]]]]) -> set[str]:
    key = f"vigil_policy={alert['vigil_policy']}" if "vigil_policy" in alert else f"vigil_stack={alert['vigil_stack']}"
    config, receivers = owners[key]
    if not receivers:
        return {"null"}  # no AlertmanagerConfig: the operator's top-level route
    chosen = {
        f"{config}/{r['name']}" for r in receivers if not r.get("severities") or alert["severity"] in r["severities"]
    }
    return chosen or {f"{config}/vigil_none"}


def _every_alert(world: World) -> list[dict[str, str]]:
    alerts = []
    for obj in world.get("prometheusrules"):
        for group in obj["spec"]["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    alerts.append(_alert_labels(world, rule, obj["metadata"]["namespace"]))
    return alerts


def test_amtool_routes_each_alert_to_its_receivers_and_no_other(world: World) -> None:
    path = world.workdir / "alertmanager.yaml"
    path.write_text(_alertmanager_config(world))
    check = subprocess.run(
        [str(require("amtool")), "check-config", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    owners = _owner_receivers(world)
    alerts = _every_alert(world)
    assert len(alerts) > 60
    wrong = []
    for alert in alerts:
        out = subprocess.run(
            [
                str(require("amtool")),
                "config",
                "routes",
                "test",
                f"--config.file={path}",
                *(f"{k}={v}" for k, v in alert.items()),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        got = {r for r in re.split(r"[,\s]+", out.stdout) if r}
        if got != _intended(alert, owners):
            wrong.append((alert, sorted(got), sorted(_intended(alert, owners))))
    assert wrong == []


def test_an_alert_claiming_another_namespaces_stack_reaches_nobody(world: World) -> None:
    path = world.workdir / "alertmanager.yaml"
    path.write_text(_alertmanager_config(world))
    forged = ["alertname=X", "severity=critical", f"vigil_stack={DELIVERY[0]}/shop", f"namespace={DELIVERY[1]}"]
    out = subprocess.run(
        [str(require("amtool")), "config", "routes", "test", f"--config.file={path}", *forged],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.split() == ["null"]


def _post(alertmanager: Alertmanager, alerts: list[dict[str, str]]) -> None:
    now = datetime.now(UTC)
    body = [
        {
            "labels": labels,
            "annotations": {"summary": labels["alertname"]},
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(hours=1)).isoformat(),
        }
        for labels in alerts
    ]
    req = urllib.request.Request(
        f"{alertmanager.url}/api/v2/alerts",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200


def test_a_real_alertmanager_delivers_each_alert_to_its_webhook_only(world: World) -> None:
    config = yaml.safe_load(_alertmanager_config(world))
    folder = world.workdir / "alertmanager"
    folder.mkdir(exist_ok=True)
    alertmanager = start_alertmanager(require("prometheus-alertmanager"), folder, config)
    try:
        rules = {
            (o["metadata"]["namespace"], r["alert"], r["labels"]["severity"]): r
            for o in world.get("prometheusrules", *DELIVERY)
            for g in o["spec"]["groups"]
            for r in g["rules"]
            if "alert" in r
        }
        wanted: dict[str, set[str]] = {}

        def send(*alerts: tuple[str, str, str]) -> None:
            batch = []
            for ns in DELIVERY:
                for alertname, severity, path in alerts:
                    batch.append(_alert_labels(world, rules[(ns, alertname, severity)], ns))
                    wanted.setdefault(f"/{ns}/{path}", set()).add(f"{alertname}/{severity}")
            _post(alertmanager, batch)
            eventually(lambda: _delivered(world.sink, wanted), "every notification at its webhook", 60.0, 0.5)

        send(
            ("HighTaskFailureRate", "warning", "stack-chat"),
            ("PolicyEscalationSurge", "info", "stack-chat"),
            ("CRVBlockageSpike", "critical", "stack-pager"),
            ("Errors", "warning", "policy-team"),
            ("Latency", "warning", "latency-team"),
        )
        # The policy's critical alert goes to its pager, and silences its warning from then on.
        send(("Errors", "critical", "policy-oncall"))
        # A cluster-scope alert about another namespace's series is routed by the stack's namespace.
        (down,) = [
            r
            for o in world.get("prometheusrules", PLATFORM)
            for g in o["spec"]["groups"]
            for r in g["rules"]
            if r.get("alert") == "ServiceDown"
        ]
        about_ex_a = {**_alert_labels(world, down, PLATFORM), "exported_namespace": EXAMPLES[0]}
        assert about_ex_a["namespace"] == PLATFORM
        _post(alertmanager, [about_ex_a])
        wanted[f"/{PLATFORM}/nodes-pager"] = {"ServiceDown/critical"}
        eventually(lambda: _delivered(world.sink, wanted), "the cluster-scope alert at its webhook", 60.0, 0.5)
        time.sleep(3)  # anything misrouted would have arrived by now: group_wait is 1s
        assert _delivered(world.sink, wanted) == wanted
        states = {
            (a["labels"]["namespace"], a["labels"]["alertname"], a["labels"]["severity"]): a["status"]
            for a in alertmanager.alerts()
        }
        for ns in DELIVERY:
            assert states[(ns, "Errors", "warning")]["state"] == "suppressed"
            assert states[(ns, "Errors", "warning")]["inhibitedBy"]
            assert states[(ns, "HighTaskFailureRate", "warning")]["state"] == "active"
    finally:
        alertmanager.stop()


def _delivered(sink: WebhookSink, wanted: dict[str, set[str]]) -> dict[str, set[str]]:
    """Alerts received per webhook path (``alertname/severity``); {} until ``wanted`` all arrived."""
    with sink.lock:
        received = {path: list(notes) for path, notes in sink.received.items()}
    got = {
        path: {f"{a['labels']['alertname']}/{a['labels']['severity']}" for n in notes for a in n["alerts"]}
        for path, notes in received.items()
    }
    return got if all(wanted[p] <= got.get(p, set()) for p in wanted) else {}


def test_cluster_scope_is_refused_outside_the_allowed_namespaces(world: World) -> None:
    stack = {
        "apiVersion": "vigil.dev/v1alpha1",
        "kind": "MonitoringStack",
        "metadata": {"name": "everything"},
        "spec": {"sinks": {"names": ["console"]}, "ruleBundles": [{"name": "collector", "scope": "cluster"}]},
    }
    console = _platform_documents(world.sink)[0]
    _apply(world.cp, KINDS, [console, stack])
    try:

        def refused() -> dict[str, Any]:
            obj = json.loads(world.cp.kubectl("get", "mstack", "everything", "-n", KINDS, "-o", "json").stdout)
            ready = next((c for c in (obj.get("status") or {}).get("conditions", []) if c["type"] == "Ready"), {})
            return ready if ready.get("status") == "False" else {}

        ready = eventually(refused, "the cluster-scope stack refused", DEADLINE_S, 1.0)
        assert ready["reason"] == "ClusterScopeNotAllowed"
        assert 'spec.ruleBundles[0].scope: scope "cluster" reads the series of every namespace' in ready["message"]
        assert not [o for o in world.get("prometheusrules", KINDS) if o["metadata"]["name"] == "everything-rules"]
    finally:
        world.cp.kubectl("delete", "mstack", "everything", "-n", KINDS, "--wait=true", check=False)
        world.cp.kubectl("delete", "tsink", "console", "-n", KINDS, "--wait=true", check=False)
