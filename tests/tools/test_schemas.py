"""Rendered objects against the real schemas: Kubernetes OpenAPI and prometheus-operator CRDs."""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.helpers import VENDORED_CRDS, render_examples
from vigil.crd import build_crds

# The Kubernetes minor of the control plane in tools/kube; schemas from kubernetes-validate.
KUBERNETES_VERSION = "1.36.0"

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


@cache
def _crd_schema(kind: str) -> dict[str, Any]:
    # A bare "=" (an enum value in AlertmanagerConfig) is YAML's "value" tag, which SafeLoader
    # refuses: read it as the string it is.
    loader = type("CRDLoader", (yaml.SafeLoader,), {})
    loader.add_constructor("tag:yaml.org,2002:value", yaml.SafeLoader.construct_yaml_str)
    # Every vendored project: prometheus-operator/, grafana-operator/, ...
    for path in sorted(VENDORED_CRDS.glob("*/*.yaml")):
        crd = yaml.load(path.read_text(), Loader=loader)
        if crd["spec"]["names"]["kind"] == kind:
            version = next(v for v in crd["spec"]["versions"] if v.get("storage"))
            return dict(version["schema"]["openAPIV3Schema"])
    raise LookupError(kind)


def validate_against_crd(obj: dict[str, Any]) -> None:
    """Validate an object of a vendored CRD (third_party/crds/*/) with its OpenAPI schema."""
    schema = {**_crd_schema(obj["kind"]), "additionalProperties": False}
    # No meta-schema check: CRD patterns are Go RE2 (e.g. a "(?i)" mid-pattern) that Python's
    # re refuses as a "regex" format, though the schema itself is sound.
    jsonschema.Draft7Validator(_closed(schema)).validate(obj)


def _closed(node: Any) -> Any:
    # Unknown fields are pruned silently by the API server; here they are errors.
    if isinstance(node, dict):
        out = {k: _closed(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        if out.get("properties", {}).get("metadata") == {"type": "object"}:
            out["properties"]["metadata"] = {"type": "object"}
        return out
    if isinstance(node, list):
        return [_closed(v) for v in node]
    return node


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
