"""A sink's `usedBy` follows the stacks that select it at once, not at the next drift tick."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness.cluster import Cluster
from tests.harness.controlplane import ControlPlane
from tests.harness.operator import Operator, running_operator
from tests.harness.process import eventually
from tests.helpers import sink, stack

# Far longer than any deadline below: only the event-driven path can pass these tests.
SLOW_TIMERS_S = 600
DEADLINE_S = 30.0

GW = sink("gw", labels={"team": "shop"}, signals=["logs"], debug={"verbosity": "basic"})
GW2 = sink("gw2", labels={"team": "ops"}, signals=["logs"], debug={"verbosity": "basic"})


@pytest.fixture(scope="module")
def operator(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    yield from running_operator(
        control_plane,
        tmp_path_factory.mktemp("operator-slow-timers"),
        VIGIL_DRIFT_INTERVAL=str(SLOW_TIMERS_S),
        VIGIL_SECRET_CHECK_INTERVAL=str(SLOW_TIMERS_S),
    )


def used_by(cluster: Cluster) -> list[str] | None:
    return list(((cluster.get("tsink", "gw") or {}).get("status") or {}).get("usedBy", [])) or None


def selecting_stack(name: str) -> dict[str, Any]:
    return stack(name, sinks={"selector": {"matchLabels": {"team": "shop"}}})


def test_used_by_follows_stacks_that_come_and_go(
    operator: Operator, control_plane: ControlPlane, namespace: str
) -> None:
    cluster = Cluster(control_plane, namespace)
    cluster.apply(copy.deepcopy(GW), copy.deepcopy(GW2))
    eventually(lambda: cluster.ready("tsink", "gw"), "sink gw Ready", deadline_s=DEADLINE_S)
    assert used_by(cluster) is None

    cluster.apply(selecting_stack("shop"))
    eventually(lambda: used_by(cluster) == ["shop"], "usedBy [shop] after the stack appeared", deadline_s=DEADLINE_S)

    cluster.apply(selecting_stack("ops"))
    eventually(lambda: used_by(cluster) == ["ops", "shop"], "usedBy [ops, shop]", deadline_s=DEADLINE_S)
    # The event counters read the indexes too (other tests' objects may add to these).
    assert operator.count("vigil_managed_objects", kind="TelemetrySink") >= 2
    assert operator.count("vigil_managed_objects", kind="MonitoringStack") >= 2
    assert operator.count("vigil_watch_events_total", kind="MonitoringStack") >= 2

    control_plane.kubectl("delete", "mstack", "shop", "-n", namespace)
    eventually(lambda: used_by(cluster) == ["ops"], "usedBy [ops] after shop was deleted", deadline_s=DEADLINE_S)

    cluster.apply(stack("ops", sinks={"selector": {"matchLabels": {"team": "ops"}}}))
    eventually(lambda: used_by(cluster) is None, "usedBy empty once ops selects other sinks", deadline_s=DEADLINE_S)


def selected(cluster: Cluster, name: str) -> list[str]:
    return list(((cluster.get("mstack", name) or {}).get("status") or {}).get("selectedSinks", []))


def test_a_sink_change_reaches_the_stacks_that_select_it_at_once(
    operator: Operator, control_plane: ControlPlane, namespace: str
) -> None:
    cluster = Cluster(control_plane, namespace)
    cluster.apply(copy.deepcopy(GW), selecting_stack("shop"))
    eventually(lambda: selected(cluster, "shop") == ["gw"], "shop exports to gw", deadline_s=DEADLINE_S)
    config = cluster.get("configmap", "shop-collector-config") or {}

    cluster.apply(sink("gw3", labels={"team": "shop"}, signals=["logs"], debug={"verbosity": "basic"}))
    eventually(lambda: selected(cluster, "shop") == ["gw", "gw3"], "shop exports to the new sink", DEADLINE_S)
    assert "debug/gw3" in (cluster.get("configmap", "shop-collector-config") or {})["data"]["collector.yaml"]

    cluster.apply(sink("gw3", labels={"team": "ops"}, signals=["logs"], debug={"verbosity": "basic"}))
    eventually(lambda: selected(cluster, "shop") == ["gw"], "shop stops exporting to a relabelled sink", DEADLINE_S)
    eventually(
        lambda: (cluster.get("configmap", "shop-collector-config") or {})["data"] == config["data"],
        "the config as it was before gw3",
        DEADLINE_S,
    )

    # Deleted: the reconcile its deletion wakes must not see it any more.
    cluster.apply(sink("gw3", labels={"team": "shop"}, signals=["logs"], debug={"verbosity": "basic"}))
    eventually(lambda: selected(cluster, "shop") == ["gw", "gw3"], "shop exports to gw3 again", DEADLINE_S)
    control_plane.kubectl("delete", "tsink", "gw3", "-n", namespace)
    eventually(lambda: selected(cluster, "shop") == ["gw"], "shop stops exporting to a deleted sink", DEADLINE_S)
