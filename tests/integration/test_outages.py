"""The control plane restarts under a busy operator: the API server goes down for longer than
kopf's own retries during a bulk apply of 200 stacks, and etcd restarts while every stack rolls
out a change. Each ends converged (every object Ready, exactly its rendered children, nothing left
without a live owner) with no traceback. The control plane is this module's own: its
components are stopped and started again on the same ports and data.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.harness.controlplane import ControlPlane
from tests.harness.faultproxy import Fault, start_fault_proxy
from tests.harness.fixtures import own_control_plane
from tests.harness.operator import Operator, start_operator
from tests.harness.population import (
    apply_in_chunks,
    cheap_stacks,
    collector_configs,
    converged,
    delete_all,
    in_namespace,
)
from tests.harness.process import eventually

STACKS = 200
DELETED = 20
"""Stacks (and their sinks) deleted just before the outage: their deletion is in flight."""
API_DOWN_S = 60.0
"""Longer than kopf's default retries of one request (1+1+2+3+5+8+13+21 s). Before the fix kopf
gave up: lost status patches, and a watch that gave up stopped every watch of the operator."""
IN_FLIGHT = 3
"""Operator requests held by the proxy as the API server goes away."""
ETCD_STACKS = 60
ETCD_DOWN_S = 10.0
# Only the event path: no drift tick may repair what a fault broke.
SLOW_TIMERS = {"VIGIL_DRIFT_INTERVAL": "3600", "VIGIL_SECRET_CHECK_INTERVAL": "3600"}


@pytest.fixture(scope="module")
def restartable(request: pytest.FixtureRequest) -> Iterator[ControlPlane]:
    yield from own_control_plane(request)


@pytest.fixture
def ns(restartable: ControlPlane) -> Iterator[str]:
    name = f"t-{secrets.token_hex(4)}"
    restartable.kubectl("create", "namespace", name)
    yield name
    restartable.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def operator(restartable: ControlPlane, tmp_path: Path) -> Iterator[Operator]:
    op = start_operator(restartable, tmp_path, **SLOW_TIMERS)
    yield op
    op.stop()
    op.assert_log_clean()


def running(op: Operator) -> None:
    assert op.process.alive(), f"the operator exited:\n{op.process.tail()}"


def test_api_server_down_for_a_minute_during_a_bulk_apply_of_200_stacks_converges(
    restartable: ControlPlane, ns: str, tmp_path: Path
) -> None:
    cp = restartable
    # The operator reaches the API server through a proxy, as through a load balancer: it answers
    # 502 while the server is away, and holds a few requests so that some are in flight then.
    proxy = start_fault_proxy(cp, tmp_path)
    operator = start_operator(cp, tmp_path, KUBECONFIG=str(proxy.kubeconfig), **SLOW_TIMERS)
    try:
        docs = in_namespace(cheap_stacks(STACKS), ns)
        gone, kept = docs[: 2 * DELETED], docs[2 * DELETED :]
        first, busy, rest = docs[:80], docs[80:120], docs[120:]
        apply_in_chunks(cp, first, chunk=40)
        eventually(
            lambda: operator.count("vigil_reconcile_total", kind="MonitoringStack", result="success") >= DELETED,
            "the operator done with the first stacks",
            deadline_s=120,
        )
        apply_in_chunks(cp, busy)
        proxy.add(Fault("PATCH", f"/namespaces/{ns}/monitoringstacks/", delay=5, count=IN_FLIGHT))
        delete_all(cp, ns, gone)
        eventually(lambda: len(proxy.injected) == IN_FLIGHT, "requests in flight", deadline_s=60)
        with ThreadPoolExecutor(1) as pool:
            with cp.outage("kube-apiserver"):
                applying = pool.submit(apply_in_chunks, cp, rest, chunk=40)  # the rest of the bulk apply
                time.sleep(API_DOWN_S)
            failed_tries = applying.result(timeout=600)
        assert failed_tries > 0, "the bulk apply never met the outage"
        assert proxy.unreachable > 0, "the operator never met the outage"
        converged(cp, ns, kept, alive=lambda: running(operator), deadline_s=300)
    finally:
        operator.stop()
    operator.assert_log_clean()


def test_etcd_restarted_while_every_stack_rolls_out_a_change_converges(
    restartable: ControlPlane, ns: str, operator: Operator
) -> None:
    cp = restartable
    docs = in_namespace(cheap_stacks(ETCD_STACKS), ns)
    apply_in_chunks(cp, docs)
    converged(cp, ns, docs, alive=lambda: running(operator))
    sinks = [d for d in docs if d["kind"] == "TelemetrySink"]
    for doc in sinks:
        doc["spec"]["debug"] = {"verbosity": "detailed"}
    before = operator.count("vigil_reconcile_total", kind="MonitoringStack")
    with ThreadPoolExecutor(1) as pool:
        applying = pool.submit(apply_in_chunks, cp, sinks, chunk=20)
        eventually(
            lambda: operator.count("vigil_reconcile_total", kind="MonitoringStack") >= before + 5,
            "the first stacks rolling out",
            deadline_s=120,
        )
        with cp.outage("etcd"):
            time.sleep(ETCD_DOWN_S)
        applying.result(timeout=600)
    converged(cp, ns, docs, alive=lambda: running(operator))
    eventually(lambda: stale_configs(cp, ns) == [], "every collector config with the change", deadline_s=60)


def stale_configs(cp: ControlPlane, namespace: str) -> list[str]:
    """Stacks whose collector config does not have the debug exporter's new verbosity."""
    configs = collector_configs(cp, namespace)
    return [
        f"st{i}"
        for i in range(ETCD_STACKS)
        if configs[f"st{i}"]["exporters"][f"debug/st{i}-log-0"].get("verbosity") != "detailed"
    ]
