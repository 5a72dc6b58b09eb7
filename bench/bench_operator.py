"""Operator benchmark on the real local control plane (`make bench`): one run, one table.

- reconcile latency: `kubectl apply` of a stack and its sink until Ready, as a ratio to a raw
  server-side apply of the same rendered objects by the same client library;
- writes per no-op reconcile (drift timer ticks on unchanged stacks);
- throughput: N stacks (default 200; --stacks 1000) created at once until all are Ready;
- operator RSS with N stacks, and after 1,000 unrelated Secrets are added.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import kubernetes
import yaml
from tests.harness.controlplane import ControlPlane, start_control_plane
from tests.harness.operator import Operator, start_operator
from tests.helpers import sink, stack

from vigil.k8s import TYPES, Kube, ResourceType
from vigil.models.sink import TelemetrySink
from vigil.models.stack import MonitoringStack
from vigil.render.collector_config import build_collector_config
from vigil.render.context import RenderContext
from vigil.render.stack import render_stack

DRIFT_S = 20


def rss_kib(op: Operator) -> int:
    """Resident set size of the operator process."""
    for line in Path(f"/proc/{op.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def apply_docs(cp: ControlPlane, namespace: str, docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        doc["metadata"]["namespace"] = namespace
    cp.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(docs))


def ready_count(cp: ControlPlane, namespace: str) -> int:
    items = json.loads(cp.kubectl("get", "mstack", "-n", namespace, "-o", "json").stdout)["items"]
    return sum(
        1
        for o in items
        if any(
            c["type"] == "Ready"
            and c["status"] == "True"
            and c.get("observedGeneration") == o["metadata"]["generation"]
            for c in o.get("status", {}).get("conditions", [])
        )
    )


def wait_ready(cp: ControlPlane, namespace: str, want: int, deadline_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        if ready_count(cp, namespace) >= want:
            return time.monotonic() - started
        time.sleep(0.1)
    raise TimeoutError(f"{want} stacks not Ready in {namespace} after {deadline_s:.0f}s")


def pair(i: int) -> list[dict[str, Any]]:
    return [
        sink(f"s{i}", labels={"bench": f"b{i}"}, signals=["traces"], otlp={"endpoint": f"gw{i}:4317"}),
        stack(f"st{i}", sinks={"names": [f"s{i}"]}),
    ]


CR_TYPES = {
    "TelemetrySink": ResourceType("vigil.dev/v1alpha1", "TelemetrySink", "telemetrysinks"),
    "MonitoringStack": ResourceType("vigil.dev/v1alpha1", "MonitoringStack", "monitoringstacks"),
}


def ssa(kube: Kube, doc: dict[str, Any]) -> None:
    """Server-side apply any object (custom resources included) with the benchmark's client."""
    rt = CR_TYPES.get(doc["kind"]) or TYPES[(doc["apiVersion"], doc["kind"])]
    kube.request(
        "apply",
        "PATCH",
        rt.path(doc["metadata"]["namespace"], doc["metadata"]["name"]),
        body=doc,
        query={"fieldManager": "bench", "force": "true"},
        headers={"Content-Type": "application/apply-patch+yaml"},
    )


def is_ready(kube: Kube, namespace: str, name: str) -> bool:
    obj = kube.request("get", "GET", CR_TYPES["MonitoringStack"].path(namespace, name)) or {}
    return any(c["type"] == "Ready" and c["status"] == "True" for c in obj.get("status", {}).get("conditions", []))


def latency(cp: ControlPlane, kube: Kube, rounds: int) -> tuple[float, float]:
    """Median seconds: apply → Ready through the operator, and a raw SSA of the same objects.

    Both sides use the same in-process client; readiness is polled every 10 ms.
    """
    through, raw = [], []
    for r in range(rounds):
        for ns in (f"lat-{r}", f"raw-{r}"):
            cp.kubectl("create", "namespace", ns)
        docs = pair(r)
        for d in docs:
            d["metadata"]["namespace"] = f"lat-{r}"
        started = time.monotonic()
        for d in docs:
            ssa(kube, d)
        while not is_ready(kube, f"lat-{r}", f"st{r}"):
            if time.monotonic() - started > 60:
                raise TimeoutError(f"stack st{r} not Ready after 60s")
            time.sleep(0.01)
        through.append(time.monotonic() - started)
        for d in docs:
            d["metadata"]["namespace"] = f"raw-{r}"
        stack_model = MonitoringStack.model_validate(docs[1])
        config = build_collector_config(stack_model, [TelemetrySink.model_validate(docs[0])])
        objects = render_stack(stack_model, config, RenderContext()).objects
        started = time.monotonic()
        for obj in objects:
            ssa(kube, obj)
        raw.append(time.monotonic() - started)
    return statistics.median(through), statistics.median(raw)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stacks", type=int, default=200, help="N for the throughput run")
    parser.add_argument("--secrets", type=int, default=1000, help="unrelated Secrets for the memory run")
    parser.add_argument("--rounds", type=int, default=5, help="latency samples")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    cp = start_control_plane(work)
    op: Operator | None = None
    rows: list[tuple[str, str]] = []
    try:
        cp.install_crds()
        kubernetes.config.load_kube_config(str(cp.kubeconfig))
        kube = Kube()
        op = start_operator(cp, work, VIGIL_DRIFT_INTERVAL=str(DRIFT_S), VIGIL_LOG_FORMAT="json")
        rss_idle = rss_kib(op)
        through, raw = latency(cp, kube, args.rounds)
        rows += [
            ("reconcile latency, apply → Ready (median)", f"{through * 1000:.0f} ms"),
            ("raw server-side apply of the same objects (median)", f"{raw * 1000:.0f} ms"),
            ("latency ratio (operator / raw apply)", f"{through / raw:.1f}x"),
        ]
        cp.kubectl("create", "namespace", "many")
        started = time.monotonic()
        apply_docs(cp, "many", [d for i in range(args.stacks) for d in pair(i)])
        applied = time.monotonic() - started
        took = wait_ready(cp, "many", args.stacks, 60 + args.stacks * 2)
        rows += [
            (
                f"throughput: {args.stacks} stacks Ready after apply",
                f"{took:.1f} s ({args.stacks / took:.1f} stacks/s)",
            ),
            ("  (kubectl apply of those objects alone)", f"{applied:.1f} s"),
        ]
        writes = op.child_writes()
        reconciles = op.count("vigil_reconcile_total", kind="MonitoringStack")
        time.sleep(DRIFT_S * 2)
        no_op = op.count("vigil_reconcile_total", kind="MonitoringStack") - reconciles
        rows.append(
            ("writes per no-op reconcile", f"{(op.child_writes() - writes) / max(no_op, 1):.2f} ({no_op:g} reconciles)")
        )
        rss_n = rss_kib(op)
        cp.kubectl("create", "namespace", "unrelated")
        secrets = [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": f"u{i}", "namespace": "unrelated"},
                "stringData": {"k": "x" * 512},
            }
            for i in range(args.secrets)
        ]
        for chunk in range(0, len(secrets), 250):
            cp.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(secrets[chunk : chunk + 250]))
        time.sleep(DRIFT_S * 2)
        rss_secrets = rss_kib(op)
        rows += [
            ("operator RSS, idle", f"{rss_idle / 1024:.0f} MiB"),
            (f"operator RSS, {args.stacks + args.rounds} stacks", f"{rss_n / 1024:.0f} MiB"),
            (
                f"operator RSS, + {args.secrets} unrelated Secrets",
                f"{rss_secrets / 1024:.0f} MiB ({(rss_secrets - rss_n) / 1024:+.1f} MiB)",
            ),
        ]
    finally:
        if op is not None:
            op.stop()
        cp.stop()
    width = max(len(k) for k, _ in rows)
    print(f"\n{'measure'.ljust(width)}  value")
    for key, value in rows:
        print(f"{key.ljust(width)}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
