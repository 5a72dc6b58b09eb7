"""Objects against the real schemas they will meet: Kubernetes OpenAPI and vendored CRDs."""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema
import yaml

from tests.helpers import VENDORED_CRDS

# The Kubernetes minor of the control plane in tools/kube; schemas from kubernetes-validate.
KUBERNETES_VERSION = "1.36.0"


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
