"""The hostile corpus (tests/data/hostile/) against the real API server and the running operator.

CRD cases: `kubectl apply` is refused and the API server names the same field as `vigil validate`.
Operator cases: the API server accepts them, the operator refuses them (Ready=False with the
reason and the field, nothing applied). Safe cases: accepted, and the operator makes them Ready,
its configs checked by the real collector first.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.harness.cluster import Cluster
from tests.harness.controlplane import ControlPlane
from tests.harness.operator import Operator, running_operator
from tests.harness.process import eventually
from tests.harness.tools import require
from tests.helpers import HostileCase, hostile_cases

CASES = hostile_cases()
SHORT = {"MonitoringStack": "mstack", "AlertPolicy": "apol", "TelemetrySink": "tsink"}
DEADLINE_S = 60.0


@pytest.fixture(scope="module")
def operator(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    yield from running_operator(
        control_plane,
        tmp_path_factory.mktemp("operator"),
        VIGIL_DRIFT_INTERVAL="5",
        VIGIL_COLLECTOR_BINARY=str(require("otelcol-vigil")),
    )


def vigil_objects(case: HostileCase) -> list[dict[str, Any]]:
    return [d for d in case.documents() if str(d.get("apiVersion", "")).startswith("vigil.dev/")]


@pytest.mark.parametrize("case", [c for c in CASES if c.judged_by == "crd"], ids=lambda c: c.id)
def test_the_api_server_refuses_naming_the_same_field(
    control_plane: ControlPlane, namespace: str, case: HostileCase
) -> None:
    result = control_plane.kubectl("apply", "-n", namespace, "-f", str(case.path), check=False)
    assert result.returncode != 0, f"the API server accepted {case.path.name}"
    assert case.expect_path in result.stderr, result.stderr
    assert case.apiserver_message in result.stderr, result.stderr
    secret = case.header.get("never-shows")
    if secret:
        assert secret not in result.stderr


@pytest.mark.parametrize("case", [c for c in CASES if c.judged_by == "operator"], ids=lambda c: c.id)
def test_the_operator_refuses_what_the_api_server_accepts(
    operator: Operator, control_plane: ControlPlane, namespace: str, case: HostileCase
) -> None:
    cluster = Cluster(control_plane, namespace)
    cluster.apply(*case.documents())
    owner = vigil_objects(case)[-1]
    kind, name = SHORT[owner["kind"]], owner["metadata"]["name"]
    cond = eventually(
        lambda: (c := cluster.condition(kind, name)).get("reason") == case.header["reason"] and c,
        f"{owner['kind']}/{name} refused with {case.header['reason']}",
        deadline_s=DEADLINE_S,
    )
    assert cond["status"] == "False"
    assert f"{case.expect_path}: " in cond["message"], cond["message"]
    assert case.expect_message in cond["message"], cond["message"]
    generated = (cluster.get(kind, name) or {}).get("status", {}).get("generatedObjects") or []
    assert generated == [], "nothing of a refused object may be applied"


@pytest.mark.parametrize("case", [c for c in CASES if c.judged_by == "safe"], ids=lambda c: c.id)
def test_safe_input_is_rolled_out(
    operator: Operator, control_plane: ControlPlane, namespace: str, case: HostileCase
) -> None:
    cluster = Cluster(control_plane, namespace)
    cluster.apply(*case.documents())
    for doc in vigil_objects(case):
        if doc["kind"] == "TelemetrySink":
            continue
        kind, name = SHORT[doc["kind"]], doc["metadata"]["name"]
        eventually(
            lambda k=kind, n=name: cluster.ready(k, n), f"{doc['kind']}/{name[:30]} Ready", deadline_s=DEADLINE_S
        )
    configs = control_plane.kubectl("get", "configmaps", "-n", namespace, "-o", "yaml").stdout
    for doc in case.documents():
        if doc["kind"] == "Secret":
            for value in doc.get("stringData", {}).values():
                assert str(value) not in configs
    assert yaml.safe_load(configs)["items"], "the operator wrote no ConfigMap"
