"""prometheus-operator (built by `make tools`) against a control plane, and what it makes.

Against the integration tier's control plane no Prometheus or Alertmanager pod ever runs (there is
no kubelet; the e2e tier's node runs them, tests/e2e/test_monitoring_pods.py); prometheus-operator
still writes the configuration it generates: Secret ``prometheus-<name>`` (``prometheus.yaml.gz``),
ConfigMaps ``prometheus-<name>-rulefiles-<n>`` and Secret ``alertmanager-<name>-generated``
(``alertmanager.yaml.gz``). The feature gate StatusForConfigurationResources makes it record in
each ServiceMonitor's, PrometheusRule's and AlertmanagerConfig's status whether it accepted it.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.harness.controlplane import ControlPlane
from tests.harness.process import Process, start, wait_until
from tests.harness.tools import free_port, require

READY_DEADLINE_S = 60.0
GROUP = "monitoring.coreos.com"
CONFIG_KINDS = "servicemonitors,prometheusrules,alertmanagerconfigs"
STATUS_KINDS = "servicemonitors,prometheusrules"
"""The kinds whose status v0.93 records acceptance in (AlertmanagerConfig's is not implemented)."""
_BENIGN = re.compile(
    # CRDs of features the tests do not use.
    r'resource \\"(prometheusagents|thanosrulers)\\" .* not installed in the cluster'
    # A status write raced its own informer cache; the status queue retries it.
    r"|failed to update status: Operation cannot be fulfilled on .*: the object has been modified"
    # Status reports on a StatefulSet its cache has not seen yet (no kubelet: it never runs).
    r"|skipping because the statefulset couldn't be found"
)


@dataclass
class PrometheusOperator:
    """A running prometheus-operator and the control plane it works on."""

    process: Process
    cp: ControlPlane
    port: int

    def secret_file(self, namespace: str, name: str, key: str) -> bytes | None:
        """The gunzipped ``key`` of Secret ``namespace/name``; None while it does not exist."""
        out = self.cp.kubectl("get", "secret", name, "-n", namespace, "-o", "json", check=False)
        if out.returncode != 0:
            return None
        data = json.loads(out.stdout).get("data") or {}
        if key not in data:
            return None
        return gzip.decompress(base64.b64decode(data[key]))

    def prometheus_config(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The prometheus.yaml generated for Prometheus ``namespace/name``."""
        raw = self.secret_file(namespace, f"prometheus-{name}", "prometheus.yaml.gz")
        return yaml.safe_load(raw) if raw is not None else None

    def alertmanager_config_text(self, namespace: str, name: str) -> str | None:
        """The alertmanager.yaml generated for Alertmanager ``namespace/name``, as written."""
        raw = self.secret_file(namespace, f"alertmanager-{name}-generated", "alertmanager.yaml.gz")
        return raw.decode() if raw is not None else None

    def rule_files(self, namespace: str, name: str) -> dict[str, str]:
        """Every rule file generated for Prometheus ``namespace/name``, by file name."""
        out = self.cp.kubectl(
            "get", "configmaps", "-n", namespace, "-l", f"prometheus-name={name}", "-o", "json", check=False
        )
        if out.returncode != 0:
            return {}
        files: dict[str, str] = {}
        for item in json.loads(out.stdout)["items"]:
            files.update(item.get("data") or {})
        return files

    def problems(self) -> list[str]:
        """Warning and error lines of its log, but for the known harmless ones."""
        lines = self.process.log.read_text(errors="replace").splitlines()
        return [line for line in lines if ("level=warn" in line or "level=error" in line) and not _BENIGN.search(line)]

    def managed_resources(self) -> dict[tuple[str, str], float]:
        """prometheus_operator_managed_resources by (resource kind, state: accepted/rejected)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        totals: dict[tuple[str, str], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "prometheus_operator_managed_resources":
                    key = (sample.labels["resource"], sample.labels["state"])
                    totals[key] = totals.get(key, 0.0) + sample.value
        return totals

    def stop(self) -> None:
        self.process.stop()


def start_prometheus_operator(
    cp: ControlPlane, workdir: Path, *, config_reloader: str | None = None
) -> PrometheusOperator:
    """Start prometheus-operator with cluster-admin credentials; return once it serves /healthz.

    ``config_reloader``: the image of the reloader its pods run beside Prometheus and Alertmanager.
    """
    binary = require("prometheus-operator")
    port = free_port()
    proc = start(
        "prometheus-operator",
        [
            str(binary),
            f"--web.listen-address=127.0.0.1:{port}",
            "--feature-gates=StatusForConfigurationResources=true",
            "--log-level=info",
            *([f"--prometheus-config-reloader={config_reloader}"] if config_reloader else []),
        ],
        workdir,
        env={"KUBECONFIG": str(cp.kubeconfig)},
    )
    wait_until(lambda: _ok(f"http://127.0.0.1:{port}/healthz"), READY_DEADLINE_S, "prometheus-operator /healthz", proc)
    return PrometheusOperator(proc, cp, port)


def _ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return bool(resp.status == 200)


def prometheus_object(namespace: str, name: str, version: str, selector: dict[str, str]) -> dict[str, Any]:
    """A Prometheus that takes every ServiceMonitor and PrometheusRule labelled ``selector``."""
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Prometheus",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "version": version,
            "serviceMonitorSelector": {"matchLabels": selector},
            "serviceMonitorNamespaceSelector": {},
            "ruleSelector": {"matchLabels": selector},
            "ruleNamespaceSelector": {},
            "alerting": {"alertmanagers": [{"namespace": namespace, "name": "alertmanager-operated", "port": "web"}]},
        },
    }


def alertmanager_object(namespace: str, name: str, version: str, selector: dict[str, str]) -> dict[str, Any]:
    """An Alertmanager that takes every AlertmanagerConfig labelled ``selector`` (matcher strategy
    OnNamespace, the default)."""
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Alertmanager",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "version": version,
            "alertmanagerConfigSelector": {"matchLabels": selector},
            "alertmanagerConfigNamespaceSelector": {},
        },
    }


def binding(obj: dict[str, Any], namespace: str, name: str) -> dict[str, str]:
    """The Accepted condition ``obj``'s status records for the Prometheus/Alertmanager ``name``."""
    for bound in (obj.get("status") or {}).get("bindings") or []:
        if bound.get("namespace") == namespace and bound.get("name") == name:
            return next((c for c in bound.get("conditions", []) if c.get("type") == "Accepted"), {})
    return {}
