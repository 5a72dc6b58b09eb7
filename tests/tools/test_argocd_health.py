"""deploy/argocd/health.lua in Argo CD's Lua runtime: every status shape gets a verdict, never an error.

The verdicts on objects the operator really wrote are in tests/integration/test_gitops_health.py;
here are the shapes a live operator does not produce on demand (stale conditions, odd values).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.harness.gitops import argocd_health
from tests.harness.tools import require


def stack(generation: int = 2, status: Any = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "vigil.dev/v1alpha1",
        "kind": "MonitoringStack",
        "metadata": {"name": "shop", "namespace": "team-a", "generation": generation},
        "spec": {"sinks": {"names": ["gw"]}},
    }
    if status is not None:
        obj["status"] = status
    return obj


def cond(type_: str, status: str, reason: str = "", message: str = "", generation: int = 2) -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": message, "observedGeneration": generation}


READY = cond("Ready", "True", "Reconciled", "All generated objects are up to date.")
NOT_DEGRADED = cond("Degraded", "False", "AsExpected", "Nothing is degraded.")

CASES = {
    "no status": (stack(), "Progressing", "Waiting for the Vigil operator to reconcile this MonitoringStack"),
    "status not an object": (stack(status="pending"), "Progressing", "reconcile this MonitoringStack"),
    "conditions not a list": (
        stack(status={"observedGeneration": 2, "conditions": "Ready"}),
        "Progressing",
        "reconcile this MonitoringStack",
    ),
    "generation behind": (
        stack(3, {"observedGeneration": 2, "conditions": [READY]}),
        "Progressing",
        "reconcile generation 3 (last reconciled: 2)",
    ),
    "no observedGeneration": (
        stack(status={"conditions": [READY]}),
        "Progressing",
        "(last reconciled: nil)",
    ),
    "no Ready condition": (
        stack(status={"observedGeneration": 2, "conditions": [NOT_DEGRADED]}),
        "Progressing",
        "Waiting for the Vigil operator to report Ready",
    ),
    "Ready from an older generation": (
        stack(status={"observedGeneration": 2, "conditions": [{**READY, "observedGeneration": 1}]}),
        "Progressing",
        "Ready is from generation 1; waiting for 2",
    ),
    "Ready=False without reason or message": (
        stack(status={"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "False"}]}),
        "Degraded",
        "NoReason",
    ),
    "Ready=Unknown": (
        stack(status={"observedGeneration": 2, "conditions": [cond("Ready", "Unknown", "Pending")]}),
        "Progressing",
        "Ready is Unknown: Pending",
    ),
    "Ready and Degraded": (
        stack(status={"observedGeneration": 2, "conditions": [READY, cond("Degraded", "True", "SinkNotFound", "x")]}),
        "Degraded",
        "Ready, but degraded: SinkNotFound: x",
    ),
    "Ready, nothing degraded": (
        stack(status={"observedGeneration": 2, "conditions": [READY, NOT_DEGRADED]}),
        "Healthy",
        "Reconciled: All generated objects are up to date.",
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_every_status_shape_gets_a_verdict(case: str) -> None:
    obj, status, message = CASES[case]
    (result,) = argocd_health([obj])
    assert result["status"] == status
    assert message in result["message"]


def test_one_verdict_per_object_of_a_list() -> None:
    objects = [obj for obj, _, _ in CASES.values()]
    assert [r["status"] for r in argocd_health(objects)] == [status for _, status, _ in CASES.values()]


# The runtime itself: it must refuse what Argo CD refuses, or the verdicts above prove nothing.


def health(tmp_path: Path, script: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "health.lua"
    path.write_text(script)
    return subprocess.run(
        [str(require("argocd-health")), str(path)],
        input='{"kind": "MonitoringStack", "metadata": {"name": "shop"}}',
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_the_runtime_opens_no_string_library(tmp_path: Path) -> None:
    done = health(tmp_path, 'return {status = "Healthy", message = string.format("%s", "x")}')
    assert done.returncode == 1
    assert "string" in done.stderr


def test_the_runtime_turns_an_unknown_status_into_unknown(tmp_path: Path) -> None:
    done = health(tmp_path, 'return {status = "Fine"}')
    assert done.returncode == 0, done.stderr
    assert '"status": "Unknown"' in done.stdout
    assert "Lua returned an invalid health status" in done.stdout


def test_the_runtime_wants_a_table(tmp_path: Path) -> None:
    done = health(tmp_path, 'return "Healthy"')
    assert done.returncode == 1
    assert "expect table output from Lua script, not string" in done.stderr


def test_the_runtime_stops_a_script_after_a_second(tmp_path: Path) -> None:
    done = health(tmp_path, "while true do end")
    assert done.returncode == 1
    assert "context deadline exceeded" in done.stderr
