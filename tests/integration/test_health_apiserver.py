"""A real kube-apiserver judges MonitoringStack health checks: every CEL rule of the health check
model with the models' message and field, every valid shape accepted, the defaults filled in."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.harness.controlplane import ControlPlane
from tests.helpers import stack
from tests.unit.models.test_health import INVALID, VALID, checks
from vigil.models.health import HealthCheck

CEL_MESSAGES = [c.message for c in HealthCheck.cel_rules]
# The models' cases that a CEL rule decides; the rest are schema (pattern, enum, bounds) cases.
CRD_CASES = {k: v for k, v in INVALID.items() if any(v[2] in m for m in CEL_MESSAGES)}
SCHEMA_CASES = {k: v for k, v in INVALID.items() if k not in CRD_CASES}


def _apply(cp: ControlPlane, namespace: str, docs: list[dict[str, Any]]) -> Any:
    placed = [{**d, "metadata": {**d["metadata"], "namespace": namespace}} for d in docs]
    return cp.kubectl(
        "apply", "--server-side", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(placed), check=False
    )


def test_every_health_check_cel_rule_has_a_case_here() -> None:
    tripped = {m for m in CEL_MESSAGES for _, _, fragment in CRD_CASES.values() if fragment in m}
    assert sorted(tripped) == sorted(CEL_MESSAGES)


@pytest.mark.parametrize("case", sorted(CRD_CASES))
def test_crd_rejects_with_the_models_message(control_plane: ControlPlane, namespace: str, case: str) -> None:
    spec, path, message = CRD_CASES[case]
    result = _apply(control_plane, namespace, [stack(case, **spec)])
    assert result.returncode != 0, f"the API server accepted {case}"
    assert message in result.stderr, result.stderr
    assert path in result.stderr, result.stderr


@pytest.mark.parametrize("case", sorted(SCHEMA_CASES))
def test_crd_rejects_what_the_models_reject_naming_the_field(
    control_plane: ControlPlane, namespace: str, case: str
) -> None:
    spec, path, _ = SCHEMA_CASES[case]
    result = _apply(control_plane, namespace, [stack(case, **spec)])
    assert result.returncode != 0, f"the API server accepted {case}"
    # Server-side apply names a list-map entry by its key where validation names it by index.
    by_key = path.replace("healthChecks[0]", 'healthChecks[name="a"]')
    assert path in result.stderr or by_key in result.stderr, result.stderr


@pytest.mark.parametrize("case", sorted(VALID))
def test_crd_accepts_every_valid_shape(control_plane: ControlPlane, namespace: str, case: str) -> None:
    result = _apply(control_plane, namespace, [stack(case, **checks(VALID[case]))])
    assert result.returncode == 0, result.stderr


def test_crd_fills_the_defaults(control_plane: ControlPlane, namespace: str) -> None:
    doc = stack("defaults", **checks({"name": "api", "service": {"name": "api", "port": 8080}}))
    assert _apply(control_plane, namespace, [doc]).returncode == 0
    stored = yaml.safe_load(control_plane.kubectl("get", "mstack", "defaults", "-n", namespace, "-o", "yaml").stdout)
    (check,) = stored["spec"]["healthChecks"]
    assert check == {
        "name": "api",
        "service": {"name": "api", "port": 8080, "path": "/", "scheme": "http"},
        "method": "GET",
        "interval": "30s",
        "timeout": "5s",
        "expectedStatus": ["2xx"],
        "insecureSkipVerify": False,
    }
