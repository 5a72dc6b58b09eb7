"""charts/vigil: its copies match their sources, its version the package's, its docs its schema."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from scripts import chart_readme, chart_sync

import vigil
from tests.helpers import ROOT

CHART = ROOT / "charts" / "vigil"
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))


def test_app_version_is_the_package_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert chart["appVersion"] == vigil.__version__ == pyproject["project"]["version"]


@pytest.mark.parametrize("crd", sorted((ROOT / "crds").glob("*.yaml")), ids=lambda p: p.name)
def test_chart_crds_are_the_generated_crds_byte_for_byte(crd: Path) -> None:
    copy = CHART / "crds" / crd.name
    assert copy.exists(), f"charts/vigil/crds/{crd.name} is missing: run `make crds`"
    assert copy.read_bytes() == crd.read_bytes(), f"charts/vigil/crds/{crd.name} is stale: run `make crds`"


def test_chart_crds_hold_nothing_else() -> None:
    expected = {p.name for p in (ROOT / "crds").glob("*.yaml")} | {chart_sync.PEERING_CRDS.name}
    assert {p.name for p in (CHART / "crds").iterdir()} == expected


def test_peering_crds_are_those_of_deploy_peering() -> None:
    source = [d for d in yaml.safe_load_all(chart_sync.PEERING.read_text()) if d["kind"] == "CustomResourceDefinition"]
    copy = list(yaml.safe_load_all(chart_sync.PEERING_CRDS.read_text()))
    assert [d["metadata"]["name"] for d in source] == ["clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"]
    assert copy == source
    assert chart_sync.PEERING_CRDS.read_text() == chart_sync.peering_crds_text(), "run `make chart`"


@pytest.mark.parametrize("target", sorted(chart_sync.COPIES), ids=lambda p: p.name)
def test_chart_assets_are_copies_of_the_bundled_ones(target: Path) -> None:
    source = chart_sync.COPIES[target]
    assert target.read_bytes() == source.read_bytes(), f"{target.relative_to(ROOT)} is stale: run `make chart`"


def test_readme_values_table_is_current() -> None:
    readme = chart_readme.README.read_text()
    assert chart_readme.render(readme) == readme, "charts/vigil/README.md is stale: run `make chart`"


def test_readme_table_changes_with_the_schema() -> None:
    described = {**SCHEMA, "properties": {**SCHEMA["properties"], "replicas": {"type": "integer", "description": "X"}}}
    assert chart_readme.table(described, VALUES) != chart_readme.table(SCHEMA, VALUES)
    assert "| `replicas` | integer | `1` | X |" in chart_readme.table(described, VALUES)


def _properties(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out = []
    for key, sub in node.get("properties", {}).items():
        out.append((f"{path}{key}", sub))
        out += _properties(sub, f"{path}{key}.")
    return out


@pytest.mark.parametrize(("path", "node"), _properties(SCHEMA), ids=[p for p, _ in _properties(SCHEMA)])
def test_every_value_is_described_and_closed(path: str, node: dict[str, Any]) -> None:
    assert node.get("description"), f"{path}: no description (it is the README's documentation)"
    if "properties" in node:
        assert node.get("additionalProperties") is False, f"{path}: unknown keys must be refused"


def _coalesce(defaults: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Helm's merge of a values file over the defaults: maps merge, null deletes a key."""
    out = dict(defaults)
    for key, value in overlay.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _coalesce(out[key], value)
        else:
            out[key] = value
    return out


@pytest.mark.parametrize("values", [CHART / "values.yaml", *CI_VALUES], ids=lambda p: p.name)
def test_values_files_match_the_schema(values: Path) -> None:
    jsonschema.Draft7Validator(SCHEMA).validate(_coalesce(VALUES, yaml.safe_load(values.read_text())))


def test_ci_values_cover_every_mode() -> None:
    assert {p.stem for p in CI_VALUES} >= {
        "namespaced-values",
        "ha-values",
        "no-prometheus-operator-values",
        "grafana-operator-values",
    }
