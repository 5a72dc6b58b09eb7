"""Hostile objects that the API server stores reach the operator: it reports them in status, with
the field, instead of retrying forever (before, deep PromQL raised RecursionError in a loop); what
the schema refuses never reaches it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness.cluster import Cluster
from tests.harness.operator import Operator
from tests.harness.process import eventually
from tests.integration.test_operator import operator

__all__ = ["operator"]  # a fixture, used by name


def policy(name: str, expr: str) -> dict[str, Any]:
    return {
        "apiVersion": "vigil.dev/v1alpha1",
        "kind": "AlertPolicy",
        "metadata": {"name": name},
        "spec": {"expr": expr},
    }


def reason_and_message(cluster: Cluster, kind: str, name: str) -> tuple[str, str] | None:
    cond = cluster.condition(kind, name)
    return (cond["reason"], cond["message"]) if cond.get("status") == "False" else None


def test_deep_promql_is_judged_and_reported_by_field(operator: Operator, cluster: Cluster) -> None:
    cluster.apply(policy("deep-valid", "(" * 2000 + "up" + ")" * 2000 + " == 0"))
    cluster.apply(policy("deep-broken", "(" * 2000 + "up" + ")" * 1999))
    eventually(lambda: cluster.ready("apol", "deep-valid"), "the deep, valid policy Ready")
    reason, message = eventually(lambda: reason_and_message(cluster, "apol", "deep-broken"), "Ready=False")
    assert reason == "InvalidExpression"
    assert message.startswith("spec.expr: Invalid value: ")
    assert "invalid PromQL" in message


def test_no_field_takes_an_object_nested_past_the_limit(cluster: Cluster) -> None:
    # Every field of the CRDs is typed (none keeps unknown fields), so the API server refuses deep
    # nesting by its schema: only `vigil validate` meets such a file, and refuses it unread.
    affinity: Any = {"x": "y"}
    for _ in range(150):
        affinity = {"a": affinity}
    stack = {
        "apiVersion": "vigil.dev/v1alpha1",
        "kind": "MonitoringStack",
        "metadata": {"name": "deep"},
        "spec": {"sinks": {"names": ["none"]}, "collector": {"affinity": affinity}},
    }
    with pytest.raises(RuntimeError, match=r"\.spec\.collector\.affinity\.a: field not declared in schema"):
        cluster.apply(stack)
    assert cluster.get("mstack", "deep") is None
