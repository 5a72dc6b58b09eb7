"""Rendered objects against the real schemas: Kubernetes OpenAPI and prometheus-operator CRDs."""

from __future__ import annotations

from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from tests.harness.schemas import KUBERNETES_VERSION, validate_against_crd
from tests.helpers import render_examples
from vigil.crd import build_crds

OBJECTS = render_examples().objects
THIRD_PARTY_GROUPS = ("monitoring.coreos.com/", "grafana.integreatly.org/")
BUILT_IN = [o for o in OBJECTS if not o["apiVersion"].startswith(THIRD_PARTY_GROUPS)]
MONITORING = [o for o in OBJECTS if o["apiVersion"].startswith(THIRD_PARTY_GROUPS)]


def _id(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


@pytest.mark.parametrize("obj", BUILT_IN, ids=_id)
def test_built_in_objects_pass_kubernetes_validate_strict(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("crd", build_crds(), ids=lambda c: c["metadata"]["name"])
def test_crds_are_valid_apiextensions_v1(crd: dict[str, Any]) -> None:
    kubernetes_validate.validate(crd, KUBERNETES_VERSION, strict=True)


def test_kubernetes_validate_can_fail() -> None:
    deployment = next(o for o in BUILT_IN if o["kind"] == "Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("obj", MONITORING, ids=_id)
def test_third_party_objects_match_their_crd_schema(obj: dict[str, Any]) -> None:
    validate_against_crd(obj)


def test_crd_schema_check_can_fail() -> None:
    monitor = MONITORING[0]
    broken = {
        **monitor,
        "spec": {**monitor["spec"], "endpoints": [{"port": "metrics", "interval": "often"}]},
    }
    with pytest.raises(jsonschema.ValidationError):
        validate_against_crd(broken)
    typo = {**monitor, "spec": {**monitor["spec"], "endpoint": []}}
    with pytest.raises(jsonschema.ValidationError):
        validate_against_crd(typo)


def test_every_example_stack_produced_service_monitors() -> None:
    assert {m["metadata"]["labels"]["app.kubernetes.io/instance"] for m in MONITORING} >= {
        "aureus",
        "orchestrator",
    }
