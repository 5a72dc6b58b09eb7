"""Faults a real API server cannot produce on demand: throttling, server errors, conflicts, the
operator dying mid-reconcile or killed again and again, watches that go silent or expire, and a
slow network. Each test asserts convergence and a truthful status."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.harness.cluster import Cluster
from tests.harness.controlplane import ControlPlane
from tests.harness.faultproxy import Fault, FaultProxy, start_fault_proxy
from tests.harness.operator import Operator, probing, start_operator
from tests.harness.population import (
    apply_all,
    apply_in_chunks,
    cheap_stacks,
    collector_configs,
    converged,
    delete_all,
    in_namespace,
    vigil_objects,
)
from tests.harness.process import eventually
from tests.helpers import sink, stack


def _deploy(cluster: Cluster, name: str) -> None:
    cluster.apply(
        sink(f"{name}-sink", signals=["logs"], debug={}),
        stack(name, sinks={"names": [f"{name}-sink"]}),
    )


def test_throttling_errors_and_conflicts_converge(control_plane: ControlPlane, namespace: str, tmp_path: Path) -> None:
    proxy = start_fault_proxy(control_plane, tmp_path)
    for fault in (
        Fault("PATCH", "/deployments/", status=429, count=2),
        Fault("PATCH", "/configmaps/", status=500, count=2),
        Fault("PATCH", "/services/", status=409, count=1),
    ):
        proxy.add(fault)
    env = {"KUBECONFIG": str(proxy.kubeconfig)}
    op = start_operator(control_plane, tmp_path, VIGIL_DRIFT_INTERVAL="30", **env)
    try:
        cluster = Cluster(control_plane, namespace)
        _deploy(cluster, "flaky")
        eventually(lambda: cluster.ready("mstack", "flaky"), "Ready despite injected faults", deadline_s=90)
        children = cluster.children("flaky")
        assert {
            "Deployment/flaky-collector",
            "ConfigMap/flaky-collector-config",
            "Service/flaky-collector",
        } <= set(children)
        assert len(proxy.injected) == 5, proxy.injected
        assert op.count("vigil_api_requests_total", code="429") == 2
        assert op.count("vigil_reconcile_total", kind="MonitoringStack", result="error") >= 1
    finally:
        op.stop()


def test_operator_killed_mid_reconcile_converges_after_restart(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    proxy = start_fault_proxy(control_plane, tmp_path)
    proxy.add(Fault("PATCH", "/deployments/", delay=30, count=1))  # hangs the first Deployment apply
    op = start_operator(control_plane, tmp_path, name="doomed", KUBECONFIG=str(proxy.kubeconfig))
    cluster = Cluster(control_plane, namespace)
    _deploy(cluster, "crashy")
    eventually(lambda: any("/deployments/" in i for i in proxy.injected), "the Deployment apply to stall")
    os.kill(op.process.pid, signal.SIGKILL)
    op.process.popen.wait(timeout=10)
    assert cluster.get("deployment", "crashy-collector") is None
    time.sleep(1)
    second = start_operator(control_plane, tmp_path, name="restarted", VIGIL_DRIFT_INTERVAL="30")
    try:
        eventually(lambda: cluster.ready("mstack", "crashy"), "Ready after the restart")
        assert cluster.get("deployment", "crashy-collector") is not None
        status = (cluster.get("mstack", "crashy") or {})["status"]
        assert status["selectedSinks"] == ["crashy-sink"]
        assert {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "crashy-collector",
        } in status["generatedObjects"]
    finally:
        second.stop()


# Only the event path: no drift tick may repair what a fault broke.
SLOW_TIMERS = {"VIGIL_DRIFT_INTERVAL": "3600", "VIGIL_SECRET_CHECK_INTERVAL": "3600"}
# The server ends a healthy watch after 5 s; a watch silent for 8 s is dropped by the operator.
SHORT_WATCHES = {"VIGIL_WATCH_SERVER_TIMEOUT": "5", "VIGIL_WATCH_CLIENT_TIMEOUT": "8"}


def _running(op: Operator) -> None:
    assert op.process.alive(), f"the operator exited:\n{op.process.tail()}"


def _gap_in_watch(proxy: FaultProxy, resource: str) -> None:
    """The watch of ``resource`` goes silent: what changes now is not seen until the watch is replaced."""
    proxy.add(Fault("GET", f"/{resource}?", silent=True))
    proxy.cut_watches(f"/{resource}?")  # or the server ends it within SHORT_WATCHES
    eventually(lambda: proxy.watches(f"/{resource}?", silent=True), f"a silent watch of {resource}", deadline_s=30)


def _expire_after_gap(proxy: FaultProxy, resource: str) -> None:
    """The watch that replaces the silent one is told its resourceVersion is gone (410): the operator lists again."""
    proxy.add(Fault("GET", f"/{resource}?", expire=True))
    eventually(
        lambda: any(f"/{resource}?" in i and "410" in i for i in proxy.injected),
        f"the silent watch of {resource} dropped and its successor expired",
        deadline_s=60,
    )


def test_changes_missed_by_a_silent_or_expired_watch_are_not_lost(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    proxy = start_fault_proxy(control_plane, tmp_path)
    # A deletion behind an expired watch has no DELETED event: the list that follows the 410 simply
    # lacks the sink, and kopf keeps it in its index. The stack's drift tick checks which sinks
    # still exist; everything else here comes through events.
    timers = {**SLOW_TIMERS, "VIGIL_DRIFT_INTERVAL": "10"}
    op = start_operator(control_plane, tmp_path, KUBECONFIG=str(proxy.kubeconfig), **timers, **SHORT_WATCHES)
    try:
        docs = in_namespace(cheap_stacks(4, sinks=2), namespace)
        apply_all(control_plane, docs)
        converged(control_plane, namespace, docs, alive=lambda: _running(op), deadline_s=120)
        by_name = {d["metadata"]["name"]: d for d in docs}

        # Sinks: the silent watch is followed by one the server no longer can resume (410 Gone).
        _gap_in_watch(proxy, "telemetrysinks")
        by_name["st0-log-0"]["spec"]["debug"] = {"verbosity": "detailed"}
        added = in_namespace(
            [sink("st2-log-2", labels={"stack": "st2"}, signals=["logs"], debug={"verbosity": "basic"})], namespace
        )
        apply_all(control_plane, [by_name["st0-log-0"], *added])
        delete_all(control_plane, namespace, [by_name["st1-log-1"]])
        _expire_after_gap(proxy, "telemetrysinks")
        docs = [d for d in docs if d["metadata"]["name"] != "st1-log-1"] + added
        converged(control_plane, namespace, docs, alive=lambda: _running(op), deadline_s=120)
        configs = collector_configs(control_plane, namespace)
        assert configs["st0"]["exporters"]["debug/st0-log-0"]["verbosity"] == "detailed"
        assert sorted(configs["st1"]["exporters"]) == ["debug/st1-log-0"]
        assert sorted(configs["st2"]["exporters"]) == ["debug/st2-log-0", "debug/st2-log-1", "debug/st2-log-2"]

        # Stacks: only silent; the operator drops it and resumes from where it was.
        _gap_in_watch(proxy, "monitoringstacks")
        by_name["st3"]["spec"]["collector"] = {"replicas": 2}
        apply_all(control_plane, [by_name["st3"]])
        delete_all(control_plane, namespace, [by_name["st0"]])
        eventually(
            lambda: proxy.watches("/monitoringstacks?", silent=True) == [],
            "the operator to drop the silent watch",
            deadline_s=60,
        )
        docs = [d for d in docs if d["metadata"]["name"] != "st0"]
        converged(control_plane, namespace, docs, alive=lambda: _running(op), deadline_s=120)
        assert (
            control_plane.kubectl("get", "pdb", "st3-collector", "-n", namespace, "-o", "name").stdout.strip()
            == "poddisruptionbudget.policy/st3-collector"
        )
        assert [i.split(" -> ")[1] for i in proxy.injected] == ["silent", "410 Gone in the stream", "silent"]
    finally:
        op.stop()
    op.assert_log_clean()


LATENCY_S = 0.1
"""Each way, on every request and every piece of every response (watch events included)."""
REQUEST_TIMEOUT_S = 8.0
"""The operator's request timeout here (--request-timeout; 30 s by default: the same story, told faster)."""
STALLED = 2
"""Deployment applies held longer than the operator's request timeout: they time out."""
SLOW_STACKS = 6
SINK_WATCH_LAG_S = 3.0
"""How late the first sinks' watch delivers each event: longer than a stack's first reconcile takes."""


def test_a_slow_network_turns_no_timeout_into_a_wrong_status(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    proxy = start_fault_proxy(control_plane, tmp_path)
    proxy.latency = LATENCY_S
    proxy.add(Fault("PATCH", "/deployments/", delay=REQUEST_TIMEOUT_S + 5, count=STALLED))
    # One watch slower than the others: stacks arrive before the sinks applied with them.
    proxy.add(Fault("GET", "/telemetrysinks?", lag=SINK_WATCH_LAG_S))
    # Alone in an empty namespace: readiness has to ask the API server whether anything exists.
    op = start_operator(
        control_plane,
        tmp_path,
        wait=False,
        KUBECONFIG=str(proxy.kubeconfig),
        VIGIL_NAMESPACES=namespace,
        VIGIL_REQUEST_TIMEOUT=str(REQUEST_TIMEOUT_S),
        **SLOW_TIMERS,
    )
    try:
        with probing(op) as missed:
            eventually(op.ready, "the operator ready in its empty namespace", deadline_s=60)
            docs = in_namespace(cheap_stacks(SLOW_STACKS), namespace)
            apply_all(control_plane, docs)
            eventually(
                lambda: op.count("vigil_reconcile_total", kind="MonitoringStack") >= SLOW_STACKS,
                "every stack reconciled while the sinks' watch lags",
                deadline_s=60,
            )
            assert [i for i in proxy.injected if "lag" in i], "the sinks' watch did not lag"
            proxy.cut_watches("/telemetrysinks?")  # the next one is on time
            converged(control_plane, namespace, docs, alive=lambda: _running(op), deadline_s=180)
            sinks = [d for d in docs if d["kind"] == "TelemetrySink"]
            for doc in sinks:
                doc["spec"]["debug"] = {"verbosity": "detailed"}
            apply_all(control_plane, sinks)
            converged(control_plane, namespace, docs, alive=lambda: _running(op), deadline_s=180)
            eventually(
                lambda: all(
                    c["exporters"][f"debug/{s}-log-0"]["verbosity"] == "detailed"
                    for s, c in collector_configs(control_plane, namespace).items()
                ),
                "every collector config with the change",
            )
        assert missed == [], "probes the operator did not answer within 1 s"
        stalled = [i for i in proxy.injected if "stall" in i]
        assert len(stalled) == STALLED, proxy.injected
        assert op.count("vigil_api_requests_total", code="none") >= STALLED, "no request timed out"
        events = json.loads(control_plane.kubectl("get", "events", "-n", namespace, "-o", "json").stdout)["items"]
        warnings = [f"{e['involvedObject']['name']}: {e['reason']}" for e in events if e["type"] != "Normal"]
        assert warnings == [], "a timeout was reported as something wrong with an object"
        for obj in vigil_objects(control_plane, namespace):
            conditions = {c["type"]: c["status"] for c in obj["status"]["conditions"]}
            assert conditions == {"Ready": "True", "Degraded": "False", "Stalled": "False"}, obj["metadata"]["name"]
    finally:
        op.stop()
    op.assert_log_clean()


KILL_STACKS = 200
KILL_DELETED = 20
KILLS = 6
"""At least: the loop goes on until the bulk apply is done."""


def test_operator_killed_every_few_seconds_during_a_bulk_apply_of_200_stacks_converges(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    docs = in_namespace(cheap_stacks(KILL_STACKS), namespace)
    gone, kept = docs[: 2 * KILL_DELETED], docs[2 * KILL_DELETED :]
    lifetimes = random.Random(13)
    killed: list[Operator] = []
    requests_before_kill = 0.0
    with ThreadPoolExecutor(1) as pool:
        applying = pool.submit(apply_in_chunks, control_plane, kept, chunk=40)
        apply_all(control_plane, gone)
        while not applying.done() or len(killed) < KILLS:
            # Killed a few seconds into its work: once ready, its handlers run.
            op = start_operator(control_plane, tmp_path, name=f"killed-{len(killed)}", **SLOW_TIMERS)
            time.sleep(lifetimes.uniform(3, 8))
            requests_before_kill += op.count("vigil_api_requests_total")
            os.kill(op.process.pid, signal.SIGKILL)
            op.process.popen.wait(timeout=10)
            killed.append(op)
            if len(killed) == KILLS // 2:
                delete_all(control_plane, namespace, gone)
        applying.result()
    assert requests_before_kill > 0, "no operator was killed while it reconciled"
    last = start_operator(control_plane, tmp_path, name="last", wait=False, **SLOW_TIMERS)
    try:
        converged(control_plane, namespace, kept, alive=lambda: _running(last), deadline_s=300)
    finally:
        last.stop()
    for op in [*killed, last]:
        op.assert_log_clean()
