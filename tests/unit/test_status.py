"""status.py: the conditions every kind reports, as kstatus (Flux) and Argo CD read them."""

from __future__ import annotations

from typing import Any

import pytest

from vigil import status
from vigil.status import Issue, Outcome

T0 = "2026-01-01T00:00:00Z"
T1 = "2026-01-01T00:05:00Z"
BAD_REF = Issue("SecretNotFound", 'Secret "gw-auth" (used by spec.otlp.headers[0]) not found in namespace "shop"')
SKIPPED = Issue("PrometheusOperatorMissing", "ServiceMonitor skipped: install prometheus-operator's CRDs")


def by_type(conds: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in conds}


def test_ready_object_is_neither_degraded_nor_stalled() -> None:
    conds = by_type(status.conditions([], Outcome(3), T0))
    assert [(t, c["status"], c["reason"]) for t, c in conds.items()] == [
        ("Ready", "True", "Reconciled"),
        ("Degraded", "False", "AsExpected"),
        ("Stalled", "False", "AsExpected"),
    ]
    assert {c["observedGeneration"] for c in conds.values()} == {3}
    assert {c["lastTransitionTime"] for c in conds.values()} == {T0}


def test_an_error_stalls_with_its_reason_and_message() -> None:
    conds = by_type(status.conditions([], Outcome(2, error=BAD_REF), T0))
    assert conds["Ready"]["status"] == "False"
    assert conds["Stalled"] == {
        "type": "Stalled",
        "status": "True",
        "reason": "SecretNotFound",
        "message": BAD_REF.message,
        "lastTransitionTime": T0,
        "observedGeneration": 2,
    }
    assert conds["Degraded"]["status"] == "False"


def test_a_warning_degrades_but_does_not_stall() -> None:
    conds = by_type(status.conditions([], Outcome(1, warnings=(SKIPPED,)), T0))
    assert (conds["Ready"]["status"], conds["Degraded"]["status"], conds["Stalled"]["status"]) == (
        "True",
        "True",
        "False",
    )
    assert conds["Degraded"]["reason"] == "PrometheusOperatorMissing"


@pytest.mark.parametrize(
    ("before", "after", "moves"),
    [
        (Outcome(1), Outcome(2), False),  # still not stalled: the time stays
        (Outcome(1, error=BAD_REF), Outcome(2, error=Issue("InvalidSpec", "spec.x: bad")), False),
        (Outcome(1), Outcome(2, error=BAD_REF), True),
        (Outcome(1, error=BAD_REF), Outcome(2), True),
    ],
)
def test_stalled_transition_time_moves_only_when_its_status_flips(before: Outcome, after: Outcome, moves: bool) -> None:
    first = status.conditions([], before, T0)
    second = by_type(status.conditions(first, after, T1))
    assert second["Stalled"]["lastTransitionTime"] == (T1 if moves else T0)
    assert second["Stalled"]["observedGeneration"] == 2


def test_status_carries_generation_conditions_and_fields() -> None:
    new = status.status(None, Outcome(4, error=BAD_REF, fields={"sinkCount": 0}), T0)
    assert new["observedGeneration"] == 4
    assert [c["type"] for c in new["conditions"]] == ["Ready", "Degraded", "Stalled"]
    assert new["sinkCount"] == 0


def test_changed_reports_only_what_differs() -> None:
    old = status.status(None, Outcome(1), T0)
    assert status.changed(old, status.status(old, Outcome(1), T1)) == {}
    recovered = status.changed(status.status(None, Outcome(1, error=BAD_REF), T0), status.status(None, Outcome(2), T1))
    assert set(recovered) == {"observedGeneration", "conditions"}


def test_control_characters_never_reach_a_condition() -> None:
    error = Issue("InvalidSpec", 'spec.x: Invalid value: "a\nb\x1b[2J\u202e": bad')
    ready = status.conditions([], Outcome(1, error), "2026-01-01T00:00:00Z")[0]
    assert ready["message"] == 'spec.x: Invalid value: "a\\nb\\x1b[2J\\u202e": bad'
