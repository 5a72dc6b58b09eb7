"""A real kube-apiserver judges SLO policies: every CEL rule of AlertPolicy with the models'
message, the SLO shapes Sloth users write, and the policies `vigil import sloth` prints."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.harness.controlplane import ControlPlane
from tests.helpers import policy
from tests.unit.models.test_policy import INVALID, VALID
from tests.unit.test_sloth import DATA, MAPPED
from vigil.cli import read_documents
from vigil.models import policy as policy_models
from vigil.models.base import VigilModel
from vigil.sloth import Options, import_documents

CEL_MESSAGES = [
    c.message
    for m in vars(policy_models).values()
    if isinstance(m, type) and issubclass(m, VigilModel) and m.__module__ == policy_models.__name__
    for c in m.cel_rules
]
# The models' cases that a CEL rule decides (PromQL and templates are Vigil's alone).
CRD_CASES = {k: v for k, v in INVALID.items() if any(v[2] in m for m in CEL_MESSAGES)}
SLO_VALID = {k: v for k, v in VALID.items() if "slo" in v}


def _apply(cp: ControlPlane, namespace: str, docs: list[dict[str, Any]]) -> Any:
    placed = [{**d, "metadata": {**d["metadata"], "namespace": namespace}} for d in docs]
    return cp.kubectl(
        "apply", "--server-side", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(placed), check=False
    )


def test_every_policy_cel_rule_has_a_case_here() -> None:
    tripped = {m for m in CEL_MESSAGES for _, _, fragment in CRD_CASES.values() if fragment in m}
    assert sorted(tripped) == sorted(CEL_MESSAGES)


@pytest.mark.parametrize("case", sorted(CRD_CASES))
def test_crd_rejects_with_the_models_message(control_plane: ControlPlane, namespace: str, case: str) -> None:
    spec, _, message = CRD_CASES[case]
    result = _apply(control_plane, namespace, [policy(case, **spec)])
    assert result.returncode != 0, f"the API server accepted {case}"
    assert message in result.stderr, result.stderr


@pytest.mark.parametrize("case", sorted(SLO_VALID))
def test_crd_accepts_every_slo_shape(control_plane: ControlPlane, namespace: str, case: str) -> None:
    result = _apply(control_plane, namespace, [policy(case, **SLO_VALID[case])])
    assert result.returncode == 0, result.stderr


def test_crd_fills_the_slo_defaults(control_plane: ControlPlane, namespace: str) -> None:
    assert _apply(control_plane, namespace, [policy("defaults", **VALID["slo-errors"])]).returncode == 0
    stored = yaml.safe_load(control_plane.kubectl("get", "apol", "defaults", "-n", namespace, "-o", "yaml").stdout)
    slo = stored["spec"]["slo"]
    assert slo["scrapeInterval"] == "1m"
    assert slo["pageAlert"] == {"disabled": False, "labels": {}}
    assert slo["ticketAlert"] == {"disabled": False, "labels": {}}


def test_imported_sloth_policies_are_accepted(control_plane: ControlPlane, namespace: str) -> None:
    imported = import_documents(read_documents([str(DATA)]), Options(severities=MAPPED))
    assert imported.errors == []
    docs = [i.policy for i in imported.policies]
    result = _apply(control_plane, namespace, docs)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("serverside-applied") == len(docs)
