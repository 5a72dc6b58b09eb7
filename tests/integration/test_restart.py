"""Restarts with many objects present: every object becomes Ready, and a restart writes nothing.

The population is what a real cluster holds after a while: 300 sinks (one with a header from a
Secret per stack), 100 stacks selecting 3 sinks each by label, 50 policies, all in place before
the operator starts, or arriving while it lists them. The operator runs with its default worker
limit: before the fix, objects waiting for the indexes held every worker and none ever ran.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness.cluster import secret
from tests.harness.controlplane import ControlPlane
from tests.harness.operator import Operator, start_operator
from tests.harness.population import apply_all, not_ready
from tests.harness.process import eventually
from tests.helpers import sink, stack

STACKS, SINKS_PER_STACK, POLICIES = 100, 3, 50
OBJECTS = STACKS * (SINKS_PER_STACK + 1) + POLICIES
DEADLINE_S = 240.0
# Only the event path: no drift tick may rescue a stuck start.
SLOW_TIMERS = {"VIGIL_DRIFT_INTERVAL": "3600", "VIGIL_SECRET_CHECK_INTERVAL": "3600"}


def population(namespace: str) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [secret("gateway", token="Bearer restart")]
    header = {"name": "Authorization", "valueFrom": {"secretKeyRef": {"name": "gateway", "key": "token"}}}
    for i in range(STACKS):
        labels = {"stack": f"st-{i}"}
        docs.append(
            sink(f"st-{i}-gw", labels=labels, signals=["traces"], otlp={"endpoint": "gw:4317", "headers": [header]})
        )
        docs += [sink(f"st-{i}-log-{j}", labels=labels, signals=["logs"], debug={}) for j in range(SINKS_PER_STACK - 1)]
        docs.append(stack(f"st-{i}", sinks={"selector": {"matchLabels": labels}}))
    for k in range(POLICIES):
        docs.append(
            {
                "apiVersion": "vigil.dev/v1alpha1",
                "kind": "AlertPolicy",
                "metadata": {"name": f"pol-{k}"},
                "spec": {"threshold": {"expr": f'up{{job="job-{k}"}}', "comparison": "<", "value": 1}},
            }
        )
    for doc in docs:
        doc["metadata"]["namespace"] = namespace
    return docs


def all_ready(cp: ControlPlane, namespace: str, operator: Operator) -> None:
    def done() -> bool:
        assert operator.process.alive(), operator.process.tail()
        return not_ready(cp, namespace, OBJECTS) == []

    eventually(done, "every sink, stack and policy Ready", deadline_s=DEADLINE_S, interval_s=2)


@pytest.fixture
def operators(control_plane: ControlPlane, tmp_path: Path) -> Iterator[list[Operator]]:
    started: list[Operator] = []
    yield started
    for op in started:
        op.stop()
    for op in started:
        op.assert_log_clean()


def run(cp: ControlPlane, workdir: Path, started: list[Operator], *, wait: bool = True) -> Operator:
    op = start_operator(cp, workdir, name=f"vigil-operator-{len(started)}", wait=wait, **SLOW_TIMERS)
    started.append(op)
    return op


def test_objects_present_before_start_all_become_ready_and_a_restart_writes_nothing(
    control_plane: ControlPlane, namespace: str, operators: list[Operator], tmp_path: Path
) -> None:
    apply_all(control_plane, population(namespace))
    first = run(control_plane, tmp_path, operators, wait=False)
    # Stopped part-way through: the next operator finds half-done work.
    eventually(
        lambda: first.count("vigil_reconcile_total", kind="MonitoringStack") >= STACKS // 3,
        "a third of the stacks reconciled",
        deadline_s=DEADLINE_S,
    )
    first.stop()
    second = run(control_plane, tmp_path, operators, wait=False)
    all_ready(control_plane, namespace, second)
    assert second.ready()
    second.stop()

    third = run(control_plane, tmp_path, operators)
    eventually(
        lambda: (
            third.count("vigil_reconcile_total", kind="MonitoringStack", result="success") >= STACKS
            and third.count("vigil_reconcile_total", kind="AlertPolicy", result="success") >= POLICIES
        ),
        "the restarted operator to resume every stack and policy",
        deadline_s=DEADLINE_S,
    )
    assert third.child_writes() == 0
    assert not_ready(control_plane, namespace, OBJECTS) == []


def test_objects_arriving_while_the_operator_lists_all_become_ready(
    control_plane: ControlPlane, namespace: str, operators: list[Operator], tmp_path: Path
) -> None:
    op = run(control_plane, tmp_path, operators, wait=False)
    apply_all(control_plane, population(namespace))
    all_ready(control_plane, namespace, op)
    assert op.count("vigil_handlers_ready") == 1
