"""High availability with --peering: the lower-priority replica stands by, and takes over."""

from __future__ import annotations

import time
from pathlib import Path

from tests.harness.cluster import Cluster
from tests.harness.controlplane import ControlPlane
from tests.harness.operator import Operator, start_operator
from tests.harness.process import eventually
from tests.harness.tools import ROOT
from tests.helpers import sink, stack

PEERING = ROOT / "deploy" / "peering.yaml"
RBAC = ROOT / "deploy" / "rbac.yaml"
DRIFT_S = 2
# A replica that exits cleanly leaves the peering at once; allow for kopf's pause bookkeeping.
TAKEOVER_DEADLINE_S = 60.0


def install_peering(cp: ControlPlane) -> None:
    """What deploy/peering.yaml tells users: CRDs, wait until served, then the peering object."""
    cp.kubectl("apply", "-f", str(RBAC))
    cp.kubectl("apply", "-f", str(PEERING), check=False)
    cp.kubectl(
        "wait",
        "--for=condition=established",
        "crd/clusterkopfpeerings.kopf.dev",
        "crd/kopfpeerings.kopf.dev",
        "--timeout=30s",
    )
    cp.kubectl("apply", "-f", str(PEERING))
    # New CRDs make the API server re-initialise its watch caches ("storage is (re)initializing",
    # 429). A replica that lists meanwhile would retry its first list and could receive it after it
    # paused: kopf checks the pause only between watch requests, so wait for lists to work again.
    eventually(
        lambda: cp.kubectl("get", "mstack,tsink,apol,clusterkopfpeerings", "-A", check=False).returncode == 0,
        "the Vigil and peering kinds listable",
    )


def reconciles(op: Operator) -> float:
    return op.count("vigil_reconcile_total")


def test_a_standby_replica_waits_and_takes_over(control_plane: ControlPlane, namespace: str, tmp_path: Path) -> None:
    install_peering(control_plane)
    env = {
        "KUBECONFIG": str(control_plane.kubeconfig_for_operator()),  # the shipped role
        "VIGIL_PEERING": "vigil",
        "VIGIL_DRIFT_INTERVAL": str(DRIFT_S),
    }
    standby = start_operator(control_plane, tmp_path, name="replica-standby", VIGIL_PRIORITY="100", **env)
    active = start_operator(control_plane, tmp_path, name="replica-active", VIGIL_PRIORITY="200", **env)
    try:
        eventually(
            lambda: "Pausing operations in favour of" in standby.process.log.read_text(errors="replace"),
            "the lower-priority replica paused in favour of the higher one",
        )
        baseline = reconciles(standby)
        cluster = Cluster(control_plane, namespace)
        cluster.apply(
            sink("console", labels={"team": "shop"}, signals=["logs"], debug={"verbosity": "basic"}),
            stack("one", sinks={"selector": {"matchLabels": {"team": "shop"}}}),
        )
        eventually(lambda: cluster.ready("mstack", "one"), "stack one Ready under peering")
        time.sleep(DRIFT_S * 3)  # drift ticks: a paused replica must not run its timers either
        assert reconciles(active) > 0
        assert reconciles(standby) == baseline, "the paused replica reconciled"

        active.stop()  # a clean exit removes it from the peering object at once
        cluster.apply(stack("two", sinks={"names": ["console"]}))
        eventually(
            lambda: cluster.ready("mstack", "two"),
            "the standby took over and reconciled stack two",
            deadline_s=TAKEOVER_DEADLINE_S,
        )
        assert reconciles(standby) > baseline
    finally:
        standby.stop()
        active.stop()
    standby.assert_log_clean()
    active.assert_log_clean()
