"""`vigil diff` against a real API server, next to a real operator: what would change, and nothing else."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.harness.controlplane import ControlPlane
from tests.harness.operator import Operator, running_operator
from tests.harness.process import eventually
from tests.harness.tools import VENV_BIN, free_port, require
from tests.helpers import EXAMPLES
from vigil.diff import object_label

LABELS = "release=kube-prometheus-stack"
CR_KINDS = "telemetrysinks,monitoringstacks,alertpolicies"


@pytest.fixture(scope="module")
def operator(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    # Drift repair would undo the tampering one test makes before `vigil diff` sees it.
    yield from running_operator(
        control_plane,
        tmp_path_factory.mktemp("diff-operator"),
        VIGIL_DRIFT_INTERVAL="600",
        VIGIL_PROMETHEUS_LABELS=LABELS,
        VIGIL_COLLECTOR_BINARY=str(require("otelcol-vigil")),
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of examples/ to edit."""
    target = tmp_path / "gitops"
    shutil.copytree(EXAMPLES, target, ignore=shutil.ignore_patterns("invalid"))
    return target


def vigil_diff(
    cp: ControlPlane, folder: Path, namespace: str, kubeconfig: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(VENV_BIN / "vigil"),
            "diff",
            "-n",
            namespace,
            "--prometheus-labels",
            LABELS,
            "--collector-binary",
            str(require("otelcol-vigil")),
            str(folder),
        ],
        env={**os.environ, "KUBECONFIG": str(kubeconfig or cp.kubeconfig)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def changed(out: str) -> set[str]:
    """Labels of the objects a diff output shows."""
    return set(re.findall(r"^diff -u -N live/(\S+) merged/", out, re.M))


def apply_folder(cp: ControlPlane, folder: Path, namespace: str) -> None:
    """What a GitOps tool does: apply the folder (Secrets included) with its own field manager."""
    cp.kubectl("apply", "--server-side", "--field-manager=gitops", "-n", namespace, "-f", str(folder))


def edit(path: Path, kind: str, name: str, change: dict[str, object]) -> None:
    """Set ``change`` (dotted paths) on one document of ``path``."""
    docs = list(yaml.safe_load_all(path.read_text()))
    doc = next(d for d in docs if d and d["kind"] == kind and d["metadata"]["name"] == name)
    for dotted, value in change.items():
        *parents, leaf = dotted.split(".")
        node = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is None:
            del node[leaf]
        else:
            node[leaf] = value
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))


def reconciled(cp: ControlPlane, folder: Path, namespace: str) -> subprocess.CompletedProcess[str]:
    """Wait until `vigil diff` finds nothing to change (the operator caught up); return that run."""
    return eventually(
        lambda: (done := vigil_diff(cp, folder, namespace)).returncode == 0 and done,
        "vigil diff to find nothing left to change after the operator reconciled",
        deadline_s=90,
        interval_s=2,
    )


def test_a_new_folder_shows_every_object_and_writes_nothing(
    operator: Operator, control_plane: ControlPlane, namespace: str, folder: Path
) -> None:
    secrets = [d for d in yaml.safe_load_all((folder / "00-secrets.yaml").read_text()) if d]
    control_plane.kubectl("apply", "-n", namespace, "-f", str(folder / "00-secrets.yaml"))
    done = vigil_diff(control_plane, folder, namespace)
    assert done.returncode == 1, done.stderr
    rendered = subprocess.run(
        [str(VENV_BIN / "vigil"), "render", "-n", namespace, str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    crs = [
        {**d, "metadata": {**d["metadata"], "namespace": namespace}}
        for p in sorted(folder.glob("*.yaml"))
        for d in yaml.safe_load_all(p.read_text())
        if d and d["apiVersion"].startswith("vigil.dev/")
    ]
    expected = {object_label(o) for o in [*crs, *yaml.safe_load_all(rendered)] if o}
    assert changed(done.stdout) == expected
    # A creation is all additions, and never shows a Secret value.
    assert not [ln for ln in done.stdout.splitlines() if ln.startswith("-") and not ln.startswith("--- live/")]
    for s in secrets:
        for value in s.get("stringData", {}).values():
            assert value not in done.stdout
    left = control_plane.kubectl(
        "get",
        f"{CR_KINDS},configmaps,deployments,services",
        "-n",
        namespace,
        "-l",
        "app.kubernetes.io/managed-by=vigil",
        "-o",
        "name",
    ).stdout
    assert left.strip() == ""
    assert control_plane.kubectl("get", CR_KINDS, "-n", namespace, "-o", "name").stdout.strip() == ""


def test_after_the_operator_reconciled_nothing_is_left_to_change(
    operator: Operator, control_plane: ControlPlane, namespace: str, folder: Path
) -> None:
    apply_folder(control_plane, folder, namespace)
    done = reconciled(control_plane, folder, namespace)
    assert done.stdout == ""


def test_a_changed_sink_shows_in_its_collector_config_and_rollout(
    operator: Operator, control_plane: ControlPlane, namespace: str, folder: Path
) -> None:
    apply_folder(control_plane, folder, namespace)
    reconciled(control_plane, folder, namespace)
    new = "http://otel-gateway-v2.observability.svc:4318"
    edit(folder / "10-aureus-sinks.yaml", "TelemetrySink", "aureus-otlp", {"spec.otlp.endpoint": new})
    done = vigil_diff(control_plane, folder, namespace)
    assert done.returncode == 1, done.stderr
    assert changed(done.stdout) == {
        f"vigil.dev.v1alpha1.TelemetrySink.{namespace}.aureus-otlp",
        f"v1.ConfigMap.{namespace}.aureus-collector-config",
        f"apps.v1.Deployment.{namespace}.aureus-collector",
    }
    added = [ln for ln in done.stdout.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    # The sink's spec and the exporter in the collector config; the new config rolls the pods.
    assert len([ln for ln in added if "endpoint: " in ln and new in ln]) == 2, added
    assert len([ln for ln in added if "vigil.dev/config-hash" in ln]) == 1, added
    # Nothing was applied: the live sink still has the old endpoint.
    live = yaml.safe_load(control_plane.kubectl("get", "tsink", "aureus-otlp", "-n", namespace, "-o", "yaml").stdout)
    assert live["spec"]["otlp"]["endpoint"] == "http://otel-gateway.observability.svc:4318"


def test_a_dropped_scrape_entry_shows_its_service_monitor_removed(
    operator: Operator, control_plane: ControlPlane, namespace: str, folder: Path
) -> None:
    apply_folder(control_plane, folder, namespace)
    reconciled(control_plane, folder, namespace)
    edit(folder / "21-orchestrator-stack.yaml", "MonitoringStack", "orchestrator", {"spec.scrape": None})
    done = vigil_diff(control_plane, folder, namespace)
    assert done.returncode == 1, done.stderr
    monitor = f"monitoring.coreos.com.v1.ServiceMonitor.{namespace}.orchestrator-scrape-orchestrator-api"
    # The stack's own diff is a dry-run apply by field manager vigil: a field another manager
    # (here "gitops") set stays in it; the generated objects follow the folder (docs/gitops.md).
    assert changed(done.stdout) == {monitor}
    body = done.stdout.split(f"+++ merged/{monitor}\n", 1)[1]
    assert body.startswith("@@ ")
    assert all(ln.startswith(("-", "@@")) for ln in body.splitlines())
    assert "-  name: orchestrator-scrape-orchestrator-api" in body


def test_drift_of_a_generated_object_shows_the_repair(
    operator: Operator, control_plane: ControlPlane, namespace: str, folder: Path
) -> None:
    apply_folder(control_plane, folder, namespace)
    reconciled(control_plane, folder, namespace)
    control_plane.kubectl(
        "patch",
        "configmap",
        "aureus-otlp-connection",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"data": {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://elsewhere:4318"}}',
    )
    done = vigil_diff(control_plane, folder, namespace)
    assert done.returncode == 1, done.stderr
    assert changed(done.stdout) == {f"v1.ConfigMap.{namespace}.aureus-otlp-connection"}
    assert "-  OTEL_EXPORTER_OTLP_ENDPOINT: http://elsewhere:4318" in done.stdout


def test_a_missing_secret_is_an_error_naming_it(
    operator: Operator, control_plane: ControlPlane, namespace: str, folder: Path
) -> None:
    done = vigil_diff(control_plane, folder, namespace)
    assert done.returncode == 2
    refused = "error: MonitoringStack/aureus: the operator would not roll this out: SecretNotFound"
    assert (
        f'{refused}: TelemetrySink/aureus-otlp: spec.otlp.headers[0]: Secret "otlp-gateway-auth" not found'
        in done.stderr
    )


def test_a_namespace_that_does_not_exist_is_an_error(
    operator: Operator, control_plane: ControlPlane, folder: Path
) -> None:
    done = vigil_diff(control_plane, folder, "no-such-namespace")
    assert done.returncode == 2
    assert 'namespaces "no-such-namespace" not found' in done.stderr


def test_an_api_server_that_does_not_answer_is_an_error(
    control_plane: ControlPlane, folder: Path, tmp_path: Path
) -> None:
    config = yaml.safe_load(control_plane.kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"
    dead = tmp_path / "kubeconfig"
    dead.write_text(yaml.safe_dump(config))
    done = vigil_diff(control_plane, folder, "default", kubeconfig=dead)
    assert done.returncode == 2
    assert "no answer from the API server" in done.stderr
    assert "Traceback" not in done.stderr
