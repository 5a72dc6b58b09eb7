"""The CRDs: generated from the models, committed, structural, with kubectl niceties."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import ROOT
from vigil.crd import KINDS, build_crd, build_crds


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_committed_crd_matches_the_models(kind: Any) -> None:
    committed = yaml.safe_load((ROOT / "crds" / f"{kind.crd_name}.yaml").read_text())
    assert committed == build_crd(kind), "crds/ is stale: run `make crds` and commit the result"


def test_no_extra_files_in_crds() -> None:
    assert sorted(p.name for p in (ROOT / "crds").glob("*.yaml")) == sorted(f"{k.crd_name}.yaml" for k in KINDS)


def _walk(node: Any, path: str = "") -> list[tuple[str, dict]]:
    out = []
    if isinstance(node, dict):
        out.append((path, node))
        for key in ("properties",):
            for name, sub in node.get(key, {}).items():
                out += _walk(sub, f"{path}.{name}")
        if "items" in node:
            out += _walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            out += _walk(node["additionalProperties"], f"{path}{{}}")
    return out


@pytest.mark.parametrize("crd", build_crds(), ids=lambda c: c["metadata"]["name"])
def test_schemas_are_structural(crd: dict) -> None:
    root = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _walk(root):
        for forbidden in ("$ref", "$defs", "title", "propertyNames", "anyOf", "oneOf"):
            if forbidden == "anyOf" and node.get("x-kubernetes-int-or-string"):
                continue
            assert forbidden not in node, f"{path} has {forbidden}"
        if node.get("x-kubernetes-int-or-string"):
            assert node["anyOf"] == [{"type": "integer"}, {"type": "string"}], path
            continue
        assert "type" in node or node.get("x-kubernetes-preserve-unknown-fields"), f"{path} has no type"
        scalar_item = path.endswith(("[]", "{}")) and node.get("type") != "object"
        if path.startswith(".spec") and path.count(".") > 1 and not scalar_item:
            assert node.get("description"), f"{path} has no description (kubectl explain)"


@pytest.mark.parametrize("crd", build_crds(), ids=lambda c: c["metadata"]["name"])
def test_kubectl_niceties(crd: dict) -> None:
    names = crd["spec"]["names"]
    assert names["categories"] == ["vigil"]
    assert len(names["shortNames"]) == 1
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns[0] == "Ready"
    assert columns[-1] == "Age"
    assert len(columns) >= 3
    assert crd["spec"]["scope"] == "Namespaced"


def test_short_names() -> None:
    assert {k.kind: k.info.short_name for k in KINDS} == {
        "TelemetrySink": "tsink",
        "MonitoringStack": "mstack",
        "AlertPolicy": "apol",
    }


def test_defaults_reach_the_schema() -> None:
    stack = build_crd(KINDS[1])["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    collector = stack["properties"]["collector"]
    assert collector["default"]["replicas"] == 1
    assert collector["default"]["resources"]["limits"] == {"memory": "512Mi"}
    otlp = stack["properties"]["receivers"]["properties"]["otlp"]
    assert otlp["default"] == {
        "grpc": {"enabled": True, "port": 4317},
        "http": {"enabled": True, "port": 4318},
    }
    assert collector["properties"]["replicas"]["default"] == 1
    assert (
        stack["properties"]["receivers"]["properties"]["otlp"]["properties"]["grpc"]["properties"]["port"]["default"]
        == 4317
    )


def test_crd_files_are_plain_yaml(tmp_path: Path) -> None:
    for path in (ROOT / "crds").glob("*.yaml"):
        assert len(list(yaml.safe_load_all(path.read_text()))) == 1


@pytest.mark.parametrize("crd", build_crds(), ids=lambda c: c["metadata"]["name"])
def test_an_object_never_reconciled_reads_as_generation_zero_observed(crd: dict) -> None:
    # The API server applies defaults when it reads an object: status {} and then its own defaults.
    status = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    assert status["default"] == {}
    assert status["properties"]["observedGeneration"]["default"] == 0
